"""What listeners need: the services, and a way to tell one person something."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from incidentbot.alerts.delivery import AlertDelivery
from incidentbot.alerts.service import AlertService
from incidentbot.clock import Clock
from incidentbot.config import Config
from incidentbot.scheduler import Timers
from incidentbot.services.escalation import EscalationService
from incidentbot.services.home import HomeService
from incidentbot.services.incidents import IncidentService
from incidentbot.services.reports import ReportService
from incidentbot.services.timeline import TimelineService
from incidentbot.services.updates import UpdateService
from incidentbot.slack.gateway import SlackGateway
from incidentbot.workers import AckGate, TrackingExecutor


@dataclass(frozen=True)
class Services:
    config: Config
    slack: SlackGateway
    incidents: IncidentService
    timers: Timers
    escalations: EscalationService
    updates: UpdateService
    home: HomeService
    timeline: TimelineService
    reports: ReportService
    work: TrackingExecutor  # runs what listeners do after acking
    gate: AckGate  # lets that work step aside while acks are in flight
    alerts: AlertService
    alert_delivery: AlertDelivery
    clock: Clock  # the services' clock, for "now" in what listeners render


def problems_text(problems: Sequence[str]) -> str:
    """How Slack steps that still failed are reported (the change itself was saved)."""
    if not problems:
        return ""
    lines = "\n".join(f"• {p}" for p in problems)
    return f":warning: Saved, but these Slack steps failed after retries:\n{lines}"


def tell(
    services: Services,
    body: dict[str, Any],
    text: str,
    respond: Callable[..., Any] | None = None,
) -> None:
    """Reply privately to whoever sent `body`: via response_url, else ephemeral or DM."""
    if respond is not None and _response_url(body):
        respond(text=text, response_type="ephemeral", replace_original=False)
        return
    user_id = (body.get("user") or {}).get("id") or body.get("user_id")
    channel_id = (body.get("channel") or {}).get("id") or body.get("channel_id")
    if not user_id:
        return
    if channel_id:
        services.slack.ephemeral(channel_id, user_id, text)
    else:
        services.slack.try_call("chat.postMessage", channel=user_id, text=text)


def _response_url(body: dict[str, Any]) -> str | None:
    if body.get("response_url"):
        return str(body["response_url"])
    urls = body.get("response_urls") or []
    return str(urls[0]["response_url"]) if urls else None
