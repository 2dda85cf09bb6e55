"""The consequences API (`incidentbot.consequences`) against the running bot.

What a change records commits with it, runs once right after the use case's
Slack steps, is never carried out a second time by a later sweep, and when a
handler fails it stays pending and is retried by the sweep after `GRACE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from incidentbot import consequences as events
from incidentbot.consequences import GRACE, Consequence
from incidentbot.scheduler import MAX_FAILURES, RETRY_DELAYS
from incidentbot.store.models import Timer
from tests.conftest import Bot, page_dms

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "severities": [
        {"name": "sev1", "escalation": "primary", "update_every": "30m"},
        {"name": "sev2"},
    ],
    "escalation": {"primary": {"levels": [{"targets": ["U0BOB"], "timeout": "1h"}]}},
}


def consequence_rows(bot: Bot) -> list[Timer]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(Timer).where(Timer.kind == "consequence")).all())


def test_declare_runs_its_consequences_once_in_the_request(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(CONFIG)
    bot.declare("Payments down", severity="sev1")
    rows = consequence_rows(bot)
    assert sorted(r.payload["handler"] for r in rows) == [
        "escalation.start_on_declare",
        "updates.arm_on_declare",
    ]
    assert all(r.outcome == "fired" for r in rows)
    assert len(page_dms(bot.standin, "U0BOB")) == 1
    bot.clock.advance(seconds=GRACE.total_seconds() + 1)
    bot.runtime.timers.run_due()  # the safety net finds nothing left to do
    assert len(page_dms(bot.standin, "U0BOB")) == 1


def test_a_failing_consequence_is_retried_by_the_sweep(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(CONFIG)
    bot.runtime.scheduler.pause()  # only this test's run_due() sweeps: attempts stay countable
    seen: list[tuple[str, int | None, str]] = []

    def flaky(_session: Session, c: Consequence) -> None:
        seen.append((c.event, c.incident_id, c.actor))
        if len(seen) == 1:
            raise RuntimeError("provider unreachable")

    bot.runtime.services.incidents.consequences.subscribe(events.DECLARED, "test.flaky", flaky)
    bot.declare("Payments down", severity="sev1")
    # The declare itself and its other consequences went through.
    assert bot.incident(1).channel_id is not None
    assert len(page_dms(bot.standin, "U0BOB")) == 1
    [row] = [r for r in consequence_rows(bot) if r.payload["handler"] == "test.flaky"]
    assert row.fired_at is None, "the failed attempt was rolled back"

    bot.clock.advance(seconds=GRACE.total_seconds() + 1)
    bot.runtime.timers.run_due()
    assert seen == [(events.DECLARED, 1, "U0ALICE")] * 2
    [row] = [r for r in consequence_rows(bot) if r.payload["handler"] == "test.flaky"]
    assert row.outcome == "fired"
    bot.runtime.timers.run_due()
    assert len(seen) == 2


def test_a_consequence_that_keeps_failing_backs_off_then_is_given_up(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(CONFIG)
    bot.runtime.scheduler.pause()  # only this test's run_due() sweeps: attempts stay countable
    calls: list[int] = []

    def broken(_session: Session, c: Consequence) -> None:
        calls.append(c.id)
        raise RuntimeError("provider unreachable")

    bot.runtime.services.incidents.consequences.subscribe(events.RESOLVED, "test.broken", broken)
    bot.declare("Payments down", severity="sev2")
    bot.command("resolve Rolled back", user="U0ALICE", channel=bot.incident(1).channel_id)
    assert len(calls) == 1  # the eager attempt; the resolve itself stands
    assert bot.incident(1).status == "resolved"

    bot.clock.advance(seconds=GRACE.total_seconds() + 1)
    bot.runtime.timers.run_due()
    assert len(calls) == 2, "the sweep retried it once, not in a loop"
    bot.runtime.timers.run_due()
    assert len(calls) == 2, "not again before its pause is over"
    for failures in range(2, MAX_FAILURES + 1):
        bot.clock.advance(seconds=RETRY_DELAYS[-1].total_seconds() + 1)
        bot.runtime.timers.run_due()
        assert len(calls) == failures + 1
    [row] = [r for r in consequence_rows(bot) if r.payload["handler"] == "test.broken"]
    assert (row.outcome, row.payload["failures"]) == ("failed", MAX_FAILURES)
    bot.clock.advance(hours=1)
    bot.runtime.timers.run_due()
    assert len(calls) == MAX_FAILURES + 1


def test_a_handler_name_is_registered_once(make_bot: Callable[..., Bot]) -> None:
    consequences = make_bot(CONFIG).runtime.services.incidents.consequences
    with pytest.raises(ValueError, match=r"escalation\.start_on_declare"):
        consequences.subscribe(events.DECLARED, "escalation.start_on_declare", lambda s, c: None)
