"""Paging out through PagerDuty and Opsgenie: the provider outbox (PRODUCT.md §10).

Recording and delivering are separate, like DM pages:

- `record_trigger` / `record_followups` write `provider_event` rows inside the
  caller's transaction — the one that pages a level, acknowledges or
  resolves — so the event exists exactly when the change does.
- `deliver` claims one row (`UPDATE … WHERE claimed_at IS NULL OR lease
  expired`), sends it outside any transaction and settles it: `sent`;
  retried later with exponential back-off on 429/5xx/connection errors;
  `failed` when the provider rejects it (400, bad key) or the retries run
  out — then the incident channel is told, naming the target. Only the
  process whose claim succeeded sends, so two replicas never send one event
  twice; a process killed after committing leaves a pending row that
  `deliver_due` (start-up and every poll) sends.
- Events of one key go out in order: an acknowledge waits for its trigger.

On acknowledge and resolve, triggers not yet sent are cancelled (nobody needs
waking any more), and every key the incident did page gets the
acknowledge/resolve. Resolve is a consequence of the resolve
(`incidentbot.consequences`), so a process dying right after resolving
still sends it. Keys and tokens come from the configuration at send time;
they are never stored nor logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from incidentbot import consequences as events
from incidentbot.consequences import Consequence
from incidentbot.domain.escalation import PROVIDER_NAMES, provider_label
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escaped_within
from incidentbot.providers.http import Result, post_json
from incidentbot.providers.messages import (
    dedup_key,
    group_key,
    group_trigger_payload,
    trigger_payload,
)
from incidentbot.providers.opsgenie import OpsgenieClient
from incidentbot.providers.pagerduty import PagerDutyClient, Post
from incidentbot.scheduler import AfterCommit
from incidentbot.services.deps import Deps
from incidentbot.slack import blocks
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import AlertGroup, Escalation, Incident, Page, ProviderEvent

log = logging.getLogger(__name__)

LEASE = timedelta(
    seconds=60
)  # longer than one request's timeout: a claim older than this was orphaned
RETRY_FIRST = 2.0  # seconds; PagerDuty advises a few tries, seconds apart
RETRY_CAP = 60.0
MAX_ATTEMPTS = 12  # about ten minutes of trying before the channel is told
TOOL_NAMES = PROVIDER_NAMES


class ProviderService:
    def __init__(self, deps: Deps, *, post: Post = post_json) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.outbox = deps.outbox
        self.clock = deps.clock
        self.clients: dict[str, PagerDutyClient | OpsgenieClient] = {}
        if self.config.pagerduty is not None:
            self.clients["pagerduty"] = PagerDutyClient(self.config.pagerduty, post)
        if self.config.opsgenie is not None:
            self.clients["opsgenie"] = OpsgenieClient(self.config.opsgenie, post)
        deps.consequences.subscribe(
            events.RESOLVED, "providers.resolve_on_resolve", self._resolve_on_resolve
        )

    def _resolve_on_resolve(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Consequence of resolve: resolve/close at every provider the incident paged."""
        number = int(c.incident_id or 0)
        by = f"Slack user {c.actor}" if c.actor else "incidentbot"
        if not self.record_followups(session, number=number, action="resolve", by=by):
            return None
        return lambda: self.deliver_for_incident(number)

    # -- recording (inside the caller's transaction) -----------------------------------
    def record_trigger(
        self, session: Session, *, incident: IncidentSnapshot, page: Page, step: str
    ) -> None:
        """Store the trigger for a provider target of a level being paged."""
        names = self.config.severity_names
        position = names.index(incident.severity) if incident.severity in names else len(names)
        payload = trigger_payload(
            number=incident.number,
            title=incident.title,
            severity=incident.severity,
            position=position,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
            step=step,
        )
        self._add(session, incident.number, page.target, "trigger", payload, page_id=page.id)

    def record_followups(
        self,
        session: Session,
        *,
        number: int,
        action: str,
        by: str,
        escalation_ids: Sequence[int] | None = None,
        skip_key: str | None = None,
    ) -> int:
        """Cancel unsent triggers and queue `action` for every key the incident paged.

        `escalation_ids` limits the cancelled triggers to those escalations'
        pages; `skip_key` is the key whose provider told us (no echo back).
        """
        now = self.clock()
        unsent = (
            update(ProviderEvent)
            .where(
                ProviderEvent.incident_id == number,
                ProviderEvent.action == "trigger",
                ProviderEvent.status == "pending",
                or_(
                    col(ProviderEvent.claimed_at).is_(None),
                    col(ProviderEvent.claimed_at) < now - LEASE,
                ),
            )
            .values(status="cancelled", last_error=f"{action} before it was sent")
        )
        if escalation_ids is not None:
            pages = select(Page.id).where(col(Page.escalation_id).in_(escalation_ids))
            unsent = unsent.where(col(ProviderEvent.page_id).in_(pages))
        session.exec(unsent)  # type: ignore[call-overload]
        paged = select(ProviderEvent.target, ProviderEvent.dedup_key).where(
            ProviderEvent.incident_id == number,
            ProviderEvent.action == "trigger",
            col(ProviderEvent.status).in_(("sent", "pending")),
        )
        keys = sorted(set(session.exec(paged).all()))
        for target, key in keys:
            if key != skip_key:
                self._add(session, number, target, action, {"by": by})
        return len(keys)

    # -- alert groups (PRODUCT.md §9 "page" action) -------------------------------------
    def record_group_trigger(
        self, session: Session, *, group: AlertGroup, target: str, step: str, unique: str
    ) -> None:
        """Store the trigger for a provider target of an alert group's level being paged.

        The key is the group's (`incidentbot-GRP-<id>-<kind>-<name>`): the same
        for every re-page and repeat, so the provider keeps one alert.
        `unique` names the page (group, cycle, level) so a timer run twice
        records it once. Severity: the route's, by position; none → `warning`/P3.
        """
        severity = self.config.alerts.route(group.route).severity
        names = self.config.severity_names
        position = names.index(severity) if severity in names else 2
        payload = group_trigger_payload(
            group_id=int(group.id or 0),
            title=group.title,
            route=group.route,
            severity=severity,
            position=position,
            firing=group.firing,
            step=step,
            message_url=group.permalink,
        )
        key = group_key(int(group.id or 0), target)
        self._insert(session, target, "trigger", payload, key=key, unique=unique, group_id=group.id)

    def record_group_followups(
        self, session: Session, *, group_id: int, action: str, by: str, skip_key: str | None = None
    ) -> int:
        """Cancel the group's unsent triggers and queue `action` for every key it paged."""
        now = self.clock()
        session.exec(  # type: ignore[call-overload]
            update(ProviderEvent)
            .where(
                ProviderEvent.alert_group_id == group_id,
                ProviderEvent.action == "trigger",
                ProviderEvent.status == "pending",
                or_(
                    col(ProviderEvent.claimed_at).is_(None),
                    col(ProviderEvent.claimed_at) < now - LEASE,
                ),
            )
            .values(status="cancelled", last_error=f"{action} before it was sent")
        )
        paged = select(ProviderEvent.target, ProviderEvent.dedup_key).where(
            ProviderEvent.alert_group_id == group_id,
            ProviderEvent.action == "trigger",
            col(ProviderEvent.status).in_(("sent", "pending")),
        )
        keys = sorted(set(session.exec(paged).all()))
        for target, key in keys:
            if key != skip_key:
                unique = f"{action}:{key}:{uuid.uuid4().hex}"
                self._insert(
                    session, target, action, {"by": by}, key=key, unique=unique, group_id=group_id
                )
        return len(keys)

    def deliver_for_group(self, group_id: int) -> int:
        """Send what is due for one alert group now (after a page, an ack or a resolve)."""
        return self._deliver_where(ProviderEvent.alert_group_id == group_id)

    def group_for_key(self, key: str) -> int | None:
        """The alert group whose trigger used this key, if any."""
        with Session(self.engine) as session:
            stmt = select(ProviderEvent.alert_group_id).where(
                ProviderEvent.dedup_key == key,
                ProviderEvent.action == "trigger",
                col(ProviderEvent.alert_group_id).is_not(None),
            )
            found = session.exec(stmt.limit(1)).first()
        return int(found) if found is not None else None

    def _add(
        self,
        session: Session,
        number: int,
        target: str,
        action: str,
        payload: dict[str, Any],
        *,
        page_id: int | None = None,
    ) -> None:
        key = dedup_key(number, target)
        unique = f"trigger:page:{page_id}" if page_id else f"{action}:{key}:{uuid.uuid4().hex}"
        self._insert(
            session, target, action, payload, key=key, unique=unique, number=number, page_id=page_id
        )

    def _insert(
        self,
        session: Session,
        target: str,
        action: str,
        payload: dict[str, Any],
        *,
        key: str,
        unique: str,
        number: int | None = None,
        page_id: int | None = None,
        group_id: int | None = None,
    ) -> None:
        row = ProviderEvent(
            incident_id=number,
            alert_group_id=group_id,
            page_id=page_id,
            target=target,
            action=action,
            dedup_key=key,
            event_key=unique,
            payload=payload,
            status="pending",
            next_attempt_at=self.clock(),
            created_at=self.clock(),
        )
        repo.insert_unique(session, row=row)

    # -- delivering ---------------------------------------------------------------------
    def deliver_for_page(self, page_id: int) -> Result | None:
        """Send the trigger of one provider page now; None when it is not ours to send."""
        with Session(self.engine) as session:
            event_id = session.exec(
                select(ProviderEvent.id).where(ProviderEvent.page_id == page_id)
            ).first()
        return self.deliver(int(event_id)) if event_id is not None else None

    def deliver_for_incident(self, number: int) -> int:
        """Send what is due for one incident now (after an ack or a resolve)."""
        return self._deliver_where(ProviderEvent.incident_id == number)

    def deliver_due(self) -> int:
        """Send every due event (start-up, poll, tests); returns how many were settled."""
        return self._deliver_where()

    def _deliver_where(self, *conditions: Any) -> int:
        if not self.clients:
            return 0  # no provider configured: nothing can be queued (config checks targets)
        now = self.clock()
        with Session(self.engine) as session:
            stmt = select(ProviderEvent.id).where(
                ProviderEvent.status == "pending",
                col(ProviderEvent.next_attempt_at) <= now,
                or_(
                    col(ProviderEvent.claimed_at).is_(None),
                    col(ProviderEvent.claimed_at) < now - LEASE,
                ),
                *conditions,
            )
            ids = [
                int(i)
                for i in session.exec(stmt.order_by(col(ProviderEvent.id)).limit(200)).all()
                if i
            ]
        return sum(1 for event_id in ids if self.deliver(event_id) is not None)

    def deliver(self, event_id: int) -> Result | None:
        """Claim, send and settle one event; None when it was not claimable now."""
        claimed = self._claim(event_id)
        if claimed is None:
            return None
        provider, name, action, key, payload = claimed
        client = self.clients.get(provider)
        if client is None or name not in _names(client):
            result = Result(
                "rejected", None, f"{TOOL_NAMES[provider]} `{name}` is no longer configured"
            )
        else:
            result = client.send(name, action, key, payload)
        self._settle(event_id, result)
        return result

    def _claim(self, event_id: int) -> tuple[str, str, str, str, dict[str, Any]] | None:
        now = self.clock()
        with session_scope(self.engine) as session:
            event = session.get(ProviderEvent, event_id)
            if event is None or event.status != "pending":
                return None
            earlier = select(ProviderEvent.id).where(
                ProviderEvent.dedup_key == event.dedup_key,
                ProviderEvent.status == "pending",
                col(ProviderEvent.id) < event_id,
            )
            if session.exec(earlier).first() is not None:
                return None  # keep the order: trigger, then acknowledge, then resolve
            claim = (
                update(ProviderEvent)
                .where(
                    ProviderEvent.id == event_id,
                    ProviderEvent.status == "pending",
                    col(ProviderEvent.next_attempt_at) <= now,
                    or_(
                        col(ProviderEvent.claimed_at).is_(None),
                        col(ProviderEvent.claimed_at) < now - LEASE,
                    ),
                )
                .values(claimed_at=now, attempts=ProviderEvent.attempts + 1)
            )
            if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
                return None
            provider, _, name = event.target.partition(":")
            return provider, name, event.action, event.dedup_key, dict(event.payload or {})

    def _settle(self, event_id: int, result: Result) -> None:
        now = self.clock()
        report: str | None = None
        with session_scope(self.engine) as session:
            event = session.get(ProviderEvent, event_id)
            assert event is not None
            session.refresh(event)
            event.claimed_at, event.last_error = (
                None,
                None if result.kind == "sent" else result.detail,
            )
            if result.kind == "sent":
                event.status, event.sent_at = "sent", now
            elif result.kind == "retry" and event.attempts < MAX_ATTEMPTS:
                event.next_attempt_at = now + timedelta(seconds=_backoff(event.attempts, result))
            else:
                event.status = "failed"
                report = self._failure_entry(session, event, result)
            session.add(event)
            self._settle_page(session, event, result)
            number, channel = event.incident_id, self._channel(session, event.incident_id)
            thread = None
            if event.alert_group_id is not None:
                channel, thread = self._triage_message(session, event.alert_group_id)
        log.info(
            "provider event",
            extra={
                "event": event_id,
                "target": event.target,
                "action": event.action,
                "result": result.kind,
                "http_status": result.status,
                "attempt": event.attempts,
            },
        )
        if report and channel:
            self.outbox.post(
                channel,
                text=report,
                blocks=blocks.notice(report)[1],
                incident_id=number,
                thread_ts=thread,
                label=f"the notice that `{event.target}` failed",
            )
        elif report:
            log.warning("provider failure not reported: no channel", extra={"incident": number})

    def _settle_page(self, session: Session, event: ProviderEvent, result: Result) -> None:
        if event.page_id is None or event.status == "pending":
            return
        page = session.get(Page, event.page_id)
        if page is None or page.status == "cancelled":
            return
        if event.status == "sent":
            page.status, page.sent_at = "sent", self.clock()
            # page.deliveries stays empty: it lists Slack DMs (edited on ack); the
            # provider side of this page is its provider_event row.
            escalation = session.get(Escalation, page.escalation_id)
            repo.add_entry(
                session,
                incident_id=event.incident_id,
                kind="page",
                actor=escalation.started_by if escalation else "",
                at=self.clock(),
                text=f"Paged {provider_label(event.target)} (target `{event.target}`)",
                source="escalation",
                data={"page": page.id, "provider": event.target, "users": []},
                dedup_key=f"page:{page.id}",
            )
        else:
            page.status = "failed"
            page.unreachable = [{"target": event.target, "error": result.detail}]
        session.add(page)

    def _failure_entry(self, session: Session, event: ProviderEvent, result: Result) -> str | None:
        """Record the failure once in the timeline; the channel notice to post, if new."""
        what = {
            "trigger": "Could not page",
            "acknowledge": "Could not acknowledge the alert of",
            "resolve": "Could not resolve the alert of",
        }[event.action]
        label = provider_label(event.target)
        why = escaped_within(result.detail, 300)
        if result.kind == "retry":
            why = f"gave up after {event.attempts} attempts; last error: {why}"
        text = f":warning: {what} {label} (`{event.target}`): {why}."
        if event.action == "trigger":
            text += " The level's other targets were paged regardless."
        if event.incident_id is None:
            text = text.replace(" The level's", " The alert group's level's", 1)
            return text  # an alert group's: told under its triage message, no timeline
        entry = repo.add_entry(
            session,
            incident_id=event.incident_id,
            kind="page_failed",
            actor="",
            at=self.clock(),
            text=text,
            source=event.target.partition(":")[0],
            dedup_key=f"provider-failed:{event.id}",
        )
        return text if entry is not None else None

    def _channel(self, session: Session, number: int | None) -> str | None:
        incident = session.get(Incident, number) if number is not None else None
        return incident.channel_id if incident else None

    def _triage_message(self, session: Session, group_id: int) -> tuple[str | None, str | None]:
        """Where an alert group's provider failure is told: a thread under its triage message."""
        group = session.get(AlertGroup, group_id)
        if group is None:
            return None, None
        return group.message_channel or group.channel, group.message_ts


def _names(client: PagerDutyClient | OpsgenieClient) -> set[str]:
    if isinstance(client, PagerDutyClient):
        return set(client.config.services)
    return set(client.config.teams)


def _backoff(attempts: int, result: Result) -> float:
    """2 s, 4 s, 8 s … capped at a minute; a provider's Retry-After wins when longer."""
    delay = min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_CAP)
    return max(delay, result.retry_after or 0.0)
