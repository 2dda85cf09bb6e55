"""Alert use cases: ingest, acknowledge, silence, resolve, link, list and report.

Ingest stores a request's alerts and every consequence in ONE transaction:
the alert rows, the group state, the append-only event log, and the timer
rows that will carry the notifications out (`incidentbot.alerts.delivery`).
Only then does the endpoint answer 202, so an accepted alert is never lost and
its message is posted even if the process dies right after answering.

Ingest transactions are serialised (SQLite: the write lock taken up front;
PostgreSQL: a transaction-level advisory lock), which keeps the group
bookkeeping exact across threads and replicas without row-lock deadlocks; the
unique keys on the tables are the backstop.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from incidentbot.alerts import rules
from incidentbot.alerts.config import AlertsConfig
from incidentbot.alerts.routing import Placement, Router
from incidentbot.alerts.sources import FIRING, RESOLVED, Alert, Batch
from incidentbot.domain.errors import InvalidChange, NotFound
from incidentbot.durations import format_duration
from incidentbot.metrics import Metrics
from incidentbot.services.deps import Deps
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import (
    AlertEvent,
    AlertGroup,
    AlertRecord,
    AlertRollup,
    AlertSilence,
    Incident,
)

log = logging.getLogger(__name__)

SYNC_TIMER = "alerts_sync"
ROLLUP_TIMER = "alerts_rollup"
PAGE_TIMER = "alerts_page"
ACK_WITHIN_TIMER = "alerts_ack_within"
SILENCES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    groups: tuple[int, ...]


@dataclass
class _GroupWork:
    """What one request does to one group, gathered before the rules are applied."""

    group: AlertGroup
    new: int = 0
    repeats: int = 0
    resolved: int = 0
    names: list[str] = field(default_factory=list)


def open_key(route: str, group_key: str) -> str:
    return f"{route}\x1f{group_key}"


def lock_ids(session: Session, names: Iterable[str]) -> None:
    """PostgreSQL advisory locks (until commit) on `names`, in one fixed order."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted(
        {int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big", signed=True) for n in names}
    )
    for lock_id in ids:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_id})


class AlertService:
    def __init__(self, deps: Deps) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.alerts: AlertsConfig = deps.config.alerts
        self.router = Router(deps.config.alerts)
        self.timers = deps.timers
        self.clock = deps.clock
        self.metrics: Metrics | None = deps.metrics

    # -- ingest ------------------------------------------------------------------------
    def ingest(self, source: str, batch: Batch) -> Accepted:
        """Store `batch` from `source` durably; retried on a lost race (deadlock, duplicate)."""
        placed = [(a, self.router.place(a)) for a in batch.alerts]
        for attempt in range(4):
            try:
                with session_scope(self.engine) as session:
                    locked = self._lock_groups(session, placed)
                    result, counts = self._ingest(session, source, placed, locked, self.clock())
                break
            except (OperationalError, IntegrityError) as error:
                code = getattr(error.orig, "sqlstate", None)
                retry = isinstance(error, IntegrityError) or code in ("40P01", "40001")
                if attempt == 3 or not retry:
                    raise
        self._count(source, counts)
        return result

    def _lock_groups(
        self, session: Session, placed: Sequence[tuple[Alert, Placement]]
    ) -> set[str] | None:
        """Serialise the requests that touch the same groups, and only those.

        SQLite has one writer anyway: take its write lock first, so what we read
        next is what we write over (returns None). PostgreSQL: a transaction-level
        advisory lock per (route, group key) the body's alerts route to, taken in
        one fixed order, so concurrent deliveries of a group queue up, different
        groups run in parallel, and they cannot deadlock (returns the names).
        """
        if session.get_bind().dialect.name != "postgresql":
            session.connection().exec_driver_sql("UPDATE alert_group SET id = id WHERE 0")
            return None
        names = {open_key(p.route.name, p.group_key) for _, p in placed}
        lock_ids(session, names)
        return names

    def _ingest(
        self,
        session: Session,
        source: str,
        placed: Sequence[tuple[Alert, Placement]],
        locked: set[str] | None,
        now: datetime,
    ) -> tuple[Accepted, dict[tuple[str, str], Counter[str]]]:
        keys = [a.key for a, _ in placed]
        latest, homes = self._latest(session, source, keys)
        if locked is not None and not homes <= locked:
            # Known alerts in groups of another key (their labels now route elsewhere):
            # lock those too and read again. Out of order, so a deadlock is possible;
            # PostgreSQL breaks it and `ingest` retries.
            lock_ids(session, homes - locked)
            latest, _ = self._latest(session, source, keys)
        groups = _Groups(self, session, now)
        work: dict[int, _GroupWork] = {}
        received: Counter[str] = Counter()  # route → alerts
        orphans: Counter[str] = Counter()  # route → resolved alerts never seen firing
        for alert, placement in placed:
            known = latest.get(alert.key)
            if known is None and alert.status == RESOLVED:
                orphans[placement.route.name] += 1
                received[placement.route.name] += 1
                continue
            if alert.status == FIRING and (known is None or known.status == RESOLVED):
                group = groups.open_for(placement, alert, source)
                latest[alert.key] = _Known.new(source, alert, group, known, now)
                w = work.setdefault(group.id or 0, _GroupWork(group))
                w.new += 1
                w.names.append(alert.title)
            else:
                assert known is not None
                group = groups.by_id(known.group_id)
                w = work.setdefault(group.id or 0, _GroupWork(group))
                if known.touch(alert, now):
                    w.resolved += 1
                else:
                    w.repeats += 1
            received[group.route] += 1
        _write_alerts(session, latest.values())
        counts = self._apply(session, source, work, received, orphans, now)
        accepted = Accepted(len(placed), tuple(sorted(work)))
        return accepted, counts

    def _latest(
        self, session: Session, source: str, keys: Iterable[str]
    ) -> tuple[dict[str, _Known], set[str]]:
        """The newest occurrence of each key (only the columns ingest needs), and the
        (route, group key) names of the groups they are in."""
        latest: dict[str, _Known] = {}
        home: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        columns = (
            AlertRecord.id,
            AlertRecord.key,
            AlertRecord.occurrence,
            AlertRecord.status,
            AlertRecord.group_id,
            AlertRecord.repeats,
            AlertRecord.ends_at,
            AlertRecord.resolved_at,
            AlertGroup.route,
            AlertGroup.group_key,
        )
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            stmt = (
                select(*columns)
                .join(AlertGroup, col(AlertGroup.id) == AlertRecord.group_id)
                .where(AlertRecord.source == source, col(AlertRecord.key).in_(chunk))
            )
            for row in session.exec(stmt).all():
                found = _Known(*row[:8])
                have = latest.get(found.key)
                if have is None or found.occurrence > have.occurrence:
                    latest[found.key] = found
                    home[found.key] = open_key(row[8], row[9])
        return latest, set(home.values())

    def _apply(
        self,
        session: Session,
        source: str,
        work: dict[int, _GroupWork],
        received: Counter[str],
        orphans: Counter[str],
        now: datetime,
    ) -> dict[tuple[str, str], Counter[str]]:
        """Apply the rules to every touched group; log events; schedule notifications."""
        suppressed: dict[str, Counter[str]] = {}
        events: list[AlertEvent] = []
        for gid, w in work.items():
            outcome = self._apply_group(session, w, now)
            for reason, n in outcome.suppressed.items():
                suppressed.setdefault(w.group.route, Counter())[reason] += n
                events.append(_event(now, "suppressed", w.group, source, reason=reason, count=n))
            if outcome.became_flapping:
                events.append(_event(now, "flapping", w.group, source))
            if outcome.reopened:
                events.append(_event(now, "reopened", w.group, source))
            if outcome.all_resolved:
                events.append(_event(now, "resolved", w.group, source))
            events.append(
                _event(now, "received", w.group, source, count=w.new + w.repeats + w.resolved)
            )
            del gid
        for route, n in orphans.items():
            suppressed.setdefault(route, Counter())["repeat"] += n
            events.append(AlertEvent(at=now, kind="received", source=source, route=route, count=n))
            events.append(
                AlertEvent(
                    at=now, kind="suppressed", reason="repeat", source=source, route=route, count=n
                )
            )
        session.add_all(events)
        return {("received", r): Counter({source: n}) for r, n in received.items()} | {
            ("suppressed", r): c for r, c in suppressed.items()
        }

    def _apply_group(self, session: Session, w: _GroupWork, now: datetime) -> rules.Outcome:
        g = w.group
        state = rules.GroupState(
            status=None if g.alerts_total == 0 else g.status,
            firing=g.firing,
            flapping=g.flapping,
            transitions=tuple(datetime.fromisoformat(t) for t in g.transitions or []),
            silenced=g.silenced_until is not None and g.silenced_until > now,
            acked=g.acked_by is not None and g.incident_id is None,
            storm=g.rollup_id is not None,
            drop=g.action == "drop",
            posted=g.posted_at is not None,
        )
        delta = rules.Delta(w.new, w.repeats, w.resolved, tuple(dict.fromkeys(w.names)))
        outcome = rules.apply(
            state,
            delta,
            now=now,
            flap_threshold=self.alerts.flap_threshold,
            flap_window=self.alerts.flap_window,
        )
        g.firing = g.firing + w.new - w.resolved
        g.resolved += w.resolved
        g.alerts_total += w.new
        g.last_seen = now
        g.status = outcome.status
        g.transitions = [t.isoformat() for t in outcome.transitions]
        g.flapping = outcome.flapping
        if outcome.all_resolved:
            g.resolved_at = now
            self._stop_paging(session, g)
        elif outcome.reopened:
            g.resolved_at = None
        if outcome.notify:
            g.version += 1
            digest = dict(outcome.digest)
            if outcome.became_flapping:
                digest["flapping"] = 1
            if outcome.all_resolved:
                digest["all_resolved"] = 1
            g.digest = {**rules.merge_digest(g.digest or {}, digest), **_flags(g.digest, digest)}
            self.schedule_sync(session, g, self._first_post_at(g, now))
        session.add(g)
        return outcome

    def _first_post_at(self, g: AlertGroup, now: datetime) -> datetime:
        if g.posted_at is None:
            return max(now, g.first_seen + self.alerts.group_wait)
        return rules.next_edit_at(g.edited_at, now)

    # -- timers: scheduled in the caller's transaction ------------------------------------
    def schedule_sync(self, session: Session, g: AlertGroup, due: datetime) -> None:
        """Make sure a sync of the group's messages runs no later than `due`."""
        if g.sync_due_at is not None and g.sync_due_at <= due:
            return
        g.sync_due_at = due
        session.add(g)
        self.timers.schedule(
            session,
            kind=SYNC_TIMER,
            key=f"alerts:sync:{g.id}:{int(due.timestamp() * 1000)}",
            due_at=due,
            payload={"group": g.id},
        )

    def schedule_rollup(self, session: Session, r: AlertRollup, due: datetime) -> None:
        if r.sync_due_at is not None and r.sync_due_at <= due:
            return
        r.sync_due_at = due
        session.add(r)
        self.timers.schedule(
            session,
            kind=ROLLUP_TIMER,
            key=f"alerts:rollup:{r.id}:{int(due.timestamp() * 1000)}",
            due_at=due,
            payload={"rollup": r.id},
        )

    def _stop_paging(self, session: Session, g: AlertGroup) -> None:
        self.timers.cancel(session, key_prefix=f"alerts:page:{g.id}:")
        self.timers.cancel(session, key_prefix=f"alerts:ackwithin:{g.id}")
        if g.paging in ("armed", "paging"):
            g.paging = "done"

    # -- actions from Slack -----------------------------------------------------------------
    def acknowledge(self, group_id: int, *, actor: str) -> AlertGroup:
        now = self.clock()
        with session_scope(self.engine) as session:
            g = self._locked(session, group_id)
            if g.acked_by:
                raise InvalidChange(f"Already acknowledged by {_mention(g.acked_by)}.")
            g.acked_by, g.acked_at = actor, now
            self._stop_paging(session, g)
            if g.paging == "done":
                g.paging = "acked"
            self._changed(session, g, now)
            session.add(_event(now, "acked", g, None, actor=actor))
        return g

    def silence(self, group_id: int, choice: str, *, actor: str) -> AlertGroup:
        length = SILENCES.get(choice)
        if length is None:
            raise InvalidChange(f"Silence for {', '.join(SILENCES)}; not `{choice}`.")
        now = self.clock()
        with session_scope(self.engine) as session:
            g = self._locked(session, group_id)
            g.silenced_until, g.silenced_by = now + length, actor
            self._stop_paging(session, g)
            session.add(
                AlertSilence(
                    route=g.route,
                    group_key=g.group_key,
                    group_id=group_id,
                    created_by=actor,
                    created_at=now,
                    ends_at=now + length,
                )
            )
            self._changed(session, g, now)
            # When the silence ends, the message is brought up to date (it said SILENCED).
            self.timers.schedule(
                session,
                kind=SYNC_TIMER,
                key=f"alerts:sync:{g.id}:unsilence:{int((now + length).timestamp())}",
                due_at=now + length,
                payload={"group": g.id},
            )
            session.add(_event(now, "silenced", g, None, actor=actor, data={"for": choice}))
        return g

    def resolve_by_hand(self, group_id: int, *, actor: str) -> AlertGroup:
        """Resolve every firing alert of the group (sources that never send resolved)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            found = self.group(group_id)  # its key first: ingest takes that lock before rows
            lock_ids(session, {open_key(found.route, found.group_key)})
            if session.get_bind().dialect.name == "sqlite":
                session.connection().exec_driver_sql("UPDATE alert_group SET id = id WHERE 0")
            g = self._locked(session, group_id)
            if g.status != FIRING:
                raise InvalidChange("This alert group has already resolved.")
            rows = session.exec(
                select(AlertRecord).where(
                    AlertRecord.group_id == group_id, AlertRecord.status == FIRING
                )
            ).all()
            for row in rows:
                row.status, row.resolved_at = RESOLVED, now
                session.add(row)
            self._apply_group(session, _GroupWork(g, resolved=len(rows)), now)
            session.add(_event(now, "resolved_by_hand", g, None, actor=actor, count=len(rows)))
        return g

    def link(self, group_id: int, number: int, *, actor: str, quiet: bool = False) -> bool:
        """Link the group to incident `number`; False when it is linked to another one.

        `quiet`: the caller tells Slack itself (auto-declare posts the message with the link).
        """
        now = self.clock()
        with session_scope(self.engine) as session:
            g = self._locked(session, group_id)
            if g.incident_id is not None:
                return g.incident_id == number
            g.incident_id = number
            self._stop_paging(session, g)
            if quiet:
                g.version += 1
                session.add(g)
            else:
                g.digest = {**(g.digest or {}), "linked": 1}
                self._changed(session, g, now)
            session.add(_event(now, "linked", g, None, actor=actor, data={"incident": number}))
            repo.add_entry(
                session,
                incident_id=number,
                kind="alerts",
                actor=actor,
                at=now,
                source="alerts",
                text=f"Linked alert group: {g.title} ({g.firing} firing, route {g.route})",
                data={"alert_group": group_id},
                dedup_key=f"alert-group:{group_id}",
            )
        return True

    def _changed(self, session: Session, g: AlertGroup, now: datetime) -> None:
        g.version += 1
        session.add(g)
        self.schedule_sync(session, g, self._first_post_at(g, now))

    def _locked(self, session: Session, group_id: int) -> AlertGroup:
        g = session.exec(
            select(AlertGroup).where(AlertGroup.id == group_id).with_for_update()
        ).first()
        if g is None:
            raise NotFound("That alert group no longer exists.")
        return g

    # -- queries -------------------------------------------------------------------------
    def group(self, group_id: int) -> AlertGroup:
        with Session(self.engine) as session:
            g = session.get(AlertGroup, group_id)
        if g is None:
            raise NotFound("That alert group no longer exists.")
        return g

    def declare_form(self, group_id: int) -> rules.GroupView:
        """The group as the Declare button's pre-filled form shows it."""
        with Session(self.engine) as session:
            g = session.get(AlertGroup, group_id)
            if g is None:
                raise NotFound("That alert group no longer exists.")
            return view_of(session, g)

    def group_views(
        self, *, incident: int | None = None, limit: int = 200
    ) -> list[rules.GroupView]:
        """`/incident alerts`: firing groups, or the groups linked to an incident."""
        groups = self.firing_groups(incident=incident)[:limit]
        with Session(self.engine) as session:
            return [view_of(session, g) for g in groups]

    def firing_groups(self, *, incident: int | None = None) -> list[AlertGroup]:
        """Firing groups (for an incident: its linked groups, firing or not)."""
        with Session(self.engine) as session:
            stmt = select(AlertGroup)
            if incident is None:
                stmt = stmt.where(AlertGroup.status == FIRING, col(AlertGroup.open_key).isnot(None))
            else:
                stmt = stmt.where(AlertGroup.incident_id == incident)
            return list(session.exec(stmt.order_by(col(AlertGroup.last_seen).desc())).all())

    def open_counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            stmt = (
                select(AlertGroup.route, func.count())
                .where(AlertGroup.status == FIRING, col(AlertGroup.open_key).isnot(None))
                .group_by(AlertGroup.route)
            )
            return {route: int(n) for route, n in session.exec(stmt).all()}

    def report(self, days: int) -> list[dict[str, Any]]:
        """Signal to noise per route over the last `days` days."""
        since = self.clock() - timedelta(days=days)
        with Session(self.engine) as session:
            sums = session.exec(
                select(AlertEvent.route, AlertEvent.kind, func.sum(AlertEvent.count))
                .where(AlertEvent.at >= since, col(AlertEvent.kind).in_(("received", "notified")))
                .group_by(AlertEvent.route, AlertEvent.kind)
            ).all()
            groups = session.exec(select(AlertGroup).where(AlertGroup.created_at >= since)).all()
            names = session.exec(
                select(AlertGroup.route, AlertRecord.title, func.sum(AlertRecord.repeats + 1))
                .join(AlertGroup, col(AlertGroup.id) == AlertRecord.group_id)
                .where(AlertRecord.first_seen >= since)
                .group_by(AlertGroup.route, AlertRecord.title)
            ).all()
        return _report_rows(sums, groups, names)

    # -- metrics ---------------------------------------------------------------------------
    def _count(self, source: str, counts: dict[tuple[str, str], Counter[str]]) -> None:
        if self.metrics is None:
            return
        for (what, route), counter in counts.items():
            for label, n in counter.items():
                if what == "received":
                    self.metrics.alerts_received.labels(source, route).inc(n)
                else:
                    self.metrics.alerts_suppressed.labels(route, label).inc(n)


class _Groups:
    """The groups one ingest touches: loaded once, created when missing."""

    def __init__(self, service: AlertService, session: Session, now: datetime) -> None:
        self.service = service
        self.session = session
        self.now = now
        self._by_id: dict[int, AlertGroup] = {}
        self._by_key: dict[str, AlertGroup] = {}
        self._new_in_route: dict[str, int] = {}

    def by_id(self, group_id: int) -> AlertGroup:
        g = self._by_id.get(group_id)
        if g is None:
            g = self.session.get(AlertGroup, group_id)
            assert g is not None
            self._remember(g)
        return g

    def open_for(self, placement: Placement, alert: Alert, source: str) -> AlertGroup:
        key = open_key(placement.route.name, placement.group_key)
        g = self._by_key.get(key)
        if g is None:
            g = self.session.exec(select(AlertGroup).where(AlertGroup.open_key == key)).first()
        if g is not None and self._stale(g):
            g.open_key, g.closed_at = None, self.now
            self.session.add(g)
            self.session.flush()
            g = None
        if g is None:
            g = self._create(placement, alert, source, key)
        self._remember(g)
        return g

    def _stale(self, g: AlertGroup) -> bool:
        alerts = self.service.alerts
        return g.status == RESOLVED and not rules.reopenable(
            g.resolved_at, alerts.reopen_window, self.now
        )

    def _create(self, p: Placement, alert: Alert, source: str, key: str) -> AlertGroup:
        alerts = self.service.alerts
        g = AlertGroup(
            route=p.route.name,
            group_key=p.group_key,
            open_key=key,
            source=source,
            action=p.route.action,
            channel=alerts.channel_of(p.route),
            title=alert.title,
            group_labels=p.group_labels,
            status=FIRING,
            created_at=self.now,
            first_seen=self.now,
            last_seen=self.now,
            digest={},
        )
        g.silenced_until = self._silenced_until(p)
        self.session.add(g)
        self.session.flush()
        if p.route.action != "drop" and self._storm(p.route.name):
            self._roll_up(g, alert)
        elif p.route.action == "triage" and p.route.ack_within is not None:
            g.paging = "armed"
            self.service.timers.schedule(
                self.session,
                kind=ACK_WITHIN_TIMER,
                key=f"alerts:ackwithin:{g.id}",
                due_at=self.now + alerts.group_wait + p.route.ack_within,
                payload={"group": g.id},
            )
        return g

    def _silenced_until(self, p: Placement) -> datetime | None:
        stmt = select(func.max(AlertSilence.ends_at)).where(
            AlertSilence.route == p.route.name,
            AlertSilence.group_key == p.group_key,
            AlertSilence.ends_at > self.now,
        )
        return self.session.exec(stmt).one()

    def _storm(self, route: str) -> bool:
        if route not in self._new_in_route:
            since = self.now - rules.STORM_WINDOW
            stmt = select(func.count()).where(
                AlertGroup.route == route,
                AlertGroup.created_at > since,
                col(AlertGroup.rollup_id).is_(None),
            )
            # The group just created is counted by the query; not by the cap.
            self._new_in_route[route] = int(self.session.exec(stmt).one()) - 1
        if rules.storm(self._new_in_route[route], self.service.alerts.max_new_groups_per_minute):
            return True
        self._new_in_route[route] += 1
        return False

    def _roll_up(self, g: AlertGroup, alert: Alert) -> None:
        key = f"rollup:{g.route}"
        r = self.session.exec(select(AlertRollup).where(AlertRollup.open_key == key)).first()
        if r is not None and self.now - r.last_at > rules.ROLLUP_IDLE:
            r.open_key = None
            self.session.add(r)
            self.session.flush()
            r = None
        if r is None:
            r = AlertRollup(
                route=g.route,
                open_key=key,
                channel=g.channel,
                started_at=self.now,
                last_at=self.now,
                names={},
            )
            self.session.add(r)
            self.session.flush()
        names = dict(r.names or {})
        names[alert.title[:200]] = int(names.get(alert.title[:200], 0)) + 1
        if len(names) > 50:  # keep the biggest: the message shows ten
            names = dict(sorted(names.items(), key=lambda kv: -kv[1])[:50])
        r.names, r.groups, r.last_at, r.version = names, r.groups + 1, self.now, r.version + 1
        g.rollup_id = r.id
        self.session.add(g)
        self.service.schedule_rollup(self.session, r, rules.next_edit_at(r.edited_at, self.now))

    def _remember(self, g: AlertGroup) -> None:
        self._by_id[int(g.id or 0)] = g
        if g.open_key:
            self._by_key[g.open_key] = g


@dataclass
class _Known:
    """The newest occurrence of one alert key, as ingest reads and writes it.

    Plain values rather than ORM rows: a 100-alert body is one SELECT of a few
    columns, one bulk INSERT and one bulk UPDATE.
    """

    id: int | None
    key: str
    occurrence: int
    status: str
    group_id: int
    repeats: int
    ends_at: datetime | None
    resolved_at: datetime | None
    changed_at: datetime | None = None
    insert: dict[str, Any] | None = None  # a new occurrence, not yet written
    resolved_now: bool = False  # resolved by this request
    added: int = 0  # repeats counted by this request

    @classmethod
    def new(
        cls, source: str, alert: Alert, group: AlertGroup, previous: _Known | None, now: datetime
    ) -> _Known:
        occurrence = previous.occurrence + 1 if previous else 1
        known = cls(None, alert.key, occurrence, FIRING, int(group.id or 0), 0, alert.ends_at, None)
        known.insert = {
            "group_id": known.group_id,
            "source": source,
            "key": alert.key,
            "occurrence": occurrence,
            "title": alert.title,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "links": alert.links,
            "url": alert.url,
            "starts_at": alert.starts_at,
            "first_seen": now,
        }
        known.changed_at = now
        return known

    def touch(self, alert: Alert, now: datetime) -> bool:
        """A repeat or a resolution of this occurrence; True when it resolved."""
        self.changed_at = now
        if alert.ends_at is not None:
            self.ends_at = alert.ends_at
        if alert.status == RESOLVED and self.status == FIRING:
            self.status, self.resolved_at, self.resolved_now = RESOLVED, now, True
            return True
        self.repeats += 1
        self.added += 1
        return False

    def values(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "repeats": self.repeats,
            "ends_at": self.ends_at,
            "resolved_at": self.resolved_at,
            "last_seen": self.changed_at,
        }


def _write_alerts(session: Session, known: Iterable[_Known]) -> None:
    """One bulk INSERT for new occurrences, one UPDATE per kind of change for the rest.

    Repeats (most of Alertmanager's traffic) are one `UPDATE … WHERE id IN (…)`
    rather than a statement per alert, which is what PostgreSQL needs to keep up.
    """
    inserts, resolved = [], []
    repeats: dict[tuple[int, datetime], list[int]] = {}
    for k in known:
        if k.changed_at is None:
            continue
        if k.insert is not None:
            inserts.append({**k.insert, **k.values()})
        elif k.resolved_now:
            resolved.append({"row_id": k.id, **k.values()})
        else:
            repeats.setdefault((k.added, k.changed_at), []).append(int(k.id or 0))
    if inserts:
        session.execute(_INSERT_ALERTS, inserts)
    if resolved:
        session.execute(_UPDATE_ALERTS, resolved)
    for (added, at), ids in repeats.items():
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(_ALERT)
                .where(_ALERT.c.id.in_(ids[start : start + _CHUNK]))
                .values(repeats=_ALERT.c.repeats + added, last_seen=at)
            )


# Built once: Core statements executed with many parameter sets (executemany), which
# skips the ORM's per-call statement building and caching work on the hot path.
_ALERT = AlertRecord.__table__  # type: ignore[attr-defined]
_INSERT_ALERTS = insert(_ALERT)
_UPDATE_ALERTS = (
    update(_ALERT)
    .where(_ALERT.c.id == bindparam("row_id"))
    .values(
        status=bindparam("status"),
        repeats=bindparam("repeats"),
        ends_at=bindparam("ends_at"),
        resolved_at=bindparam("resolved_at"),
        last_seen=bindparam("last_seen"),
    )
)


def _flags(pending: dict[str, Any] | None, more: dict[str, Any]) -> dict[str, Any]:
    """Flags that ride along with a digest (not summed): flapping, all_resolved, linked."""
    keep = {k: 1 for k in ("flapping", "all_resolved", "linked") if (pending or {}).get(k)}
    keep.update({k: 1 for k in ("flapping", "all_resolved") if more.get(k)})
    if more.get("reopened"):
        keep.pop("all_resolved", None)
    return keep


def _event(
    at: datetime,
    kind: str,
    g: AlertGroup,
    source: str | None,
    *,
    reason: str | None = None,
    count: int = 1,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> AlertEvent:
    return AlertEvent(
        at=at,
        kind=kind,
        reason=reason,
        source=source,
        route=g.route,
        group_id=g.id,
        count=count,
        actor=actor,
        data=data or {},
    )


def _mention(actor: str) -> str:
    return f"<@{actor}>" if actor[:1] in ("U", "W") else f"`{actor}`"


def _report_rows(
    sums: Sequence[Any], groups: Sequence[AlertGroup], names: Sequence[Any]
) -> list[dict[str, Any]]:
    routes = sorted({r for r, _, _ in sums} | {g.route for g in groups})
    totals = {(r, k): int(n or 0) for r, k, n in sums}
    rows = []
    for route in routes:
        mine = [g for g in groups if g.route == route]
        alerts = totals.get((route, "received"), 0)
        notified = totals.get((route, "notified"), 0)
        handled = [g for g in mine if g.acked_at or g.incident_id]
        untouched = [
            g
            for g in mine
            if g.status == RESOLVED and not (g.acked_at or g.incident_id) and g.silenced_by is None
        ]
        waits = [(g.acked_at - g.first_seen).total_seconds() for g in mine if g.acked_at]
        median = format_duration(timedelta(seconds=statistics.median(waits))) if waits else None
        noisiest = sorted(
            ((t, int(n)) for r, t, n in names if r == route), key=lambda kv: (-kv[1], kv[0])
        )[:3]
        rows.append(
            {
                "route": route,
                "alerts": alerts,
                "groups": len(mine),
                "notifications": notified,
                "noise": notified / alerts if alerts else 0.0,
                "handled": len(handled) / len(mine) if mine else 0.0,
                "untouched": len(untouched) / len(mine) if mine else 0.0,
                "median_ack": median,
                "noisiest": noisiest,
            }
        )
    return rows


def mark_posted(session: Session, group_id: int, *, channel: str, ts: str) -> None:
    session.exec(  # type: ignore[call-overload]
        update(AlertGroup)
        .where(col(AlertGroup.id) == group_id)
        .values(message_channel=channel, message_ts=ts)
    )


def view_of(session: Session, g: AlertGroup) -> rules.GroupView:
    """The group as messages show it (with its incident's channel, when linked)."""
    incident_channel = None
    if g.incident_id is not None:
        incident = session.get(Incident, g.incident_id)
        incident_channel = incident.channel_id if incident else None
    first = session.exec(
        select(AlertRecord)
        .where(AlertRecord.group_id == g.id)
        .order_by(col(AlertRecord.id).desc())
        .limit(1)
    ).first()
    links = dict(first.links or {}) if first else {}
    if first and first.url:
        links["url"] = first.url
    return rules.GroupView(
        id=int(g.id or 0),
        route=g.route,
        source=g.source,
        action=g.action,
        title=g.title,
        status=g.status,
        firing=g.firing,
        resolved=g.resolved,
        alerts_total=g.alerts_total,
        first_seen=g.first_seen,
        last_seen=g.last_seen,
        group_labels=dict(g.group_labels or {}),
        links=links,
        acked_by=g.acked_by,
        silenced_until=g.silenced_until,
        flapping=g.flapping,
        incident=g.incident_id,
        incident_channel=incident_channel,
        message_channel=g.message_channel,
        message_ts=g.message_ts,
        permalink=g.permalink,
    )
