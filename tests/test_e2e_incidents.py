"""End-to-end: the real bot, driven by signed Slack requests, against the stand-in.

Each test runs on SQLite and, when INCIDENTBOT_TEST_POSTGRES_URL is set, on
PostgreSQL too (the `db_url` fixture).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from incidentbot.slack import ids
from tests.conftest import Bot

CARD_CHANNEL = "C0INCIDENTS"


def incident_channel(bot: Bot, number: int) -> Any:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    channel = bot.standin.channel(channel_id)
    assert channel is not None
    return channel


def card(bot: Bot, number: int) -> Any:
    """The stakeholder card of incident `number` in #incidents."""
    label = f"INC-{number}:"
    cards = [m for m in bot.standin.messages(CARD_CHANNEL) if label in str(m.blocks)]
    assert len(cards) == 1, f"expected one card for INC-{number}, found {len(cards)}"
    return cards[0]


def welcome(bot: Bot, number: int) -> Any:
    """The pinned welcome message of the incident channel."""
    channel = incident_channel(bot, number)
    return bot.standin.find_message(channel.id, channel.pins[0])


def timeline_pages(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [e for e in bot.standin.ephemerals_for(user) if e["text"].startswith("Timeline of")]


def test_text_declare_opens_channel_invites_sets_topic_posts_welcome_and_card(bot: Bot) -> None:
    reply = bot.command("declare sev2 Checkout is failing", user="U0ALICE")
    assert reply.status == 200

    [inc] = bot.incidents()
    assert (inc.id, inc.title, inc.severity, inc.status) == (
        1,
        "Checkout is failing",
        "sev2",
        "investigating",
    )
    channel = incident_channel(bot, 1)
    assert channel.name == "inc-1-checkout-is-failing"
    assert not channel.is_private
    assert "U0ALICE" in channel.members
    assert channel.topic == "SEV2 | investigating | IC: <@U0ALICE>"
    assert channel.purpose == "Checkout is failing"
    message = welcome(bot, 1)
    assert message.ts in channel.pins
    actions = [
        e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [
        "incident.take_ic",
        "incident.take_scribe",
        "incident.open_update",
        "incident.escalate",
        "incident.open_resolve",
    ]
    assert "Checkout is failing" in str(card(bot, 1).blocks)
    kinds = [e.kind for e in bot.timeline(1)]
    assert kinds == ["declared", "role"]
    assert all(e.actor == "U0ALICE" and e.at is not None for e in bot.timeline(1))
    assert any("Declared *INC-1*" in r and channel.id in r for r in bot.replies())


def test_declare_uses_default_severity(bot: Bot) -> None:
    bot.command("declare Search is slow")
    assert bot.incidents()[0].severity == "sev3"


def test_modal_declare(bot: Bot) -> None:
    bot.command("", user="U0BOB")
    [view] = bot.standin.views_for("U0BOB")
    assert view["callback_id"] == "incident.declare"
    severity_block = next(b for b in view["blocks"] if b["block_id"] == "severity")
    descriptions = [o["description"]["text"] for o in severity_block["element"]["options"]]
    assert descriptions[0].startswith("Critical")
    ic_block = next(b for b in view["blocks"] if b["block_id"] == "ic")
    assert ic_block["element"]["initial_user"] == "U0BOB"  # the declarer by default

    reply = bot.submit(
        view["id"],
        {
            "title": "Payments down",
            "severity": "sev1",
            "description": "All card payments fail",
            "scribe": "U0CAROL",
            "private": ["private"],
        },
        user="U0BOB",
    )
    assert reply.status == 200
    [inc] = bot.incidents()
    assert (inc.title, inc.severity, inc.description, inc.private) == (
        "Payments down",
        "sev1",
        "All card payments fail",
        True,
    )
    channel = incident_channel(bot, 1)
    assert channel.is_private
    assert {"U0BOB", "U0CAROL"} <= channel.members
    assert "Scribe" in str(welcome(bot, 1).blocks) and "U0CAROL" in str(welcome(bot, 1).blocks)


def test_modal_with_empty_title_gets_inline_error(bot: Bot) -> None:
    bot.command("declare", user="U0BOB")
    [view] = bot.standin.views_for("U0BOB")
    reply = bot.submit(view["id"], {"title": "   ", "severity": "sev2"}, user="U0BOB")
    assert reply.json == {
        "response_action": "errors",
        "errors": {"title": "Give the incident a title."},
    }
    assert bot.incidents() == []


def test_same_view_submission_twice_creates_one_incident(bot: Bot) -> None:
    bot.command("", user="U0BOB")
    [view] = bot.standin.views_for("U0BOB")
    for _ in range(2):
        bot.submit(view["id"], {"title": "Twice", "severity": "sev2"}, user="U0BOB")
    assert len(bot.incidents()) == 1
    assert len(bot.standin.calls_to("conversations.create")) == 1


def test_name_taken_gets_a_suffix(bot: Bot) -> None:
    bot.standin.add_channel("inc-1-database-down")
    bot.command("declare Database down")
    channel = incident_channel(bot, 1)
    assert channel.name == "inc-1-database-down-2"
    assert bot.incident(1).channel_name == "inc-1-database-down-2"


def test_long_and_hostile_titles_are_stored_and_shown_literally(bot: Bot) -> None:
    long_title = "Everything is broken " * 60  # 1,260 characters
    bot.command(f"declare {long_title}")
    hostile = "<!channel> <@U0BOB> *bold* :fire: <!subteam^S1|@oncall> & <https://evil|click>"
    bot.command(f"declare sev1 {hostile}")
    bot.command("declare !!!???...")

    first, second, third = bot.incidents()
    assert first.title == long_title.strip()
    for inc in (first, second, third):
        name = incident_channel(bot, inc.id).name
        assert re.fullmatch(r"[a-z0-9_-]{1,80}", name), name
    assert incident_channel(bot, 3).name == "inc-3"
    assert second.title == hostile
    assert bot.standin.mass_mentions() == []
    shown = " ".join(bot.standin.all_texts())
    assert "&lt;!channel&gt;" in shown and "*bold*" in shown
    assert all(len(incident_channel(bot, i.id).purpose) <= 250 for i in (first, second, third))


def test_nul_characters_are_dropped_from_user_text(bot: Bot) -> None:
    """PostgreSQL text columns reject NUL; it is never meaningful in an incident."""
    bot.command("declare Bad\x00title", user="U0ALICE")
    assert bot.incidents()[0].title == "Badtitle"
    channel = incident_channel(bot, 1)
    bot.command("note a\x00b", user="U0ALICE", channel=channel.id)
    assert bot.timeline(1)[-1].text == "ab"


def test_changes_update_topic_card_and_timeline(bot: Bot) -> None:
    bot.command("declare sev3 API errors", user="U0ALICE")
    channel = incident_channel(bot, 1)
    original_card = card(bot, 1)

    bot.command("severity sev1", user="U0ALICE", channel=channel.id)
    assert channel.topic.startswith("SEV1 | investigating")
    bot.command("status identified", user="U0ALICE", channel=channel.id)
    assert channel.topic == "SEV1 | identified | IC: <@U0ALICE>"
    bot.command("ic @bob", user="U0ALICE", channel=channel.id)
    assert channel.topic == "SEV1 | identified | IC: <@U0BOB>"
    assert "U0BOB" in channel.members
    bot.command("scribe @carol", user="U0BOB", channel=channel.id)
    assert "U0CAROL" in channel.members

    updated = card(bot, 1)
    assert updated.ts == original_card.ts  # edited in place, never reposted
    assert updated.edited
    shown = str(updated.blocks)
    assert "SEV1" in shown and "identified" in shown and "U0BOB" in shown
    assert "U0CAROL" in str(welcome(bot, 1).blocks)
    entries = [(e.kind, e.actor, e.text) for e in bot.timeline(1)]
    assert ("severity", "U0ALICE", "Severity sev3 → sev1") in entries
    assert ("status", "U0ALICE", "Status investigating → identified") in entries
    assert ("role", "U0ALICE", "Incident Commander: <@U0BOB> (was <@U0ALICE>)") in entries
    assert ("role", "U0BOB", "Scribe: <@U0CAROL>") in entries
    notices = [m.text for m in bot.standin.messages(channel.id)]
    assert any("sev3* → *sev1" in t for t in notices)
    assert bot.incident(1).status_times.keys() == {"investigating", "identified"}


def test_mitigated_and_acknowledged_timestamps(bot: Bot) -> None:
    bot.command("declare Slow pages", user="U0ALICE")
    channel = incident_channel(bot, 1)
    assert bot.incident(1).acknowledged_at is None
    bot.clock.advance(minutes=3)
    bot.command("status monitoring", user="U0ALICE", channel=channel.id)
    inc = bot.incident(1)
    assert inc.mitigated_at == bot.clock.now
    assert inc.acknowledged_at == bot.clock.now  # the IC's first action


def test_welcome_buttons_take_roles_and_resolve(bot: Bot) -> None:
    bot.command("declare Queue backlog", user="U0ALICE")
    channel = incident_channel(bot, 1)
    message = welcome(bot, 1)
    # Anyone may take the vacant Scribe role; the Scribe may then take over as IC.
    bot.action(
        "incident.take_scribe", user="U0BOB", value="1", channel=channel.id, message_ts=message.ts
    )
    assert "U0BOB" in str(welcome(bot, 1).blocks)
    bot.action(
        "incident.take_ic", user="U0BOB", value="1", channel=channel.id, message_ts=message.ts
    )
    assert channel.topic.endswith("IC: <@U0BOB>")
    assert "U0BOB" in channel.members

    bot.action(
        "incident.open_resolve", user="U0BOB", value="1", channel=channel.id, message_ts=message.ts
    )
    view = bot.standin.views_for("U0BOB")[-1]
    assert view["callback_id"] == "incident.resolve"
    bot.submit(view["id"], {"summary": "Scaled the consumers"}, user="U0BOB")
    inc = bot.incident(1)
    assert (inc.status, inc.summary) == ("resolved", "Scaled the consumers")
    assert "resolved" in str(card(bot, 1).blocks)
    actions = [b for b in welcome(bot, 1).blocks if b["type"] == "actions"]
    assert actions == []  # no buttons on a resolved incident


def test_refused_button_is_acked_at_once_and_explained(bot: Bot) -> None:
    """A listener failing after ack() must not turn into a Slack timeout."""
    bot.command("declare Queue backlog", user="U0ALICE")
    channel = incident_channel(bot, 1)
    message = welcome(bot, 1)
    reply = bot.sender.block_action(
        ids.OPEN_RESOLVE, user="U0ERIN", value="1", channel=channel.id, message_ts=message.ts
    )
    bot.wait()
    assert reply.status == 200  # before the fix: Bolt's ack timeout, then 404
    assert "Only the Incident Commander (<@U0ALICE>)" in bot.replies()[-1]
    assert channel.topic.endswith("IC: <@U0ALICE>")


def test_note_and_timeline(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("note Deleted old logs on db-3 <!here>", user="U0BOB", channel=channel.id)
    assert ("note", "U0BOB", "Deleted old logs on db-3 <!here>") in [
        (e.kind, e.actor, e.text) for e in bot.timeline(1)
    ]
    bot.command("timeline", user="U0ALICE", channel=channel.id)
    [page] = timeline_pages(bot, "U0ALICE")
    assert page["text"] == "Timeline of INC-1"
    body = str(page["blocks"])
    assert body.index("declared") < body.index("note")
    assert "Deleted old logs" in body
    assert bot.standin.mass_mentions() == []


def test_long_timeline_is_split_within_limits(bot: Bot) -> None:
    bot.command("declare Flapping", user="U0ALICE")
    channel = incident_channel(bot, 1)
    for i in range(60):
        bot.command(f"note step {i} " + "x" * 200, user="U0ALICE", channel=channel.id)
    bot.command("timeline", user="U0ALICE", channel=channel.id)
    pages = timeline_pages(bot, "U0ALICE")
    assert len(pages) >= 2
    assert pages[0]["text"] == f"Timeline of INC-1 (1/{len(pages)})"
    assert all(len(p["blocks"]) <= 50 for p in pages)
    assert "step 59" in str(pages[-1]["blocks"])


def test_resolve_and_reopen(bot: Bot) -> None:
    bot.command("declare Login broken", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.clock.advance(minutes=42)
    bot.command("resolve Rolled back the auth service", user="U0ALICE", channel=channel.id)
    inc = bot.incident(1)
    assert (inc.status, inc.summary, inc.resolved_at) == (
        "resolved",
        "Rolled back the auth service",
        bot.clock.now,
    )
    assert channel.topic.startswith("SEV3 | resolved")
    assert "42m" in str(card(bot, 1).blocks)

    bot.command("status identified", user="U0ALICE", channel=channel.id)
    assert bot.incident(1).status == "resolved"
    assert "reopen" in bot.replies()[-1]

    bot.command("reopen", user="U0ALICE", channel=channel.id)
    inc = bot.incident(1)
    assert (inc.status, inc.resolved_at) == ("investigating", None)
    assert [e.kind for e in bot.timeline(1)][-2:] == ["resolved", "reopened"]


def test_resolve_of_a_resolved_incident_opens_no_modal(bot: Bot) -> None:
    bot.command("declare Done already", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("resolve Fixed", user="U0ALICE", channel=channel.id)
    entries = len(bot.timeline(1))
    bot.command("resolve", user="U0ALICE", channel=channel.id)
    assert "already resolved" in bot.replies()[-1]
    assert [
        v for v in bot.standin.views_for("U0ALICE") if v["callback_id"] == "incident.resolve"
    ] == []
    assert len(bot.timeline(1)) == entries


def test_resolve_without_summary_opens_modal(bot: Bot) -> None:
    bot.command("declare Cache miss storm", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("resolve", user="U0ALICE", channel=channel.id)
    view = bot.standin.views_for("U0ALICE")[-1]
    assert view["callback_id"] == "incident.resolve"
    reply = bot.submit(view["id"], {"summary": ""}, user="U0ALICE")
    assert reply.json["response_action"] == "errors"
    assert bot.incident(1).status == "investigating"


def test_roles_modal_assigns_with_user_pickers(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(
        {
            "channels": {"announcements": ["#incidents"]},
            "roles": [{"name": "comms_lead", "description": "Writes updates"}],
        }
    )
    bot.command("declare Broken builds", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("roles", user="U0ALICE", channel=channel.id)
    view = bot.standin.views_for("U0ALICE")[-1]
    pickers = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert set(pickers) == {"role:incident_commander", "role:scribe", "role:comms_lead"}
    assert pickers["role:incident_commander"]["initial_user"] == "U0ALICE"
    bot.submit(view["id"], {"role:scribe": "U0BOB", "role:comms_lead": "U0CAROL"}, user="U0ALICE")
    text = str(welcome(bot, 1).blocks)
    assert "U0BOB" in text and "U0CAROL" in text
    assert {"U0BOB", "U0CAROL"} <= channel.members


def test_role_command_for_configured_role(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot({"roles": [{"name": "comms_lead"}]})
    bot.command("declare Broken builds", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("role comms_lead @dave", user="U0ALICE", channel=channel.id)
    assert ("role", "U0ALICE", "Comms lead: <@U0DAVE>") in [
        (e.kind, e.actor, e.text) for e in bot.timeline(1)
    ]


def test_list_shows_open_incidents(bot: Bot) -> None:
    bot.command("declare sev1 First")
    bot.command("declare sev2 Second")
    channel = incident_channel(bot, 1)
    bot.command("resolve done", channel=channel.id)
    bot.standin.responses.clear()
    bot.command("list", user="U0BOB")
    payload = [p for ps in bot.standin.responses.values() for p in ps][-1]
    shown = str(payload["blocks"])
    assert "INC-2" in shown and "Second" in shown and "INC-1" not in shown
    assert "IC <@U0ALICE>" in shown


def test_help_lists_commands(bot: Bot) -> None:
    bot.command("help")
    assert "/incident declare" in bot.replies()[-1]
    assert "/incident escalate [path]" in bot.replies()[-1]


# -- bad input: a clear private message, nothing changes -------------------------------
def test_unknown_subcommand(bot: Bot) -> None:
    reply = bot.command("frobnicate now")
    assert "Unknown subcommand `frobnicate`" in reply.body
    assert "/incident help" in reply.body
    assert bot.standin.calls_to("conversations.create") == []


def test_incident_only_subcommand_outside_incident_channel(bot: Bot) -> None:
    for text in (
        "status identified",
        "sev sev1",
        "ic <@U0BOB>",
        "note hi",
        "timeline",
        "resolve x",
        "reopen",
        "roles",
        "escalate database",
        "ack",
    ):
        bot.command(text, channel="C0GENERAL")
        assert "not an incident channel" in bot.replies()[-1], text
        assert "Usage: `/incident" in bot.replies()[-1]
    assert bot.incidents() == []


def test_unknown_names_list_valid_ones(bot: Bot) -> None:
    bot.command("declare Something")
    channel = incident_channel(bot, 1)
    before = len(bot.timeline(1))
    assert (
        "Valid: `sev1`, `sev2`, `sev3`, `sev4`" in bot.command("sev sev9", channel=channel.id).body
    )
    assert "`investigating`, `identified`" in bot.command("status done", channel=channel.id).body
    assert "Unknown role `janitor`" in bot.command("role janitor @bob", channel=channel.id).body
    assert "Mention one person" in bot.command("ic", channel=channel.id).body
    assert "needs a title" in bot.command("declare sev1    ").body
    assert len(bot.timeline(1)) == before
    assert len(bot.incidents()) == 1


def test_restricted_action_refused_for_others(bot: Bot) -> None:
    bot.command("declare Prod down", user="U0ALICE")
    channel = incident_channel(bot, 1)
    before = len(bot.timeline(1))
    bot.command("resolve nope", user="U0ERIN", channel=channel.id)
    assert "Only the Incident Commander (<@U0ALICE>)" in bot.replies()[-1]
    bot.command("sev sev1", user="U0ERIN", channel=channel.id)
    assert bot.incident(1).status == "investigating"
    assert bot.incident(1).severity == "sev3"
    assert len(bot.timeline(1)) == before


def test_admin_group_may_act(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot({"permissions": {"admins": ["S0SRE"], "restricted": ["resolve"]}})
    bot.standin.add_usergroup("S0SRE", "sre-leads", ["U0ERIN"])
    bot.command("declare Prod down", user="U0ALICE")
    channel = incident_channel(bot, 1)
    bot.command("resolve fixed by erin", user="U0ERIN", channel=channel.id)
    assert bot.incident(1).status == "resolved"


# -- security ---------------------------------------------------------------------------
def test_forged_and_stale_requests_get_401(bot: Bot) -> None:
    body = (
        "command=%2Fincident&text=declare+Forged&user_id=U0ALICE&channel_id=C0GENERAL&team_id=T0001"
    )
    forged = bot.sender.post_raw(
        body, content_type="application/x-www-form-urlencoded", signature="v0=" + "0" * 64
    )
    unsigned = bot.sender.post_raw(
        body, content_type="application/x-www-form-urlencoded", sign=False
    )
    import time

    stale = bot.sender.post_raw(
        body, content_type="application/x-www-form-urlencoded", timestamp=int(time.time()) - 301
    )
    bot.wait()
    assert (forged.status, unsigned.status, stale.status) == (401, 401, 401)
    assert bot.incidents() == []
    assert bot.standin.calls_to("conversations.create") == []


# -- durability and health --------------------------------------------------------------
def test_data_survives_restart(make_bot: Callable[..., Bot], db_url: str) -> None:
    first = make_bot()
    first.command("declare Survives restarts", user="U0ALICE")
    channel_id = first.incident(1).channel_id
    first.stop()
    second = make_bot()
    assert second.incident(1).title == "Survives restarts"
    second.command("status identified", user="U0ALICE", channel=channel_id)
    assert second.incident(1).status == "identified"
    second.command("declare Another one")
    assert [i.id for i in second.incidents()] == [1, 2]


def test_healthz(bot: Bot) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{bot.url}/healthz") as response:
        assert response.status == 200
        details = json.loads(response.read())
    assert (
        details["status"] == "ok"
        and details["database"] == "ok"
        and details["scheduler"] == "running"
    )
