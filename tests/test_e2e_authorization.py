"""End-to-end: who may do the restricted actions (`[permissions] restricted`).

By default resolve, reopen, severity, ic and timeline edits are restricted: only
the incident's Incident Commander, its Scribe and admins (user IDs or members
of admin user groups) may do them. Everyone else gets a clear refusal, and the
attempt changes nothing: no timeline entry, nothing stored, nothing in Slack
(no notice, no topic, no card edit). Each path a person can take is tried:
commands, buttons, the timeline entry menu and (forged) modal submissions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from incidentbot.playground.standin import ts_key
from incidentbot.slack import ids
from tests.conftest import Bot

IC, SCRIBE, ADMIN, GROUP_ADMIN, OUTSIDER = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"
CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "permissions": {
        "restricted": ["resolve", "reopen", "severity", "ic", "timeline_edit"],
        "admins": [ADMIN, "S0SRE"],
    },
}
REFUSAL = (
    "Only the Incident Commander (<@U0ALICE>) or the Scribe (<@U0BOB>) "
    "or an incidentbot admin can {verb} INC-1."
)
# Web API methods that change what people see in Slack (DMs to one person aside).
CHANGES = {
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "conversations.setTopic",
    "conversations.setPurpose",
    "conversations.invite",
    "conversations.create",
    "pins.add",
    "reactions.add",
}


def start(make_bot: Callable[..., Bot], config: dict[str, Any] | None = None) -> Bot:
    """INC-1, declared by the IC, with a Scribe; the other people are in its channel."""
    bot = make_bot(config or CONFIG)
    bot.standin.add_usergroup("S0SRE", "sre-leads", [GROUP_ADMIN])
    bot.declare("Prod down", user=IC)
    channel = channel_of(bot)
    for user in (ADMIN, GROUP_ADMIN, OUTSIDER):
        bot.standin.add_member(channel, user)
    bot.command("scribe @bob", user=IC, channel=channel)
    return bot


def channel_of(bot: Bot, number: int = 1) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def state(bot: Bot) -> tuple[Any, ...]:
    """What a refused attempt must leave alone: the stored incident and its timeline."""
    inc = bot.incident(1)
    timeline = [(e.id, e.text, e.deleted_at, e.edited_at) for e in bot.timeline(1)]
    return inc.status, inc.severity, inc.summary, inc.resolved_at, timeline


def slack_changes(bot: Bot) -> list[tuple[str, Any]]:
    return [
        (c.method, c.args.get("channel"))
        for c in bot.standin.calls
        if c.method in CHANGES and not str(c.args.get("channel", "")).startswith(("U", "D"))
    ]


def told(bot: Bot, user: str) -> list[str]:
    """Everything only `user` was told, oldest first: ephemerals, response_url replies, DMs."""
    said = [(e["message_ts"], e["text"]) for e in bot.standin.ephemerals_for(user)]
    said += [(m.ts, m.text) for m in bot.standin.dm_messages(user)]
    return [text for _, text in sorted(said, key=lambda item: ts_key(item[0]))]


def click_entry_menu(bot: Bot, entry_id: int, verb: str, *, user: str) -> None:
    bot.action(
        f"{ids.ENTRY_MENU}{entry_id}",
        user=user,
        channel=channel_of(bot),
        ephemeral=True,
        action_type="overflow",
        selected_option=f"{verb}:{entry_id}",
    )


def submit_entry_edit(bot: Bot, entry_id: int, text: str, *, user: str) -> None:
    """The edit modal's submission, sent as Slack would (also when no modal was opened)."""
    values = {ids.ENTRY_TEXT: {ids.ENTRY_TEXT: {"type": "plain_text_input", "value": text}}}
    bot.sender.view_submission(
        ids.EDIT_ENTRY_VIEW, values, user=user, private_metadata=str(entry_id)
    )
    bot.wait()


# -- refused ----------------------------------------------------------------------------
def test_everyone_else_is_refused_every_restricted_action(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    channel = channel_of(bot)
    welcome_ts = bot.standin.channel(channel).pins[0]
    declared = bot.timeline(1)[0]  # the IC's entry: the outsider does not own it
    before = state(bot)
    bot.standin.clear_calls()

    # (what the outsider tries, the verb of the refusal)
    attempts: list[tuple[Callable[[], Any], str]] = [
        # /incident resolve with a summary
        (lambda: bot.command("resolve nope", user=OUTSIDER, channel=channel), "resolve"),
        # the Resolve button: refused before the form opens
        (
            lambda: bot.action(
                ids.OPEN_RESOLVE, user=OUTSIDER, value="1", channel=channel, message_ts=welcome_ts
            ),
            "resolve",
        ),
        # /incident sev and its long form
        (lambda: bot.command("sev sev1", user=OUTSIDER, channel=channel), "change the severity of"),
        (
            lambda: bot.command("severity sev4", user=OUTSIDER, channel=channel),
            "change the severity of",
        ),
        # /incident ic, for someone else and for oneself
        (
            lambda: bot.command("ic @erin", user=OUTSIDER, channel=channel),
            "change the Incident Commander of",
        ),
        (
            lambda: bot.command("commander me", user=OUTSIDER, channel=channel),
            "change the Incident Commander of",
        ),
        # the ⋯ menu of someone else's timeline entry: edit, delete
        (lambda: click_entry_menu(bot, declared.id, "edit", user=OUTSIDER), "edit the timeline of"),
        (
            lambda: click_entry_menu(bot, declared.id, "delete", user=OUTSIDER),
            "edit the timeline of",
        ),
        # edit and delete submissions (forged)
        (
            lambda: submit_entry_edit(bot, declared.id, "hijacked", user=OUTSIDER),
            "edit the timeline of",
        ),
        (
            lambda: bot.sender.view_submission(
                ids.DELETE_ENTRY_VIEW, {}, user=OUTSIDER, private_metadata=str(declared.id)
            ),
            "edit the timeline of",
        ),
    ]
    for attempt, verb in attempts:
        seen = len(told(bot, OUTSIDER))
        reply = attempt()
        bot.wait()
        assert getattr(reply, "status", 200) == 200
        assert told(bot, OUTSIDER)[seen:] == [f":warning: {REFUSAL.format(verb=verb)}"], verb

    # A forged resolve submission (the outsider never got the form) is refused inside it.
    reply = bot.sender.view_submission(
        ids.RESOLVE_VIEW,
        {ids.SUMMARY: {ids.SUMMARY: {"type": "plain_text_input", "value": "nope"}}},
        user=OUTSIDER,
        private_metadata="1",
    )
    bot.wait()
    assert reply.json is not None and reply.json["response_action"] == "errors"
    assert reply.json["errors"][ids.SUMMARY] == (
        "Only the Incident Commander (@alice) or the Scribe (@bob) "
        "or an incidentbot admin can resolve INC-1."
    )

    assert state(bot) == before
    assert slack_changes(bot) == []
    assert bot.standin.views_for(OUTSIDER) == []  # no resolve/edit/delete modal was opened
    assert bot.standin.channel(channel).topic.endswith(f"IC: <@{IC}>")


def test_reopen_is_refused_to_everyone_else(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    channel = channel_of(bot)
    bot.command("resolve Rolled back", user=IC, channel=channel)
    before = state(bot)
    bot.standin.clear_calls()

    bot.command("reopen", user=OUTSIDER, channel=channel)

    assert told(bot, OUTSIDER)[-1] == f":warning: {REFUSAL.format(verb='reopen')}"
    assert state(bot) == before
    assert slack_changes(bot) == []


# -- allowed ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "actor",
    [
        IC,  # the Incident Commander
        SCRIBE,  # the Scribe
        ADMIN,  # listed in `admins` by user ID
        GROUP_ADMIN,  # a member of the `S0SRE` user group listed in `admins`
    ],
)
def test_ic_scribe_and_admins_may_do_every_restricted_action(
    make_bot: Callable[..., Bot], actor: str
) -> None:
    bot = start(make_bot)
    channel = channel_of(bot)
    bot.command("note Restarted db-3", user=OUTSIDER, channel=channel)
    [note] = [e for e in bot.timeline(1) if e.kind == "note"]  # not the actor's own entry

    bot.command("sev sev1", user=actor, channel=channel)
    assert bot.incident(1).severity == "sev1"

    click_entry_menu(bot, note.id, "edit", user=actor)
    [view] = bot.standin.views_for(actor)
    bot.submit(view["id"], {ids.ENTRY_TEXT: "Restarted db-3 and db-4"}, user=actor)
    edited = next(e for e in bot.timeline(1) if e.id == note.id)
    assert (edited.text, edited.edited_by) == ("Restarted db-3 and db-4", actor)

    click_entry_menu(bot, note.id, "delete", user=actor)
    bot.submit(bot.standin.views_for(actor)[-1]["id"], {}, user=actor)
    assert next(e for e in bot.timeline(1) if e.id == note.id).deleted_at is not None

    bot.command("resolve Rolled back", user=actor, channel=channel)
    assert (bot.incident(1).status, bot.incident(1).summary) == ("resolved", "Rolled back")

    bot.command("reopen", user=actor, channel=channel)
    assert bot.incident(1).status == "investigating"

    bot.command("ic @erin", user=actor, channel=channel)
    assert bot.standin.channel(channel).topic.endswith(f"IC: <@{OUTSIDER}>")

    kinds = [e.kind for e in bot.timeline(1)]
    for kind in ("severity", "timeline_edit", "timeline_delete", "resolved", "reopened"):
        assert kinds.count(kind) == 1, kind
    assert not [t for t in told(bot, actor) if "Only the" in t]


# -- a custom list ----------------------------------------------------------------------
def test_custom_restricted_list_is_honoured(make_bot: Callable[..., Bot]) -> None:
    config = {**CONFIG, "permissions": {"restricted": ["resolve", "status"], "admins": []}}
    bot = start(make_bot, config)
    channel = channel_of(bot)
    before = state(bot)

    # `status` is now restricted...
    bot.command("status identified", user=OUTSIDER, channel=channel)
    verb = "change the status of"
    assert told(bot, OUTSIDER)[-1] == f":warning: {REFUSAL.format(verb=verb)}"
    assert state(bot) == before
    # ...and so is `resolve`, while `admins = []` makes Carol an outsider too.
    bot.command("resolve nope", user=ADMIN, channel=channel)
    assert told(bot, ADMIN)[-1] == f":warning: {REFUSAL.format(verb='resolve')}"
    assert state(bot) == before

    # `severity` and `ic` are no longer restricted: anyone may change them.
    bot.command("sev sev2", user=OUTSIDER, channel=channel)
    bot.command("ic @erin", user=OUTSIDER, channel=channel)
    assert bot.incident(1).severity == "sev2"
    assert bot.standin.channel(channel).topic.endswith(f"IC: <@{OUTSIDER}>")

    # The IC and the Scribe keep their rights.
    bot.command("status identified", user=SCRIBE, channel=channel)
    assert bot.incident(1).status == "identified"
