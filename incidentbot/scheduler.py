"""Durable timers: the `timer` table is the truth, APScheduler is the alarm clock.

- `Timers.schedule(session, …)` inserts a timer row inside the caller's
  transaction (a unique `key` makes it idempotent) and arms an APScheduler job
  once that transaction has committed.
- When a job wakes up, `fire(timer_id)` claims the row with
  `UPDATE … SET fired_at = now WHERE id = :id AND fired_at IS NULL AND due_at <= now`
  and runs the timer's handler *in that same transaction*. Only the process
  whose UPDATE changed the row does the work, so nothing fires twice — across
  threads, restarts and replicas sharing one PostgreSQL database.
- Handlers return an optional "after commit" callable for Slack calls, which
  must never run inside a database transaction.
- `start()` re-arms every pending timer; one that came due while the bot was
  down fires at once (no misfire grace time drops it). A poll every few seconds
  picks up timers that another replica created, or whose process died.

The clock is injected: a timer is due when `due_at <= clock()`, so tests can
move time instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.store.db import session_scope
from incidentbot.store.models import Timer

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]
Handler = Callable[[Session, Timer], AfterCommit | None]
Clock = Callable[[], datetime]

POLL_SECONDS = 2.0
BATCH = 500


class Timers:
    def __init__(self, *, engine: Engine, scheduler: BackgroundScheduler, clock: Clock) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lock = threading.Lock()

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    # -- creating and cancelling -------------------------------------------------------
    def schedule(
        self,
        session: Session,
        *,
        kind: str,
        key: str,
        due_at: datetime,
        incident_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Timer | None:
        """Add a timer in the caller's transaction; None if `key` already exists."""
        if session.exec(select(Timer).where(Timer.key == key)).first() is not None:
            return None
        timer = Timer(
            kind=kind,
            key=key,
            due_at=due_at,
            incident_id=incident_id,
            payload=payload or {},
            created_at=self.clock(),
        )
        session.add(timer)
        session.flush()
        timer_id, due = int(timer.id or 0), due_at
        event.listen(session, "after_commit", lambda _s: self._arm(timer_id, due), once=True)
        return timer

    def cancel(
        self, session: Session, *, incident_id: int | None = None, key_prefix: str | None = None
    ) -> int:
        """Cancel pending timers of an incident and/or whose key starts with a prefix."""
        stmt = update(Timer).where(col(Timer.fired_at).is_(None))
        if incident_id is not None:
            stmt = stmt.where(Timer.incident_id == incident_id)
        if key_prefix is not None:
            stmt = stmt.where(col(Timer.key).startswith(key_prefix))
        result = session.exec(stmt.values(fired_at=self.clock(), outcome="cancelled"))  # type: ignore[call-overload]
        return int(result.rowcount or 0)

    def pending(self, session: Session, *, key_prefix: str) -> list[Timer]:
        stmt = select(Timer).where(
            col(Timer.fired_at).is_(None), col(Timer.key).startswith(key_prefix)
        )
        return list(session.exec(stmt.order_by(col(Timer.due_at))).all())

    # -- firing ---------------------------------------------------------------------
    def fire(self, timer_id: int, *, force: bool = False) -> bool:
        """Claim and run one timer; False when it was not due or someone else had it.

        `force` fires it even before `due_at` (escalate-now).
        """
        after: AfterCommit | None = None
        with session_scope(self.engine) as session:
            now = self.clock()
            claim = (
                update(Timer)
                .where(Timer.id == timer_id, col(Timer.fired_at).is_(None))
                .values(fired_at=now, outcome="fired", claimed_by=self.owner)
            )
            if not force:
                claim = claim.where(col(Timer.due_at) <= now)
            if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
                return False
            timer = session.get(Timer, timer_id)
            assert timer is not None
            handler = self.handlers.get(timer.kind)
            if handler is None:
                log.error("no handler for timer", extra={"kind": timer.kind, "timer": timer_id})
                timer.outcome = "skipped"
            else:
                after = handler(session, timer)
        if after is not None:
            try:
                after()
            except Exception:  # the claim is committed; report, never re-run
                log.exception("timer follow-up failed", extra={"timer": timer_id})
        return True

    def run_due(self) -> int:
        """Fire every timer that is due now (poll, start-up, tests)."""
        fired = 0
        with self._lock:  # one sweep at a time per process
            while True:
                with Session(self.engine) as session:
                    stmt = (
                        select(Timer.id)
                        .where(col(Timer.fired_at).is_(None), col(Timer.due_at) <= self.clock())
                        .order_by(col(Timer.due_at))
                        .limit(BATCH)
                    )
                    ids = list(session.exec(stmt).all())
                fired += sum(self._safe_fire(int(i)) for i in ids if i is not None)
                if len(ids) < BATCH:
                    return fired

    def _safe_fire(self, timer_id: int) -> bool:
        try:
            return self.fire(timer_id)
        except Exception:
            log.exception("timer failed", extra={"timer": timer_id})
            return False

    # -- arming ---------------------------------------------------------------------
    def start(self) -> int:
        """Arm every pending timer and the safety-net poll; returns how many were armed."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Timer.id, Timer.due_at).where(col(Timer.fired_at).is_(None))
            ).all()
        for timer_id, due_at in rows:
            self._arm(int(timer_id), due_at)
        self.scheduler.add_job(
            self.run_due,
            "interval",
            seconds=POLL_SECONDS,
            id="timers-poll",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        return len(rows)

    def _arm(self, timer_id: int, due_at: datetime) -> None:
        """Wake up at `due_at` (as seen by our clock) to fire the timer."""
        delay = max((due_at - self.clock()).total_seconds(), 0.0)
        run_at = datetime.now(UTC) + timedelta(seconds=delay)
        self.scheduler.add_job(
            self._safe_fire,
            DateTrigger(run_date=run_at),
            args=[timer_id],
            id=f"timer-{timer_id}",
            replace_existing=True,
            misfire_grace_time=None,  # late is better than never
            coalesce=True,
        )
