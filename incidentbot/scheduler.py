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
- One APScheduler job wakes the process at the earliest pending `due_at`
  (re-armed after every wake-up and every new timer), so `start()` after a
  restart is one query however many timers are pending, and a timer that came
  due while the bot was down fires at once (no misfire grace time drops it).
  A poll every few seconds also picks up timers that another replica created.

The consequences of a change (`incidentbot.consequences`) are timers too, so
they share this exactly-once machinery.

The clock is injected: a timer is due when `due_at <= clock()`, so tests can
move time instead of sleeping.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import event, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.clock import Clock
from incidentbot.store.db import session_scope
from incidentbot.store.models import Timer

log = logging.getLogger(__name__)

AfterCommit = Callable[[], None]
Handler = Callable[[Session, Timer], AfterCommit | None]

POLL_SECONDS = 2.0
BATCH = 500
FIRE_THREADS = 8
# A handler that raises is tried again later, each time after a longer pause (the
# last one repeats), and given up after MAX_FAILURES: a consequence whose provider
# is down keeps being retried for hours, without spinning the sweep.
RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (30, 60, 120, 300, 600, 900))
MAX_FAILURES = 20


class Timers:
    def __init__(self, *, engine: Engine, scheduler: BackgroundScheduler, clock: Clock) -> None:
        self.engine = engine
        self.scheduler = scheduler
        self.clock = clock
        self.handlers: dict[str, Handler] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._lock = threading.Lock()  # guards _wake_at
        self._sweep = threading.Lock()
        self._wake_at: datetime | None = None
        self._again = False  # a wake-up arrived during a sweep
        self._pool = ThreadPoolExecutor(max_workers=FIRE_THREADS, thread_name_prefix="timer")

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
        event.listen(session, "after_commit", lambda _s: self._arm(due_at), once=True)
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
        """Fire every timer that is due now (wake-up, poll, start-up, tests).

        Due timers fire on a small thread pool, so one slow handler (Slack
        calls after commit) never holds up the others; a duplicate attempt
        on the same timer just loses the claim.
        """
        with self._sweep:  # one sweep at a time per process
            return self._sweep_due()

    def _sweep_due(self) -> int:
        fired = 0
        while True:
            with Session(self.engine) as session:
                stmt = (
                    select(Timer.id)
                    .where(col(Timer.fired_at).is_(None), col(Timer.due_at) <= self.clock())
                    .order_by(col(Timer.due_at))
                    .limit(BATCH)
                )
                ids = [int(i) for i in session.exec(stmt).all() if i is not None]
            fired += sum(self._pool.map(self._safe_fire, ids))
            if not ids:
                return fired

    def _safe_fire(self, timer_id: int) -> bool:
        try:
            return self.fire(timer_id)
        except Exception:
            log.exception("timer failed", extra={"timer": timer_id})
            self.retry_later(timer_id)
            return False

    def retry_later(self, timer_id: int) -> None:
        """After a failed attempt (rolled back): push `due_at` back, or give up for good.

        The count of failures lives in the payload (`failures`); the UPDATE only
        touches a row nobody has claimed meanwhile.
        """
        with session_scope(self.engine) as session:
            timer = session.get(Timer, timer_id)
            if timer is None or timer.fired_at is not None:
                return
            failures = int(timer.payload.get("failures", 0)) + 1
            now = self.clock()
            values: dict[str, Any] = {"payload": {**timer.payload, "failures": failures}}
            if failures >= MAX_FAILURES:
                log.error("timer given up", extra={"timer": timer_id, "kind": timer.kind})
                values |= {"fired_at": now, "outcome": "failed", "claimed_by": self.owner}
            else:
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS)) - 1]
                values["due_at"] = now + delay
            session.exec(  # type: ignore[call-overload]
                update(Timer)
                .where(Timer.id == timer_id, col(Timer.fired_at).is_(None))
                .values(**values)
            )

    # -- arming ---------------------------------------------------------------------
    # One APScheduler job wakes the process at the earliest pending due time,
    # rather than one job per timer: re-arming after a restart is one query,
    # whatever the number of pending timers.
    def start(self) -> int:
        """Arm the wake-up for the earliest pending timer and the safety-net poll.

        Returns the number of pending timers. Timers already due fire at once.
        """
        with Session(self.engine) as session:
            pending = session.exec(
                select(func.count(), func.min(Timer.due_at)).where(col(Timer.fired_at).is_(None))
            ).one()
        count, earliest = int(pending[0] or 0), pending[1]
        if earliest is not None:
            self._arm(earliest)
        self.scheduler.add_job(
            self._wake,
            "interval",
            seconds=POLL_SECONDS,
            id="timers-poll",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        return count

    def _arm(self, due_at: datetime) -> None:
        """Make sure the process wakes up no later than `due_at` (as seen by our clock)."""
        with self._lock:
            if self._wake_at is not None and self._wake_at <= due_at:
                return
            self._wake_at = due_at
        delay = max((due_at - self.clock()).total_seconds(), 0.0)
        self.scheduler.add_job(
            self._wake,
            DateTrigger(run_date=datetime.now(UTC) + timedelta(seconds=delay)),
            id="timers-wake",
            replace_existing=True,
            misfire_grace_time=None,  # late is better than never
            coalesce=True,
            # A wake-up re-arms the next one while it still runs; that one must not be
            # skipped as "already running" (it returns at once if a sweep is on).
            max_instances=3,
        )

    def _wake(self) -> None:
        """Fire what is due, then sleep until the next pending timer.

        A wake-up that finds a sweep running only asks it to look again, so
        wake-ups never queue up behind each other.
        """
        with self._lock:
            self._wake_at = None
            self._again = True
        if not self._sweep.acquire(blocking=False):
            return
        try:
            while True:
                with self._lock:
                    if not self._again:
                        break
                    self._again = False
                self._sweep_due()
        finally:
            self._sweep.release()
            with Session(self.engine) as session:
                earliest = session.exec(
                    select(func.min(Timer.due_at)).where(col(Timer.fired_at).is_(None))
                ).one()
            if earliest is not None:
                self._arm(earliest)

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
