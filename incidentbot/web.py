"""The HTTP server: `POST /slack/events` (HTTP mode), `GET /healthz`, `GET /metrics`,
`POST /webhooks/pagerduty|opsgenie` and `POST /alerts/<source>` (both modes).

Served by waitress, a production WSGI server with a thread pool: Bolt's sync
`App` runs each request on its own thread, so one slow request never holds up
the others (unlike the sync App behind an async server's event loop).
`GracefulServer` runs waitress's loop itself so that a stop answers every
request already read and then ends, also with keep-alive clients connected.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

from incidentbot.alerts.endpoint import PREFIX as ALERTS_PREFIX
from incidentbot.alerts.endpoint import AlertsEndpoint
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
        alerts: AlertsEndpoint | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.slack = SlackRequestHandler(bolt, path="/slack/events") if bolt else None
        self.health = health
        self.metrics = metrics
        self.gate = gate or AckGate()
        self.alerts = alerts

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
            if path.startswith(ALERTS_PREFIX) and self.alerts is not None:
                answer = self.alerts.handle(environ)
                status = answer.status
                return _send(start_response, status, answer.body)
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
            if path.startswith(ALERTS_PREFIX):
                known = "/alerts"  # one label for every source: names are config, not metrics
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


def make_server(app: WebApp, *, host: str, port: int, threads: int = 16) -> GracefulServer:
    """A waitress server bound to host:port (port 0 picks a free one)."""
    inner = create_server(app, host=host, port=port, threads=threads, ident="incidentbot")
    return GracefulServer(inner)


def run_until_closed(server: GracefulServer) -> None:
    """Serve until `server.request_stop()` (a signal) or `server.close()` (another thread)."""
    server.run()


class GracefulServer:
    """waitress, plus the stop waitress lacks: finish what was read, then leave.

    waitress's own loop never ends while clients hold keep-alive connections
    (Slack's HTTP client and load balancers do), and closing its wake-up pipe
    under the running loop makes it fail with EBADF. Here the loop is ours:
    `request_stop()` (safe in a signal handler: it only sets a flag) makes
    `run()` close the listening socket, close every idle connection, let the
    requests already read be answered and flushed (their connections are then
    closed too), and return — after `drain_seconds` at the latest, whatever
    the clients do.
    """

    def __init__(self, inner: Any, *, drain_seconds: float = 5.0) -> None:
        self.inner = inner
        self.drain_seconds = drain_seconds
        self._stop = threading.Event()
        self._running = threading.Event()
        self._done = threading.Event()

    @property
    def effective_port(self) -> int:
        return int(self.inner.effective_port)

    def run(self) -> None:
        self._running.set()
        try:
            while not self._stop.is_set():
                self._loop_once(_TICK)
            self._drain()
        finally:
            self._done.set()

    def request_stop(self) -> None:
        self._stop.set()

    def close(self, timeout: float | None = None) -> bool:
        """Stop gracefully and wait for `run()` to return; True when it did in time."""
        self.request_stop()
        if not self._running.is_set():  # never served: just release the sockets
            self.inner.close()
            self.inner.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
            self._done.set()
            return True
        return self._done.wait(self.drain_seconds + 2 if timeout is None else timeout)

    def _loop_once(self, timeout: float) -> None:
        wasyncore.loop(
            timeout=timeout, map=self.inner._map, use_poll=self.inner.adj.asyncore_use_poll, count=1
        )

    def _drain(self) -> None:
        inner = self.inner
        inner.accepting = False
        wasyncore.dispatcher.close(inner)  # the listening socket only; the wake-up pipe stays
        deadline = time.monotonic() + self.drain_seconds
        while time.monotonic() < deadline:
            channels = self._channels()
            if not channels:
                break
            for channel in channels:
                if _idle(channel):
                    channel.will_close = True  # closed by the loop's next write pass
            self._loop_once(_TICK)
        unanswered = self._channels()
        for channel in unanswered:  # clients that never finished sending a request
            channel.handle_close()
        if unanswered:
            log.warning(
                "closed connections still busy at shutdown", extra={"count": len(unanswered)}
            )
        inner.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        inner.trigger.close()

    def _channels(self) -> list[HTTPChannel]:
        return [c for c in list(self.inner._map.values()) if isinstance(c, HTTPChannel)]


_TICK = 0.2  # seconds the loop waits for sockets before looking at the stop flag again


def _idle(channel: HTTPChannel) -> bool:
    """Nothing unanswered, nothing half-read, nothing left to send, nothing arrived unread.

    Bytes already in the socket are a request the client sent before the stop:
    the loop reads and answers it (closing with unread bytes would also reset
    the connection instead of closing it)."""
    busy = channel.requests or channel.request is not None or channel.total_outbufs_len
    return not busy and not _unread(channel)


def _unread(channel: HTTPChannel) -> bool:
    try:
        return bool(channel.socket.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except OSError:  # nothing there (EAGAIN), or the socket is gone
        return False
