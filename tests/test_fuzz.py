"""Property-based input fuzzing (hypothesis): user text never crashes the bot, never
notifies a crowd, and never makes Slack reject what the bot sends.

Two layers:

- pure properties over the parser (`commands.parse`), channel naming and every
  Block Kit builder, checked with the stand-in's own validators
  (`block_errors`, `view_errors`) and its mass-mention pattern — many examples;
- end-to-end properties through the running bot: random `/incident` text in and
  outside an incident channel, random values in the declare, resolve and update
  modals, random messages sent through the "Add to incident timeline" shortcut.
  After each example: every reply is 200, no listener crashed (no ":boom:" reply,
  no ERROR log), the stand-in rejected nothing as invalid, and nobody was
  mass-mentioned. One bot per test; hypothesis' examples run against it in turn;
- the round trip (issue 9): any text typed on the command line is shown back
  exactly as typed, through Slack's encoding (the sender escapes it as Slack
  does) and the bot's one input boundary and one output escape.

User text is drawn from a mix of hostile Slack tokens (`<!channel>`, `<!here>`,
`<!subteam^…>`, links, entities, mrkdwn), subcommand words, unicode and emoji,
control characters and long runs. Lone surrogates are left out (they cannot be
sent as UTF-8), and so is NUL: PostgreSQL text columns reject it and the bot
does not strip it yet, so a NUL in user text still fails on PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from incidentbot.config import parse_config
from incidentbot.domain import commands
from incidentbot.domain.home import HomeData, PageLine
from incidentbot.domain.naming import channel_name, with_suffix
from incidentbot.domain.snapshot import IncidentSnapshot, UpdateSnapshot
from incidentbot.domain.text import escape, from_slack, plain_within, readable, show
from incidentbot.domain.timeline import EntryView, FollowUpView, LoggedMessage, TimelineView
from incidentbot.playground.client import Reply
from incidentbot.playground.standin import (
    MAX_TEXT_CHARS,
    block_errors,
    iter_texts,
    view_errors,
)
from incidentbot.slack import blocks, escalation_blocks, home_blocks, ids, update_blocks
from incidentbot.slack import timeline_blocks as tb
from incidentbot.slack.listeners.errors import UNEXPECTED
from tests.conftest import Bot
from tests.reading import shown

# What would notify a whole channel or a user group if Slack rendered it.
MASS_MENTION = re.compile(r"<!(?:channel|here|everyone)\b|<!subteam\^")
CHANNEL_NAME = re.compile(r"[a-z0-9_-]{1,80}")
# Slack's answers to a payload it considers invalid (the stand-in gives the same).
INVALID = {
    "invalid_blocks",
    "invalid_blocks_format",
    "invalid_arguments",
    "invalid_attachments",
    "msg_too_long",
    "no_text",
}
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
EXPLORE = bool(os.environ.get("INCIDENTBOT_FUZZ_EXPLORE"))


def fuzz(max_examples: int) -> settings:
    """Hypothesis settings for this file.

    Derandomized: every run tries the same examples, so CI is deterministic and a
    failure reproduces. `INCIDENTBOT_FUZZ_EXPLORE=1` draws fresh examples, ten
    times as many, for a longer hunt.
    """
    return settings(
        max_examples=max_examples * (10 if EXPLORE else 1),
        deadline=None,
        derandomize=not EXPLORE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- strategies -----------------------------------------------------------------------
HOSTILE = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!here|here>",
    "<!channel|@channel>",
    "<!subteam^S1>",
    "<!subteam^S0SRE|@sre>",
    "<!date^1700000000^{time}|x>",
    "<@U0BOB>",
    "<@U0BOB|bob>",
    "<@W0ZZZ>",
    "<#C0GENERAL>",
    "<#C0GENERAL|general>",
    "<https://evil.example/|click>",
    "<mailto:a@b.c|mail>",
    "<javascript:alert(1)|x>",
    "&lt;!channel&gt;",
    "&amp;lt;!here&amp;gt;",
    "&",
    "<",
    ">",
    "<!",
    "|",
    "@channel",
    "@here",
    "*bold*",
    "_it_",
    "~gone~",
    "`code`",
    "```block```",
    ">quote",
    ":fire:",
    "🔥",
    "👩‍👩‍👧",
    "日本語のタイトル",
    "مرحبا",
    "Ünïcödé",
    "\u200b",
    "\u202e",
    "\ufeff",
    "\n",
    "\t",
    "\r\n",
    "\x07",
    "\x1b[31m",
    "me",
    "<@U0ALICE>",
]
WORDS = [
    *commands.SPECS,
    *commands.ALIASES,
    "DECLARE",
    "Sev",
    "sev1",
    "sev2",
    "SEV4",
    "sev9",
    "investigating",
    "identified",
    "resolved",
    "comms_lead",
    "incident_commander",
    "0",
    "30",
    "999999",
    "-1",
    "primary",
]
SAFE_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PIECE = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(WORDS),
    st.text(SAFE_CHARS, max_size=12),
)
# Mostly short phrases, sometimes very long ones (one piece repeated).
TEXT = st.one_of(
    st.lists(PIECE, max_size=12).map(" ".join),
    st.lists(PIECE, max_size=12).map("".join),
    st.tuples(PIECE, st.integers(50, 700)).map(lambda p: (p[0] + " ") * p[1]),
)
COMMAND_TEXT = st.one_of(
    TEXT,
    st.tuples(st.sampled_from(WORDS), TEXT).map(" ".join),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(HOSTILE + WORDS), TEXT).map(" ".join),
)
# Mostly a real subcommand with a random argument, so the handlers behind it run.
SUBCOMMAND_TEXT = st.one_of(
    st.tuples(st.sampled_from([*commands.SPECS, *commands.ALIASES]), TEXT).map(" ".join),
    st.tuples(st.sampled_from([*commands.SPECS, *commands.ALIASES]), PIECE).map(" ".join),
    COMMAND_TEXT,
)
USERS = st.sampled_from(["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"])

CONFIG = parse_config(
    {
        "channels": {"announcements": ["#incidents"]},
        "roles": [{"name": "comms_lead", "description": "Writes stakeholder updates"}],
        "escalation": {
            "primary": {"levels": [{"targets": ["U0CAROL"], "timeout": "5m"}]},
        },
    },
    "test",
)
VOCAB = commands.Vocabulary(
    severities=CONFIG.severity_names,
    statuses=CONFIG.statuses,
    roles=CONFIG.role_names,
    default_severity=CONFIG.default_severity,
)


def many(items: st.SearchStrategy[Any], most: int) -> st.SearchStrategy[list[Any]]:
    """Up to `most` items made from a few drawn ones: volume without slow generation."""
    return st.tuples(st.lists(items, min_size=1, max_size=4), st.integers(0, most)).map(
        lambda p: [p[0][i % len(p[0])] for i in range(p[1])]
    )


def times() -> st.SearchStrategy[datetime]:
    return st.integers(0, 30 * 24 * 3600).map(lambda s: NOW + timedelta(seconds=s))


@st.composite
def snapshots(draw: st.DrawFn, number: int | None = None) -> IncidentSnapshot:
    declared_at = draw(times())
    resolved = draw(st.booleans())
    roles = draw(
        st.dictionaries(st.sampled_from(list(CONFIG.role_names)), USERS, max_size=3),
    )
    return IncidentSnapshot(
        number=number if number is not None else draw(st.integers(1, 10**7)),
        title=draw(TEXT.filter(str.strip)),
        description=draw(TEXT),
        severity=draw(st.sampled_from(list(CONFIG.severity_names))),
        status=CONFIG.final_status if resolved else draw(st.sampled_from(CONFIG.statuses[:-1])),
        private=draw(st.booleans()),
        declared_by=draw(USERS),
        declared_at=declared_at,
        channel_id=draw(st.one_of(st.none(), st.just("C0INC1"))),
        channel_name="inc-1",
        roles=roles,
        summary=draw(TEXT),
        resolved_at=declared_at + timedelta(minutes=42) if resolved else None,
        final_status=CONFIG.final_status,
        last_update_at=draw(st.one_of(st.none(), times())),
        last_update_text=draw(TEXT),
    )


@st.composite
def timeline_entries(draw: st.DrawFn) -> EntryView:
    files = draw(st.lists(st.tuples(TEXT, st.sampled_from(["https://x.example/f", "", "<!here>"]))))
    return EntryView(
        id=None,
        at=draw(times()),
        kind=draw(st.sampled_from(["note", "message", "status", "role", "followup"])),
        actor=draw(st.one_of(USERS, st.just(""))),
        text=draw(TEXT),
        data={
            "author": draw(st.one_of(USERS, st.just(""))),
            "permalink": draw(st.one_of(st.just("https://acme.slack.com/archives/C1/p1"), TEXT)),
            "files": [list(f) for f in files],
        },
        edited_at=draw(st.one_of(st.none(), st.just(NOW))),
        edited_by=draw(st.one_of(st.none(), USERS)),
    )


# -- checks ---------------------------------------------------------------------------
def mentions_in(obj: Any) -> list[str]:
    return [t for t in iter_texts(obj) if MASS_MENTION.search(t)]


def assert_message_ok(message: tuple[str, list[dict[str, Any]]]) -> None:
    """One chat message as the bot would send it: valid for Slack, no crowd mention."""
    text, message_blocks = message
    assert text and len(text) <= MAX_TEXT_CHARS
    assert block_errors(message_blocks) == []
    assert mentions_in([text, message_blocks]) == []


def assert_modal_ok(view: dict[str, Any]) -> None:
    assert view_errors(view, allowed_types=("modal",)) == []
    assert mentions_in([view["title"], view["blocks"]]) == []


# -- pure properties: the parser and channel names ------------------------------------
@fuzz(800)
@given(text=COMMAND_TEXT, actor=USERS)
def test_parse_returns_a_command_or_a_safe_error(text: str, actor: str) -> None:
    try:
        command = commands.parse(text, VOCAB, actor_id=actor)
    except commands.CommandError as error:
        shown = str(error)
        assert not MASS_MENTION.search(shown), shown
        assert len(shown) < 3000  # an ack text Slack shows in full
        return
    assert command.name in commands.SPECS
    if command.severity is not None:
        assert command.severity in VOCAB.severities
    if command.status is not None:
        assert command.status in VOCAB.statuses
    if command.user_id is not None:
        assert re.fullmatch(r"[UW][A-Z0-9]+", command.user_id)


@fuzz(500)
@given(
    title=TEXT,
    number=st.integers(1, 10**9),
    template=st.sampled_from(
        ["inc-{number}-{slug}", "{date}-{severity}-{slug}-{number}", "{slug}-{number}", "X{number}"]
    ),
    attempt=st.integers(2, 99),
)
def test_channel_names_are_always_valid(
    title: str, number: int, template: str, attempt: int
) -> None:
    name = channel_name(template, number=number, title=title, severity="sev1", declared_at=NOW)
    assert CHANNEL_NAME.fullmatch(name), name
    assert str(number) in name  # names stay unique
    assert CHANNEL_NAME.fullmatch(with_suffix(name, attempt))


# -- pure properties: the Block Kit builders ------------------------------------------
@fuzz(150)
@given(s=snapshots())
def test_incident_messages_and_modals(s: IncidentSnapshot) -> None:
    assert_message_ok(blocks.incident_card(s, CONFIG, now=NOW))
    assert_message_ok(blocks.welcome_message(s, CONFIG))
    assert_modal_ok(blocks.resolve_modal(s))
    assert_modal_ok(blocks.roles_modal(s, [(r.name, r.description) for r in CONFIG.roles]))
    assert_modal_ok(
        blocks.declare_modal(CONFIG, declarer=s.declared_by, metadata='{"origin": "C0GENERAL"}')
    )


@fuzz(60)
@given(incidents=many(snapshots(), 160))
def test_incident_list(incidents: list[IncidentSnapshot]) -> None:
    incidents = [replace(s, number=n) for n, s in enumerate(incidents, start=1)]
    assert_message_ok(blocks.incident_list(incidents, CONFIG, now=NOW + timedelta(days=40)))


@fuzz(40)
@given(
    s=snapshots(number=1),
    drawn=many(timeline_entries(), 80),
    follow_ups=many(st.tuples(TEXT, st.one_of(st.none(), USERS), st.booleans()), 30),
    viewer=USERS,
    can_edit_all=st.booleans(),
)
def test_timeline_views_and_entry_modals(
    s: IncidentSnapshot,
    drawn: list[EntryView],
    follow_ups: list[tuple[str, str | None, bool]],
    viewer: str,
    can_edit_all: bool,
) -> None:
    items = [
        FollowUpView(text=t, owner=o, created_by="U0BOB", done_at=NOW if done else None)
        for t, o, done in follow_ups
    ]
    entries = [replace(e, id=i) for i, e in enumerate(drawn, start=1)]
    view = TimelineView(s, entries, items, viewer, can_edit_all, hidden=len(entries) % 3)
    for message in tb.timeline_messages(view):
        assert_message_ok(message)
    for entry in entries[:5]:
        assert_modal_ok(tb.edit_entry_modal(s, entry))
        assert_modal_ok(tb.delete_entry_modal(s, entry))
    assert_modal_ok(tb.follow_up_modal(s))


@fuzz(60)
@given(
    incidents=many(snapshots(), 110).filter(bool),
    text=TEXT,
    author=st.one_of(USERS, st.just("")),
    files=st.lists(st.tuples(TEXT, TEXT), max_size=8),
)
def test_pick_incident_modal(
    incidents: list[IncidentSnapshot], text: str, author: str, files: list[tuple[str, str]]
) -> None:
    message = LoggedMessage("C0GENERAL", "1700000000.000100", author, text, tuple(files))
    view = tb.pick_incident_modal(incidents, message)
    assert_modal_ok(view)
    assert LoggedMessage.from_metadata(view["private_metadata"]).ts == message.ts


@fuzz(100)
@given(
    s=snapshots(),
    text=TEXT,
    impact=TEXT,
    doing=TEXT,
    next_in=st.one_of(st.none(), st.integers(1, 10**5)),
    every=st.one_of(st.none(), st.integers(1, 10**5)),
)
def test_update_messages_and_modal(
    s: IncidentSnapshot, text: str, impact: str, doing: str, next_in: int | None, every: int | None
) -> None:
    update = UpdateSnapshot(
        number=s.number,
        status=s.status,
        severity=s.severity,
        text=text,
        impact=impact,
        doing=doing,
        next_update_at=NOW + timedelta(minutes=next_in) if next_in else None,
        posted_by="U0BOB",
        posted_at=NOW,
    )
    for message in update_blocks.update_messages(s, CONFIG, update):
        assert_message_ok(message)
    for message in update_blocks.closing_messages(s, CONFIG):
        assert_message_ok(message)
    every_delta = timedelta(minutes=every) if every else None
    assert_modal_ok(update_blocks.update_modal(s, update, every=every_delta))
    assert_modal_ok(update_blocks.update_modal(s, None, every=every_delta))
    assert_message_ok(update_blocks.reminder_message(s, quiet_for=timedelta(minutes=31)))
    assert_message_ok(update_blocks.snoozed_message(s, by="U0BOB", until=NOW))
    assert_message_ok(update_blocks.roles_watch_message(s, 5))


@fuzz(40)
@given(
    open_=many(st.tuples(snapshots(), st.booleans()), 60),
    roles=many(st.tuples(snapshots(), st.sampled_from(list(CONFIG.role_names))), 20),
    resolved=many(st.tuples(snapshots(), st.booleans()), 30),
    paths=st.lists(TEXT, max_size=10),
)
def test_home_view(
    open_: list[tuple[IncidentSnapshot, bool]],
    roles: list[tuple[IncidentSnapshot, str]],
    resolved: list[tuple[IncidentSnapshot, bool]],
    paths: list[str],
) -> None:
    pages = [PageLine(i, p, i % 3, NOW, "C0INC1") for i, p in enumerate(paths, start=1)]
    view = home_blocks.home_view(HomeData(open_, roles, pages, resolved), CONFIG, now=NOW)
    assert view_errors(view, allowed_types=("home",)) == []
    assert mentions_in(view["blocks"]) == []


@fuzz(100)
@given(
    s=snapshots(),
    # (target as configured, Slack's error code): codes are Slack's, never user text.
    targets=st.lists(st.tuples(TEXT, st.from_regex(r"[a-z_]{1,30}", fullmatch=True)), max_size=5),
)
def test_escalation_messages(s: IncidentSnapshot, targets: list[tuple[str, str]]) -> None:
    page = escalation_blocks.page_dm(
        s, CONFIG, escalation_id=7, step="level 1 of `primary`", paged_by="U0ALICE"
    )
    assert_message_ok(page)
    assert_message_ok(escalation_blocks.page_dm_closed(s, "Acknowledged by <@U0BOB>."))
    notice = escalation_blocks.paged_notice(
        step="level 1", reached=["U0BOB"], unreachable=targets, next_at=None
    )
    assert_message_ok(blocks.notice(notice))
    assert_modal_ok(escalation_blocks.picker_modal(CONFIG, number=s.number, label=s.label, now=NOW))


# -- end-to-end properties through the running bot ------------------------------------
E2E_CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "roles": [{"name": "comms_lead", "description": "Writes stakeholder updates"}],
    "escalation": {"primary": {"levels": [{"targets": ["U0CAROL"], "timeout": "5m"}]}},
}
# What Slack's inputs allow: plain_text_input enforces its max_length, and Slack
# trims nothing else. The declare title takes 2,000 characters, the rest 2,900.
TITLE = TEXT.map(lambda t: t[:2000])
LONG_INPUT = TEXT.map(lambda t: t[:2900])


class Watch:
    """What one example made the bot do, and the checks every example must pass."""

    def __init__(self, bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
        self.bot = bot
        self.caplog = caplog
        self.replies: list[Reply] = []

    def start(self) -> Watch:
        self.bot.standin.clear_calls()
        self.bot.standin.responses.clear()
        self.caplog.clear()
        self.replies = []
        return self

    def sent(self, reply: Reply) -> Reply:
        self.bot.wait()
        self.replies.append(reply)
        return reply

    def check(self) -> None:
        bot, standin = self.bot, self.bot.standin
        bot.wait()
        for reply in self.replies:
            assert reply.status == 200, reply.body  # the ack, even for refused input
            assert not MASS_MENTION.search(reply.body), reply.body
        assert standin.internal_errors == []
        rejected = [
            (c.method, c.response.get("error"), c.response.get("response_metadata"))
            for c in standin.calls
            if c.response.get("error") in INVALID
            or str(c.response.get("error")).startswith("invalid_name")
        ]
        assert rejected == []
        for payloads in standin.responses.values():  # response_url posts: not in `calls`
            for payload in payloads:
                assert len(payload.get("text") or "") <= MAX_TEXT_CHARS
                assert block_errors(payload.get("blocks") or []) == []
        assert standin.mass_mentions() == []
        assert not [t for _, t, _ in standin.text_log if t.startswith(UNEXPECTED[:10])]
        crashes = [r.getMessage() for r in self.caplog.records if r.levelno >= logging.ERROR]
        assert crashes == []
        for channel in standin.channels.values():
            assert CHANNEL_NAME.fullmatch(channel.name), channel.name


@pytest.fixture
def fuzz_bot(make_bot: Callable[..., Bot]) -> Bot:
    """A bot with an open incident INC-1 (IC: Alice) whose channel users can reach."""
    bot = make_bot(E2E_CONFIG)
    bot.declare("Fuzzing target", user="U0ALICE")
    channel = incident_channel(bot, 1)
    for user in ("U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"):
        bot.standin.add_member(channel, user)
    return bot


@pytest.fixture
def watch(fuzz_bot: Bot, caplog: pytest.LogCaptureFixture) -> Watch:
    caplog.set_level(logging.WARNING)
    return Watch(fuzz_bot, caplog)


def incident_channel(bot: Bot, number: int) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def open_view(bot: Bot, user: str, callback_id: str) -> dict[str, Any]:
    views = [v for v in bot.standin.views_for(user) if not v["closed"]]
    assert views and views[-1]["callback_id"] == callback_id, [v["callback_id"] for v in views]
    return views[-1]


def test_incident_command_with_any_text(watch: Watch) -> None:
    bot = watch.bot
    channel = incident_channel(bot, 1)
    # (text, who, in the incident channel?) — a few commands per example, so one
    # example can also reach states like "resolved, then reopened".
    calls = st.tuples(SUBCOMMAND_TEXT, USERS, st.integers(0, 3).map(bool))

    @fuzz(40)
    @given(calls=st.lists(calls, min_size=1, max_size=6))
    def run(calls: list[tuple[str, str, bool]]) -> None:
        watch.start()
        for text, user, inside in calls:
            where = channel if inside else "C0GENERAL"
            reply = watch.sent(bot.sender.command(text, user=user, channel=where))
            if not text.strip():
                assert reply.body == ""  # a bare `/incident` opens the declare modal
        watch.check()

    run()


def test_declare_modal_with_any_values(watch: Watch) -> None:
    bot = watch.bot

    @fuzz(25)
    @given(
        title=TITLE,
        severity=st.sampled_from(["sev1", "sev2", "sev3", "sev4"]),
        description=st.one_of(st.none(), LONG_INPUT),
        ic=USERS,
        scribe=st.one_of(st.none(), USERS),
        private=st.booleans(),
        user=USERS,
    )
    def run(
        title: str,
        severity: str,
        description: str | None,
        ic: str,
        scribe: str | None,
        private: bool,
        user: str,
    ) -> None:
        watch.start()
        before = len(bot.incidents())
        watch.sent(bot.sender.command("", user=user))
        view = open_view(bot, user, ids.DECLARE_VIEW)
        inputs = {
            ids.TITLE: title,
            ids.SEVERITY: severity,
            ids.DESCRIPTION: description,
            ids.IC: ic,
            ids.SCRIBE: scribe,
            ids.PRIVATE: ["private"] if private else [],
        }
        reply = watch.sent(bot.sender.submit_view(view["id"], inputs, user=user))
        watch.check()
        if title.strip():
            assert len(bot.incidents()) == before + 1
            assert bot.incidents()[-1].title == title.strip()
        else:
            assert reply.json and reply.json["response_action"] == "errors"
            assert len(bot.incidents()) == before

    run()


def test_resolve_and_update_modals_with_any_values(watch: Watch) -> None:
    bot = watch.bot

    @fuzz(25)
    @given(
        summary=LONG_INPUT,
        status=LONG_INPUT,
        impact=st.one_of(st.none(), LONG_INPUT),
        doing=st.one_of(st.none(), LONG_INPUT),
        next_in=st.sampled_from(["15", "60", "1440"]),
    )
    def run(summary: str, status: str, impact: str | None, doing: str | None, next_in: str) -> None:
        watch.start()
        incident = bot.declare("Modal target", user="U0BOB")
        assert incident.id is not None
        channel = incident_channel(bot, incident.id)
        watch.sent(bot.sender.command("update", user="U0BOB", channel=channel))
        view = open_view(bot, "U0BOB", ids.UPDATE_VIEW)
        inputs = {
            ids.UPDATE_STATUS: status,
            ids.UPDATE_IMPACT: impact,
            ids.UPDATE_DOING: doing,
            ids.UPDATE_NEXT: next_in,
        }
        watch.sent(bot.sender.submit_view(view["id"], inputs, user="U0BOB"))
        watch.sent(bot.sender.command("resolve", user="U0BOB", channel=channel))
        view = open_view(bot, "U0BOB", ids.RESOLVE_VIEW)
        watch.sent(bot.sender.submit_view(view["id"], {ids.SUMMARY: summary}, user="U0BOB"))
        watch.check()
        resolved = bot.incident(incident.id)
        assert (resolved.status == "resolved") == bool(summary.strip())
        if summary.strip():
            assert resolved.summary == summary.strip()

    run()


def test_timeline_shortcut_with_any_message(watch: Watch) -> None:
    bot = watch.bot
    channel = incident_channel(bot, 1)

    @fuzz(25)
    @given(
        text=TEXT,
        author=USERS,
        user=USERS,
        inside=st.booleans(),
        files=st.lists(
            st.tuples(TEXT, st.sampled_from(["https://f.example/1", "<!here>"])), max_size=3
        ),
    )
    def run(text: str, author: str, user: str, inside: bool, files: list[tuple[str, str]]) -> None:
        watch.start()
        where = channel if inside else "C0GENERAL"
        posted = bot.standin.add_message(where, text, user=author)
        posted.files = [
            {"id": f"F{i}", "name": n, "permalink": p} for i, (n, p) in enumerate(files)
        ]
        watch.sent(
            bot.sender.message_action(
                ids.LOG_MESSAGE, user=user, channel=where, message_ts=posted.ts
            )
        )
        if not inside:
            view = open_view(bot, user, ids.LOG_MESSAGE_VIEW)
            watch.sent(bot.sender.submit_view(view["id"], {}, user=user))  # the first incident
        watch.check()
        bot.sender.command("timeline", user=user, channel=channel)
        watch.check()

    run()


# -- round trip: what is typed is shown back exactly -----------------------------------
# What a person may type on the command line: anything, including Slack's own entity
# spellings, mentions Slack resolves (`@bob`, `#general`), broadcast words, names it
# does not know. Left out: control characters (a Slack client does not send them) and
# text that itself spells Slack's markup for a mention or link (`<@U0BOB>`), which is
# read as the mention it spells (domain/text.py documents the choice).
TYPED_PIECE = st.one_of(
    st.sampled_from(
        [
            "&",
            "&amp;",
            "&lt;b&gt;",
            "<",
            ">",
            "<b>",
            "<!channel>",
            "<!subteam^S1|@sre>",
            "@bob",
            "@carol",
            "@channel",
            "@here",
            "@nobody",
            "#general",
            "#nosuchchannel",
            "bob@example.com",
            "*bold*",
            ":fire:",
            "🔥",
            "日本語",
            "a|b",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=10),
)
TYPED = st.lists(TYPED_PIECE, min_size=1, max_size=10).map(" ".join)


class _Nobody:
    """`shown` without a workspace: the pure round trip has no mentions to name."""

    users: dict[str, Any] = {}

    def channel(self, channel_id: str) -> None:
        return None


_NO_PEOPLE: Any = _Nobody()


def typed_is_plain(text: str) -> bool:
    return bool(text.strip()) and readable(text) == text


@fuzz(400)
@given(typed=TYPED)
def test_typed_text_round_trips_through_the_boundary(typed: str) -> None:
    assume(typed_is_plain(typed))
    stored = from_slack(escape(typed))  # Slack escapes what was typed; we un-escape once
    assert stored == typed
    assert shown(_NO_PEOPLE, show(stored)) == typed  # mrkdwn: read back as typed
    assert plain_within(stored, 10_000) == escape(typed)  # plain_text: Slack decodes once


def test_any_note_typed_is_shown_back_exactly(watch: Watch) -> None:
    bot = watch.bot
    channel = incident_channel(bot, 1)

    @fuzz(30)
    @given(typed=TYPED)
    def run(typed: str) -> None:
        assume(typed_is_plain(typed))
        watch.start()
        watch.sent(bot.sender.command(f"note {typed}", user="U0ALICE", channel=channel))
        notice = bot.standin.last_message(channel)
        assert notice is not None
        assert shown(bot.standin, notice.text) == f":memo: Note from @alice: {typed.strip()}"
        watch.check()

    run()
