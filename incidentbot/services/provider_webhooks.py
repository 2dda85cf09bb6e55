"""Webhooks back from PagerDuty and Opsgenie: verify, store, answer, then act.

`receive` runs in the HTTP request: it checks the signature (PagerDuty) or
the Bearer token (Opsgenie) in constant time, parses the body, and stores one
`webhook_delivery` row — unique per provider and delivery key, so PagerDuty's
repeated deliveries (same `X-Webhook-Id`) and Opsgenie's identical retries
are recorded once. Only then does it answer `202`; the work (stop the
escalation, tell the channel) happens after the answer on the work pool, and
`process_pending` (start-up and every poll) picks up anything a killed
process left, so an answered webhook is never lost.

What a webhook means: PagerDuty `incident.acknowledged` / Opsgenie
`Acknowledge` → acknowledge the bot's escalation for the incident whose
stable key it carries; `incident.resolved` / `Close` → announce it (the
incident is never resolved from outside). Other events are stored and ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from incidentbot.alerts.service import ACKNOWLEDGED, AlertService
from incidentbot.config import Config
from incidentbot.domain.escalation import PROVIDER_NAMES
from incidentbot.domain.text import escaped_within, one_line
from incidentbot.providers import opsgenie, pagerduty
from incidentbot.providers.pagerduty import WebhookEvent
from incidentbot.services.escalation import EscalationService
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import ProviderEvent, WebhookDelivery

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
PROVIDERS = ("pagerduty", "opsgenie")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


class ProviderWebhooks:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config,
        escalations: EscalationService,
        clock: Callable[[], datetime],
        submit: Callable[[Callable[[], Any]], Any],
        alerts: AlertService | None = None,
        close_pages: Callable[[int, str], None] | None = None,
    ) -> None:
        self.alerts = alerts  # an alert group's page found by its key (`incidentbot-GRP-…`)
        self.close_pages = close_pages  # edits the group's page DMs once acknowledged
        self.engine = engine
        self.config = config
        self.escalations = escalations
        self.clock = clock
        self.submit = submit  # runs work after the answer (the work pool)

    # -- in the request ---------------------------------------------------------------
    def receive(self, provider: str, raw: bytes, headers: Mapping[str, str]) -> Answer:
        """Verify and store one webhook; the answer for the provider."""
        if provider not in PROVIDERS or not self._configured(provider):
            return Answer(404, {"error": f"{provider} webhooks are not configured"})
        if not self._authentic(provider, raw, headers):
            return Answer(401, {"error": "invalid signature or token"})
        try:
            body = json.loads(raw)
            event = _parse(provider, body)
        except ValueError as error:
            return Answer(400, {"error": str(error)})
        key = headers.get("x-webhook-id") if provider == "pagerduty" else None
        key = (key or "")[:150] or "sha256:" + hashlib.sha256(raw).hexdigest()
        row = WebhookDelivery(
            provider=provider, delivery_key=key, payload=body, received_at=self.clock()
        )
        if event.kind == "ignored":  # stored for the record; nothing to do
            row.processed_at, row.outcome = row.received_at, "ignored"
        with session_scope(self.engine) as session:
            new = repo.insert_unique(session, row=row)
            delivery_id = row.id if new else None
        if delivery_id is not None and event.kind != "ignored":
            self.submit(lambda: self.process(int(delivery_id)))
        return Answer(202, {"accepted": True, "duplicate": not new})

    def _configured(self, provider: str) -> bool:
        if provider == "pagerduty":
            return self.config.pagerduty is not None and bool(self.config.pagerduty.webhook_secrets)
        return self.config.opsgenie is not None and self.config.opsgenie.webhook_token is not None

    def _authentic(self, provider: str, raw: bytes, headers: Mapping[str, str]) -> bool:
        if provider == "pagerduty":
            assert self.config.pagerduty is not None
            secrets = self.config.pagerduty.webhook_secrets
            return pagerduty.verify_signature(raw, headers.get("x-pagerduty-signature"), secrets)
        assert self.config.opsgenie is not None
        return opsgenie.verify_token(
            headers.get("authorization"), self.config.opsgenie.webhook_token
        )

    # -- after the answer -------------------------------------------------------------
    def process_pending(self) -> int:
        """Process deliveries stored but never processed (their process died)."""
        cutoff = self.clock() - LEASE
        with Session(self.engine) as session:
            stmt = select(WebhookDelivery.id).where(
                col(WebhookDelivery.processed_at).is_(None),
                or_(
                    col(WebhookDelivery.claimed_at).is_(None),
                    col(WebhookDelivery.claimed_at) < cutoff,
                ),
                col(WebhookDelivery.received_at) <= self.clock() - timedelta(seconds=5),
            )
            ids = [
                int(i)
                for i in session.exec(stmt.order_by(col(WebhookDelivery.id)).limit(100)).all()
                if i
            ]
        return sum(1 for i in ids if self.process(i))

    def process(self, delivery_id: int) -> bool:
        now = self.clock()
        with session_scope(self.engine) as session:
            claim = (
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    col(WebhookDelivery.processed_at).is_(None),
                    or_(
                        col(WebhookDelivery.claimed_at).is_(None),
                        col(WebhookDelivery.claimed_at) < now - LEASE,
                    ),
                )
                .values(claimed_at=now)
            )
            if session.exec(claim).rowcount != 1:  # type: ignore[call-overload]
                return False
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            provider, payload = delivery.provider, delivery.payload
        # The handlers are idempotent per delivery (timeline dedup key), so a
        # process dying here only means the next one does it again, once.
        outcome = self._act(provider, _parse(provider, payload), delivery_id)
        with session_scope(self.engine) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            assert delivery is not None
            delivery.processed_at, delivery.outcome = self.clock(), outcome
            session.add(delivery)
        log.info("provider webhook", extra={"provider": provider, "outcome": outcome})
        return True

    def _act(self, provider: str, event: WebhookEvent, delivery_id: int) -> str:
        if event.kind == "ignored":
            return "ignored"
        number = self._incident_for(event.key)
        if number is None:
            return self._act_on_group(provider, event)
        delivery = f"{provider}:{delivery_id}"
        if event.kind == "acknowledged":
            return self.escalations.acknowledge_external(
                number, tool=provider, who=event.who, key=event.key or "", delivery=delivery
            )
        return self.escalations.resolved_externally(
            number, tool=provider, who=event.who, url=event.url, delivery=delivery
        )

    def _act_on_group(self, provider: str, event: WebhookEvent) -> str:
        """An alert group's provider alert: acknowledged there → the group is acknowledged.

        A resolution there is recorded as the delivery's outcome only: the group
        resolves when its alerts do (or by the Resolve button), never from outside.
        """
        group_id = None
        if self.alerts is not None and self.alerts.providers is not None and event.key:
            group_id = self.alerts.providers.group_for_key(event.key)
        if group_id is None or self.alerts is None:
            return "not ours"
        if event.kind != "acknowledged":
            return f"alert group {group_id}: resolved in {provider}, not acted on"
        outcome = self.alerts.acknowledge_external(
            group_id, tool=provider, who=event.who, key=event.key or ""
        )
        if self.close_pages is not None and outcome == ACKNOWLEDGED:
            who = escaped_within(one_line(event.who), 100)  # the provider's text, literally
            self.close_pages(group_id, f"acknowledged by {who} in {PROVIDER_NAMES[provider]}.")
        return f"alert group {group_id}: {outcome}"

    def _incident_for(self, key: str | None) -> int | None:
        """The incident whose trigger used this dedup key / alias."""
        if key is None:
            return None
        with Session(self.engine) as session:
            stmt = select(ProviderEvent.incident_id).where(
                ProviderEvent.dedup_key == key, ProviderEvent.action == "trigger"
            )
            found = session.exec(stmt.limit(1)).first()
        return int(found) if found is not None else None


def _parse(provider: str, body: Any) -> WebhookEvent:
    return (
        pagerduty.parse_webhook(body) if provider == "pagerduty" else opsgenie.parse_webhook(body)
    )
