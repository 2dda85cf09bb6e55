"""Senders that post alerts to the running bot the way monitoring does.

- `post(url, body, token)`: one raw HTTP POST (status and JSON answer).
- `AlertmanagerSender`: behaves like Alertmanager's webhook notifier for one
  route: it keeps the alerts of each group, sends the WHOLE group on every
  flush (as Alertmanager does every group_interval / repeat_interval), includes
  resolved alerts (`send_resolved`), cuts at `max_alerts` and reports
  `truncatedAlerts`.
- `grafana_body` / `generic_body` / `pagerduty_body`: bodies of the other kinds.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


def post(
    url: str,
    body: Any,
    token: str | None = "test-alerts-token",
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            parsed = json.loads(payload or b"{}")
        except json.JSONDecodeError:
            parsed = {"raw": payload.decode(errors="replace")}
        return Answer(error.code, parsed)


def fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]


def am_alert(
    labels: dict[str, str], *, status: str = "firing", annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations or {},
        "startsAt": "2026-11-27T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-27T09:05:00Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        "fingerprint": fingerprint(labels),
    }


def am_body(
    alerts: list[dict[str, Any]], group_labels: dict[str, str], truncated: int = 0
) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}"
    return {
        "version": "4",
        "groupKey": key,
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": "incidentbot",
        "groupLabels": group_labels,
        "commonLabels": group_labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": alerts,
    }


@dataclass
class AlertmanagerSender:
    """One Alertmanager route: groups by `group_by`, resends whole groups on flush."""

    url: str
    group_by: tuple[str, ...] = ("alertname",)
    max_alerts: int = 0
    token: str = "test-alerts-token"
    groups: dict[tuple[str, ...], dict[str, dict[str, Any]]] = field(default_factory=dict)

    def fire(self, labels: dict[str, str], annotations: dict[str, str] | None = None) -> None:
        self._group(labels)[fingerprint(labels)] = am_alert(labels, annotations=annotations)

    def resolve(self, labels: dict[str, str]) -> None:
        self._group(labels)[fingerprint(labels)] = am_alert(labels, status="resolved")

    def flush(self) -> list[Answer]:
        """Send every group whole (what each group_interval / repeat_interval does)."""
        answers = []
        for key, alerts in self.groups.items():
            listed = list(alerts.values())
            truncated = 0
            if self.max_alerts and len(listed) > self.max_alerts:
                truncated = len(listed) - self.max_alerts
                listed = listed[: self.max_alerts]
            labels = dict(zip(self.group_by, key, strict=True))
            answers.append(post(self.url, am_body(listed, labels, truncated), self.token))
            # Alertmanager forgets resolved alerts once it has told the receiver.
            for fp in [fp for fp, a in alerts.items() if a["status"] == "resolved"]:
                del alerts[fp]
        return answers

    def _group(self, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
        key = tuple(labels.get(name, "") for name in self.group_by)
        return self.groups.setdefault(key, {})


def grafana_body(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    body = am_body(alerts, {"alertname": alerts[0]["labels"].get("alertname", "")})
    body.update(version="1", orgId=1, title="[FIRING] grafana", state="alerting", message="")
    for a in body["alerts"]:
        a.update(
            values={"A": 1.0},
            silenceURL="http://grafana.example/alerting/silence/new",
            dashboardURL="http://grafana.example/d/abc",
            panelURL="http://grafana.example/d/abc?viewPanel=1",
        )
    return body


def generic_body(key: str, title: str, status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {"status": status, "dedup_key": key, "title": title, **extra}


def pagerduty_body(key: str, summary: str, action: str = "trigger") -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": "ignored", "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": summary, "source": "db-1", "severity": "critical"}
    return body
