"""Consequences of a change: recorded with the change, carried out exactly once.

A change to an incident (declared, severity changed, resolved, reopened) has
consequences elsewhere: start an escalation, schedule or cancel update
reminders, watch for a missing Incident Commander, and later notify a paging
provider or act on an alert group. Running those from memory after the change
commits loses them when the process dies in between. So:

1. The use case calls `record(session, event, incident_id=…, payload=…)` inside
   the transaction of the change. For every handler subscribed to `event` this
   adds one durable row (a `timer` of kind ``"consequence"``): the change and
   everything it must cause commit together, or not at all.
2. `Timers` carries the rows out: it claims each row with an UPDATE and runs
   its handler in the claiming transaction, so each consequence happens exactly
   once across threads, restarts and replicas.
3. Eager dispatch: once its Slack steps are done, the use case calls
   `run(ids)`, so normally consequences happen at once, in subscription order,
   after the incident channel exists. The rows are due `GRACE` after the
   change; if the process dies first (or Slack is very slow), any process's
   timer sweep carries them out then. Late rather than never.

Adding a consequence (at start-up, in the service that owns it)::

    consequences.subscribe(DECLARED, "pagerduty.trigger", self.on_declared)

    def on_declared(self, session: Session, c: Consequence) -> AfterCommit | None:
        ...  # database work here, in the claiming transaction
        return lambda: ...  # Slack/HTTP calls after commit (or None)

A handler reads the incident fresh from `session` (it may run minutes later, in
another process) and must tolerate the incident having moved on since. A
handler that raises rolls its claim back; the sweep tries the row again after a
growing pause (`scheduler.RETRY_DELAYS`) and gives up after
`scheduler.MAX_FAILURES`. The name is stored in the row: keep it stable across
releases.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from incidentbot.scheduler import AfterCommit, Timers
from incidentbot.store.models import Timer

log = logging.getLogger(__name__)

TIMER_KIND = "consequence"
# How long the requester has to carry its consequences out itself before any
# process's sweep does: longer than a normal declare's Slack steps, short
# enough that a page is never held up long by a slow or dead process.
GRACE = timedelta(seconds=10)

# The incident events services record. Payloads carry what the event alone
# knows (who did it, the severity before); everything else is read fresh.
DECLARED = "incident.declared"
SEVERITY_CHANGED = "incident.severity_changed"
RESOLVED = "incident.resolved"
REOPENED = "incident.reopened"


@dataclass(frozen=True, slots=True)
class Consequence:
    """One consequence to carry out, as its handler sees it."""

    id: int
    event: str
    handler: str
    incident_id: int | None
    payload: dict[str, Any]
    recorded_at: datetime

    @property
    def actor(self) -> str:
        return str(self.payload.get("actor") or "")


Handler = Callable[[Session, Consequence], AfterCommit | None]


class Consequences:
    """The registry of consequence handlers, and the way to record and run them."""

    def __init__(self, timers: Timers, *, grace: timedelta = GRACE) -> None:
        self.timers = timers
        self.grace = grace
        self._handlers: dict[str, Handler] = {}
        self._subscribers: dict[str, list[str]] = {}
        timers.register(TIMER_KIND, self._carry_out)

    def subscribe(self, event: str, name: str, handler: Handler) -> None:
        """Carry out `handler` once for every recorded `event` (register at start-up)."""
        if name in self._handlers:
            raise ValueError(f"consequence handler {name!r} is registered twice")
        self._handlers[name] = handler
        self._subscribers.setdefault(event, []).append(name)

    def record(
        self,
        session: Session,
        event: str,
        *,
        incident_id: int | None,
        payload: dict[str, Any] | None = None,
    ) -> list[int]:
        """Add one row per subscriber of `event` to the caller's transaction; their ids."""
        now = self.timers.clock()
        ids: list[int] = []
        for name in self._subscribers.get(event, []):
            timer = self.timers.schedule(
                session,
                kind=TIMER_KIND,
                key=f"csq:{incident_id}:{name}:{uuid.uuid4().hex}",
                due_at=now + self.grace,
                incident_id=incident_id,
                payload={"event": event, "handler": name, "data": payload or {}},
            )
            assert timer is not None and timer.id is not None  # the key is fresh
            ids.append(timer.id)
        return ids

    def run(self, ids: Sequence[int]) -> None:
        """Carry out recorded consequences now (after their change committed), in order.

        One that someone else already claimed is skipped; one that fails stays
        pending and is retried by the sweep, so the others still run.
        """
        for timer_id in ids:
            try:
                self.timers.fire(timer_id, force=True)
            except Exception:
                log.exception("consequence failed; the sweep retries it", extra={"timer": timer_id})

    def _carry_out(self, session: Session, timer: Timer) -> AfterCommit | None:
        name = str(timer.payload.get("handler", ""))
        handler = self._handlers.get(name)
        if handler is None:  # recorded by a release that had this handler
            log.error("no consequence handler", extra={"handler": name, "timer": timer.id})
            timer.outcome = "skipped"
            return None
        consequence = Consequence(
            id=int(timer.id or 0),
            event=str(timer.payload.get("event", "")),
            handler=name,
            incident_id=timer.incident_id,
            payload=dict(timer.payload.get("data") or {}),
            recorded_at=timer.created_at,
        )
        return handler(session, consequence)
