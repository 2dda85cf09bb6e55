"""Issue 9 end to end: text as people typed it, roles only for real people, and the
rough edges of a first real incident, each numbered reproduction through signed
requests against the stand-in (which sends what Slack sends: slash text
HTML-escaped, `@name` as `<@U…|name>`), on SQLite and PostgreSQL.

`tests.reading.shown` renders Slack text the way a person reads it, so
assertions say what people see rather than what markup the bot chose.
"""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from incidentbot.logs import configure_logging
from incidentbot.playground.standin import (
    DEPLOY_BOT_ID,
    INCIDENTS_ID,
    Message,
    iter_texts,
)
from incidentbot.slack import ids
from incidentbot.store import repo
from tests.conftest import Bot, page_dms
from tests.reading import shown

TITLE = "Cache & DB <primary> down"


def channel_of(bot: Bot, number: int = 1) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def texts(bot: Bot, channel: str) -> list[str]:
    return [
        shown(bot.standin, t)
        for m in bot.standin.messages(channel, include_threads=False)
        for t in iter_texts([m.text, m.blocks])
    ]


def card(bot: Bot) -> Message:
    [found] = [m for m in bot.standin.messages(INCIDENTS_ID, include_threads=False) if m.blocks]
    return found


def thread_texts(bot: Bot, message: Message) -> list[str]:
    replies = bot.standin.thread(message.channel, message.ts)[1:]
    return [shown(bot.standin, " ".join(iter_texts([m.text, m.blocks]))) for m in replies]


def last_reply(bot: Bot) -> str:
    return shown(bot.standin, bot.replies()[-1])


# -- 1. slash-command text is un-escaped once -------------------------------------------
def test_slash_text_reads_as_typed_everywhere(bot: Bot) -> None:
    bot.command(f"declare sev2 {TITLE}", user="U0ALICE")
    incident = bot.incident(1)
    assert incident.title == TITLE  # stored as typed
    channel = channel_of(bot)
    assert incident.channel_name == "inc-1-cache-db-primary-down"
    assert bot.standin.channel(channel).purpose == "Cache &amp; DB &lt;primary&gt; down"
    welcome = bot.standin.messages(channel)[0]
    assert shown(bot.standin, welcome.blocks[0]["text"]["text"]) == f"INC-1: {TITLE}"
    assert f"INC-1: {TITLE}" in [shown(bot.standin, t) for t in iter_texts(card(bot).blocks)]

    bot.command("note Flushed cache & restarted <db-3>", user="U0ALICE", channel=channel)
    bot.command("update Cache & DB back; watching <p99>", user="U0ALICE", channel=channel)
    bot.command("followup Alert on cache & DB", user="U0ALICE", channel=channel)
    bot.command("resolve Flushed & restarted", user="U0ALICE", channel=channel)
    kinds = {e.kind: e.text for e in bot.timeline(1)}
    assert kinds["note"] == "Flushed cache & restarted <db-3>"
    assert kinds["update"] == "Cache & DB back; watching <p99>"
    assert kinds["followup"] == "Alert on cache & DB"
    assert bot.incident(1).summary == "Flushed & restarted"

    seen = "\n".join(texts(bot, channel))
    assert "Note from @alice: Flushed cache & restarted <db-3>" in seen
    assert "&amp;" not in seen and "&lt;" not in seen
    bot.command("declare Another & one", user="U0BOB")
    bot.command("list", user="U0BOB")
    listed = shown(bot.standin, str(list(bot.standin.responses.values())[-1]))
    assert "Another & one" in listed and TITLE not in listed  # the resolved one is not open


# -- 2. mentions typed in text stay mentions ----------------------------------------------
def test_mentions_in_text_are_real_mentions_and_errors_quote_the_person(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    bot.command("note talked to @bob in #incidents", user="U0ALICE", channel=channel)
    [note] = [e for e in bot.timeline(1) if e.kind == "note"]
    assert note.text == "talked to <@U0BOB|bob> in <#C0INCIDENTS|incidents>"
    notice = bot.standin.last_message(channel)
    assert "<@U0BOB|bob>" in notice.text  # a real mention, not `&lt;@U0BOB|bob&gt;`
    bot.command("update Rolled back; @bob is on it", user="U0ALICE", channel=channel)
    assert any("@bob is on it" in t for t in thread_texts(bot, card(bot)))

    reply = bot.command("ic @bob @carol", user="U0ALICE", channel=channel)
    assert "`@bob @carol` is not a person" in reply.body
    broadcast = bot.command("note deploy done @channel", user="U0ALICE", channel=channel)
    assert broadcast.status == 200
    assert bot.standin.mass_mentions() == []
    assert [e.text for e in bot.timeline(1) if e.kind == "note"][-1] == "deploy done @channel"


def test_a_plain_name_is_looked_up_or_refused_clearly(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    # Slack left `@bob` as text (e.g. typed too fast for autocomplete): looked up by name.
    bot.sender.command("scribe @bob", user="U0ALICE", channel=channel, raw=True)
    bot.wait()
    assert repo_roles(bot)["scribe"] == "U0BOB"
    bot.command("scribe @nosuchperson", user="U0ALICE", channel=channel)
    assert "`@nosuchperson` is not a name Slack recognised as one person here" in last_reply(bot)
    assert repo_roles(bot)["scribe"] == "U0BOB"


def repo_roles(bot: Bot) -> dict[str, str]:
    with Session(bot.runtime.engine) as session:
        return repo.current_roles(session, incident_id=1)


# -- 3. roles only for people who exist -----------------------------------------------------
def test_unknown_deleted_and_bot_users_never_get_a_role(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    topic = bot.standin.channel(channel).topic
    bot.standin.clear_calls()

    bot.sender.command("ic <@U0NOBODY|ghost>", user="U0ALICE", channel=channel, raw=True)
    bot.wait()
    assert "`U0NOBODY` is not a person in this workspace" in last_reply(bot)
    bot.command("ic @gone", user="U0ALICE", channel=channel)
    assert "*gone* has a deactivated Slack account and cannot take a role" in last_reply(bot)
    bot.command("scribe @deploybot", user="U0ALICE", channel=channel)
    assert "*deploybot* is a bot; roles are for people." in last_reply(bot)

    assert repo_roles(bot) == {"incident_commander": "U0ALICE"}
    assert bot.standin.channel(channel).topic == topic
    assert bot.standin.calls_to("conversations.invite") == []
    assert bot.standin.calls_to("conversations.setTopic") == []


def test_an_incident_whose_role_holders_are_gone_is_open_to_anyone(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    # An incident saved before roles were checked, whose IC never existed.
    with Session(bot.runtime.engine) as session:
        repo.assign_role(
            session,
            incident_id=1,
            role="incident_commander",
            user_id="U0NOBODY",
            by="U0ALICE",
            at=bot.clock(),
        )
        session.commit()
    bot.command("sev sev1", user="U0ERIN", channel=channel)
    assert bot.incident(1).severity == "sev1"
    bot.command("ic me", user="U0ERIN", channel=channel)
    assert repo_roles(bot)["incident_commander"] == "U0ERIN"


# -- 4. restricted forms: checked before opening, errors inside the form -----------------
def test_a_non_ic_cannot_open_the_resolve_form(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    bot.command("resolve", user="U0ERIN", channel=channel)
    assert "can resolve INC-1" in last_reply(bot)
    welcome = bot.standin.messages(channel)[0]
    bot.action(ids.OPEN_RESOLVE, user="U0ERIN", value="1", channel=channel, message_ts=welcome.ts)
    assert "can resolve INC-1" in last_reply(bot)
    assert bot.standin.views_for("U0ERIN") == []

    # The IC gets the form; when the IC changes while it is open, the refusal is inside it.
    bot.command("resolve", user="U0ALICE", channel=channel)
    [view] = bot.standin.views_for("U0ALICE")
    bot.command("ic @bob", user="U0ALICE", channel=channel)
    reply = bot.submit(view["id"], {ids.SUMMARY: "Flushed the cache"}, user="U0ALICE")
    assert reply.json["response_action"] == "errors"
    assert "Only the Incident Commander (@bob)" in reply.json["errors"][ids.SUMMARY]
    assert bot.incident(1).status != "resolved"


def test_an_update_form_submitted_after_resolve_is_refused_inside_it(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    bot.command("update", user="U0BOB", channel=channel)
    [view] = bot.standin.views_for("U0BOB")
    bot.command("resolve Rolled back", user="U0ALICE", channel=channel)
    reply = bot.submit(view["id"], {ids.UPDATE_STATUS: "All good now"}, user="U0BOB")
    assert reply.json["response_action"] == "errors"
    assert "already resolved; cannot post an update" in reply.json["errors"][ids.UPDATE_STATUS]
    assert [e for e in bot.timeline(1) if e.kind == "update"] == []


def test_the_declare_form_refuses_a_bot_as_ic_inside_the_form(bot: Bot) -> None:
    bot.command("", user="U0ALICE")
    [view] = bot.standin.views_for("U0ALICE")
    reply = bot.submit(
        view["id"], {ids.TITLE: "Checkout failing", ids.IC: "U0DEPLOYBOT"}, user="U0ALICE"
    )
    assert reply.json["errors"][ids.IC] == "deploybot is a bot; roles are for people."
    assert bot.incidents() == []


# -- 5. Take IC by someone not allowed asks for a hand-over ------------------------------
def test_take_ic_by_anyone_asks_the_ic_to_hand_over(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    welcome = bot.standin.messages(channel)[0]
    bot.action(ids.TAKE_IC, user="U0ERIN", value="1", channel=channel, message_ts=welcome.ts)
    assert "so I asked @alice in the channel to hand it over to you" in last_reply(bot)
    request = bot.standin.last_message(channel)
    assert "@erin offers to take over as Incident Commander from @alice" in shown(
        bot.standin, request.text
    )
    assert "Hand over to @erin" in str(request.blocks)

    bot.action(ids.HAND_OVER, user="U0DAVE", channel=channel, message_ts=request.ts)
    assert "Only the Incident Commander" in last_reply(bot)  # only IC, Scribe or admin
    assert repo_roles(bot)["incident_commander"] == "U0ALICE"

    bot.action(ids.HAND_OVER, user="U0ALICE", channel=channel, message_ts=request.ts)
    assert repo_roles(bot)["incident_commander"] == "U0ERIN"
    answered = bot.standin.find_message(channel, request.ts)
    assert "handed Incident Commander over to" in answered.text
    assert not [b for b in answered.blocks if b["type"] == "actions"]


# -- 6 and 7. one resolution message; reopen and severity told to stakeholders ------------
def test_one_resolution_message_and_stakeholders_hear_of_reopen_and_severity(bot: Bot) -> None:
    bot.declare("Checkout failing", severity="sev3")
    channel = channel_of(bot)
    bot.command("sev sev2", user="U0ALICE", channel=channel)
    bot.command("resolve Rolled back", user="U0ALICE", channel=channel)
    posted = bot.standin.messages(channel, include_threads=False)
    resolved = [m for m in posted if "resolved" in m.text.lower() and m is not posted[0]]
    assert len(resolved) == 1  # the closing update, nothing else
    shown_resolved = shown(bot.standin, " ".join(iter_texts(resolved[0].blocks)))
    assert "INC-1 is resolved" in shown_resolved and "Rolled back" in shown_resolved
    assert "by @alice" in shown_resolved

    bot.command("reopen", user="U0ALICE", channel=channel)
    told = thread_texts(bot, card(bot))
    assert "severity changed by @alice: *sev3* → :large_orange_circle: SEV2" in told[0]
    assert "INC-1 is resolved" in told[1]
    assert "INC-1 was reopened by @alice; status *investigating*." in told[-1]
    assert "open" in shown(bot.standin, str(card(bot).blocks))


# -- 8. one acknowledged milestone --------------------------------------------------------
ESCALATING: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "severities": [
        {"name": "sev1", "description": "Critical", "escalation": "primary"},
        {"name": "sev2", "description": "Major"},
    ],
    "escalation": {"primary": {"levels": [{"targets": ["U0BOB"], "timeout": "5m"}]}},
}


def test_mtta_is_the_page_acknowledgement_everywhere(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(ESCALATING)
    bot.command("declare sev1 Checkout down", user="U0ALICE")
    channel = channel_of(bot)
    bot.clock.advance(seconds=3)
    bot.command("status identified", user="U0ALICE", channel=channel)  # the IC acts first
    assert bot.incident(1).acknowledged_at is None  # someone was paged: that is not it
    bot.clock.advance(seconds=3)
    [dm] = page_dms(bot.standin, "U0BOB")
    bot.action("escalation.ack", user="U0BOB", channel=dm.channel, message_ts=dm.ts)
    assert bot.incident(1).acknowledged_at == bot.clock()

    bot.command("postmortem", user="U0ALICE", channel=channel)
    [file] = [f for f in bot.standin.files.values() if f["complete"]]
    document = file["content"].decode("utf-8")
    assert "- **Time to acknowledge:** 6s (acknowledged = first page acknowledgement)" in document
    assert "acknowledged by @bob at" in document and "after this escalation started" in document
    bot.command("stats", user="U0ALICE")
    stats = str(list(bot.standin.responses.values())[-1])
    assert "MTTA 6s mean, 6s median (1)" in stats
    with urllib.request.urlopen(f"{bot.url}/metrics") as response:
        exported = response.read().decode()
    assert 'incidentbot_time_to_acknowledge_seconds_sum{via="page"} 6.0' in exported
    assert 'incidentbot_time_to_acknowledge_seconds_count{via="ic_action"}' not in exported


def test_an_incident_that_paged_nobody_counts_the_ic_action(bot: Bot) -> None:
    bot.declare("Checkout failing", severity="sev3")
    channel = channel_of(bot)
    bot.clock.advance(seconds=4)
    bot.command("status identified", user="U0ALICE", channel=channel)
    assert bot.incident(1).acknowledged_at == bot.clock()
    bot.command("postmortem", user="U0ALICE", channel=channel)
    [file] = [f for f in bot.standin.files.values() if f["complete"]]
    assert b"| Acknowledged (IC's first action) |" in file["content"]


# -- 9 and 10. the postmortem names people; bot messages by the bot's name ----------------
def test_bot_messages_are_attributed_to_the_bot(bot: Bot) -> None:
    bot.declare("Deploy broke checkout")
    channel = channel_of(bot)
    named = bot.standin.add_bot_message(channel, "deploy 1234 rolled back &amp; verified")
    nameless = bot.standin.add_bot_message(channel, "canary failed", username="")
    for posted in (named, nameless):
        bot.sender.message_action(ids.LOG_MESSAGE, channel=channel, message_ts=posted.ts)
        bot.wait()
    logged = [e for e in bot.timeline(1) if e.kind == "message"]
    assert [(e.text, e.data["author"], e.data["author_name"]) for e in logged] == [
        ("deploy 1234 rolled back & verified", DEPLOY_BOT_ID, "deploybot"),
        ("canary failed", DEPLOY_BOT_ID, "deploybot"),  # named by bots.info
    ]
    bot.command("postmortem", user="U0ALICE", channel=channel)
    [file] = [f for f in bot.standin.files.values() if f["complete"]]
    document = file["content"].decode("utf-8")
    assert "message · deploybot (bot) (logged by @alice): deploy 1234 rolled back & verified" in (
        document
    )
    assert "B0DEPLOY" not in document and "U0ALICE" not in document
    bot.command("timeline", user="U0ALICE", channel=channel)
    timeline = " ".join(e["text"] or "" for e in bot.standin.ephemerals) + str(
        [e["blocks"] for e in bot.standin.ephemerals]
    )
    assert "<@B0DEPLOY>" not in timeline and "*deploybot* (bot)" in timeline


# -- 11. operator rough edges --------------------------------------------------------------
def test_an_update_does_not_re_set_an_unchanged_topic_or_welcome(bot: Bot) -> None:
    bot.declare("Checkout failing")
    channel = channel_of(bot)
    bot.standin.clear_calls()
    bot.command("update Still investigating", user="U0ALICE", channel=channel)
    bot.command("note Looked at the dashboards", user="U0ALICE", channel=channel)
    assert bot.standin.calls_to("conversations.setTopic") == []
    welcome_ts = bot.standin.messages(channel)[0].ts
    assert [c for c in bot.standin.calls_to("chat.update") if c.args.get("ts") == welcome_ts] == []
    bot.command("status identified", user="U0ALICE", channel=channel)
    assert len(bot.standin.calls_to("conversations.setTopic")) == 1  # it did change


def test_scheduler_chatter_is_debug(capfd: Any) -> None:
    root = logging.getLogger()
    saved = (root.level, root.handlers[:])
    try:
        configure_logging("INFO")
        logging.getLogger("apscheduler.executors.default").info('Running job "Timers._wake"')
        logging.getLogger("apscheduler.executors.default").error("Job raised an exception")
        configure_logging("DEBUG")
        logging.getLogger("apscheduler.executors.default").info('Running job "Timers._wake"')
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
    lines = capfd.readouterr().err.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "ERROR apscheduler.executors.default: Job raised an exception",
        'DEBUG apscheduler.executors.default: Running job "Timers._wake"',
    ]
