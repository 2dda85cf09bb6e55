"""Opsgenie: the Alert API out, the outgoing webhook back.

Out (`Authorization: GenieKey <key>`, on `https://api.opsgenie.com` or, for EU
accounts, `https://api.eu.opsgenie.com`):

- create: `POST /v2/alerts` with `message` (≤ 130), `alias` (our stable key),
  `description`, `responders` = the team, `priority`, `source`;
- acknowledge / close: `POST /v2/alerts/<alias>/acknowledge|close?identifierType=alias`.

Opsgenie processes requests asynchronously: `202` with a `requestId` only
means "queued". While an alert with the alias is open, creating it again
only bumps its count, so re-pages never open a second alert.

Back: an outgoing-webhook integration POSTs `{"action": "Acknowledge" |
"Close" | …, "alert": {"alias", "username", …}, "source": {…}}`; the bot
expects `Authorization: Bearer <token>` (configured as a custom header on
the integration). `alert.alias` is our key; `alert.username` is who acted.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from incidentbot.providers.config import OpsgenieConfig
from incidentbot.providers.http import Result, post_json
from incidentbot.providers.messages import SOURCE, note
from incidentbot.providers.pagerduty import Post, WebhookEvent

_ACTIONS = {"acknowledge": "acknowledge", "resolve": "close"}


class OpsgenieClient:
    def __init__(self, config: OpsgenieConfig, post: Post = post_json) -> None:
        self.config = config
        self.post = post

    def send(self, team: str, action: str, key: str, payload: dict[str, Any]) -> Result:
        headers = {"Authorization": f"GenieKey {self.config.api_key.get_secret_value()}"}
        base = self.config.api_url.rstrip("/")
        if action == "trigger":
            body = alert_body(self.config.teams[team].team, key, payload)
            return self.post(f"{base}/v2/alerts", body, headers)
        url = f"{base}/v2/alerts/{quote(key, safe='')}/{_ACTIONS[action]}?identifierType=alias"
        who = str(payload.get("by") or "someone")
        return self.post(
            url, {"source": SOURCE, "user": who[:100], "note": note(action, who)}, headers
        )


def alert_body(team: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": payload["message"],
        "alias": key,
        "description": payload.get("description", ""),
        "responders": [{"name": team, "type": "team"}],
        "priority": payload["priority"],
        "source": SOURCE,
        "tags": ["incidentbot", str(payload.get("incident", ""))],
        "details": {
            k: str(v)
            for k, v in (
                ("incident", payload.get("incident")),
                ("severity", payload.get("severity_name")),
                ("slack_channel", payload.get("channel_url")),
            )
            if v
        },
    }


def verify_token(header: str | None, token: SecretStr | None) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if token is None or not header:
        return False
    scheme, _, offered = header.partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), expected)


def parse_webhook(body: Any) -> WebhookEvent:
    """Read an outgoing-webhook body; raises ValueError when it is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise ValueError('expected an Opsgenie webhook body: {"action": …, "alert": {…}}')
    alert = body.get("alert") if isinstance(body.get("alert"), dict) else {}
    kinds = {"acknowledge": "acknowledged", "close": "resolved"}
    alias = alert.get("alias")
    who = alert.get("username") or (body.get("source") or {}).get("name") or "someone"
    return WebhookEvent(
        kind=kinds.get(body["action"].lower(), "ignored"),
        key=alias if isinstance(alias, str) and alias else None,
        who=str(who),
    )
