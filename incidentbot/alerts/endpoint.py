"""`POST /alerts/<source>`: authenticate, bound, parse, store, answer 202 (PRODUCT.md §9).

    404  unknown source           401  missing or wrong bearer token (or Grafana signature)
    405  not POST                 413  body over 5 MiB
    400  malformed body (JSON error naming the problem)
    503  database unavailable (the sender retries; nothing was accepted)
    202  {"accepted": n, "groups": [ids]} after the alerts are committed

Tokens are read from the environment variable the source names, at request
time, and compared in constant time. Ingest runs on the web server's threads,
never on Bolt's pools, and one at a time (`max_concurrent`), so a flood of
alerts leaves threads and CPU for Slack's acknowledgements (with two at once,
slash-command ack p99 during a storm was about 2.5x the quiet figure; with one,
about 1.4-1.7x on the shared 2-core machine).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from incidentbot.alerts.config import AlertsConfig, AlertSource
from incidentbot.alerts.service import AlertService
from incidentbot.alerts.sources import BadPayload, parse

log = logging.getLogger(__name__)

MAX_BODY = 5 * 1024 * 1024
PREFIX = "/alerts/"
GRAFANA_SIGNATURE = "HTTP_X_GRAFANA_ALERTING_SIGNATURE"
GRAFANA_TIMESTAMP = "HTTP_X_GRAFANA_ALERTING_SIGNATURE_TIMESTAMP"


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    body: dict[str, Any]


class AlertsEndpoint:
    def __init__(
        self,
        service: AlertService,
        config: AlertsConfig,
        *,
        env: Mapping[str, str] | None = None,
        max_concurrent: int = 1,
    ) -> None:
        self.service = service
        self.config = config
        self.env = os.environ if env is None else env
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def handle(self, environ: dict[str, Any]) -> Answer:
        name = environ.get("PATH_INFO", "")[len(PREFIX) :]
        source = self.config.source(name)
        if source is None:
            known = ", ".join(s.name for s in self.config.sources) or "none configured"
            return Answer("404 Not Found", {"error": f"unknown alert source; configured: {known}"})
        if environ.get("REQUEST_METHOD") != "POST":
            return Answer("405 Method Not Allowed", {"error": f"use POST {PREFIX}{source.name}"})
        if not self._authorised(source, environ):
            return Answer(
                "401 Unauthorized",
                {"error": "missing or wrong token: send Authorization: Bearer <token>"},
            )
        body = _read(environ)
        if body is None:
            return Answer("413 Content Too Large", {"error": f"body over {MAX_BODY} bytes"})
        if source.hmac_secret_env and not self._signed(source, environ, body):
            return Answer("401 Unauthorized", {"error": "missing or wrong signature"})
        try:
            batch = parse(source.kind, body)
        except BadPayload as error:
            return Answer("400 Bad Request", {"error": str(error), "kind": source.kind})
        try:
            with self._slots:
                accepted = self.service.ingest(source.name, batch)
        except SQLAlchemyError as error:
            log.error("alert ingest failed", extra={"source": source.name}, exc_info=error)
            return Answer("503 Service Unavailable", {"error": "could not store the alerts"})
        return Answer(
            "202 Accepted", {"accepted": accepted.accepted, "groups": list(accepted.groups)}
        )

    def _authorised(self, source: AlertSource, environ: dict[str, Any]) -> bool:
        expected = self.env.get(source.token_env, "").strip()
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        if not expected:
            log.warning("alert source has no token set", extra={"source": source.name})
            return False
        given = token.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(given.encode(), expected.encode())

    def _signed(self, source: AlertSource, environ: dict[str, Any], body: bytes) -> bool:
        """Grafana's optional HMAC-SHA256 of the body (of "timestamp:body" when timestamped)."""
        secret = self.env.get(source.hmac_secret_env or "", "").encode()
        given = environ.get(GRAFANA_SIGNATURE, "")
        timestamp = environ.get(GRAFANA_TIMESTAMP, "")
        message = f"{timestamp}:".encode() + body if timestamp else body
        wanted = hmac.new(secret, message, hashlib.sha256).hexdigest()
        return bool(secret) and hmac.compare_digest(given.lower().encode(), wanted.encode())


def _read(environ: dict[str, Any]) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY (declared or actual)."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        return None
    stream = environ["wsgi.input"]
    data = stream.read(declared) if declared else stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data
