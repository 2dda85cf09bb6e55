"""Carrying alert notifications out: the timers that post, edit, digest, declare and page.

Every notification starts as a timer row written in the same transaction as
the change that calls for it (`AlertService.schedule_sync` and friends). When
a timer fires, its handler locks the group, decides from the group's stored
state what Slack needs now, records that decision (so another replica or a
second timer finds nothing left to do), and returns the Slack calls to run
after commit. Consequences of that:

- many changes in a burst become one post or one edit (the message shows the
  group as it is when the timer fires, not as it was at each change);
- edits are at most one per group per 5 s and thread digests at most one per
  `digest_every`: a sync that comes too early reschedules itself;
- a post that fails is retried by a new timer; a post claimed by a process
  that died before Slack answered is retried after `POST_LEASE`.

Slack writes are paced per channel (`ChannelPacer`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from incidentbot.alerts import rules
from incidentbot.alerts.service import (
    ACK_WITHIN_TIMER,
    PAGE_TIMER,
    ROLLUP_TIMER,
    SYNC_TIMER,
    AlertService,
    _event,
    view_of,
)
from incidentbot.domain import escalation as steps
from incidentbot.domain.escalation import Step
from incidentbot.metrics import Metrics
from incidentbot.scheduler import AfterCommit
from incidentbot.services.deps import Deps
from incidentbot.services.escalation import EscalationService
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import alert_blocks
from incidentbot.slack.gateway import Failure
from incidentbot.slack.pacing import ChannelPacer
from incidentbot.store.db import session_scope
from incidentbot.store.models import AlertEvent, AlertGroup, AlertRollup, Timer

log = logging.getLogger(__name__)

POST_LEASE = timedelta(minutes=2)
RETRY_AFTER = timedelta(seconds=30)


@dataclass
class _Plan:
    """What one sync of a group will tell Slack (decided under the group's lock)."""

    view: rules.GroupView
    channel_ref: str
    post: bool = False
    edit: bool = False
    digest: dict[str, Any] = field(default_factory=dict)
    flapping: bool = False
    declare: bool = False
    linked: bool = False
    all_resolved: int | None = None  # incident number whose linked groups all resolved

    @property
    def empty(self) -> bool:
        return not (self.post or self.edit or self.digest or self.flapping or self.declare) and (
            not self.linked and self.all_resolved is None
        )


class AlertDelivery:
    def __init__(
        self,
        deps: Deps,
        *,
        service: AlertService,
        incidents: IncidentService,
        escalations: EscalationService,
        pacer: ChannelPacer | None = None,
    ) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.alerts = deps.config.alerts
        self.service = service
        self.slack = deps.slack
        self.timers = timers = deps.timers
        self.incidents = incidents
        self.escalations = escalations
        self.clock = deps.clock
        self.metrics: Metrics | None = deps.metrics
        self.pacer = pacer or ChannelPacer()
        timers.register(SYNC_TIMER, self._on_sync)
        timers.register(ROLLUP_TIMER, self._on_rollup)
        timers.register(PAGE_TIMER, self._on_page)
        timers.register(ACK_WITHIN_TIMER, self._on_ack_within)

    # -- the group's messages ----------------------------------------------------------
    def _on_sync(self, session: Session, timer: Timer) -> AfterCommit | None:
        g = session.exec(
            select(AlertGroup).where(AlertGroup.id == timer.payload["group"]).with_for_update()
        ).first()
        if g is None:
            return None
        now = self.clock()
        g.sync_due_at = None
        plan = self._plan(session, g, now)
        session.add(g)
        if plan.empty:
            return None
        return lambda: self._carry_out(plan)

    def _plan(self, session: Session, g: AlertGroup, now: datetime) -> _Plan:
        if g.silenced_until is not None and g.silenced_until <= now:
            g.silenced_until = None  # the silence is over: the message stops saying so
            g.version += 1
        plan = _Plan(view=view_of(session, g), channel_ref=g.channel)
        quiet = g.action == "drop" or g.rollup_id is not None
        if g.posted_at is None or (g.message_ts is None and now - g.posted_at > POST_LEASE):
            if quiet or (g.silenced_until is not None and g.silenced_until > now):
                return plan
            if g.action == "declare" and g.incident_id is None:
                plan.declare = True
            plan.post, g.posted_at, g.synced_version = True, now, g.version
            # The message itself says everything so far; a link made before it is told now.
            plan.linked = g.incident_id is not None and bool((g.digest or {}).get("linked"))
            g.digest, g.digest_at = {}, now
            self._start_paging(session, g, now)
            return plan
        if g.message_ts is None:  # another process is posting it right now
            self.service.schedule_sync(session, g, now + POST_LEASE)
            return plan
        if g.synced_version < g.version:
            due = rules.next_edit_at(g.edited_at, now)
            if due > now:
                self.service.schedule_sync(session, g, due)
            else:
                plan.edit, g.edited_at, g.synced_version = True, now, g.version
        self._plan_thread(session, g, plan, now)
        return plan

    def _plan_thread(self, session: Session, g: AlertGroup, plan: _Plan, now: datetime) -> None:
        pending = dict(g.digest or {})
        plan.flapping = bool(pending.pop("flapping", 0))
        plan.linked = bool(pending.pop("linked", 0)) and g.incident_id is not None
        all_resolved = bool(pending.pop("all_resolved", 0))
        if all_resolved and g.incident_id is not None and _all_linked_resolved(session, g):
            plan.all_resolved = g.incident_id
        if not rules.digest_worth_posting(pending):
            g.digest = {}
            return
        due = rules.next_digest_at(g.digest_at, self.alerts.digest_every, now)
        if due > now:
            g.digest = pending  # flags are handled now; counts wait for their slot
            self.service.schedule_sync(session, g, due)
            return
        plan.digest, g.digest, g.digest_at = pending, {}, now

    def _carry_out(self, plan: _Plan) -> None:
        g = plan.view
        channel = self.slack.resolve_channel(plan.channel_ref)
        if isinstance(channel, Failure):
            self._retry(g.id, f"channel {plan.channel_ref}: {channel.error}")
            return
        if plan.declare:
            declared = self._declare(g)
            if declared is not None:
                g, plan.linked = declared, True
        if plan.post:
            if not self._post(g, channel):
                return
            g = self._view(g.id)
        elif plan.edit:
            self._edit(g, channel)
        thread = g.message_ts
        if plan.flapping and thread:
            text, blocks = alert_blocks.flapping_notice(g)
            self._write(g, channel, "digest", text=text, blocks=blocks, thread_ts=thread)
        if plan.digest and thread:
            text, blocks = alert_blocks.digest(g, plan.digest)
            self._write(g, channel, "digest", text=text, blocks=blocks, thread_ts=thread)
        self._tell_incident(plan, g)

    def _post(self, g: rules.GroupView, channel: str) -> bool:
        text, blocks = alert_blocks.triage_message(g, now=self.clock())
        posted = self._write(g, channel, "post", text=text, blocks=blocks)
        if posted is None:
            self._retry(g.id, "post failed", unpost=True)
            return False
        channel_id, ts = str(posted["channel"]), str(posted["ts"])
        # Stored once, so `/incident alerts` links to messages without a call per group.
        link = self.slack.try_call("chat.getPermalink", channel=channel_id, message_ts=ts)
        permalink = None if isinstance(link, Failure) else link.get("permalink")
        with session_scope(self.engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(AlertGroup)
                .where(col(AlertGroup.id) == g.id)
                .values(message_channel=channel_id, message_ts=ts, permalink=permalink)
            )
        return True

    def _edit(self, g: rules.GroupView, channel: str) -> None:
        if not g.message_ts:
            return
        text, blocks = alert_blocks.triage_message(g, now=self.clock())
        self.pacer.wait(channel)
        result = self.slack.update(
            g.message_channel or channel, g.message_ts, text=text, blocks=blocks
        )
        if isinstance(result, Failure):
            self._retry(g.id, f"edit failed: {result.error}", stale=True)
            return
        self._notified(g, "update")

    def _write(self, g: rules.GroupView, channel: str, kind: str, **kwargs: Any) -> Any:
        self.pacer.wait(channel)
        result = self.slack.post(channel, **kwargs)
        if isinstance(result, Failure):
            log.warning("alert message failed", extra={"group": g.id, "error": result.error})
            return None
        self._notified(g, kind)
        return result

    def _notified(self, g: rules.GroupView, kind: str, data: dict[str, Any] | None = None) -> None:
        with session_scope(self.engine) as session:
            session.add(
                AlertEvent(
                    at=self.clock(),
                    kind="notified",
                    reason=kind,
                    source=g.source,
                    route=g.route,
                    group_id=g.id,
                    data=data or {},
                )
            )
        if self.metrics is not None:
            self.metrics.alert_notifications.labels(g.route, kind).inc()

    def _retry(self, group_id: int, why: str, *, unpost: bool = False, stale: bool = False) -> None:
        log.warning("alert sync will be retried", extra={"group": group_id, "why": why})
        with session_scope(self.engine) as session:
            g = session.exec(
                select(AlertGroup).where(AlertGroup.id == group_id).with_for_update()
            ).first()
            if g is None:
                return
            if unpost:
                g.posted_at = None
            if stale:
                g.synced_version = 0
            self.service.schedule_sync(session, g, self.clock() + RETRY_AFTER)

    def _view(self, group_id: int) -> rules.GroupView:
        with Session(self.engine) as session:
            g = session.get(AlertGroup, group_id)
            assert g is not None
            return view_of(session, g)

    # -- incidents ----------------------------------------------------------------------
    def _declare(self, g: rules.GroupView) -> rules.GroupView | None:
        """Declare the group's incident (one per group: the incident's source_key is unique)."""
        route = self.alerts.route(g.route)
        outcome = self.incidents.declare(
            title=g.title[:200],
            severity=route.severity,
            description=f"Declared from alert group {g.id} (route {g.route}, source {g.source}).",
            declared_by=self.slack.bot_user_id,
            source_key=f"alert-group:{g.id}",
            assign_ic=False,
        )
        number = outcome.incident.number
        if not self.service.link(g.id, number, actor=self.slack.bot_user_id, quiet=True):
            return None
        if outcome.created and outcome.incident.channel_id:
            text = (
                ":rotating_light: Declared automatically from an alert group. "
                "Nobody is Incident Commander yet: press *Take IC* on the welcome message "
                "or run `/incident ic @someone`."
            )
            channel = outcome.incident.channel_id
            self.pacer.wait(channel)
            self.slack.post(channel, text=text)
        return self._view(g.id)

    def _tell_incident(self, plan: _Plan, g: rules.GroupView) -> None:
        if g.incident is None or not g.incident_channel:
            return
        channel = g.incident_channel
        now = self.clock()
        if plan.linked:
            text, blocks = alert_blocks.linked_summary(g, now=now, heading="Linked alert group")
            self._write(g, channel, "digest", text=text, blocks=blocks)
        elif plan.digest:
            text, blocks = alert_blocks.digest(g, plan.digest)
            text = f"{alert_blocks.literal(g.title, 100)}: {text}"  # the title is untrusted
            self._write(g, channel, "digest", text=text, blocks=blocks)
        if plan.all_resolved is not None:
            groups = len(self.service.firing_groups(incident=plan.all_resolved))
            text, blocks = alert_blocks.all_resolved(plan.all_resolved, groups)
            self._write(g, channel, "digest", text=text, blocks=blocks)

    # -- storm roll-ups -------------------------------------------------------------------
    def _on_rollup(self, session: Session, timer: Timer) -> AfterCommit | None:
        r = session.exec(
            select(AlertRollup).where(AlertRollup.id == timer.payload["rollup"]).with_for_update()
        ).first()
        if r is None:
            return None
        now = self.clock()
        r.sync_due_at = None
        if r.synced_version >= r.version:
            return None
        if r.message_ts is not None and now < rules.next_edit_at(r.edited_at, now):
            self.service.schedule_rollup(session, r, rules.next_edit_at(r.edited_at, now))
            return None
        r.synced_version, r.edited_at = r.version, now
        session.add(r)
        rollup_id, route, ref = int(r.id or 0), r.route, r.channel
        ts, message_channel = r.message_ts, r.message_channel
        text, blocks = alert_blocks.rollup(route, r.groups, r.alerts, dict(r.names or {}))

        def send() -> None:
            channel = self.slack.resolve_channel(ref)
            if isinstance(channel, Failure):
                return
            self.pacer.wait(channel)
            if ts and message_channel:
                result = self.slack.update(message_channel, ts, text=text, blocks=blocks)
                kind = "update"
            else:
                result = self.slack.post(channel, text=text, blocks=blocks)
                kind = "post"
            if isinstance(result, Failure):
                return
            with session_scope(self.engine) as s:
                if kind == "post":
                    s.exec(  # type: ignore[call-overload]
                        update(AlertRollup)
                        .where(col(AlertRollup.id) == rollup_id)
                        .values(
                            message_channel=str(result["channel"]), message_ts=str(result["ts"])
                        )
                    )
                s.add(AlertEvent(at=self.clock(), kind="notified", reason=kind, route=route))
            if self.metrics is not None:
                self.metrics.alert_notifications.labels(route, kind).inc()

        return send

    # -- paging ---------------------------------------------------------------------------
    def _start_paging(self, session: Session, g: AlertGroup, now: datetime) -> None:
        route = self.alerts.route(g.route)
        if g.action != "page" or route.escalation is None or g.paging is not None:
            return
        g.paging = "paging"
        self._schedule_page(session, g, Step(0, 0), now)

    def _schedule_page(self, session: Session, g: AlertGroup, step: Step, due: datetime) -> None:
        self.timers.schedule(
            session,
            kind=PAGE_TIMER,
            key=f"alerts:page:{g.id}:{step.cycle}:{step.level}",
            due_at=due,
            payload={"group": g.id, "cycle": step.cycle, "level": step.level},
        )

    def _on_ack_within(self, session: Session, timer: Timer) -> AfterCommit | None:
        g = session.exec(
            select(AlertGroup).where(AlertGroup.id == timer.payload["group"]).with_for_update()
        ).first()
        if g is None or g.paging != "armed" or g.acked_by or g.status != "firing":
            return None
        g.paging = "paging"
        session.add(g)
        self._schedule_page(session, g, Step(0, 0), self.clock())
        return None

    def _on_page(self, session: Session, timer: Timer) -> AfterCommit | None:
        g = session.exec(
            select(AlertGroup).where(AlertGroup.id == timer.payload["group"]).with_for_update()
        ).first()
        route = self.alerts.route(g.route) if g else None
        path = self.config.escalation_path(route.escalation or "") if route else None
        if g is None or path is None or g.paging != "paging":
            timer.outcome = "skipped"
            return None
        now = self.clock()
        if g.acked_by or g.status != "firing" or g.incident_id is not None:
            g.paging = "done"
            timer.outcome = "skipped"
            return None
        if g.flapping or (g.silenced_until is not None and g.silenced_until > now):
            reason = "flap" if g.flapping else "silence"
            session.add(_event(now, "suppressed", g, None, reason=reason))
            timer.outcome = "skipped"
            return None
        step = Step(int(timer.payload["cycle"]), int(timer.payload["level"]))
        level = path.levels[step.level]
        following = steps.next_step(path, step)
        if following is not None:
            self._schedule_page(session, g, following, now + level.timeout)
        else:
            g.paging = "done"
        session.add(g)
        label = steps.describe_step(path, step)
        view = view_of(session, g)
        targets = list(dict.fromkeys(level.targets))
        providers = self.service.providers
        paged_provider = False
        for target in targets:
            if providers is not None and steps.target_kind(target) in steps.PROVIDER_KINDS:
                # Same transaction as the page: the outbox row exists exactly when it does.
                unique = f"trigger:group:{g.id}:{step.cycle}:{step.level}:{target}"
                providers.record_group_trigger(
                    session, group=g, target=target, step=label, unique=unique
                )
                paged_provider = True
        group_id = int(g.id or 0)

        def send() -> None:
            self._send_pages(view, targets, label)
            if paged_provider and providers is not None:
                providers.deliver_for_group(group_id)  # first try now; the poll retries

        return send

    def _send_pages(self, g: rules.GroupView, targets: list[str], label: str) -> None:
        text, blocks = alert_blocks.page_dm(g, level=label, route=g.route)
        for target in targets:
            if steps.target_kind(target) in steps.PROVIDER_KINDS:
                continue  # recorded in the provider outbox by `_on_page`, sent after it
            users, unreachable = self.escalations.resolve_target(target)
            for user_id in users:
                self.pacer.wait(user_id)  # a storm must not flood one person's DMs
                sent = self.slack.post(user_id, text=text, blocks=blocks)
                if isinstance(sent, Failure):
                    unreachable.append((user_id, sent.error))
                    continue
                data = {"user": user_id, "channel": str(sent["channel"]), "ts": str(sent["ts"])}
                self._notified(g, "page", data)
            for who, error in unreachable:
                log.warning("alert page unreachable", extra={"target": who, "error": error})

    def close_pages(self, group_id: int, note: str) -> None:
        """Edit the page DMs of a group: no more buttons, say what happened."""
        with Session(self.engine) as session:
            g = session.get(AlertGroup, group_id)
            if g is None:
                return
            view = view_of(session, g)
            rows = session.exec(
                select(AlertEvent).where(
                    AlertEvent.group_id == group_id,
                    AlertEvent.kind == "notified",
                    AlertEvent.reason == "page",
                )
            ).all()
        text, blocks = alert_blocks.page_closed(view, note)
        for row in rows:
            if row.data.get("channel") and row.data.get("ts"):
                self.slack.update(row.data["channel"], row.data["ts"], text=text, blocks=blocks)


def _all_linked_resolved(session: Session, g: AlertGroup) -> bool:
    stmt = select(AlertGroup.status).where(AlertGroup.incident_id == g.incident_id)
    return all(status == "resolved" for status in session.exec(stmt).all())
