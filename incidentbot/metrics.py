"""Prometheus metrics, served at `GET /metrics`.

Counters are per process (scrape every replica); the open-incident gauge is
read from the database at scrape time, so every replica reports the same truth.

    incidentbot_incidents_declared_total{severity}
    incidentbot_open_incidents{severity}
    incidentbot_pages_sent_total
    incidentbot_acknowledgements_total
    incidentbot_time_to_acknowledge_seconds{via}   (histogram; via = page | ic_action)
    incidentbot_slack_api_errors_total{method,error}
    incidentbot_http_request_seconds{path,status}   (histogram)
    incidentbot_alerts_received_total{source,route}
    incidentbot_alerts_suppressed_total{route,reason}
    incidentbot_alert_notifications_total{route,kind}
    incidentbot_alert_groups_open{route}            (from the database at scrape time)
    incidentbot_slack_backlog                        Slack steps waiting for Slack
    incidentbot_slack_backlog_oldest_seconds         age of the oldest of them
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """One registry per running bot (tests run several bots in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.declared = Counter(
            "incidentbot_incidents_declared",
            "Incidents declared, by severity at declaration.",
            ["severity"],
            registry=self.registry,
        )
        self.pages = Counter(
            "incidentbot_pages_sent", "Page DMs delivered.", registry=self.registry
        )
        self.acks = Counter(
            "incidentbot_acknowledgements", "Escalations acknowledged.", registry=self.registry
        )
        # The acknowledged milestone of PRODUCT.md §4, the one behind MTTA everywhere:
        # the first page acknowledgement, or (nobody paged) the IC's first action.
        self.time_to_acknowledge = Histogram(
            "incidentbot_time_to_acknowledge_seconds",
            "Declared to acknowledged (first page acknowledgement; when nobody was paged, "
            "the Incident Commander's first action), observed once per incident.",
            ["via"],
            buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400),
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "incidentbot_slack_api_errors",
            "Slack Web API calls that failed after their retries, by method and error code.",
            ["method", "error"],
            registry=self.registry,
        )
        self.requests = Histogram(
            "incidentbot_http_request_seconds",
            "Time to answer HTTP requests (Slack's 3-second ack included).",
            ["path", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0, 5.0),
            registry=self.registry,
        )

        self.alerts_received = Counter(
            "incidentbot_alerts_received",
            "Alerts received, by source and route (repeats included).",
            ["source", "route"],
            registry=self.registry,
        )
        self.alerts_suppressed = Counter(
            "incidentbot_alerts_suppressed",
            "Alerts that notified nobody, by route and reason "
            "(repeat, silence, flap, drop, acked, storm).",
            ["route", "reason"],
            registry=self.registry,
        )
        self.alert_notifications = Counter(
            "incidentbot_alert_notifications",
            "Slack notifications about alerts, by route and kind (post, update, digest, page).",
            ["route", "kind"],
            registry=self.registry,
        )

    def watch_open_alert_groups(self, count: Callable[[], dict[str, int]]) -> None:
        """Report firing alert groups by route, counted by `count` at each scrape."""
        self.registry.register(
            _Gauge(count, "incidentbot_alert_groups_open", "Alert groups firing now.", "route")
        )

    def watch_open_incidents(self, count: Callable[[], dict[str, int]]) -> None:
        """Report open incidents by severity, counted by `count` at each scrape."""
        self.registry.register(_OpenIncidents(count))

    def watch_slack_backlog(self, backlog: Callable[[], Any]) -> None:
        """Report the outbox backlog (`incidentbot.delivery.Backlog`), read at each scrape."""
        self.registry.register(_SlackBacklog(backlog))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _OpenIncidents(Collector):
    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self.count = count

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "incidentbot_open_incidents", "Incidents not yet resolved.", labels=["severity"]
        )
        for severity, value in sorted(self.count().items()):
            gauge.add_metric([severity], value)
        yield gauge


class _Gauge(Collector):
    """A gauge with one label whose values are read from the database at scrape time."""

    def __init__(
        self, count: Callable[[], dict[str, int]], name: str, documentation: str, label: str
    ) -> None:
        self.count, self.name, self.documentation, self.label = count, name, documentation, label

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for key, value in sorted(self.count().items()):
            gauge.add_metric([key], value)
        yield gauge


class _SlackBacklog(Collector):
    def __init__(self, backlog: Callable[[], Any]) -> None:
        self.backlog = backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        current = self.backlog()
        yield GaugeMetricFamily(
            "incidentbot_slack_backlog",
            "Slack steps (pages, channel set-up, card edits, updates, notices) that Slack "
            "could not take yet and that are retried until it does.",
            value=current.count,
        )
        yield GaugeMetricFamily(
            "incidentbot_slack_backlog_oldest_seconds",
            "Age of the oldest Slack step still waiting for Slack (0 when none waits).",
            value=current.oldest_seconds,
        )
