"""The HTTP server: `POST /slack/events` (HTTP mode), `GET /healthz`, `GET /metrics` and
`POST /webhooks/pagerduty|opsgenie` (both modes).

Served by waitress, a production WSGI server with a thread pool: Bolt's sync
`App` runs each request on its own thread, so one slow request never holds up
the others (unlike the sync App behind an async server's event loop).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from incidentbot.metrics import CONTENT_TYPE, Metrics
from incidentbot.workers import AckGate

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]
# (provider, raw body, lower-cased headers) -> (HTTP status, JSON body)
Webhooks = Callable[[str, bytes, Mapping[str, str]], tuple[int, dict[str, Any]]]
WEBHOOK_PATHS = {"/webhooks/pagerduty": "pagerduty", "/webhooks/opsgenie": "opsgenie"}
MAX_WEBHOOK_BYTES = 1024 * 1024
_REASONS = {202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
StartResponse = Callable[..., Any]


class WebApp:
    """A tiny WSGI router in front of Bolt's WSGI adapter."""

    def __init__(
        self,
        bolt: App | None,
        health: Health,
        metrics: Metrics,
        *,
        gate: AckGate | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.slack = SlackRequestHandler(bolt, path="/slack/events") if bolt else None
        self.health = health
        self.metrics = metrics
        self.gate = gate or AckGate()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        status = "404 Not Found"
        try:
            if path == "/slack/events" and self.slack is not None:
                if method != "POST":
                    status = "405 Method Not Allowed"
                    return _send(start_response, status, {"error": "use POST"})
                captured: list[str] = []

                def capture(status_line: str, headers: list, exc_info: Any = None) -> Any:
                    captured.append(status_line)
                    return start_response(status_line, headers, exc_info)

                with self.gate.acking():
                    body = self.slack(environ, capture)
                status = captured[0] if captured else "200 OK"
                return body
            if path in WEBHOOK_PATHS and self.webhooks is not None:
                status, reply = self._webhook(WEBHOOK_PATHS[path], method, environ)
                return _send(start_response, status, reply)
            if path == "/healthz" and method in ("GET", "HEAD"):
                ok, details = self.health()
                status = "200 OK" if ok else "503 Service Unavailable"
                return _send(start_response, status, details)
            if path == "/metrics" and method == "GET":
                status = "200 OK"
                data = self.metrics.render()
                headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))]
                start_response(status, headers)
                return [data]
            return _send(start_response, status, {"error": "not found"})
        finally:
            elapsed = time.perf_counter() - started
            code = status.split(" ")[0]
            known = path if path in ("/slack/events", "/healthz", "/metrics") else "other"
            known = path if path in WEBHOOK_PATHS else known
            self.metrics.requests.labels(known, code).observe(elapsed)
            # One line per request; bodies and headers (tokens, signatures) are never logged.
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": known,
                    "status": code,
                    "ms": round(elapsed * 1000, 2),
                },
            )

    def _webhook(
        self, provider: str, method: str, environ: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """Hand a provider's webhook to the service: raw body (signatures cover it) + headers."""
        assert self.webhooks is not None
        if method != "POST":
            return "405 Method Not Allowed", {"error": "use POST"}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_WEBHOOK_BYTES:
            return "413 Payload Too Large", {"error": "body missing or over 1 MiB"}
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        code, reply = self.webhooks(provider, raw, headers)
        return f"{code} {_REASONS.get(code, 'OK')}", reply


def _send(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def make_server(app: WebApp, *, host: str, port: int, threads: int = 16) -> Any:
    """A waitress server bound to host:port (port 0 picks a free one)."""
    return create_server(app, host=host, port=port, threads=threads, ident="incidentbot")


def run_until_closed(server: Any) -> None:
    """Serve until `server.close()` is called from another thread.

    waitress's loop sees its listening socket vanish on close and raises
    EBADF; that is the normal way out here, not an error.
    """
    try:
        server.run()
    except OSError:
        if server.socket is not None and server.socket.fileno() != -1:
            raise
