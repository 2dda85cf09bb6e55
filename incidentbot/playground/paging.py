"""Stand-ins for PagerDuty and Opsgenie, served over real HTTP on 127.0.0.1.

Responsible for: answering what the bot sends the way the real APIs do, keeping
the resulting state where tests (and the playground) can read it, injecting
faults, and playing the providers' part in the other direction — sending the
signed webhooks a person's acknowledgement in PagerDuty or Opsgenie produces.

- ``PagerDutyStandIn``: Events API v2 (``POST /v2/enqueue``). Validates the
  event like PagerDuty (routing key, ``event_action``, ``dedup_key``, trigger
  ``payload.summary`` ≤ 1024 / ``source`` / ``severity``), answers ``202``
  ``{"status": "success", "dedup_key"}``, ``400`` ``{"status": "invalid event",
  "errors": […]}`` and ``429`` beyond ``rate_limit`` events per minute per
  routing key. Alerts live per (routing key, dedup key): a trigger opens one
  (and a PagerDuty incident) unless it is open already; acknowledge/resolve
  with another routing key finds nothing and is dropped, as in PagerDuty.
- ``PagerDutyWebhookSender``: webhooks v3 — ``X-PagerDuty-Signature`` with one
  ``v1=`` per secret, ``X-Webhook-Id`` repeated on every retry of a delivery,
  retries while the receiver does not answer 2xx.
- ``OpsgenieStandIn``: the Alert API on two base URLs, US and EU, each
  knowing only its own accounts' keys (``Authorization: GenieKey …``);
  ``202`` with a ``requestId`` whose outcome ``GET /v2/alerts/requests/<id>``
  reports later; one open alert per alias (a repeat only bumps its count);
  field limits (message 130, alias 512, description 15000, source 100);
  acknowledge/close by alias; and its outgoing webhook (Bearer token).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from incidentbot.providers.pagerduty import sign

Reply = tuple[int, dict[str, Any], dict[str, str]]
Route = Callable[[str, str, dict[str, str], bytes], Reply]


class _JsonServer:
    """A tiny threaded HTTP server answering JSON; every request is recorded."""

    def __init__(self, route: Route, name: str) -> None:
        self._route = route
        self.requests: list[dict[str, Any]] = []  # method, path, headers, body, status
        self.internal_errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=name,
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, payload, extra = owner._route(method, self.path, headers, body)
                except Exception:  # a stand-in bug must not look like a provider's answer
                    owner.internal_errors.append(traceback.format_exc())
                    status, payload, extra = 500, {"message": "stand-in internal error"}, {}
                owner.requests.append(
                    {
                        "method": method,
                        "path": self.path,
                        "headers": headers,
                        "body": body,
                        "status": status,
                    }
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --------------------------------------------------------------------------- PagerDuty

PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_ACTIONS = ("trigger", "acknowledge", "resolve")


@dataclass
class PagerDutyAlert:
    routing_key: str
    dedup_key: str
    summary: str
    severity: str
    status: str  # triggered | acknowledged | resolved
    incident_number: int
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)


class PagerDutyStandIn:
    """Events API v2 at ``events_url``. Register routing keys with ``add_service``."""

    def __init__(self, *, rate_limit: int = 120) -> None:
        self.rate_limit = rate_limit  # events per minute per routing key
        self.services: dict[str, str] = {}  # routing key -> service name
        self.alerts: dict[tuple[str, str], PagerDutyAlert] = {}  # the latest per key
        self.opened: list[PagerDutyAlert] = []  # every PagerDuty incident ever opened
        self.accepted: list[dict[str, Any]] = []  # every event answered 202
        self.dropped: list[dict[str, Any]] = []  # acknowledge/resolve that matched no alert
        self.faults: deque[int] = deque()  # statuses to answer before processing anything
        self._incidents = itertools.count(1)
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.RLock()
        self.server = _JsonServer(self._route, "pagerduty-standin")
        self.events_url = f"{self.server.url}/v2/enqueue"
        self.webhooks: PagerDutyWebhookSender | None = None

    def stop(self) -> None:
        self.server.stop()

    def add_service(self, name: str, routing_key: str | None = None) -> str:
        key = routing_key or uuid.uuid4().hex  # 32 characters, like an integration key
        self.services[key] = name
        return key

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (429, 500, …) without processing them."""
        self.faults.extend(statuses)

    def events(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.accepted if action is None or e["event_action"] == action]

    def incidents_opened(self) -> int:
        return len(self.opened)

    # -- what a person does in PagerDuty ---------------------------------------------
    def acknowledge(self, dedup_key: str, *, by: str = "Pat Oncall") -> None:
        self._change(dedup_key, "acknowledged", "incident.acknowledged", by)

    def resolve(self, dedup_key: str, *, by: str = "Pat Oncall") -> None:
        self._change(dedup_key, "resolved", "incident.resolved", by)

    def _change(self, dedup_key: str, status: str, event_type: str, by: str) -> None:
        with self._lock:
            alert = next(a for a in self.alerts.values() if a.dedup_key == dedup_key)
            alert.status = status
        if self.webhooks is not None:
            self.webhooks.send(event_type, alert, agent=by)

    # -- the API -------------------------------------------------------------------
    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or urllib.parse.urlsplit(path).path != "/v2/enqueue":
            return 404, {"status": "not found", "message": "Not Found"}, {}
        with self._lock:
            if self.faults:
                status = self.faults.popleft()
                return status, {"status": "error", "message": f"injected {status}"}, {}
            try:
                event = json.loads(body)
            except ValueError:
                return _pd_invalid(["Could not parse the request body as JSON"])
            errors = _pd_errors(event, self.services)
            if errors:
                return _pd_invalid(errors)
            if not self._within_rate(event["routing_key"]):
                return (
                    429,
                    {
                        "status": "throttle event",
                        "message": "Requests for this service are arriving too quickly. "
                        "Please retry later.",
                    },
                    {},
                )
            key = event.get("dedup_key") or uuid.uuid4().hex
            self.accepted.append(event)
            self._apply(event, key)
            return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, {}

    def _within_rate(self, routing_key: str) -> bool:
        now = time.monotonic()
        sent = self._sent.setdefault(routing_key, deque())
        while sent and sent[0] < now - 60:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            return False
        sent.append(now)
        return True

    def _apply(self, event: dict[str, Any], key: str) -> None:
        found = self.alerts.get((event["routing_key"], key))
        action = event["event_action"]
        if action == "trigger":
            if found is None or found.status == "resolved":
                payload = event["payload"]
                found = PagerDutyAlert(
                    routing_key=event["routing_key"],
                    dedup_key=key,
                    summary=payload["summary"],
                    severity=payload["severity"],
                    status="triggered",
                    incident_number=next(self._incidents),
                    links=list(event.get("links") or []),
                )
                self.alerts[(event["routing_key"], key)] = found
                self.opened.append(found)
            found.events.append(event)
            return
        if found is None or found.status == "resolved":
            self.dropped.append(event)  # nothing open under this routing key and dedup key
            return
        found.status = "acknowledged" if action == "acknowledge" else "resolved"
        found.events.append(event)


def _pd_invalid(errors: list[str]) -> Reply:
    return (
        400,
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        {},
    )


def _pd_errors(event: Any, services: dict[str, str]) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object must be a JSON object"]
    errors = []
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or len(routing_key) != 32:
        errors.append("'routing_key' must be a 32-character string")
    elif routing_key not in services:
        errors.append("Invalid routing key")
    action = event.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and key is None:
        errors.append(f"'dedup_key' is required for {action}")
    if action == "trigger":
        errors += _pd_payload_errors(event.get("payload"))
    return errors


def _pd_payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        errors.append("'payload.summary' is required")
    elif len(summary) > 1024:
        errors.append("'payload.summary' must be at most 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        errors.append("'payload.source' is required")
    if payload.get("severity") not in PD_SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    return errors


class PagerDutyWebhookSender:
    """Sends PagerDuty v3 webhooks to ``url``, signed with every secret in ``secrets``."""

    def __init__(self, url: str, secrets: list[str], *, retries: int = 3) -> None:
        self.url = url
        self.secrets = secrets
        self.retries = retries
        self.deliveries: list[dict[str, Any]] = []  # webhook id, body, statuses answered

    def body(self, event_type: str, alert: PagerDutyAlert, *, agent: str) -> dict[str, Any]:
        number = alert.incident_number
        return {
            "event": {
                "id": uuid.uuid4().hex,
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "agent": {"id": "PUSER01", "summary": agent, "type": "user_reference"},
                "client": None,
                "data": {
                    "id": f"Q{number:06d}",
                    "type": "incident",
                    "html_url": f"https://acme.pagerduty.com/incidents/Q{number:06d}",
                    "number": number,
                    "status": alert.status,
                    "incident_key": alert.dedup_key,
                    "title": alert.summary,
                    "service": {"id": "PSVC01", "summary": "Service", "type": "service_reference"},
                    "urgency": "high",
                },
            }
        }

    def send(
        self,
        event_type: str,
        alert: PagerDutyAlert,
        *,
        agent: str = "Pat Oncall",
        webhook_id: str | None = None,
    ) -> list[int]:
        """Deliver one webhook, retrying (same ``X-Webhook-Id``) until a 2xx; the statuses."""
        raw = json.dumps(self.body(event_type, alert, agent=agent)).encode()
        return self.deliver(raw, webhook_id=webhook_id or uuid.uuid4().hex)

    def deliver(self, raw: bytes, *, webhook_id: str, signature: str | None = None) -> list[int]:
        signature = signature or ", ".join(sign(raw, s) for s in self.secrets)
        statuses: list[int] = []
        for _ in range(self.retries + 1):
            status = post(
                self.url,
                raw,
                {
                    "Content-Type": "application/json",
                    "X-PagerDuty-Signature": signature,
                    "X-Webhook-Id": webhook_id,
                    "X-Webhook-Subscription": "PSUB01",
                    "User-Agent": "PagerDuty-Webhook/V3.0",
                },
            )
            statuses.append(status)
            if 200 <= status < 300:
                break
        self.deliveries.append({"id": webhook_id, "body": raw, "statuses": statuses})
        return statuses


def post(url: str, raw: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# --------------------------------------------------------------------------- Opsgenie

OG_LIMITS = {
    "message": 130,
    "alias": 512,
    "description": 15000,
    "source": 100,
    "user": 100,
    "note": 25000,
}
OG_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


@dataclass
class OpsgenieAlert:
    id: str
    alias: str
    message: str
    priority: str
    responders: list[dict[str, Any]]
    region: str
    status: str = "open"  # open | closed
    acknowledged: bool = False
    count: int = 1
    description: str = ""
    notes: list[str] = field(default_factory=list)


class OpsgenieStandIn:
    """The Alert API, served twice: ``us_url`` and ``eu_url``, each for its own accounts."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # API key -> region ("us" | "eu")
        self.teams: set[str] = set()
        self.alerts: list[OpsgenieAlert] = []
        self.requests: dict[str, dict[str, Any]] = {}  # requestId -> outcome
        self.faults: deque[int] = deque()
        self.webhook: tuple[str, str] | None = None  # (url, bearer token) of the outgoing webhook
        self._lock = threading.RLock()
        self.us = _JsonServer(lambda *a: self._route("us", *a), "opsgenie-us")
        self.eu = _JsonServer(lambda *a: self._route("eu", *a), "opsgenie-eu")
        self.us_url, self.eu_url = self.us.url, self.eu.url

    def stop(self) -> None:
        self.us.stop()
        self.eu.stop()

    def add_account(self, region: str = "us", *, teams: tuple[str, ...] = ()) -> str:
        key = str(uuid.uuid4())  # Opsgenie keys look like UUIDs
        self.keys[key] = region
        self.teams.update(teams)
        return key

    def fail_next(self, *statuses: int) -> None:
        self.faults.extend(statuses)

    def open_alert(self, alias: str) -> OpsgenieAlert | None:
        return next((a for a in self.alerts if a.alias == alias and a.status == "open"), None)

    # -- what a person does in Opsgenie -----------------------------------------------
    def acknowledge(self, alias: str, *, by: str = "pat@example.com") -> int | None:
        alert = self.open_alert(alias)
        assert alert is not None, f"no open alert {alias}"
        alert.acknowledged = True
        return self._send_webhook("Acknowledge", alert, by)

    def close(self, alias: str, *, by: str = "pat@example.com") -> int | None:
        alert = self.open_alert(alias)
        assert alert is not None, f"no open alert {alias}"
        alert.status = "closed"
        return self._send_webhook("Close", alert, by)

    def webhook_body(self, action: str, alert: OpsgenieAlert, by: str) -> dict[str, Any]:
        return {
            "action": action,
            "alert": {
                "alertId": alert.id,
                "message": alert.message,
                "alias": alert.alias,
                "tinyId": str(len(self.alerts)),
                "username": by,
                "userId": "u-1",
                "priority": alert.priority,
                "teams": [r.get("name") for r in alert.responders],
            },
            "source": {"name": "", "type": "web"},
            "integrationName": "Webhook",
            "integrationType": "Webhook",
        }

    def _send_webhook(self, action: str, alert: OpsgenieAlert, by: str) -> int | None:
        if self.webhook is None:
            return None
        url, token = self.webhook
        raw = json.dumps(self.webhook_body(action, alert, by)).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        return post(url, raw, headers)

    # -- the API -------------------------------------------------------------------
    def _route(
        self, region: str, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        with self._lock:
            scheme, _, key = headers.get("authorization", "").partition(" ")
            if scheme != "GenieKey" or self.keys.get(key.strip()) != region:
                return (
                    401,
                    {
                        "message": "Could not authenticate",
                        "took": 0.0,
                        "requestId": str(uuid.uuid4()),
                    },
                    {},
                )
            if self.faults:
                status = self.faults.popleft()
                return status, {"message": f"injected {status}", "took": 0.0}, {}
            parts = urllib.parse.urlsplit(path)
            segments = [urllib.parse.unquote(s) for s in parts.path.strip("/").split("/")]
            query = urllib.parse.parse_qs(parts.query)
            if (
                method == "GET"
                and segments[:3] == ["v2", "alerts", "requests"]
                and len(segments) == 4
            ):
                found = self.requests.get(segments[3])
                if found is None:
                    return 404, {"message": "Request not found", "took": 0.0}, {}
                return 200, {"data": found, "took": 0.0}, {}
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                return 422, {"message": "Request body is not processable", "took": 0.0}, {}
            if method == "POST" and segments == ["v2", "alerts"]:
                return self._create(region, data)
            if method == "POST" and len(segments) == 4 and segments[:2] == ["v2", "alerts"]:
                if query.get("identifierType", ["id"])[0] != "alias":
                    return (
                        422,
                        {"message": "Only identifierType=alias is supported here", "took": 0.0},
                        {},
                    )
                return self._act(segments[3], segments[2], data)
            return 404, {"message": "Not Found", "took": 0.0}, {}

    def _create(self, region: str, data: Any) -> Reply:
        errors = _og_errors(data, ("message", "alias", "description", "source", "user", "note"))
        if not isinstance(data, dict) or not data.get("message"):
            errors.insert(0, "Message can not be empty.")
        if isinstance(data, dict) and data.get("priority", "P3") not in OG_PRIORITIES:
            errors.append("Priority should be one of [P1, P2, P3, P4, P5]")
        if errors:
            return (
                422,
                {"message": "; ".join(errors), "took": 0.0, "requestId": str(uuid.uuid4())},
                {},
            )
        request_id = str(uuid.uuid4())
        alias = data.get("alias") or str(uuid.uuid4())
        unknown = [
            r.get("name") for r in data.get("responders", []) if r.get("name") not in self.teams
        ]
        if unknown:  # found only when processing: the API has said 202 already
            self.requests[request_id] = {
                "success": False,
                "action": "Create",
                "status": f"Team {unknown[0]} not found",
            }
        else:
            existing = self.open_alert(alias)
            if existing is not None:
                existing.count += 1  # de-duplicated: one open alert per alias
            else:
                self.alerts.append(
                    OpsgenieAlert(
                        id=str(uuid.uuid4()),
                        alias=alias,
                        message=data["message"],
                        priority=data.get("priority", "P3"),
                        responders=list(data.get("responders", [])),
                        region=region,
                        description=data.get("description", ""),
                    )
                )
            self.requests[request_id] = {"success": True, "action": "Create", "alias": alias}
        return (
            202,
            {"result": "Request will be processed", "took": 0.01, "requestId": request_id},
            {},
        )

    def _act(self, action: str, alias: str, data: Any) -> Reply:
        if action not in ("acknowledge", "close"):
            return 404, {"message": "Not Found", "took": 0.0}, {}
        errors = _og_errors(data, ("source", "user", "note"))
        if errors:
            return 422, {"message": "; ".join(errors), "took": 0.0}, {}
        request_id = str(uuid.uuid4())
        alert = self.open_alert(alias)
        if alert is None:
            self.requests[request_id] = {
                "success": False,
                "action": action.title(),
                "status": "Alert does not exist",
            }
        else:
            if action == "acknowledge":
                alert.acknowledged = True
            else:
                alert.status = "closed"
            alert.notes.append(str(data.get("note", "")))
            self.requests[request_id] = {"success": True, "action": action.title(), "alias": alias}
        return (
            202,
            {"result": "Request will be processed", "took": 0.01, "requestId": request_id},
            {},
        )


def _og_errors(data: Any, fields: tuple[str, ...]) -> list[str]:
    if not isinstance(data, dict):
        return ["Request body is not processable"]
    errors = []
    for name in fields:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > OG_LIMITS[name]):
            errors.append(f"{name.title()} can not be longer than {OG_LIMITS[name]} characters.")
    return errors
