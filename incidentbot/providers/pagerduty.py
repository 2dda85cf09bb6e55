"""PagerDuty: Events API v2 out, webhooks v3 back.

Out: `POST <events_url>` with `routing_key`, `event_action`
(trigger/acknowledge/resolve) and `dedup_key`; a trigger carries `payload`
(`summary`, `source`, `severity`) and a link to the incident channel. PagerDuty
answers `202` when it queued the event, `400` for an invalid event or routing
key, `429` when the routing key sends too fast, `5xx` when it is unwell.

Back: a v3 webhook subscription POSTs `{"event": {…}}` signed with
`X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>` — one `v1=`
per active secret, comma-separated, so a secret can be rotated — and
identified by `X-Webhook-Id` (the same on every retry of one delivery).

Finding the bot's incident: for `incident.acknowledged` / `incident.resolved`
`event.data` is the PagerDuty incident, whose `incident_key` is the
`dedup_key` of the Events API alert that opened it — the key the bot sent. So
`data.incident_key` → the outbox row with that `dedup_key` → our incident.
`event.agent.summary` names who acted (a PagerDuty user, or the service when
it auto-resolved) and `data.html_url` links to the PagerDuty incident. Titles
are not used: people can edit them and they may collide.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from incidentbot.providers.config import PagerDutyConfig
from incidentbot.providers.http import Result, post_json
from incidentbot.providers.messages import SOURCE

Post = Callable[[str, dict[str, Any], dict[str, str]], Result]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """What a provider's webhook means for the bot."""

    kind: str  # acknowledged | resolved | ignored
    key: str | None  # our dedup_key / alias
    who: str  # who acted, as the provider names them (untrusted text)
    url: str | None = None  # the provider's page for it


class PagerDutyClient:
    def __init__(self, config: PagerDutyConfig, post: Post = post_json) -> None:
        self.config = config
        self.post = post

    def send(self, service: str, action: str, key: str, payload: dict[str, Any]) -> Result:
        routing_key = self.config.services[service].routing_key.get_secret_value()
        return self.post(self.config.events_url, event_body(routing_key, action, key, payload), {})


def event_body(routing_key: str, action: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An Events API v2 body for `action` on the alert `key`."""
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": key}
    if action != "trigger":
        return body
    body["payload"] = {
        "summary": payload["summary"],
        "source": SOURCE,
        "severity": payload["severity"],
        "custom_details": {
            "incident": payload.get("incident"),
            "severity": payload.get("severity_name"),
            "slack_channel": payload.get("channel_name"),
        },
    }
    body["client"] = SOURCE
    if payload.get("channel_url"):
        body["client_url"] = payload["channel_url"]
        text = payload.get("link_text") or "Incident channel in Slack"
        body["links"] = [{"href": payload["channel_url"], "text": text}]
    return body


def sign(raw: bytes, secret: str) -> str:
    """`v1=<hex>`: PagerDuty's signature of a webhook body (used by tests and stand-ins too)."""
    return "v1=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify_signature(raw: bytes, header: str | None, secrets: Sequence[SecretStr]) -> bool:
    """True when any `v1=` signature in `header` matches the body under any secret.

    Every comparison is constant-time and every pair is compared, so timing
    tells nothing about which part matched.
    """
    if not header or not secrets:
        return False
    offered = [part.strip() for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [sign(raw, s.get_secret_value()) for s in secrets]
    matched = False
    for signature in offered[:10]:  # a sane bound on what one header may ask us to check
        for candidate in expected:
            matched |= hmac.compare_digest(signature.encode(), candidate.encode())
    return matched


def parse_webhook(body: Any) -> WebhookEvent:
    """Read a v3 webhook body; raises ValueError when it is not one."""
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
        raise ValueError('expected a PagerDuty v3 webhook body: {"event": {"event_type": …}}')
    kinds = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    key = data.get("incident_key")
    url = data.get("html_url")
    return WebhookEvent(
        kind=kinds.get(event["event_type"], "ignored"),
        key=key if isinstance(key, str) and key else None,
        who=str(agent.get("summary") or "someone"),
        url=url if isinstance(url, str) and url.startswith("https://") else None,
    )
