"""One JSON POST to a provider, and what its answer means for the outbox.

urllib from the standard library is enough here: one request per event, no
sessions, no streaming; it keeps the dependency list short (slack_sdk's
client is Slack-specific). Answers are classified for the outbox::

    Result
    ├── sent       2xx: the provider accepted the event
    ├── retry      429, 5xx, timeouts, refused or reset connections: try again later
    └── rejected   any other 4xx (bad key, invalid event): trying again cannot help

Headers are never logged: they carry the API key.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER = 300.0

Kind = Literal["sent", "retry", "rejected"]


@dataclass(frozen=True, slots=True)
class Result:
    kind: Kind
    status: int | None  # HTTP status; None when no answer came
    detail: str  # short, safe to show: the provider's message or the connection error
    retry_after: float | None = None
    body: dict[str, Any] | None = None


def post_json(url: str, body: dict[str, Any], headers: dict[str, str]) -> Result:
    """POST `body` as JSON to `url` and classify the answer."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "incidentbot")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return Result("sent", response.status, "accepted", body=_json(response.read()))
    except urllib.error.HTTPError as error:
        return _classify_error(error)
    except (OSError, ValueError) as error:  # refused, reset, timeout, DNS
        reason = getattr(error, "reason", None) or error
        return Result("retry", None, f"connection error ({type(reason).__name__})")


def _classify_error(error: urllib.error.HTTPError) -> Result:
    status = error.code
    try:
        payload = _json(error.read())
    except OSError:
        payload = None
    detail = f"HTTP {status}" + (f": {_message(payload)}" if _message(payload) else "")
    if status == 429 or status >= 500:
        return Result("retry", status, detail, _retry_after(error.headers.get("Retry-After")))
    return Result("rejected", status, detail, body=payload)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _message(payload: dict[str, Any] | None) -> str:
    """The provider's own explanation: PagerDuty `message` + `errors`, Opsgenie `message`."""
    if not payload:
        return ""
    parts = [str(payload.get("message") or "")]
    errors = payload.get("errors")
    if isinstance(errors, list):
        parts += [str(e) for e in errors[:3]]
    elif isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in list(errors.items())[:3]]
    return "; ".join(p for p in parts if p)[:300]


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return None if seconds is None or seconds < 0 else min(seconds, MAX_RETRY_AFTER)
