"""Escalation: page people level by level until someone acknowledges.

State lives in our tables (`escalation`, `page`, `timer`); Slack only gets
told. Each step happens in one transaction that (a) claims the step's timer,
(b) moves the escalation to the next level, (c) stores one `page` row per
target and (d) schedules the next timeout. The DMs are sent after commit from
the stored page rows, each page claimed before it is sent. So:

- a level is paged at most once, also with several replicas (the timer claim
  and the unique (escalation, cycle, level, target) key both guarantee it);
- a page is never lost: a process that dies after committing leaves pending
  page rows, which `send_pending` (at start-up and on every poll) delivers;
- resolving cancels every running escalation and its unsent pages.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from incidentbot.config import Config, EscalationPath
from incidentbot.domain import escalation as steps
from incidentbot.domain.errors import InvalidChange, NotFound
from incidentbot.domain.escalation import Step
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escape
from incidentbot.metrics import Metrics
from incidentbot.scheduler import AfterCommit, Timers
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import blocks, escalation_blocks
from incidentbot.slack.gateway import Failure, SlackGateway
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import Escalation, Page, Timer

log = logging.getLogger(__name__)

TIMER_KIND = "escalation"
PAGE_LEASE = timedelta(minutes=2)  # a page claimed longer ago than this was orphaned


@dataclass
class Delivery:
    """What sending one step's pages achieved (for the channel notice)."""

    reached: list[str] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AckResult:
    incident: IncidentSnapshot
    acknowledged: tuple[str, ...]  # path names


class EscalationService:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config,
        slack: SlackGateway,
        timers: Timers,
        incidents: IncidentService,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.config = config
        self.slack = slack
        self.timers = timers
        self.incidents = incidents
        self.clock = clock
        timers.register(TIMER_KIND, self._on_timeout)
        incidents.listeners.append(self._on_incident_event)

    # -- starting ------------------------------------------------------------------
    def start(self, number: int, path_name: str, *, actor: str) -> IncidentSnapshot:
        """Page the first level of `path_name` now."""
        path = self._path(path_name)
        incident = self.incidents.get(number)
        if incident.resolved:
            raise InvalidChange(f"{incident.label} is resolved; nobody is paged for it.")
        now = self.clock()
        with session_scope(self.engine) as session:
            # The lock serialises starts per incident.
            row = repo.get_incident(session, number=number, lock=True)
            assert row is not None
            if self._running(session, number, path.name):
                raise InvalidChange(
                    f"`{path.name}` is already paging for {incident.label}. "
                    "`/incident escalate` pages its next level now."
                )
            esc = Escalation(
                incident_id=number,
                path=path.name,
                state="running",
                started_by=actor,
                started_at=now,
            )
            if not repo.paged(session, incident_id=number)[1]:
                # Someone is paged now, so the milestone is the first page acknowledgement
                # (PRODUCT.md §4), never an earlier IC action.
                row.acknowledged_at = None
                session.add(row)
            session.add(esc)
            session.flush()
            self._entry(
                session, number, "escalation", actor, now, f"Started escalation `{path.name}`"
            )
            pages = self._enter_step(session, esc, path, Step(0, 0), now)
        self._deliver(esc.id or 0, pages)
        return incident

    def escalate_now(self, number: int, *, actor: str) -> list[str]:
        """Page the next level of every running escalation now; returns their paths."""
        with Session(self.engine) as session:
            running = self._running(session, number)
            pending = [
                t
                for esc in running
                for t in self.timers.pending(session, key_prefix=f"esc:{esc.id}:")
            ]
        if not running:
            return []
        now = self.clock()
        with session_scope(self.engine) as session:
            names = ", ".join(f"`{e.path}`" for e in running)
            self._entry(session, number, "escalation", actor, now, f"Escalated now: {names}")
        for timer in pending:
            self.timers.fire(int(timer.id or 0), force=True)
        return [e.path for e in running]

    def number_for(self, escalation_id: int) -> int:
        with Session(self.engine) as session:
            esc = session.get(Escalation, escalation_id)
        if esc is None:
            raise NotFound("That page no longer exists.")
        return esc.incident_id

    def running_paths(self, number: int) -> list[str]:
        with Session(self.engine) as session:
            return [e.path for e in self._running(session, number)]

    # -- acknowledging -------------------------------------------------------------
    def acknowledge(
        self, number: int, *, actor: str, escalation_id: int | None = None
    ) -> AckResult:
        """Stop running escalations (one, or all of the incident) and record the ack."""
        incident = self.incidents.get(number)
        now = self.clock()
        with session_scope(self.engine) as session:
            row = repo.get_incident(session, number=number, lock=True)
            assert row is not None
            first_page_ack = not repo.paged(session, incident_id=number)[1]
            targets = self._ack_targets(session, number, escalation_id, incident)
            for esc in targets:
                esc.state, esc.acknowledged_by, esc.acknowledged_at = "acknowledged", actor, now
                esc.ended_at, esc.next_at = now, None
                session.add(esc)
                self.timers.cancel(session, key_prefix=f"esc:{esc.id}:")
                self._cancel_pages(session, int(esc.id or 0))
            if first_page_ack:  # the MTTA milestone (PRODUCT.md §4), also over an IC action
                row.acknowledged_at = now
                session.add(row)
            names = ", ".join(f"`{e.path}`" for e in targets)
            self._entry(session, number, "ack", actor, now, f"Acknowledged {names}")
            ids = [int(e.id or 0) for e in targets]
        if self.metrics is not None:
            self.metrics.acks.inc(len(targets))
        snapshot = self.incidents.get(number)
        if first_page_ack:
            self.incidents.emit("acknowledged_page", snapshot, actor)
        if snapshot.channel_id:
            self.slack.invite(snapshot.channel_id, [actor])
            text = f":white_check_mark: <@{actor}> acknowledged ({names}). Escalation stopped."
            self.slack.post(snapshot.channel_id, text=text, blocks=blocks.notice(text)[1])
        note = f":white_check_mark: Acknowledged by <@{actor}> {blocks.when(now)}."
        self._close_dms(ids, snapshot, note)
        return AckResult(snapshot, tuple(e.path for e in targets))

    def _ack_targets(
        self, session: Session, number: int, escalation_id: int | None, incident: IncidentSnapshot
    ) -> list[Escalation]:
        if incident.resolved:
            raise InvalidChange(f"{incident.label} is already resolved; nothing to acknowledge.")
        if escalation_id is None:
            running = self._running(session, number)
            if not running:
                raise InvalidChange(f"Nothing is paging for {incident.label} right now.")
            return running
        esc = session.get(Escalation, escalation_id)
        if esc is None or esc.incident_id != number:
            raise NotFound("That page no longer exists.")
        if esc.state == "acknowledged":
            raise InvalidChange(f"Already acknowledged by <@{esc.acknowledged_by}>.")
        if esc.state != "running":
            raise InvalidChange(f"This escalation is over ({esc.state}); nothing to acknowledge.")
        return [esc]

    # -- cancelling ----------------------------------------------------------------
    def cancel_all(self, number: int, *, reason: str) -> list[str]:
        """Call off every running escalation of an incident (e.g. it was resolved)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            running = self._running(session, number)
            for esc in running:
                esc.state, esc.ended_at, esc.next_at = "cancelled", now, None
                session.add(esc)
                self.timers.cancel(session, key_prefix=f"esc:{esc.id}:")
                self._cancel_pages(session, int(esc.id or 0))
            if running:
                names = ", ".join(f"`{e.path}`" for e in running)
                self._entry(session, number, "escalation", "", now, f"Cancelled {names}: {reason}")
            ids = [int(e.id or 0) for e in running]
        if ids:
            snapshot = self.incidents.get(number)
            self._close_dms(ids, snapshot, f"No action needed: {reason}.")
        return [str(i) for i in ids]

    def _on_incident_event(self, event: str, snapshot: IncidentSnapshot, actor: str) -> None:
        if event == "resolved":
            self.cancel_all(snapshot.number, reason=f"{snapshot.label} was resolved")
            return
        if event not in ("declared", "severity"):
            return
        severity = self.config.severity(snapshot.severity)
        if severity is None or severity.escalation is None:
            return
        if severity.escalation in self._paths_used(snapshot.number):
            return  # raised again to a severity whose path already ran or runs
        with contextlib.suppress(InvalidChange):  # started concurrently by another request
            self.start(snapshot.number, severity.escalation, actor=actor)

    # -- the timer: one level timed out ---------------------------------------------
    def _on_timeout(self, session: Session, timer: Timer) -> AfterCommit | None:
        esc = session.get(Escalation, int(timer.payload["escalation_id"]))
        if esc is None or esc.state != "running":
            timer.outcome = "skipped"
            return None
        path = self._path(esc.path)
        now = self.clock()
        current = Step(esc.cycle, esc.level)
        label = steps.describe_step(path, current)
        forced = timer.due_at > now
        what = "Escalated before the timeout of" if forced else "No acknowledgement for"
        self._entry(session, esc.incident_id, "timeout", "", now, f"{what} {label}")
        following = steps.next_step(path, current)
        if following is None:
            return self._exhaust(session, esc, path, now)
        pages = self._enter_step(session, esc, path, following, now)
        escalation_id = int(esc.id or 0)
        return lambda: self._deliver(escalation_id, pages)

    def _enter_step(
        self, session: Session, esc: Escalation, path: EscalationPath, step: Step, now: datetime
    ) -> list[int]:
        """Move to `step`: store its pages and schedule its timeout (same transaction)."""
        level = path.levels[step.level]
        esc.cycle, esc.level = step.cycle, step.level
        esc.next_at = now + level.timeout
        session.add(esc)
        page_ids = []
        for target in dict.fromkeys(level.targets):
            page = Page(
                escalation_id=int(esc.id or 0),
                incident_id=esc.incident_id,
                cycle=step.cycle,
                level=step.level,
                target=target,
                status="pending",
                created_at=now,
            )
            session.add(page)
            session.flush()
            page_ids.append(int(page.id or 0))
        self.timers.schedule(
            session,
            kind=TIMER_KIND,
            key=f"esc:{esc.id}:{step.cycle}:{step.level}",
            due_at=esc.next_at,
            incident_id=esc.incident_id,
            payload={"escalation_id": esc.id},
        )
        return page_ids

    def _exhaust(
        self, session: Session, esc: Escalation, path: EscalationPath, now: datetime
    ) -> AfterCommit:
        esc.state, esc.ended_at, esc.next_at = "exhausted", now, None
        session.add(esc)
        rounds = path.repeat + 1
        text = (
            f":rotating_light: Escalation `{path.name}` is exhausted: nobody acknowledged after "
            f"{rounds} round(s) of {len(path.levels)} level(s)."
        )
        self._entry(session, esc.incident_id, "exhausted", "", now, text)
        number = esc.incident_id

        def tell() -> None:
            snapshot = self.incidents.get(number)
            if snapshot.channel_id:
                self.slack.post(snapshot.channel_id, text=text, blocks=blocks.notice(text)[1])
            if snapshot.ic:
                dm = f"{text} ({snapshot.label}, {blocks.channel(snapshot.channel_id)})"
                self.slack.try_call("chat.postMessage", channel=snapshot.ic, text=dm)

        return tell

    # -- sending pages ---------------------------------------------------------------
    def _deliver(self, escalation_id: int, page_ids: Sequence[int]) -> None:
        """Send the DMs of one step, then tell the incident channel who was paged."""
        delivery = Delivery()
        for page_id in page_ids:
            self._send_page(page_id, delivery)
        self._announce(escalation_id, delivery)

    def send_pending(self) -> int:
        """Deliver pages left pending by a process that stopped before sending them."""
        cutoff = self.clock() - PAGE_LEASE
        with Session(self.engine) as session:
            stmt = select(Page.id, Page.escalation_id).where(
                Page.status == "pending",
                or_(col(Page.claimed_at).is_(None), col(Page.claimed_at) < cutoff),
                col(Page.created_at) <= self.clock() - timedelta(seconds=5),
            )
            rows = session.exec(stmt.order_by(col(Page.id)).limit(200)).all()
        by_escalation: dict[int, list[int]] = {}
        for page_id, escalation_id in rows:
            by_escalation.setdefault(int(escalation_id), []).append(int(page_id or 0))
        for escalation_id, page_ids in by_escalation.items():
            self._deliver(escalation_id, page_ids)
        return len(rows)

    def _send_page(self, page_id: int, delivery: Delivery) -> None:
        now = self.clock()
        with session_scope(self.engine) as session:
            claim = (
                update(Page)
                .where(
                    Page.id == page_id,
                    Page.status == "pending",
                    or_(col(Page.claimed_at).is_(None), col(Page.claimed_at) < now - PAGE_LEASE),
                )
                .values(claimed_at=now, attempts=Page.attempts + 1)
            )
            if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
                return  # sent, cancelled, or being sent by another process
            page = session.get(Page, page_id)
            esc = session.get(Escalation, page.escalation_id) if page else None
            assert page is not None and esc is not None
            target, running = page.target, esc.state == "running"
            path = self._path(esc.path)
            step = steps.describe_step(path, Step(page.cycle, page.level))
            started_by, escalation_id, number = esc.started_by, int(esc.id or 0), esc.incident_id
        if not running:
            self._finish_page(page_id, "cancelled", [], [])
            return
        snapshot = self.incidents.get(number)
        users, unreachable = self._resolve(target)
        text, dm = escalation_blocks.page_dm(
            snapshot, self.config, escalation_id=escalation_id, step=step, paged_by=started_by
        )
        deliveries = []
        for user_id in users:
            sent = self.slack.post(user_id, text=text, blocks=dm)
            if isinstance(sent, Failure):
                unreachable.append((f"<@{user_id}>", sent.error))
                continue
            deliveries.append(
                {"user": user_id, "channel": str(sent["channel"]), "ts": str(sent["ts"])}
            )
        self._finish_page(page_id, "sent" if deliveries else "failed", deliveries, unreachable)
        if self.metrics is not None:
            self.metrics.pages.inc(len(deliveries))
        delivery.reached += [d["user"] for d in deliveries]
        delivery.unreachable += unreachable
        with session_scope(self.engine) as session:
            who = ", ".join(f"<@{d['user']}>" for d in deliveries) or "nobody"
            missed = "; ".join(f"{t}: {e}" for t, e in unreachable)
            text = f"Paged {who} ({step}, target `{target}`)"
            text += f"; unreachable {missed}" if missed else ""
            repo.add_entry(
                session,
                incident_id=number,
                kind="page",
                actor=started_by,
                at=now,
                text=text,
                source="escalation",
                data={"page": page_id, "users": [d["user"] for d in deliveries]},
                dedup_key=f"page:{page_id}",
            )

    def _finish_page(
        self,
        page_id: int,
        status: str,
        deliveries: list[dict[str, Any]],
        unreachable: list[tuple[str, str]],
    ) -> None:
        with session_scope(self.engine) as session:
            page = session.get(Page, page_id)
            assert page is not None
            if page.status != "pending":
                return  # cancelled meanwhile: keep that
            page.status, page.deliveries, page.sent_at = status, deliveries, self.clock()
            page.unreachable = [{"target": t, "error": e} for t, e in unreachable]
            session.add(page)

    def _resolve(self, target: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The user IDs behind a configured target, and what could not be resolved."""
        kind = steps.target_kind(target)
        if kind == "schedule":
            person = steps.on_call(target, self.config.schedules, self.clock())
            if person is None:
                return [], [(target, "unknown_schedule")]
            return self._resolve(person)
        if kind == "user":
            return [target], []
        if kind == "email":
            found = self.slack.try_call("users.lookupByEmail", email=target)
            if isinstance(found, Failure):
                return [], [(target, found.error)]
            return [str(found["user"]["id"])], []
        members = self.slack.usergroup_members(target)
        if isinstance(members, Failure):
            return [], [(target, members.error)]
        return sorted(members), ([] if members else [(target, "empty_usergroup")])

    def _announce(self, escalation_id: int, delivery: Delivery) -> None:
        with Session(self.engine) as session:
            esc = session.get(Escalation, escalation_id)
            if esc is None or esc.state != "running":
                return
            path = self._path(esc.path)
            step = Step(esc.cycle, esc.level)
            last = steps.next_step(path, step) is None
            next_at = None if last else esc.next_at
            number = esc.incident_id
        snapshot = self.incidents.get(number)
        if snapshot.channel_id is None:
            return
        text = escalation_blocks.paged_notice(
            step=steps.describe_step(path, step),
            reached=delivery.reached,
            unreachable=delivery.unreachable,
            next_at=next_at,
        )
        self.slack.post(snapshot.channel_id, text=text, blocks=blocks.notice(text)[1])

    def _close_dms(
        self, escalation_ids: Sequence[int], snapshot: IncidentSnapshot, note: str
    ) -> None:
        """Edit every page DM of these escalations: no more buttons, say what happened."""
        with Session(self.engine) as session:
            pages = session.exec(
                select(Page).where(col(Page.escalation_id).in_(escalation_ids))
            ).all()
            deliveries = [d for p in pages for d in (p.deliveries or [])]
        text, closed = escalation_blocks.page_dm_closed(snapshot, note)
        for d in deliveries:
            self.slack.update(d["channel"], d["ts"], text=text, blocks=closed)

    # -- helpers ---------------------------------------------------------------------
    def _path(self, name: str) -> EscalationPath:
        path = self.config.escalation.get(name.lower())
        if path is None:
            known = escalation_blocks.path_list(self.config)
            raise InvalidChange(f"Unknown escalation path `{escape(name)}`. Paths: {known}.")
        return path

    def _running(self, session: Session, number: int, path: str | None = None) -> list[Escalation]:
        stmt = select(Escalation).where(
            Escalation.incident_id == number, Escalation.state == "running"
        )
        if path is not None:
            stmt = stmt.where(Escalation.path == path)
        return list(session.exec(stmt.order_by(col(Escalation.id))).all())

    def _paths_used(self, number: int) -> set[str]:
        with Session(self.engine) as session:
            stmt = select(Escalation.path).where(
                Escalation.incident_id == number,
                col(Escalation.state).in_(("running", "acknowledged")),
            )
            return set(session.exec(stmt).all())

    def _cancel_pages(self, session: Session, escalation_id: int) -> None:
        session.exec(  # type: ignore[call-overload]
            update(Page)
            .where(Page.escalation_id == escalation_id, Page.status == "pending")
            .values(status="cancelled")
        )

    def _entry(
        self, session: Session, number: int, kind: str, actor: str, at: datetime, text: str
    ) -> None:
        repo.add_entry(
            session,
            incident_id=number,
            kind=kind,
            actor=actor,
            at=at,
            text=text,
            source="escalation",
        )
