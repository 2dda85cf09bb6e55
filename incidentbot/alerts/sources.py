"""Request bodies of each source kind → normalised alerts. Pure: no DB, no Slack, no clock.

    alertmanager  Prometheus Alertmanager webhook, version "4"
    grafana       Grafana alerting webhook contact point, version "1"
    generic       {"status", "dedup_key", "title", …} or {"alerts": [ … ]}
    pagerduty     PagerDuty Events API v2 (event_action trigger / resolve / acknowledge)

`parse(kind, body)` returns a `Batch` or raises `BadPayload`, whose message
names the field that is wrong (`alerts[3].labels: expected an object of
strings`). Everything in a body is untrusted: sizes are bounded here so that
nothing unbounded reaches the database or Slack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_ALERTS = 10_000  # per body (a 5 MiB body holds fewer real ones anyway)
MAX_LABELS = 200  # per alert, labels and annotations each
MAX_NAME = 256  # label / annotation name
MAX_VALUE = 8_000  # label / annotation value; longer values are cut
MAX_KEY = 200  # stored identity; longer keys are hashed

FIRING, RESOLVED = "firing", "resolved"
_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: Alertmanager's "no end yet"


class BadPayload(ValueError):
    """The body is not what the source kind sends; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as every kind is reduced to."""

    key: str  # fingerprint (alertmanager, grafana) or dedup_key (generic, pagerduty)
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    title: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    url: str | None = None  # generatorURL / source_url
    links: dict[str, str] = field(default_factory=dict)  # runbook_url, silence_url, dashboard_url
    source_group: str | None = None  # the sender's own group (Alertmanager groupKey)


@dataclass(frozen=True, slots=True)
class Batch:
    alerts: tuple[Alert, ...]
    truncated: int = 0  # Alertmanager's truncatedAlerts: alerts it left out (max_alerts)
    ignored: int = 0  # events understood but not alerts (PagerDuty "acknowledge")


def parse(kind: str, body: bytes) -> Batch:
    """Parse a raw request body of a source of `kind`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadPayload(f"body: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise BadPayload("body: expected a JSON object")
    return PARSERS[kind](data)


# -- Alertmanager and Grafana -----------------------------------------------------------
def parse_alertmanager(data: Mapping[str, Any]) -> Batch:
    _version(data, "4", "alertmanager")
    return _envelope(data)


def parse_grafana(data: Mapping[str, Any]) -> Batch:
    _version(data, "1", "grafana")
    return _envelope(data, extra_links=("silenceURL", "dashboardURL", "panelURL"))


def _version(data: Mapping[str, Any], wanted: str, kind: str) -> None:
    got = data.get("version")
    if got is None:
        raise BadPayload(f'version: missing (a {kind} webhook sends "version": "{wanted}")')
    if str(got) != wanted:
        raise BadPayload(f'version: {_show(got)} is not supported (expected "{wanted}")')


def _envelope(data: Mapping[str, Any], extra_links: tuple[str, ...] = ()) -> Batch:
    group_key = _opt_str(data, "groupKey", "groupKey")
    raw_alerts = _alert_list(data.get("alerts"), "alerts")
    alerts = []
    for index, raw in enumerate(raw_alerts):
        where = f"alerts[{index}]"
        if not isinstance(raw, dict):
            raise BadPayload(f"{where}: expected an object")
        labels = _strings(raw.get("labels"), f"{where}.labels", required=True)
        annotations = _strings(raw.get("annotations"), f"{where}.annotations")
        status = _status(raw.get("status"), f"{where}.status")
        links = {k: v for k in ("runbook_url",) if (v := annotations.get(k))}
        for name in extra_links:
            value = _opt_str(raw, name, f"{where}.{name}")
            if value:
                links[_snake(name)] = value
        fingerprint = _opt_str(raw, "fingerprint", f"{where}.fingerprint")
        alerts.append(
            Alert(
                key=_key(fingerprint or _label_hash(labels)),
                status=status,
                labels=labels,
                annotations=annotations,
                title=_title(annotations, labels),
                starts_at=_time(raw.get("startsAt"), f"{where}.startsAt"),
                ends_at=_time(raw.get("endsAt"), f"{where}.endsAt"),
                url=_opt_str(raw, "generatorURL", f"{where}.generatorURL"),
                links=links,
                source_group=group_key,
            )
        )
    truncated = data.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise BadPayload("truncatedAlerts: expected a non-negative integer")
    return Batch(tuple(alerts), truncated=truncated)


# -- generic ------------------------------------------------------------------------------
def parse_generic(data: Mapping[str, Any]) -> Batch:
    if "alerts" in data:
        items = _alert_list(data.get("alerts"), "alerts")
        return Batch(tuple(_generic(item, f"alerts[{i}]") for i, item in enumerate(items)))
    return Batch((_generic(data, "body"),))


def _generic(raw: Any, where: str) -> Alert:
    if not isinstance(raw, dict):
        raise BadPayload(f"{where}: expected an object")
    prefix = "" if where == "body" else f"{where}."
    dedup_key = _req_str(raw, "dedup_key", f"{prefix}dedup_key")
    title = _req_str(raw, "title", f"{prefix}title")
    labels = _strings(raw.get("labels"), f"{prefix}labels")
    annotations = _strings(raw.get("annotations"), f"{prefix}annotations")
    severity = _opt_str(raw, "severity", f"{prefix}severity")
    if severity:
        labels.setdefault("severity", _cut(severity))
    description = _opt_str(raw, "description", f"{prefix}description")
    if description:
        annotations.setdefault("description", _cut(description))
    links = {"runbook_url": annotations["runbook_url"]} if "runbook_url" in annotations else {}
    return Alert(
        key=_key(dedup_key),
        status=_status(raw.get("status"), f"{prefix}status"),
        labels=labels,
        annotations=annotations,
        title=_cut(title),
        starts_at=_time(raw.get("starts_at"), f"{prefix}starts_at"),
        url=_opt_str(raw, "source_url", f"{prefix}source_url"),
        links=links,
    )


# -- PagerDuty Events API v2 ----------------------------------------------------------------
_PD_ACTIONS = {"trigger": FIRING, "resolve": RESOLVED, "acknowledge": None}
_PD_SEVERITIES = ("critical", "error", "warning", "info")


def parse_pagerduty(data: Mapping[str, Any]) -> Batch:
    action = data.get("event_action")
    if action not in _PD_ACTIONS:
        raise BadPayload('event_action: expected "trigger", "acknowledge" or "resolve"')
    status = _PD_ACTIONS[action]
    dedup_key = _opt_str(data, "dedup_key", "dedup_key")
    if status is None:  # acknowledging is done in Slack here; understood, nothing stored
        return Batch((), ignored=1)
    if status == RESOLVED:
        if not dedup_key:
            raise BadPayload('dedup_key: required when event_action is "resolve"')
        return Batch((Alert(_key(dedup_key), RESOLVED, {}, {}, title=dedup_key[:200]),))
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise BadPayload('payload: required object when event_action is "trigger"')
    summary = _req_str(payload, "summary", "payload.summary")
    source = _req_str(payload, "source", "payload.source")
    severity = _req_str(payload, "severity", "payload.severity")
    if severity not in _PD_SEVERITIES:
        raise BadPayload(f"payload.severity: expected one of {', '.join(_PD_SEVERITIES)}")
    labels = {"severity": severity, "source": _cut(source)}
    for name in ("component", "group", "class"):
        if value := _opt_str(payload, name, f"payload.{name}"):
            labels[name] = _cut(value)
    details = payload.get("custom_details")
    annotations = {"summary": _cut(summary)}
    if isinstance(details, dict):
        annotations.update(_strings(_stringify(details), "payload.custom_details"))
    elif details is not None:
        annotations["details"] = _cut(_show(details))
    # Without a dedup_key PagerDuty makes one per event; here the same summary and
    # source are the same alert, so repeats of an event do not open new groups.
    key = dedup_key or _label_hash({"summary": summary, "source": source})
    return Batch(
        (
            Alert(
                key=_key(key),
                status=FIRING,
                labels=labels,
                annotations=annotations,
                title=_cut(summary),
                starts_at=_time(payload.get("timestamp"), "payload.timestamp"),
                url=_opt_str(data, "client_url", "client_url"),
            ),
        )
    )


PARSERS: dict[str, Callable[[Mapping[str, Any]], Batch]] = {
    "alertmanager": parse_alertmanager,
    "grafana": parse_grafana,
    "generic": parse_generic,
    "pagerduty": parse_pagerduty,
}


# -- helpers ------------------------------------------------------------------------------
def _alert_list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list):
        raise BadPayload(f"{where}: expected an array of alerts")
    if len(raw) > MAX_ALERTS:
        raise BadPayload(f"{where}: {len(raw)} alerts in one body; at most {MAX_ALERTS}")
    return raw


def _strings(raw: Any, where: str, *, required: bool = False) -> dict[str, str]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, dict):
        raise BadPayload(f"{where}: expected an object of strings")
    if len(raw) > MAX_LABELS:
        raise BadPayload(f"{where}: {len(raw)} entries; at most {MAX_LABELS}")
    out = {}
    for name, value in raw.items():
        if len(name) > MAX_NAME:
            raise BadPayload(f"{where}: a name is {len(name)} characters; at most {MAX_NAME}")
        if not isinstance(value, str):
            raise BadPayload(f"{where}.{name[:40]}: expected a string, got {_show(value)}")
        out[name] = _cut(value)
    return out


def _stringify(details: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True)[:MAX_VALUE]
        for k, v in list(details.items())[:MAX_LABELS]
    }


def _status(raw: Any, where: str) -> str:
    if raw not in (FIRING, RESOLVED):
        raise BadPayload(f'{where}: expected "firing" or "resolved", got {_show(raw)}')
    return str(raw)


def _req_str(raw: Mapping[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else f"expected a non-empty string, got {_show(value)}"
        raise BadPayload(f"{where}: {what}")
    return value


def _opt_str(raw: Mapping[str, Any], name: str, where: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadPayload(f"{where}: expected a string, got {_show(value)}")
    return _cut(value)


def _time(raw: Any, where: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise BadPayload(f"{where}: expected an RFC 3339 time, got {_show(raw)}")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadPayload(f"{where}: expected an RFC 3339 time, got {_show(raw)}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return None if value <= _ZERO_TIME else value.astimezone(UTC)


def _title(annotations: Mapping[str, str], labels: Mapping[str, str]) -> str:
    return annotations.get("summary") or labels.get("alertname") or labels.get("title") or "alert"


def _key(value: str) -> str:
    if len(value) <= MAX_KEY:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _label_hash(labels: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _cut(value: str) -> str:
    return value[:MAX_VALUE]


def _snake(name: str) -> str:
    return {"silenceURL": "silence_url", "dashboardURL": "dashboard_url"}.get(name, "panel_url")


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
