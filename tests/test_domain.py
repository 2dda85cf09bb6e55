"""Table tests for the pure rules: command parsing, channel naming, escaping, transitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from incidentbot.domain import commands, incident, naming, text
from incidentbot.domain.commands import CommandError, Vocabulary
from incidentbot.domain.errors import InvalidChange

VOCAB = Vocabulary(
    severities=("sev1", "sev2", "sev3", "sev4"),
    statuses=("investigating", "identified", "monitoring", "resolved"),
    roles=("incident_commander", "scribe", "comms_lead"),
    default_severity="sev3",
)
VALID_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
WHEN = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", commands.Command("declare")),  # empty opens the modal
        ("declare", commands.Command("declare")),  # so does a bare declare
        ("declare    ", commands.Command("declare")),  # and one with only spaces
        (
            "DECLARE Db down",
            commands.Command("declare", text="Db down", severity="sev3"),
        ),  # case-insensitive
        ("declare sev1 Db down", commands.Command("declare", text="Db down", severity="sev1")),
        ("declare SEV2 Db down", commands.Command("declare", text="Db down", severity="sev2")),
        (
            "declare sevenfold fail",
            commands.Command("declare", text="sevenfold fail", severity="sev3"),
        ),
        ("help", commands.Command("help")),
        ("list", commands.Command("list")),
        ("status identified", commands.Command("status", status="identified")),
        ("status Monitoring", commands.Command("status", status="monitoring")),
        ("sev sev1", commands.Command("severity", severity="sev1")),  # alias
        ("severity sev4", commands.Command("severity", severity="sev4")),
        ("ic <@U123|alice>", commands.Command("ic", role="incident_commander", user_id="U123")),
        ("commander <@U123>", commands.Command("ic", role="incident_commander", user_id="U123")),
        ("ic me", commands.Command("ic", role="incident_commander", user_id="U0ME")),
        ("scribe <@W999|bob>", commands.Command("scribe", role="scribe", user_id="W999")),
        ("role comms_lead <@U7>", commands.Command("role", role="comms_lead", user_id="U7")),
        ("roles", commands.Command("roles")),
        ("note rolled back 1.2.3", commands.Command("note", text="rolled back 1.2.3")),
        ("timeline", commands.Command("timeline")),
        ("resolve", commands.Command("resolve")),  # modal asks the summary
        ("resolve fixed the config", commands.Command("resolve", text="fixed the config")),
        ("reopen", commands.Command("reopen")),
        ("escalate", commands.Command("escalate")),  # next level now, or a picker
        ("escalate Database", commands.Command("escalate", text="database")),
        ("ack", commands.Command("ack")),
    ],
)
def test_parse(typed: str, expected: commands.Command) -> None:
    assert commands.parse(typed, VOCAB, actor_id="U0ME") == expected


@pytest.mark.parametrize(
    ("typed", "fragment"),
    [
        ("frobnicate", "Unknown subcommand `frobnicate`"),
        ("declare sev9 Db down", "Unknown severity `sev9`. Valid: `sev1`"),
        ("declare sev1   ", "needs a title"),
        ("status", "Name a status: `investigating`"),
        ("status fixed", "Unknown status `fixed`"),
        ("sev critical", "Unknown severity `critical`"),
        ("ic", "Mention one person"),
        ("ic alice", "`alice` is not a person"),
        ("scribe <!channel>", "is not a person"),
        ("role", "Name a role and a person"),
        ("role janitor <@U1>", "Unknown role `janitor`"),
        ("role comms_lead", "Mention one person"),
        ("note", "needs some text"),
        ("<!channel> now", "Unknown subcommand `@channel`"),  # broadcasts: plain words
        ("&lt;b&gt; now", "Unknown subcommand `&lt;b&gt;`"),  # quoted as typed, escaped once
        ("ic <@U0BOB|bob> <@U0CAROL|carol>", "`@bob @carol` is not a person"),
        ("ic @channel", "`@channel` is not a person"),
    ],
)
def test_parse_errors(typed: str, fragment: str) -> None:
    with pytest.raises(CommandError) as caught:
        commands.parse(typed, VOCAB, actor_id="U0ME")
    assert fragment in str(caught.value)
    assert "Usage: `/incident" in str(caught.value)
    assert "<!channel>" not in str(caught.value)


def test_help_lists_every_subcommand_with_an_example() -> None:
    shown = commands.help_text()
    for name, spec in commands.SPECS.items():
        assert f"/incident {name}" in shown
        assert spec.example in shown


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Checkout is failing", "inc-7-checkout-is-failing"),
        ("DB: 500s on /api/v2!!", "inc-7-db-500s-on-api-v2"),
        ("Café crème broke", "inc-7-cafe-creme-broke"),  # transliterated
        ("<!channel> everything down", "inc-7-channel-everything-down"),
        ("*bold* _it_", "inc-7-bold-it"),
        ("🔥🔥🔥", "inc-7"),  # emoji only: just the number
        ("!!! ??? ...", "inc-7"),  # punctuation only
        ("数据库", "inc-7"),  # no ASCII at all
        ("snake_case_title", "inc-7-snake-case-title"),
    ],
)
def test_channel_name(title: str, expected: str) -> None:
    name = naming.channel_name(
        "inc-{number}-{slug}", number=7, title=title, severity="sev1", declared_at=WHEN
    )
    assert name == expected
    assert VALID_NAME.match(name)


@pytest.mark.parametrize(
    "template",
    [
        "inc-{number}-{slug}",
        "{date}-{severity}-{number}-{slug}",
        "INC {number} {slug}",
        "{slug}-{number}",
    ],
)
def test_long_titles_keep_number_and_limit(template: str) -> None:
    name = naming.channel_name(
        template, number=123456, title="word " * 300, severity="sev1", declared_at=WHEN
    )
    assert VALID_NAME.match(name), name
    assert "123456" in name


@pytest.mark.parametrize(
    ("name", "attempt", "expected"),
    [
        ("inc-1-db", 2, "inc-1-db-2"),
        ("a" * 80, 3, "a" * 78 + "-3"),  # suffix fits within 80
        ("inc-1-" + "b" * 74, 12, "inc-1-" + "b" * 71 + "-12"),
    ],
)
def test_with_suffix(name: str, attempt: int, expected: str) -> None:
    assert naming.with_suffix(name, attempt) == expected
    assert len(naming.with_suffix(name, attempt)) <= 80


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel> hi", "&lt;!channel&gt; hi"),
        ("a & b", "a &amp; b"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<!subteam^S1>", "&lt;!subteam^S1&gt;"),
        ("plain", "plain"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert text.escape(raw) == escaped


def test_mrkdwn_literal_breaks_formatting() -> None:
    out = text.mrkdwn_literal("*bold* <!here>")
    assert "*bold*" not in out and "<!here>" not in out


@pytest.mark.parametrize("limit", [5, 10, 50])
def test_escaped_within_never_cuts_an_entity(limit: int) -> None:
    out = text.escaped_within("<<<<<<<<<<<<<<<<<<<<<<<<<<<<", limit)
    assert len(out) <= limit
    assert not re.search(r"&[a-z]*…", out)


def test_chunk_lines_respects_limit() -> None:
    lines = ["x" * 100] * 100 + ["y" * 7000]
    chunks = text.chunk_lines(lines, 3000)
    assert all(len(c) <= 3000 for c in chunks)
    assert "".join(c.replace("\n", "") for c in chunks) == "".join(lines)


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [
        ("investigating", "identified", None),
        ("monitoring", "investigating", None),  # going back is allowed
        ("identified", "identified", "already"),
        ("resolved", "monitoring", "reopen"),  # a resolved incident's status is frozen
    ],
)
def test_status_change(current: str, new: str, error: str | None) -> None:
    if error is None:
        incident.check_status_change(current, new, VOCAB.statuses)
        return
    with pytest.raises(InvalidChange, match=error):
        incident.check_status_change(current, new, VOCAB.statuses)


def test_status_times_keep_first_entry() -> None:
    first = incident.status_times_after({}, "monitoring", WHEN)
    later = incident.status_times_after(first, "monitoring", WHEN.replace(hour=10))
    assert later["monitoring"] == WHEN.isoformat()


def test_topic_and_purpose_limits() -> None:
    assert (
        incident.topic(severity="sev1", status="investigating", ic="U1")
        == "SEV1 | investigating | IC: <@U1>"
    )
    assert len(incident.purpose("<" * 400)) <= 250
    assert "<" not in incident.purpose("<!channel>")
