"""MTTA/MTTR computation (pure) and the `stats` argument parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidentbot.domain import commands
from incidentbot.domain.commands import CommandError
from incidentbot.domain.stats import (
    Durations,
    IncidentTimes,
    compute_stats,
    summarize,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
VOCAB = commands.Vocabulary(
    severities=("sev1", "sev2", "sev3", "sev4"),
    statuses=("investigating", "identified", "monitoring", "resolved"),
    roles=("incident_commander", "scribe"),
    default_severity="sev3",
)


def incident(
    number: int,
    severity: str,
    *,
    days_ago: float,
    ack: int | None = None,
    resolve: int | None = None,
) -> IncidentTimes:
    declared = NOW - timedelta(days=days_ago)
    return IncidentTimes(
        number=number,
        severity=severity,
        declared_at=declared,
        acknowledged_at=declared + ack * M if ack is not None else None,
        resolved_at=declared + resolve * M if resolve is not None else None,
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ([], Durations(0)),  # nothing to average: no figure, not zero
        ([5], Durations(1, 5 * M, 5 * M)),
        ([4, 10, 30], Durations(3, timedelta(minutes=44 / 3), 10 * M)),  # odd: middle one
        ([4, 10], Durations(2, 7 * M, 7 * M)),  # even: mean of the middle two
        ([1, 1, 1, 100], Durations(4, timedelta(minutes=103 / 4), 1 * M)),  # median resists
    ],
)
def test_summarize(minutes: list[int], expected: Durations) -> None:
    assert summarize([m * M for m in minutes]) == expected


FIXTURE = [
    incident(1, "sev1", days_ago=2, ack=4, resolve=60),
    incident(2, "sev1", days_ago=1, ack=10, resolve=120),
    incident(3, "sev2", days_ago=1, ack=30),  # open, acknowledged
    incident(4, "sev3", days_ago=0.5),  # open, never acknowledged
    incident(5, "sev1", days_ago=40, ack=1, resolve=600),  # outside 30 days
    incident(6, "sev4", days_ago=45),  # outside 30 days, still open
    incident(7, "legacy", days_ago=3, ack=2, resolve=2),  # severity no longer configured
]


def test_compute_stats_by_severity_over_the_window() -> None:
    stats = compute_stats(FIXTURE, now=NOW, days=30, severities=VOCAB.severities)
    rows = {f.label: f for f in stats.by_severity}
    assert [f.label for f in stats.by_severity] == ["sev1", "sev2", "sev3", "sev4", "legacy"]
    assert (rows["sev1"].incidents, rows["sev1"].open) == (2, 0)
    assert rows["sev1"].mtta == Durations(2, 7 * M, 7 * M)
    assert rows["sev1"].mttr == Durations(2, 90 * M, 90 * M)
    assert (rows["sev2"].incidents, rows["sev2"].open, rows["sev2"].mttr) == (1, 1, Durations(0))
    assert rows["sev2"].mtta == Durations(1, 30 * M, 30 * M)
    assert rows["sev3"].mtta == Durations(0)
    assert rows["sev4"].incidents == 0  # only incident 6, declared before the window
    assert rows["legacy"].incidents == 1
    assert (stats.total.incidents, stats.total.open) == (5, 2)
    assert stats.total.mtta == Durations(4, timedelta(minutes=46 / 4), 7 * M)
    assert stats.open_now == 3  # 3, 4 and 6: open whatever their age
    assert stats.since == NOW - timedelta(days=30)


def test_a_wider_window_takes_older_incidents() -> None:
    stats = compute_stats(FIXTURE, now=NOW, days=90, severities=VOCAB.severities)
    assert stats.total.incidents == 7
    sev1 = stats.by_severity[0]
    assert sev1.mttr == Durations(3, 260 * M, 120 * M)


def test_incidents_declared_after_now_are_ignored() -> None:
    future = incident(9, "sev1", days_ago=-1, ack=1)
    stats = compute_stats([future], now=NOW, days=30)
    assert (stats.total.incidents, stats.open_now) == (0, 0)


@pytest.mark.parametrize(
    ("typed", "days"),
    [
        ("stats", "30"),  # default window
        ("stats 7", "7"),
        ("STATS 90", "90"),  # subcommands are case-insensitive
        ("stats 3650", "3650"),  # ten years is the most
    ],
)
def test_parse_stats(typed: str, days: str) -> None:
    assert commands.parse(typed, VOCAB, actor_id="U1") == commands.Command(
        "stats", extra={"days": days}
    )


@pytest.mark.parametrize(
    "typed",
    [
        "stats abc",  # not a number
        "stats -5",  # negative
        "stats 0",  # an empty window
        "stats 3651",  # beyond ten years
        "stats 7 days",  # one number only
        "stats 1.5",  # whole days
        "stats <!channel>",  # echoed, escaped
    ],
)
def test_parse_stats_rejects(typed: str) -> None:
    with pytest.raises(CommandError) as caught:
        commands.parse(typed, VOCAB, actor_id="U1")
    assert "Usage: `/incident stats [days]`" in str(caught.value)
    assert "<!channel>" not in str(caught.value)


def test_parse_followup_needs_text() -> None:
    assert commands.parse("followup Add an alert", VOCAB, actor_id="U1") == commands.Command(
        "followup", text="Add an alert"
    )
    with pytest.raises(CommandError) as caught:
        commands.parse("followup   ", VOCAB, actor_id="U1")
    assert "needs some text" in str(caught.value)
    assert "Usage: `/incident followup <text>`" in str(caught.value)
