"""Configuration of the paging providers: ``[pagerduty]`` and ``[opsgenie]`` (PRODUCT.md §10).

Pydantic v2 sections (``Section``: immutable, unknown keys forbidden) that
``incidentbot.config.Config`` has as its ``pagerduty`` and ``opsgenie`` fields.
Secrets are never written in the TOML file; each ``*_env`` key names the
environment variable that holds one, read from the environment in the
validation context (``References.env``, which ``load_startup`` fills with
``os.environ``). A missing variable is reported against the key that names it
(``pagerduty.services.payments.routing_key_env: environment variable … is not
set``). Values are kept as ``SecretStr`` in private attributes, so they never
show in a message, a ``repr()`` or a log line. Validated without an
environment (``parse_config(data, source)``), variables are not checked and
secrets are empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from incidentbot.config_types import (
    FROM_KEY,
    Name,
    SecretEnv,
    Section,
    Text,
    as_dict,
    named_tables,
    read_secret,
    show,
)

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_OPSGENIE_URL = "https://api.opsgenie.com"  # EU accounts: https://api.eu.opsgenie.com


def _http_url(value: object) -> str:
    """An http(s) URL without query or fragment (not echoed: a proxy URL may hold a secret)."""
    expected = 'expected an http(s) URL like "https://api.example.com"'
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {show(value)}")
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(expected)
    if parts.query or parts.fragment:
        raise ValueError(f"{expected}, without a query or fragment")
    return value.strip().rstrip("/") if parts.path in ("", "/") else value.strip()


HttpUrl = Annotated[str, BeforeValidator(_http_url)]


def _empty() -> Mapping[str, object]:
    return MappingProxyType({})


class PagerDutyService(Section):
    """``[pagerduty.services.<name>]``: one PagerDuty service, paged as ``pagerduty:<name>``."""

    name: Name = Field(json_schema_extra=FROM_KEY)
    routing_key_env: SecretEnv
    _routing_key: SecretStr = PrivateAttr(default=SecretStr(""))

    @model_validator(mode="after")
    def _keep_secret(self, info: ValidationInfo) -> PagerDutyService:
        self._routing_key = read_secret(self.routing_key_env, info) or SecretStr("")
        return self

    @property
    def routing_key(self) -> SecretStr:
        """The service's Events API v2 integration key."""
        return self._routing_key


class PagerDutyConfig(Section):
    """``[pagerduty]``: where events go and the secret that signs webhooks coming back."""

    events_url: HttpUrl = DEFAULT_EVENTS_URL
    webhook_secret_env: SecretEnv | None = None
    services: Annotated[
        Mapping[str, PagerDutyService], named_tables("PagerDuty service"), as_dict
    ] = Field(default_factory=_empty)
    _webhook_secrets: tuple[SecretStr, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _keep_secret(self, info: ValidationInfo) -> PagerDutyConfig:
        secret = read_secret(self.webhook_secret_env, info)
        # Several comma-separated secrets are accepted while one is being rotated.
        if secret is not None:
            parts = [s.strip() for s in secret.get_secret_value().split(",") if s.strip()]
            self._webhook_secrets = tuple(SecretStr(p) for p in parts)
        return self

    @property
    def webhook_secrets(self) -> tuple[SecretStr, ...]:
        """Secrets of the v3 webhook subscription(s); empty: webhooks are not accepted."""
        return self._webhook_secrets


def _team(value: str) -> str:
    if not value.strip() or len(value) > 100:
        raise ValueError(
            f"expected the Opsgenie team's name (1 to 100 characters), got {show(value)}"
        )
    return value.strip()


class OpsgenieTeam(Section):
    """``[opsgenie.teams.<name>]``: an Opsgenie team, paged as ``opsgenie:<name>``."""

    name: Name = Field(json_schema_extra=FROM_KEY)
    team: Annotated[Text, AfterValidator(_team)]


class OpsgenieConfig(Section):
    """``[opsgenie]``: the Alert API host (US or EU), its key and the webhook token."""

    api_url: HttpUrl = DEFAULT_OPSGENIE_URL
    api_key_env: SecretEnv | None = None
    webhook_token_env: SecretEnv | None = None
    teams: Annotated[Mapping[str, OpsgenieTeam], named_tables("Opsgenie team"), as_dict] = Field(
        default_factory=_empty
    )
    _api_key: SecretStr = PrivateAttr(default=SecretStr(""))
    _webhook_token: SecretStr | None = PrivateAttr(default=None)

    @field_validator("teams")
    @classmethod
    def _key_for_teams(
        cls, teams: Mapping[str, OpsgenieTeam], info: ValidationInfo
    ) -> Mapping[str, OpsgenieTeam]:
        # Absent from info.data: api_key_env itself had a problem, already reported.
        if teams and "api_key_env" in info.data and info.data["api_key_env"] is None:
            raise ValueError("teams need api_key_env, the variable holding the API key")
        return teams

    @model_validator(mode="after")
    def _keep_secrets(self, info: ValidationInfo) -> OpsgenieConfig:
        self._api_key = read_secret(self.api_key_env, info) or SecretStr("")
        self._webhook_token = read_secret(self.webhook_token_env, info)
        return self

    @property
    def api_key(self) -> SecretStr:
        """The key of the Opsgenie API integration (``Authorization: GenieKey …``)."""
        return self._api_key

    @property
    def webhook_token(self) -> SecretStr | None:
        """Bearer token expected on ``POST /webhooks/opsgenie``; None: not accepted."""
        return self._webhook_token
