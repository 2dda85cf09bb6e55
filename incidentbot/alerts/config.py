"""`[alerts]` in incidentbot.toml (PRODUCT.md §9): sources, routes and noise controls.

Pydantic v2 models with `extra="forbid"`, so a misspelt key is an error naming
it. What a model cannot check on its own (a route's `severity` and
`escalation` must exist elsewhere in the file; `token_env` must be set in the
environment) is checked by `cross_check` and `missing_tokens`, which return
problem lines in the same "path: message" shape the rest of the config uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from incidentbot.durations import parse_duration

SOURCE_KINDS = ("alertmanager", "grafana", "generic", "pagerduty")
ACTIONS = ("drop", "triage", "page", "declare")
DEFAULT_ROUTE = "default"  # the route of alerts no configured route matches

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHANNEL_RE = re.compile(r"#[\w-]{1,80}|[CG][A-Z0-9]{2,}")
_LABEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)  # ValueError becomes a validation error naming the key
    if isinstance(value, timedelta):
        return value
    raise ValueError('expected a duration like "90s", "5m", "1h"')


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value.lower()):
        raise ValueError("expected a name of lower-case letters, digits, '-' and '_' (max 40)")
    return value.lower()


Name = Annotated[str, BeforeValidator(_name)]


def _channel(value: Any) -> str:
    if not isinstance(value, str) or not _CHANNEL_RE.fullmatch(value.strip()):
        raise ValueError('expected a channel as "#name" or an ID like "C0123"')
    return value.strip()


Channel = Annotated[str, BeforeValidator(_channel)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AlertSource(_Model):
    """`[[alerts.sources]]`: one `POST /alerts/<name>` endpoint."""

    name: Name
    kind: Literal["alertmanager", "grafana", "generic", "pagerduty"]
    token_env: str
    # Grafana contact points can sign the body (HMAC-SHA256, X-Grafana-Alerting-Signature).
    hmac_secret_env: str | None = None

    @field_validator("token_env", "hmac_secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_RE.fullmatch(value):
            raise ValueError("expected an environment variable name like ALERTS_TOKEN")
        return value


class AlertRoute(_Model):
    """`[[alerts.routes]]`: which alerts it takes, how they group and what happens."""

    name: Name
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    group_by: tuple[str, ...] | None = None
    action: Literal["drop", "triage", "page", "declare"] = "triage"
    severity: str | None = None
    escalation: str | None = None
    channel: Channel | None = None
    ack_within: Duration | None = None

    @field_validator("match_re")
    @classmethod
    def _compiles(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"label {label!r}: invalid regular expression: {error}") from None
        return value

    @field_validator("group_by")
    @classmethod
    def _labels(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            bad = [v for v in value if not _LABEL_RE.fullmatch(v)]
            if bad or not value:
                raise ValueError("expected a non-empty list of label names")
        return value

    @model_validator(mode="after")
    def _needs_escalation(self) -> AlertRoute:
        if self.action == "page" and self.escalation is None:
            raise ValueError('action "page" needs `escalation` (the path to page)')
        if self.ack_within is not None and self.escalation is None:
            raise ValueError("`ack_within` needs `escalation` (the path paged when nobody acks)")
        return self

    def compiled(self) -> dict[str, re.Pattern[str]]:
        return {label: re.compile(pattern) for label, pattern in self.match_re.items()}


class AlertsConfig(_Model):
    """`[alerts]`."""

    channel: Channel = "#alerts"
    group_wait: Duration = timedelta(seconds=30)
    digest_every: Duration = timedelta(minutes=5)
    reopen_window: Duration = timedelta(minutes=30)
    flap_threshold: int = Field(default=4, ge=2, le=1000)
    flap_window: Duration = timedelta(minutes=30)
    max_new_groups_per_minute: int = Field(default=10, ge=1, le=10_000)
    sources: tuple[AlertSource, ...] = ()
    routes: tuple[AlertRoute, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsConfig:
        for what, names in (
            ("sources", [s.name for s in self.sources]),
            ("routes", [r.name for r in self.routes]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate name(s) {', '.join(dupes)}")
        if any(r.name == DEFAULT_ROUTE for r in self.routes):
            raise ValueError(f"routes: the name {DEFAULT_ROUTE!r} is reserved for unmatched alerts")
        return self

    def source(self, name: str) -> AlertSource | None:
        return next((s for s in self.sources if s.name == name), None)

    def route(self, name: str) -> AlertRoute:
        """The route called `name`; unknown names (a route removed from the file) triage."""
        found = next((r for r in self.routes if r.name == name), None)
        return found or AlertRoute(name=DEFAULT_ROUTE, channel=self.channel)

    def channel_of(self, route: AlertRoute) -> str:
        return route.channel or self.channel


def parse_alerts(raw: object) -> tuple[AlertsConfig, list[str]]:
    """Validate the raw `[alerts]` table; returns the model and problem lines."""
    from pydantic import ValidationError

    if raw is None:
        return AlertsConfig(), []
    try:
        return AlertsConfig.model_validate(raw), []
    except ValidationError as error:
        return AlertsConfig(), [_problem(e) for e in error.errors()]


def _problem(error: Mapping[str, Any]) -> str:
    path = "alerts"
    for part in error.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown key"
    return f"{path}: {message}"


def cross_check(
    alerts: AlertsConfig, *, severities: Iterable[str], paths: Iterable[str]
) -> list[str]:
    """Routes must name configured severities and escalation paths."""
    severity_names, path_names = set(severities), set(paths)
    problems = []
    for index, route in enumerate(alerts.routes):
        where = f"alerts.routes[{index}]"
        if route.severity is not None and route.severity.lower() not in severity_names:
            known = ", ".join(sorted(severity_names))
            problems.append(f"{where}.severity: unknown severity {route.severity!r} ({known})")
        if route.escalation is not None and route.escalation.lower() not in path_names:
            known = ", ".join(sorted(path_names)) or "none configured"
            problems.append(
                f"{where}.escalation: unknown escalation path {route.escalation!r} ({known})"
            )
    return problems


def missing_tokens(alerts: AlertsConfig, env: Mapping[str, str]) -> list[str]:
    """Sources whose `token_env` (or HMAC secret) variable is not set."""
    problems = []
    for source in alerts.sources:
        if not env.get(source.token_env, "").strip():
            problems.append(
                f"{source.token_env}: required by alerts source {source.name!r} (its bearer token)"
            )
        if source.hmac_secret_env and not env.get(source.hmac_secret_env, "").strip():
            problems.append(
                f"{source.hmac_secret_env}: required by alerts source {source.name!r} "
                "(its HMAC secret)"
            )
    return problems
