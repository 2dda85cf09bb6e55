"""Table tests for escalation stepping, targets and rotations (pure code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidentbot.config import EscalationLevel, EscalationPath, Schedule
from incidentbot.domain.escalation import (
    Step,
    describe_step,
    next_step,
    on_call,
    preview,
    target_kind,
)

LEVEL = EscalationLevel(targets=("U0ONE",), timeout=timedelta(minutes=5))
THREE = EscalationPath(name="primary", levels=(LEVEL, LEVEL, LEVEL), repeat=1)
ONE = EscalationPath(name="db", levels=(LEVEL,), repeat=0)
WEEKLY = Schedule(
    name="backend",
    users=("U0ALICE", "U0BOB", "U0CAROL"),
    rotation=timedelta(weeks=1),
    start=datetime(2026, 1, 5, 9, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("path", "current", "expected"),
    [
        (THREE, Step(0, 0), Step(0, 1)),  # next level
        (THREE, Step(0, 2), Step(1, 0)),  # last level → the path repeats
        (THREE, Step(1, 1), Step(1, 2)),
        (THREE, Step(1, 2), None),  # repeats used up → exhausted
        (ONE, Step(0, 0), None),  # single level, no repeat
    ],
)
def test_next_step(path: EscalationPath, current: Step, expected: Step | None) -> None:
    assert next_step(path, current) == expected


def test_describe_step() -> None:
    assert describe_step(THREE, Step(1, 2)) == "level 3/3 of `primary` (round 2/2)"
    assert describe_step(ONE, Step(0, 0)) == "level 1/1 of `db`"


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("U0ALICE", "user"),
        ("W0ENTERPRISE", "user"),
        ("S0DBTEAM", "group"),
        ("manager@example.com", "email"),
        ("schedule:backend", "schedule"),
    ],
)
def test_target_kind(target: str, kind: str) -> None:
    assert target_kind(target) == kind


@pytest.mark.parametrize(
    ("at", "who"),
    [
        (datetime(2026, 1, 5, 9, tzinfo=UTC), "U0ALICE"),  # the first shift starts
        (datetime(2026, 1, 12, 8, 59, tzinfo=UTC), "U0ALICE"),  # a minute before hand-over
        (datetime(2026, 1, 12, 9, tzinfo=UTC), "U0BOB"),  # hand-over
        (datetime(2026, 1, 26, 9, tzinfo=UTC), "U0ALICE"),  # wraps around
    ],
)
def test_rotation(at: datetime, who: str) -> None:
    assert on_call("schedule:backend", {"backend": WEEKLY}, at) == who


def test_preview_names_who_would_be_paged_now() -> None:
    path = EscalationPath(
        name="primary",
        levels=(
            EscalationLevel(targets=("schedule:backend",), timeout=timedelta(minutes=5)),
            EscalationLevel(targets=("S0LEADS", "boss@example.com"), timeout=timedelta(hours=1)),
        ),
    )
    lines = preview(path, {"backend": WEEKLY}, datetime(2026, 1, 13, tzinfo=UTC))
    assert lines == [
        "1. <@U0BOB> (on call: backend) — 5m",
        "2. group S0LEADS, boss@example.com — 1h",
    ]
