"""Which route takes an alert, and the key of the group it joins. Pure.

Routes are tried in the order of the file; the first whose `match` (label
equality) and `match_re` (regular expressions anchored at both ends, as in
Alertmanager) all hold wins. No match: the built-in `default` route, which
triages in `[alerts].channel`.

The group key is the route's `group_by` labels; without `group_by` it is the
sender's own group (Alertmanager's `groupKey`) or, failing that, the alert
itself. Keys longer than the column are hashed; `group_labels` keeps the
readable part for the message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from incidentbot.alerts.config import DEFAULT_ROUTE, AlertRoute, AlertsConfig
from incidentbot.alerts.sources import Alert

MAX_GROUP_KEY = 200


@dataclass(frozen=True, slots=True)
class Placement:
    route: AlertRoute
    group_key: str
    group_labels: dict[str, str]


class Router:
    """Routes compiled once: matching runs for every alert of every request."""

    def __init__(self, config: AlertsConfig) -> None:
        self.config = config
        self._routes: list[tuple[AlertRoute, dict[str, re.Pattern[str]]]] = [
            (route, route.compiled()) for route in config.routes
        ]
        self.default = AlertRoute(name=DEFAULT_ROUTE, channel=config.channel)

    def route(self, labels: Mapping[str, str]) -> AlertRoute:
        for route, patterns in self._routes:
            if matches(route, patterns, labels):
                return route
        return self.default

    def place(self, alert: Alert) -> Placement:
        route = self.route(alert.labels)
        key, labels = group_key(route.group_by, alert)
        return Placement(route, key, labels)


def matches(
    route: AlertRoute, patterns: Mapping[str, re.Pattern[str]], labels: Mapping[str, str]
) -> bool:
    """All equality matchers and all anchored regex matchers hold (a missing label is "")."""
    if any(labels.get(name, "") != value for name, value in route.match.items()):
        return False
    return all(p.fullmatch(labels.get(name, "")) for name, p in patterns.items())


def group_key(group_by: Sequence[str] | None, alert: Alert) -> tuple[str, dict[str, str]]:
    """The group key and the labels that show what the group is."""
    if group_by:
        labels = {name: alert.labels.get(name, "") for name in group_by}
        raw = "by:" + ",".join(f"{k}={v!r}" for k, v in labels.items())
    elif alert.source_group:
        labels = _common(alert)
        raw = "source:" + alert.source_group
    else:
        labels = {k: v for k, v in alert.labels.items() if k == "alertname"}
        raw = "alert:" + alert.key
    return _bounded(raw), labels


def _common(alert: Alert) -> dict[str, str]:
    # An Alertmanager groupKey reads like `{}:{alertname="X", service="y"}`; its labels
    # are also the alert's, so show the ones an operator groups by most.
    wanted = ("alertname", "service", "team", "cluster", "namespace", "job")
    return {k: alert.labels[k] for k in wanted if k in alert.labels}


def _bounded(raw: str) -> str:
    if len(raw) <= MAX_GROUP_KEY:
        return raw
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
