"""Late rather than never: Slack steps that Slack could not take are rows, retried until it can.

Services call Slack straight away (the fast path, so people see results at
once). When a call fails for a reason that passes — Slack is down, answers
5xx, rate-limits us — the step is stored as a `slack_outbox` row (or, for a
page, the page row is handed to one) and this module carries it out later:

- **In order.** One process at a time works the backlog, oldest row first: it
  claims the head row with a lease (`claimed_by`/`claimed_at`), exactly as
  timers are claimed, so replicas never deliver a row twice and a process that
  dies mid-delivery leaves the row to the next one when the lease runs out.
- **Growing back-off, never giving up.** When the head row fails again the
  whole outbox waits (1 s, 2 s, 4 s … up to `RetryPolicy.ceiling`, or as long
  as a rate limit's `Retry-After` asks) before trying that same row again;
  the rest waits behind it so the backlog drains in the order things happened.
  The gateway's `Pacer` keeps the drain within Slack's rate limits.
- **Only while it still means something.** Each kind has a handler that
  decides at delivery time: a page for an incident acknowledged or resolved
  meanwhile is skipped (and its row says why); a channel set-up step is
  completed even for a resolved incident, so the record is whole.
- **Told.** When the last waiting row of an incident is done, the incident
  channel and the declarer get one message listing what arrived late and by
  how much.

A handler returns an `Attempt`: delivered, retry (a passing failure),
skipped (no longer meaningful) or failed (Slack refused for good; reported).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from slack_sdk.web import SlackResponse
from sqlalchemy import event, func, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.clock import Clock
from incidentbot.durations import format_duration
from incidentbot.slack.gateway import Failure, SlackGateway, is_transient
from incidentbot.store.db import session_scope
from incidentbot.store.models import Incident, SlackOutbox

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claim older than this was left by a process that died
MAX_RETRY_AFTER = 900.0  # honour Slack's Retry-After up to 15 minutes
PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt of an outbox row achieved."""

    status: Literal["delivered", "retry", "skipped", "failed"]
    note: str = ""
    wait: float = 0.0  # for "retry": the least Slack asked us to wait (Retry-After)

    @classmethod
    def of(cls, failures: list[Failure]) -> Attempt:
        """Retry while any failure passes; otherwise done (permanent ones noted)."""
        passing = [f for f in failures if is_transient(f)]
        if passing:
            note = "; ".join(f"{f.method}: {f.error}" for f in passing)
            return cls("retry", note, max(f.retry_after or 0.0 for f in passing))
        if failures:
            return cls("failed", "; ".join(f.describe() for f in failures))
        return cls("delivered")


Handler = Callable[[SlackOutbox], Attempt]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long the outbox waits before trying Slack again after a failure.

    `ceiling` caps the back-off: the longest Slack may have been back before
    the bot notices (`INCIDENTBOT_SLACK_RETRY_MAX`); tests compress it.
    """

    first: float = 1.0
    ceiling: float = 60.0
    poll: float = 2.0  # how often to look for rows written by other replicas

    def backoff(self, failures: int) -> float:
        return min(self.ceiling, self.first * 2 ** max(failures - 1, 0))


@dataclass(frozen=True, slots=True)
class Backlog:
    """Undelivered rows right now, for /healthz and /metrics."""

    count: int
    oldest_seconds: float


class Outbox:
    """The `slack_outbox` table and the thread that drains it (see the module docstring)."""

    def __init__(
        self,
        *,
        engine: Engine,
        slack: SlackGateway,
        clock: Clock,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.slack = slack
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.handlers: dict[str, Handler] = {"post": self._post, "call": self._call}
        self._kick = threading.Event()
        self._stopping = threading.Event()
        self._drain_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self._resume_at = 0.0  # time.monotonic() before which Slack is not tried again

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    # -- storing steps ----------------------------------------------------------------
    def add(
        self,
        session: Session,
        *,
        kind: str,
        label: str,
        incident_id: int | None = None,
        payload: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        error: str | None = None,
    ) -> SlackOutbox:
        """Store a step in the caller's transaction; the drain starts once it commits."""
        row = SlackOutbox(
            kind=kind,
            incident_id=incident_id,
            payload={**(payload or {}), "label": label},
            status=PENDING,
            created_at=created_at or self.clock(),
            attempts=1 if error else 0,  # the fast path already tried once
            last_error=(error or "")[:200] or None,
        )
        session.add(row)
        session.flush()
        event.listen(session, "after_commit", lambda _s: self.kick(), once=True)
        return row

    def defer(self, *, kind: str, label: str, failure: Failure, **fields: Any) -> None:
        """Store a step whose first try just failed in a passing way."""
        with session_scope(self.engine) as session:
            self.add(session, kind=kind, label=label, error=failure.error, **fields)

    def waiting(self, session: Session, *, kind: str, incident_id: int) -> bool:
        """True when a row of this kind still waits, untouched, for this incident (to
        coalesce: one refresh row renders the incident as it is when delivered). A row
        being delivered right now may have read the incident too early: not counted."""
        stmt = select(SlackOutbox.id).where(
            SlackOutbox.kind == kind,
            SlackOutbox.incident_id == incident_id,
            SlackOutbox.status == PENDING,
            col(SlackOutbox.claimed_at).is_(None),
        )
        return session.exec(stmt.limit(1)).first() is not None

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        incident_id: int | None = None,
        thread_ts: str | None = None,
        label: str = "",
    ) -> SlackResponse | Failure:
        """Post now; when Slack cannot take it now, store it and deliver it later."""
        dm = channel[:1] in ("U", "W")
        fields = {
            "kind": "post",
            "label": label or ("a direct message" if dm else f"a message in <#{channel}>"),
            "incident_id": incident_id,
            "payload": {"channel": channel, "text": text, "blocks": blocks, "thread_ts": thread_ts},
        }
        if (queued := self._queue_behind(incident_id, "chat.postMessage")) is not None:
            self.defer(failure=queued, **fields)
            return queued
        result = self.slack.post(channel, text=text, blocks=blocks, thread_ts=thread_ts)
        if isinstance(result, Failure) and is_transient(result):
            self.defer(failure=result, **fields)
        return result

    def call(
        self, method: str, *, incident_id: int | None = None, label: str = "", **args: Any
    ) -> SlackResponse | Failure:
        """Any other Web API call (an edit, a topic): now, or later if Slack is down."""
        fields = {
            "kind": "call",
            "label": label or f"`{method}`",
            "incident_id": incident_id,
            "payload": {"method": method, "args": args},
        }
        if (queued := self._queue_behind(incident_id, method)) is not None:
            self.defer(failure=queued, **fields)
            return queued
        result = self.slack.try_call(method, **args)
        if isinstance(result, Failure) and is_transient(result):
            self.defer(failure=result, **fields)
        return result

    def _queue_behind(self, incident_id: int | None, method: str) -> Failure | None:
        """A reason to queue a new step behind the backlog instead of trying Slack now.

        While the outbox is backing off, Slack is known to be unavailable: trying
        would only hold the request for the client's retries. And while steps of
        the same incident wait, a new one must not overtake them.
        """
        with Session(self.engine) as session:
            if self._failures > 0 and self._pending(session):
                return Failure(method, "slack_unavailable", "queued behind earlier Slack steps")
            if incident_id is not None and self._pending_for(session, incident_id):
                return Failure(method, "queued", "queued behind earlier Slack steps")
        return None

    # -- health -----------------------------------------------------------------------
    def backlog(self) -> Backlog:
        with Session(self.engine) as session:
            count, oldest = session.exec(
                select(func.count(), func.min(SlackOutbox.created_at)).where(
                    SlackOutbox.status == PENDING
                )
            ).one()
        age = (self.clock() - oldest).total_seconds() if oldest is not None else 0.0
        return Backlog(int(count or 0), max(age, 0.0))

    # -- draining ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
            self._thread.start()
            self.kick()  # rows left by a previous process

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the row in hand (it is finished or its claim released)."""
        self._stopping.set()
        self.kick()
        if self._thread is not None:
            self._thread.join(timeout)

    def kick(self) -> None:
        self._kick.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            wait = self._resume_at - time.monotonic()
            self._kick.wait(wait if wait > 0 else self.policy.poll)
            self._kick.clear()
            try:
                self.drain()
            except Exception:  # the database may be away for a moment; try again later
                if self._stopping.is_set():
                    return  # the process is shutting down under us: the rows stay pending
                log.exception("outbox drain failed")
                self._pause()

    def drain(self) -> int:
        """Deliver waiting rows oldest first until one fails again; returns how many finished.

        Also called directly by tests. Respects the back-off after a failure.
        """
        finished = 0
        with self._drain_lock:
            while not self._stopping.is_set() and time.monotonic() >= self._resume_at:
                row = self._claim_next()
                if row is None:
                    with Session(self.engine) as session:
                        if not self._pending(session):
                            self._failures = 0  # drained, here or by another replica
                    return finished
                attempt = self._attempt(row)
                self._finish(row, attempt)
                if attempt.status == "retry":
                    self._pause(at_least=attempt.wait)
                    return finished
                self._failures = 0
                finished += 1
                if row.incident_id is not None:
                    self._report_late(row.incident_id)
        return finished

    def _pause(self, at_least: float = 0.0) -> None:
        """Wait before trying Slack again: the back-off, or longer if Slack asked."""
        self._failures += 1
        delay = max(self.policy.backoff(self._failures), min(at_least, MAX_RETRY_AFTER))
        self._resume_at = time.monotonic() + delay
        log.info("slack unavailable; retrying later", extra={"in_seconds": delay})

    def _claim_next(self) -> SlackOutbox | None:
        """Claim the oldest waiting row, unless another live process holds it (keeps order)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            head = session.exec(
                select(SlackOutbox)
                .where(SlackOutbox.status == PENDING)
                .order_by(col(SlackOutbox.id))
                .limit(1)
            ).first()
            if head is None:
                return None
            claim = (
                update(SlackOutbox)
                .where(
                    SlackOutbox.id == head.id,
                    SlackOutbox.status == PENDING,
                    or_(
                        col(SlackOutbox.claimed_at).is_(None),
                        col(SlackOutbox.claimed_at) < now - LEASE,
                    ),
                )
                .values(
                    claimed_by=self.owner,
                    claimed_at=now,
                    attempts=SlackOutbox.attempts + 1,
                    last_attempt_at=now,
                )
            )
            if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
                return None  # another replica is delivering it; wait our turn
            session.refresh(head)
            return head

    def _attempt(self, row: SlackOutbox) -> Attempt:
        handler = self.handlers.get(row.kind)
        if handler is None:
            return Attempt("failed", f"no handler for {row.kind}")
        try:
            return handler(row)
        except Exception as exc:  # a bug or the database: keep the row, try again later
            if not self._stopping.is_set():
                log.exception("outbox handler failed", extra={"row": row.id, "kind": row.kind})
            return Attempt("retry", type(exc).__name__)

    def _finish(self, row: SlackOutbox, attempt: Attempt) -> None:
        values: dict[str, Any] = {"claimed_by": None, "claimed_at": None}
        if attempt.status == "retry":
            values["last_error"] = attempt.note[:200]
        else:
            values.update(status=attempt.status, finished_at=self.clock(), note=attempt.note)
        with session_scope(self.engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(SlackOutbox)
                .where(SlackOutbox.id == row.id, SlackOutbox.claimed_by == self.owner)
                .values(**values)
            )

    # -- telling people what arrived late ------------------------------------------------
    def _report_late(self, incident_id: int) -> None:
        """Once nothing waits for this incident any more, say what arrived late."""
        with session_scope(self.engine) as session:
            if self._pending_for(session, incident_id):
                return
            rows = session.exec(
                select(SlackOutbox)
                .where(
                    SlackOutbox.incident_id == incident_id,
                    col(SlackOutbox.reported).is_(False),
                    col(SlackOutbox.status) != PENDING,
                )
                .order_by(col(SlackOutbox.id))
            ).all()
            if not rows:
                return
            marked = session.exec(  # type: ignore[call-overload]
                update(SlackOutbox)
                .where(
                    col(SlackOutbox.id).in_([r.id for r in rows]),
                    col(SlackOutbox.reported).is_(False),
                )
                .values(reported=True)
            )
            if marked.rowcount != len(rows):
                return  # another process is telling them
            incident = session.get(Incident, incident_id)
            assert incident is not None
            text = late_summary(incident_id, rows)
            channel, declarer = incident.channel_id, incident.declared_by
        if text is None:
            return
        if channel:
            self.post(channel, text=text, incident_id=None, label="the late-delivery notice")
        self.post(declarer, text=text, incident_id=None, label="the late-delivery notice")

    def _pending(self, session: Session) -> bool:
        """Anything waiting at all (another replica may have drained what failed here)."""
        stmt = select(SlackOutbox.id).where(SlackOutbox.status == PENDING)
        return session.exec(stmt.limit(1)).first() is not None

    def _pending_for(self, session: Session, incident_id: int) -> bool:
        stmt = select(SlackOutbox.id).where(
            SlackOutbox.incident_id == incident_id, SlackOutbox.status == PENDING
        )
        return session.exec(stmt.limit(1)).first() is not None

    # -- the generic kinds ---------------------------------------------------------------
    def _post(self, row: SlackOutbox) -> Attempt:
        p = row.payload
        result = self.slack.post(
            p["channel"], text=p["text"], blocks=p.get("blocks"), thread_ts=p.get("thread_ts")
        )
        return Attempt.of([result] if isinstance(result, Failure) else [])

    def _call(self, row: SlackOutbox) -> Attempt:
        result = self.slack.try_call(row.payload["method"], **row.payload["args"])
        return Attempt.of([result] if isinstance(result, Failure) else [])


def late_summary(incident_id: int, rows: list[SlackOutbox]) -> str | None:
    """One message: what Slack took late (and how late), what was not sent and why.

    Steps that were only queued behind others for less than a second are left
    out; None when nothing is worth telling.
    """
    lines = [
        f":hourglass_flowing_sand: Slack was unavailable for a while, so some of "
        f"INC-{incident_id}'s messages arrived late:"
    ]
    for row in rows:
        label = str(row.payload.get("label") or row.kind)
        finished = row.finished_at or row.created_at
        delay = max(finished - row.created_at, timedelta(0))
        late = format_duration(delay)
        if row.status == "delivered" and delay < timedelta(seconds=1):
            continue
        if row.status == "delivered":
            lines.append(f"• {label}: delivered {late} late")
        elif row.status == "skipped":
            lines.append(f"• {label}: not sent ({row.note})")
        else:
            lines.append(f"• {label}: failed after {late} ({row.note})")
    return "\n".join(lines) if len(lines) > 1 else None
