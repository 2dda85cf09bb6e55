"""`[alerts]` in incidentbot.toml (PRODUCT.md §9): sources, routes and noise controls.

Pydantic sections (`config_types.Section`: immutable, unknown keys are
problems), one field of `incidentbot.config.Config`. Checks across sections
use the names the file declares (`check_reference`): a route's `severity` must
be a configured severity and its `escalation` a configured path. A source's
`token_env` (and Grafana's optional `hmac_secret_env`) must name a variable
that is set, when the configuration is validated with the environment
(`References.env`, as `load_startup` does). Secrets are read from the
environment when a request arrives and never kept in the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from incidentbot.config_types import (
    Channel,
    Duration,
    Name,
    SecretEnv,
    Section,
    check_reference,
    int_between,
    show,
    unique_names,
)

SOURCE_KINDS = ("alertmanager", "grafana", "generic", "pagerduty")
ACTIONS = ("drop", "triage", "page", "declare")
DEFAULT_ROUTE = "default"  # the route of alerts no configured route matches

_LABEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _severity(value: str | None, info: ValidationInfo) -> str | None:
    if value is not None:
        check_reference("severity", value, info)
    return value


def _path(value: str | None, info: ValidationInfo) -> str | None:
    if value is not None:
        check_reference("escalation path", value, info)
    return value


def _patterns(value: Mapping[str, str]) -> Mapping[str, str]:
    for label, pattern in value.items():
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"{label}: invalid regular expression ({error})") from None
    return value


def _labels(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is not None and (not value or any(not _LABEL_RE.fullmatch(v) for v in value)):
        raise ValueError(f"expected a non-empty list of label names, got {show(list(value))}")
    return value


class AlertSource(Section):
    """`[[alerts.sources]]`: one `POST /alerts/<name>` endpoint."""

    name: Name
    kind: Literal["alertmanager", "grafana", "generic", "pagerduty"]
    token_env: SecretEnv
    # Grafana contact points can sign the body (HMAC-SHA256, X-Grafana-Alerting-Signature).
    hmac_secret_env: SecretEnv | None = None


class AlertRoute(Section):
    """`[[alerts.routes]]`: which alerts it takes, how they group and what happens."""

    name: Name
    match: dict[str, str] = Field(default_factory=dict)
    match_re: Annotated[dict[str, str], AfterValidator(_patterns)] = Field(default_factory=dict)
    group_by: Annotated[tuple[str, ...] | None, AfterValidator(_labels)] = None
    action: Literal["drop", "triage", "page", "declare"] = "triage"
    severity: Annotated[Name | None, AfterValidator(_severity)] = None
    escalation: Annotated[Name | None, AfterValidator(_path)] = None
    channel: Channel | None = None
    ack_within: Duration | None = None

    @model_validator(mode="after")
    def _needs_escalation(self) -> AlertRoute:
        if self.action == "page" and self.escalation is None:
            raise ValueError('action "page" needs escalation (the path to page)')
        if self.ack_within is not None and self.escalation is None:
            raise ValueError("ack_within needs escalation (the path paged when nobody acks)")
        return self

    def compiled(self) -> dict[str, re.Pattern[str]]:
        return {label: re.compile(pattern) for label, pattern in self.match_re.items()}


def _no_default(routes: tuple[AlertRoute, ...]) -> tuple[AlertRoute, ...]:
    if any(r.name == DEFAULT_ROUTE for r in routes):
        raise ValueError(f"the route name {DEFAULT_ROUTE!r} is kept for unmatched alerts")
    return routes


class AlertsConfig(Section):
    """`[alerts]`."""

    channel: Channel = "#alerts"
    group_wait: Duration = timedelta(seconds=30)
    digest_every: Duration = timedelta(minutes=5)
    reopen_window: Duration = timedelta(minutes=30)
    flap_threshold: Annotated[int, int_between(2, 1000)] = 4
    flap_window: Duration = timedelta(minutes=30)
    max_new_groups_per_minute: Annotated[int, int_between(1, 10_000)] = 10
    sources: Annotated[tuple[AlertSource, ...], unique_names("alert source")] = ()
    routes: Annotated[
        tuple[AlertRoute, ...], unique_names("alert route"), AfterValidator(_no_default)
    ] = ()

    def source(self, name: str) -> AlertSource | None:
        return next((s for s in self.sources if s.name == name), None)

    def route(self, name: str) -> AlertRoute:
        """The route called `name`; unknown names (a route removed from the file) triage."""
        found = next((r for r in self.routes if r.name == name), None)
        return found or AlertRoute(name=DEFAULT_ROUTE, channel=self.channel)

    def channel_of(self, route: AlertRoute) -> str:
        return route.channel or self.channel
