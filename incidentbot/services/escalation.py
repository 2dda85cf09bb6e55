"""Escalation: page people level by level until someone acknowledges.

State lives in our tables (`escalation`, `page`, `timer`); Slack only gets
told. Each step happens in one transaction that (a) claims the step's timer
(or the consequence that starts the escalation), (b) reads the incident once,
(c) moves the escalation to the next level, (d) stores one `page` row per
target and (e) schedules the next timeout. It yields a `StepPlan`: everything
sending the step needs, so sending reads nothing more. The DMs are sent after
commit from the stored page rows, each page claimed before it is sent. So:

- a level is paged at most once, also with several replicas (the timer claim
  and the unique (escalation, cycle, level, target) key both guarantee it);
- a page is never lost: a process that dies after committing leaves pending
  page rows, which `send_pending` (at start-up and on every poll) delivers;
- a page Slack could not take (outage, rate limit) becomes `retrying` and is
  handed to the outbox (`incidentbot.delivery`) in the same transaction; it is
  sent when Slack is back — unless the escalation was acknowledged or the
  incident resolved meanwhile, and then its row says so (`page.note`);
- an escalation starts with the change that calls for it: declaring or raising
  to a severity with a path records a consequence in the same transaction
  (`incidentbot.consequences`), carried out exactly once even if the process
  dies right after the commit;
- resolving cancels every running escalation and its unsent pages (a
  consequence of the resolve; a level that times out after the resolve but
  before that consequence ran cancels its escalation instead of paging).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from incidentbot import consequences as events
from incidentbot.config import EscalationPath
from incidentbot.consequences import Consequence
from incidentbot.delivery import Attempt
from incidentbot.domain import escalation as steps
from incidentbot.domain.errors import InvalidChange, NotFound
from incidentbot.domain.escalation import Step
from incidentbot.domain.outcome import Outcome
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escape, escaped_within
from incidentbot.scheduler import AfterCommit
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.services.providers import TOOL_NAMES, ProviderService
from incidentbot.slack import blocks, escalation_blocks
from incidentbot.slack.gateway import Failure, transient_error
from incidentbot.store import escalations, repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import Escalation, Page, SlackOutbox, Timer

log = logging.getLogger(__name__)

TIMER_KIND = "escalation"
PAGE_RETRY = "page"  # outbox kind: a page Slack could not take yet
PAGE_LEASE = timedelta(minutes=2)  # a page claimed longer ago than this was orphaned
ORPHAN_AGE = timedelta(seconds=5)  # younger pending pages are still being sent by their step


@dataclass
class Delivery:
    """What sending one step's pages achieved (for the channel notice)."""

    reached: list[str] = field(default_factory=list)
    unreachable: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # until Slack is back


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step's pages to send, with everything the DMs and the notice show."""

    escalation_id: int
    incident: IncidentSnapshot  # read once, in the step's transaction
    label: str  # "level 2/3 of `primary`"
    next_at: datetime | None  # when the next level fires; None after the last
    paged_by: str
    pages: tuple[tuple[int, str], ...]  # (page id, target as configured)


class EscalationService:
    def __init__(
        self,
        deps: Deps,
        *,
        incidents: IncidentService,
        providers: ProviderService | None = None,
    ) -> None:
        self.providers = providers  # PagerDuty/Opsgenie targets (PRODUCT.md §10)
        self.engine = deps.engine
        self.config = deps.config
        self.slack = deps.slack
        self.timers = deps.timers
        self.outbox = deps.outbox
        self.clock = deps.clock
        self.metrics = deps.metrics
        self.incidents = incidents
        deps.timers.register(TIMER_KIND, self._on_timeout)
        deps.outbox.register(PAGE_RETRY, self._retry_page)
        on = deps.consequences.subscribe
        on(events.DECLARED, "escalation.start_on_declare", self._start_for_severity)
        on(events.SEVERITY_CHANGED, "escalation.start_on_severity", self._start_for_severity)
        on(events.RESOLVED, "escalation.cancel_on_resolve", self._cancel_on_resolve)

    # -- starting ------------------------------------------------------------------
    def start(self, number: int, path_name: str, *, actor: str) -> IncidentSnapshot:
        """Page the first level of `path_name` now."""
        path = self._path(path_name)
        with session_scope(self.engine) as session:
            incident = self.incidents.read(session, number, lock=True)  # serialises starts
            if incident.resolved:
                raise InvalidChange(f"{incident.label} is resolved; nobody is paged for it.")
            if escalations.running(session, incident_id=number, path=path.name):
                raise InvalidChange(
                    f"`{path.name}` is already paging for {incident.label}. "
                    "`/incident escalate` pages its next level now."
                )
            plan = self._begin(session, incident, path, actor)
        self._deliver(plan)
        return incident

    def _start_for_severity(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Consequence of declare / severity change: run the severity's path, once."""
        incident = self.incidents.read(session, int(c.incident_id or 0), lock=True)
        severity = self.config.severity(incident.severity)
        if incident.resolved or severity is None or severity.escalation is None:
            return None
        path = self.config.escalation.get(severity.escalation)
        if path is None:  # config changed since the event was recorded
            log.warning("escalation path gone", extra={"path": severity.escalation})
            return None
        if path.name in escalations.paths_used(session, incident_id=incident.number):
            return None  # raised again to a severity whose path already ran or runs
        plan = self._begin(session, incident, path, c.actor)
        return lambda: self._deliver(plan)

    def _begin(
        self, session: Session, incident: IncidentSnapshot, path: EscalationPath, actor: str
    ) -> StepPlan:
        now = self.clock()
        esc = Escalation(
            incident_id=incident.number,
            path=path.name,
            state="running",
            started_by=actor,
            started_at=now,
        )
        if not escalations.paged(session, incident_id=incident.number)[1]:
            # Someone is paged now, so the acknowledged milestone is the first page
            # acknowledgement (PRODUCT.md §4), never an earlier IC action.
            row = repo.get_incident(session, number=incident.number)
            if row is not None and row.acknowledged_at is not None:
                row.acknowledged_at = None
                session.add(row)
        session.add(esc)
        session.flush()
        text = f"Started escalation `{path.name}`"
        self._entry(session, incident.number, "escalation", actor, now, text)
        return self._enter_step(session, esc, path, Step(0, 0), now, incident)

    def escalate_now(self, number: int, *, actor: str) -> list[str]:
        """Page the next level of every running escalation now; returns their paths."""
        with Session(self.engine) as session:
            running = escalations.running(session, incident_id=number)
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
            return [e.path for e in escalations.running(session, incident_id=number)]

    # -- acknowledging -------------------------------------------------------------
    def acknowledge(
        self, number: int, *, actor: str, escalation_id: int | None = None
    ) -> Outcome[tuple[str, ...]]:
        """Stop running escalations (one, or all of the incident) and record the ack."""
        incident = self.incidents.get(number)
        now = self.clock()
        with session_scope(self.engine) as session:
            row = repo.get_incident(session, number=number, lock=True)
            assert row is not None
            first_page_ack = not escalations.paged(session, incident_id=number)[1]
            targets = self._ack_targets(session, number, escalation_id, incident)
            for esc in targets:
                esc.acknowledged_by, esc.acknowledged_at = actor, now
            note = f"acknowledged by <@{actor}> before Slack could deliver it"
            ids = self._call_off(session, targets, "acknowledged", now, note=note)
            if first_page_ack:  # the MTTA milestone (PRODUCT.md §4), also over an IC action
                row.acknowledged_at = now
                session.add(row)
            names = ", ".join(f"`{e.path}`" for e in targets)
            self._entry(session, number, "ack", actor, now, f"Acknowledged {names}")
            if self.providers is not None:  # PagerDuty/Opsgenie acknowledge, same transaction
                by = f"Slack user {actor}"
                self.providers.record_followups(
                    session, number=number, action="acknowledge", by=by, escalation_ids=ids
                )
        self.metrics.acks.inc(len(targets))
        if self.providers is not None:
            self.providers.deliver_for_incident(number)
        snapshot = self.incidents.get(number)
        if first_page_ack:
            self.incidents.observe_acknowledged(snapshot, "page")
        if snapshot.channel_id:
            self.slack.invite(snapshot.channel_id, [actor])
            text = f":white_check_mark: <@{actor}> acknowledged ({names}). Escalation stopped."
            self.outbox.post(
                snapshot.channel_id,
                text=text,
                blocks=blocks.notice(text)[1],
                incident_id=number,
                label="the acknowledgement notice",
            )
        note = f":white_check_mark: Acknowledged by <@{actor}> {blocks.when(now)}."
        self._close_dms(ids, snapshot, note)
        return Outcome(snapshot, tuple(e.path for e in targets))  # the paths acknowledged

    def acknowledge_external(
        self, number: int, *, tool: str, who: str, key: str, delivery: str
    ) -> str:
        """An acknowledgement made in PagerDuty or Opsgenie (`tool`) by `who`.

        Stops every running escalation, records MTTA, acknowledges the other
        providers paged (not `key`, which is where it came from) and tells
        the channel. Idempotent per `delivery`; returns what happened.
        """
        now, name = self.clock(), TOOL_NAMES[tool]
        shown = escaped_within(who, 100)  # the provider's text: literal, never a mention
        with session_scope(self.engine) as session:
            row = repo.get_incident(session, number=number, lock=True)
            if row is None or row.resolved_at is not None:
                return "incident resolved"
            running = escalations.running(session, incident_id=number)
            stopped = bool(running) or row.acknowledged_at is None
            names = ", ".join(f"`{e.path}`" for e in running)
            text = f"Acknowledged in {name} by {shown}" + (f" ({names})" if names else "")
            entry = repo.add_entry(
                session,
                incident_id=number,
                kind="ack",
                actor="",
                at=now,
                text=text,
                source=tool,
                dedup_key=f"webhook:{delivery}",
            )
            if entry is None:
                return "duplicate"
            for esc in running:
                esc.acknowledged_by, esc.acknowledged_at = tool, now
            note = f"acknowledged in {name} before Slack could deliver it"
            ids = self._call_off(session, running, "acknowledged", now, note=note)
            if row.acknowledged_at is None:
                row.acknowledged_at = now  # the MTTA milestone counts provider acks too
                session.add(row)
            if self.providers is not None:
                self.providers.record_followups(
                    session,
                    number=number,
                    action="acknowledge",
                    by=f"{who} in {name}",
                    escalation_ids=ids,
                    skip_key=key,
                )
        if self.providers is not None:
            self.providers.deliver_for_incident(number)
        if not stopped:
            return "already acknowledged"  # e.g. the echo of our own acknowledge
        self.metrics.acks.inc(len(running))
        snapshot = self.incidents.get(number)
        stop = f" ({names}). Escalation stopped." if names else "."
        if snapshot.channel_id:
            notice = f":white_check_mark: {shown} acknowledged in {name}{stop}"
            self.outbox.post(
                snapshot.channel_id,
                text=notice,
                blocks=blocks.notice(notice)[1],
                incident_id=number,
                label=f"the {name} acknowledgement notice",
            )
        if ids:
            note = f":white_check_mark: Acknowledged in {name} by {shown} {blocks.when(now)}."
            self._close_dms(ids, snapshot, note)
        return "acknowledged"

    def resolved_externally(
        self, number: int, *, tool: str, who: str, url: str | None, delivery: str
    ) -> str:
        """A resolution in PagerDuty/Opsgenie: announced, never resolves the incident."""
        name, shown = TOOL_NAMES[tool], escaped_within(who, 100)
        with session_scope(self.engine) as session:
            row = repo.get_incident(session, number=number)
            if row is None or row.resolved_at is not None:
                return "incident resolved"  # the echo of our own resolve
            text = f"The {name} alert was resolved by {shown}"
            entry = repo.add_entry(
                session,
                incident_id=number,
                kind="provider",
                actor="",
                at=self.clock(),
                text=text,
                source=tool,
                dedup_key=f"webhook:{delivery}",
            )
            channel = row.channel_id
        if entry is None:
            return "duplicate"
        if channel:
            link = f" (<{url}|open in {name}>)" if url else ""
            notice = (
                f":information_source: {text}{link}. The incident stays open here: "
                "`/incident resolve` when it is over."
            )
            self.outbox.post(
                channel,
                text=notice,
                blocks=blocks.notice(notice)[1],
                incident_id=number,
                label=f"the {name} resolution notice",
            )
        return "announced"

    def _ack_targets(
        self, session: Session, number: int, escalation_id: int | None, incident: IncidentSnapshot
    ) -> list[Escalation]:
        if incident.resolved:
            raise InvalidChange(f"{incident.label} is already resolved; nothing to acknowledge.")
        if escalation_id is None:
            running = escalations.running(session, incident_id=number)
            if not running:
                raise InvalidChange(f"Nothing is paging for {incident.label} right now.")
            return running
        esc = session.get(Escalation, escalation_id)
        if esc is None or esc.incident_id != number:
            raise NotFound("That page no longer exists.")
        if esc.state == "acknowledged":
            by = esc.acknowledged_by or ""
            who = f"someone in {TOOL_NAMES[by]}" if by in TOOL_NAMES else f"<@{by}>"
            raise InvalidChange(f"Already acknowledged by {who}.")
        if esc.state != "running":
            raise InvalidChange(f"This escalation is over ({esc.state}); nothing to acknowledge.")
        return [esc]

    # -- cancelling ----------------------------------------------------------------
    def _cancel_on_resolve(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Consequence of resolve: call off every running escalation of the incident."""
        running = escalations.running(session, incident_id=int(c.incident_id or 0))
        if not running:
            return None
        incident = self.incidents.read(session, int(c.incident_id or 0))
        return self._cancel(session, running, incident, self.clock())

    def _cancel(
        self,
        session: Session,
        running: Sequence[Escalation],
        incident: IncidentSnapshot,
        now: datetime,
    ) -> AfterCommit:
        reason = f"{incident.label} was resolved"
        ids = self._call_off(session, running, "cancelled", now, note=f"called off: {reason}")
        names = ", ".join(f"`{e.path}`" for e in running)
        self._entry(session, incident.number, "escalation", "", now, f"Cancelled {names}: {reason}")
        return lambda: self._close_dms(ids, incident, f"No action needed: {reason}.")

    def _call_off(
        self,
        session: Session,
        running: Sequence[Escalation],
        state: str,
        now: datetime,
        *,
        note: str,
    ) -> list[int]:
        """End escalations: no more timeouts, unsent pages withdrawn (`note` says why).
        Their ids."""
        for esc in running:
            esc.state, esc.ended_at, esc.next_at = state, now, None
            session.add(esc)
            self.timers.cancel(session, key_prefix=f"esc:{esc.id}:")
            escalations.cancel_pending_pages(session, escalation_id=int(esc.id or 0), note=note)
        return [int(e.id or 0) for e in running]

    # -- the timer: one level timed out ---------------------------------------------
    def _on_timeout(self, session: Session, timer: Timer) -> AfterCommit | None:
        esc = session.get(Escalation, int(timer.payload["escalation_id"]))
        if esc is None or esc.state != "running":
            timer.outcome = "skipped"
            return None
        path = self._path(esc.path)
        now = self.clock()
        incident = self.incidents.read(session, esc.incident_id)  # the one read of this step
        if incident.resolved:  # resolved, and its cancel consequence has not run yet
            return self._cancel(session, [esc], incident, now)
        current = Step(esc.cycle, esc.level)
        label = steps.describe_step(path, current)
        forced = timer.due_at > now
        what = "Escalated before the timeout of" if forced else "No acknowledgement for"
        self._entry(session, esc.incident_id, "timeout", "", now, f"{what} {label}")
        following = steps.next_step(path, current)
        if following is None:
            return self._exhaust(session, esc, path, now, incident)
        plan = self._enter_step(session, esc, path, following, now, incident)
        return lambda: self._deliver(plan)

    def _enter_step(
        self,
        session: Session,
        esc: Escalation,
        path: EscalationPath,
        step: Step,
        now: datetime,
        incident: IncidentSnapshot,
    ) -> StepPlan:
        """Move to `step`: store its pages and schedule its timeout (same transaction)."""
        level = path.levels[step.level]
        esc.cycle, esc.level = step.cycle, step.level
        esc.next_at = now + level.timeout
        session.add(esc)
        pages = []
        # Slack DMs first: a slow provider must not hold up the people paged directly
        # (provider events are retried by their own outbox anyway).
        for target in sorted(dict.fromkeys(level.targets), key=steps.is_provider):
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
            pages.append((int(page.id or 0), target))
            if self.providers is not None and steps.is_provider(target):
                label = steps.describe_step(path, step).replace("`", "")
                self.providers.record_trigger(session, incident=incident, page=page, step=label)
        self.timers.schedule(
            session,
            kind=TIMER_KIND,
            key=f"esc:{esc.id}:{step.cycle}:{step.level}",
            due_at=esc.next_at,
            incident_id=esc.incident_id,
            payload={"escalation_id": esc.id},
        )
        last = steps.next_step(path, step) is None
        return StepPlan(
            escalation_id=int(esc.id or 0),
            incident=incident,
            label=steps.describe_step(path, step),
            next_at=None if last else esc.next_at,
            paged_by=esc.started_by,
            pages=tuple(pages),
        )

    def _exhaust(
        self,
        session: Session,
        esc: Escalation,
        path: EscalationPath,
        now: datetime,
        incident: IncidentSnapshot,
    ) -> AfterCommit:
        esc.state, esc.ended_at, esc.next_at = "exhausted", now, None
        session.add(esc)
        rounds = path.repeat + 1
        text = (
            f":rotating_light: Escalation `{path.name}` is exhausted: nobody acknowledged after "
            f"{rounds} round(s) of {len(path.levels)} level(s)."
        )
        self._entry(session, esc.incident_id, "exhausted", "", now, text)

        def tell() -> None:
            label, number = "the escalation-exhausted notice", incident.number
            if incident.channel_id:
                notice = blocks.notice(text)[1]
                self.outbox.post(
                    incident.channel_id, text=text, blocks=notice, incident_id=number, label=label
                )
            if incident.ic:
                dm = f"{text} ({incident.label}, {blocks.channel(incident.channel_id)})"
                self.outbox.post(incident.ic, text=dm, incident_id=number, label=f"{label} DM")

        return tell

    # -- sending pages ---------------------------------------------------------------
    def _deliver(self, plan: StepPlan) -> None:
        """Send the DMs of one step, then tell the incident channel who was paged."""
        delivery = Delivery()
        running: bool | None = None  # None: every page was sent or withdrawn by others
        for page_id, target in plan.pages:
            state = self._send_page(plan, page_id, target, delivery)
            running = state if state is not None else running
        if running:
            # Only pages waiting for Slack: say so now if the channel can hear it; if it
            # cannot, the outbox announces each page as it is delivered instead.
            waiting_only = not (delivery.reached or delivery.unreachable)
            self._announce(plan, delivery, now_only=waiting_only)

    def send_pending(self) -> int:
        """Deliver pages left pending by a process that stopped before sending them."""
        now = self.clock()
        with session_scope(self.engine) as session:
            pages = escalations.orphaned_pages(
                session, lease_cutoff=now - PAGE_LEASE, created_before=now - ORPHAN_AGE
            )
            plans = self._plans_for(session, pages)
        for plan in plans:
            self._deliver(plan)
        return len(pages)

    def _plans_for(self, session: Session, pages: Sequence[Page]) -> list[StepPlan]:
        """Group orphaned pages into steps; withdraw those of escalations that ended."""
        by_step: dict[tuple[int, int, int], list[Page]] = {}
        for page in pages:
            by_step.setdefault((page.escalation_id, page.cycle, page.level), []).append(page)
        plans = []
        for (escalation_id, cycle, level), group in by_step.items():
            esc = session.get(Escalation, escalation_id)
            path = self.config.escalation.get(esc.path) if esc else None
            if esc is None or path is None or esc.state != "running":
                escalations.cancel_pending_pages(session, escalation_id=escalation_id)
                continue
            step = Step(cycle, level)
            current = step == Step(esc.cycle, esc.level)
            last = steps.next_step(path, step) is None
            plans.append(
                StepPlan(
                    escalation_id=escalation_id,
                    incident=self.incidents.read(session, esc.incident_id),
                    label=steps.describe_step(path, step),
                    next_at=esc.next_at if current and not last else None,
                    paged_by=esc.started_by,
                    pages=tuple((int(p.id or 0), p.target) for p in group),
                )
            )
        return plans

    def _send_page(
        self, plan: StepPlan, page_id: int, target: str, delivery: Delivery
    ) -> bool | None:
        """Claim, send and record one page. Whether its escalation still runs (None: not ours)."""
        now = self.clock()
        with session_scope(self.engine) as session:
            if not escalations.claim_page(
                session, page_id=page_id, now=now, lease_cutoff=now - PAGE_LEASE
            ):
                return None  # sent, withdrawn, or being sent by another process
        if steps.is_provider(target):
            return self._send_provider_page(plan, page_id, target, delivery)
        return self._page(plan, page_id, target, delivery, already=[])

    def _send_provider_page(
        self, plan: StepPlan, page_id: int, target: str, delivery: Delivery
    ) -> bool:
        """Send a provider target's trigger now (first attempt; the provider outbox retries).

        The page counts as handed over (`sent`) unless the provider refused it:
        from here the `provider_event` row carries it, and a final failure
        marks the page `failed`. Whether the escalation still runs.
        """
        result = self.providers.deliver_for_page(page_id) if self.providers else None
        if result is None or result.kind == "sent":
            # None: another process is sending it or it was settled already.
            delivery.reached.append(target)
        elif result.kind == "retry":
            detail = escaped_within(result.detail, 200)  # the provider's words: shown literally
            delivery.unreachable.append((target, f"{detail}; retrying"))
        else:
            delivery.unreachable.append((target, escaped_within(result.detail, 200)))
        with session_scope(self.engine) as session:
            page = session.get(Page, page_id)
            if page is not None and page.status == "pending":
                page.status, page.sent_at = "sent", self.clock()
                session.add(page)
            esc = session.get(Escalation, plan.escalation_id)
            return esc is not None and esc.state == "running"

    def _page(
        self,
        plan: StepPlan,
        page_id: int,
        target: str,
        delivery: Delivery,
        *,
        already: list[dict[str, str]],
    ) -> bool:
        """DM everyone behind `target` not reached yet; whether the escalation still runs.

        Failures that pass (Slack down, rate-limited) leave the page `retrying`
        with an outbox row; the people already reached are kept, so nobody gets
        the same page twice.
        """
        now = self.clock()
        users, unreachable = self._resolve(target)
        text, dm = escalation_blocks.page_dm(
            plan.incident,
            self.config,
            escalation_id=plan.escalation_id,
            step=plan.label,
            paged_by=plan.paged_by,
        )
        deliveries, done = list(already), {d["user"] for d in already}
        for user_id in users:
            if user_id in done:
                continue
            sent = self.slack.post(user_id, text=text, blocks=dm)
            if isinstance(sent, Failure):
                unreachable.append((f"<@{user_id}>", sent.error))
                continue
            deliveries.append(
                {"user": user_id, "channel": str(sent["channel"]), "ts": str(sent["ts"])}
            )
        reached = [d["user"] for d in deliveries if d["user"] not in done]
        self.metrics.pages.inc(len(reached))
        delivery.reached += reached
        waiting = [(t, e) for t, e in unreachable if transient_error(e)]
        if waiting:
            delivery.waiting += waiting
            return self._keep_for_retry(plan, page_id, target, deliveries, waiting)
        delivery.unreachable += unreachable
        return self._record_page(plan, page_id, target, now, deliveries, unreachable)

    def _keep_for_retry(
        self,
        plan: StepPlan,
        page_id: int,
        target: str,
        deliveries: list[dict[str, str]],
        waiting: list[tuple[str, str]],
    ) -> bool:
        """Hand the page to the outbox (same transaction); whether the escalation still runs."""
        note = "waiting for Slack: " + ", ".join(f"{t} ({e})" for t, e in waiting)
        with session_scope(self.engine) as session:
            page = escalations.keep_for_retry(
                session, page_id=page_id, deliveries=list(deliveries), note=note
            )
            if page is not None:
                user = steps.target_kind(target) == "user"
                who = f"<@{target}>" if user else f"`{escape(target)}`"
                self.outbox.add(
                    session,
                    kind=PAGE_RETRY,
                    label=f"the page to {who} ({plan.label})",
                    incident_id=plan.incident.number,
                    payload={"page_id": page_id},
                    created_at=page.created_at,
                    error=waiting[0][1],
                )
            esc = session.get(Escalation, plan.escalation_id)
            return esc is not None and esc.state == "running"

    def _retry_page(self, row: SlackOutbox) -> Attempt:
        """Outbox handler: send a page Slack could not take, if it still means something."""
        page_id = int(row.payload["page_id"])
        with session_scope(self.engine) as session:
            page = session.get(Page, page_id)
            if page is None or page.status != "retrying":
                status = page.status if page else "gone"
                return Attempt("skipped", (page.note if page else None) or f"page {status}")
            esc = session.get(Escalation, page.escalation_id)
            path = self.config.escalation.get(esc.path) if esc else None
            incident = self.incidents.read(session, page.incident_id)
            if esc is None or path is None or esc.state != "running" or incident.resolved:
                note = "the escalation was over before Slack could deliver it"
                escalations.finish_page(
                    session,
                    page_id=page_id,
                    status="cancelled",
                    at=self.clock(),
                    deliveries=list(page.deliveries or []),
                    unreachable=[],
                    note=note,
                )
                return Attempt("skipped", note)
            step = Step(page.cycle, page.level)
            current = step == Step(esc.cycle, esc.level)
            last = steps.next_step(path, step) is None
            plan = StepPlan(
                escalation_id=int(esc.id or 0),
                incident=incident,
                label=steps.describe_step(path, step),
                next_at=esc.next_at if current and not last else None,
                paged_by=esc.started_by,
                pages=((page_id, page.target),),
            )
            already, target = list(page.deliveries or []), page.target
        delivery = Delivery()
        with self.slack.single_try():  # checked just above: no SDK back-off after the check
            running = self._page(plan, page_id, target, delivery, already=already)
        if delivery.waiting:
            return Attempt("retry", ", ".join(e for _t, e in delivery.waiting))
        if running:
            self._announce(plan, delivery)
        return Attempt("delivered")

    def _record_page(
        self,
        plan: StepPlan,
        page_id: int,
        target: str,
        now: datetime,
        deliveries: list[dict[str, str]],
        unreachable: list[tuple[str, str]],
    ) -> bool:
        """Store how the page went and its timeline entry; whether the escalation still runs."""
        number = plan.incident.number
        who = ", ".join(f"<@{d['user']}>" for d in deliveries) or "nobody"
        missed = "; ".join(f"{t}: {e}" for t, e in unreachable)
        text = f"Paged {who} ({plan.label}, target `{target}`)"
        text += f"; unreachable {missed}" if missed else ""
        with session_scope(self.engine) as session:
            escalations.finish_page(
                session,
                page_id=page_id,
                status="sent" if deliveries else "failed",
                at=self.clock(),
                deliveries=list(deliveries),
                unreachable=[{"target": t, "error": e} for t, e in unreachable],
            )
            repo.add_entry(
                session,
                incident_id=number,
                kind="page",
                actor=plan.paged_by,
                at=now,
                text=text,
                source="escalation",
                data={"page": page_id, "users": [d["user"] for d in deliveries]},
                dedup_key=f"page:{page_id}",
            )
            esc = session.get(Escalation, plan.escalation_id)
            return esc is not None and esc.state == "running"

    def resolve_target(self, target: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The user IDs behind a configured target (alert pages use it too)."""
        return self._resolve(target)

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

    def _announce(self, plan: StepPlan, delivery: Delivery, *, now_only: bool = False) -> None:
        """Tell the channel who was paged (`now_only`: not worth delivering late)."""
        channel = plan.incident.channel_id
        if channel is None:
            return
        text = escalation_blocks.paged_notice(
            step=plan.label,
            reached=delivery.reached,
            unreachable=delivery.unreachable
            + [(t, f"{e}; retrying until Slack takes it") for t, e in delivery.waiting],
            next_at=plan.next_at,
        )
        notice = blocks.notice(text)[1]
        if now_only:
            self.slack.post(channel, text=text, blocks=notice)
            return
        self.outbox.post(
            channel,
            text=text,
            blocks=notice,
            incident_id=plan.incident.number,
            label="the paging notice",
        )

    def _close_dms(
        self, escalation_ids: Sequence[int], snapshot: IncidentSnapshot, note: str
    ) -> None:
        """Edit every page DM of these escalations: no more buttons, say what happened."""
        with Session(self.engine) as session:
            pages = escalations.pages_of(session, escalation_ids=escalation_ids)
            deliveries = [d for p in pages for d in (p.deliveries or [])]
        text, closed = escalation_blocks.page_dm_closed(snapshot, note)
        for d in deliveries:
            self.outbox.call(
                "chat.update",
                channel=d["channel"],
                ts=d["ts"],
                text=text,
                blocks=closed,
                incident_id=snapshot.number,
                label=f"the edit of <@{d['user']}>'s page",
            )

    # -- helpers ---------------------------------------------------------------------
    def _path(self, name: str) -> EscalationPath:
        path = self.config.escalation.get(name.lower())
        if path is None:
            known = escalation_blocks.path_list(self.config)
            raise InvalidChange(f"Unknown escalation path `{escape(name)}`. Paths: {known}.")
        return path

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
