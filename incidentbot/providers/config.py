"""Configuration of the paging providers: ``[pagerduty]`` and ``[opsgenie]`` (PRODUCT.md §10).

Pydantic v2 models with ``extra="forbid"``: a misspelt key is a start-up
error, never silently ignored. Secrets are never written in the TOML file;
each ``*_env`` key names the environment variable that holds the secret, and
validation reads it from the mapping passed as validation context
(``{"env": os.environ}``). A missing variable is reported against the key
that names it (``pagerduty.services.payments.routing_key_env``), and the
value itself never appears in any message, ``repr()`` or log line: it is kept
as a ``SecretStr`` outside the model's fields.

``parse_providers`` turns raw TOML tables into these models and pydantic's
errors into the one-line problems ``incidentbot.config`` reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_OPSGENIE_URL = "https://api.opsgenie.com"  # EU accounts: https://api.eu.opsgenie.com

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")


def _http_url(value: str) -> str:
    """An http(s) URL without query or fragment (the value is not echoed: it may hold a secret)."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError('expected an http(s) URL like "https://api.example.com"')
    if parts.query or parts.fragment:
        raise ValueError("expected an http(s) URL without a query or fragment")
    return value.rstrip("/") if parts.path in ("", "/") else value


def _env_name(value: str) -> str:
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(
            f'expected an environment variable name like "PD_ROUTING_KEY", got "{value}"'
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]


def _read_secret(name: str | None, info: ValidationInfo, *, required: bool) -> SecretStr | None:
    """The value of environment variable `name` from the validation context.

    Blank counts as unset (a stray newline from a secrets file is a classic).
    """
    if name is None:
        return None
    env: Mapping[str, str] = (info.context or {}).get("env", {})
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise ValueError(f"environment variable {name} is not set (or empty)")
        return None
    return SecretStr(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PagerDutyService(_Model):
    """``[pagerduty.services.<name>]``: one PagerDuty service, paged as ``pagerduty:<name>``."""

    routing_key_env: EnvName
    _routing_key: SecretStr = PrivateAttr(default=SecretStr(""))

    @field_validator("routing_key_env")
    @classmethod
    def _variable_is_set(cls, value: str, info: ValidationInfo) -> str:
        _read_secret(value, info, required=True)
        return value

    @model_validator(mode="after")
    def _keep_secret(self, info: ValidationInfo) -> PagerDutyService:
        self._routing_key = _read_secret(self.routing_key_env, info, required=True) or SecretStr("")
        return self

    @property
    def routing_key(self) -> SecretStr:
        """The service's Events API v2 integration key."""
        return self._routing_key


class PagerDutyConfig(_Model):
    """``[pagerduty]``: where events go and the secret that signs webhooks coming back."""

    events_url: HttpUrl = DEFAULT_EVENTS_URL
    webhook_secret_env: EnvName | None = None
    services: dict[str, PagerDutyService] = Field(default_factory=dict)
    _webhook_secrets: tuple[SecretStr, ...] = PrivateAttr(default=())

    @field_validator("webhook_secret_env")
    @classmethod
    def _variable_is_set(cls, value: str | None, info: ValidationInfo) -> str | None:
        _read_secret(value, info, required=True)
        return value

    @field_validator("services")
    @classmethod
    def _names(cls, value: dict[str, PagerDutyService]) -> dict[str, PagerDutyService]:
        return _lower_names(value, "service")

    @model_validator(mode="after")
    def _keep_secret(self, info: ValidationInfo) -> PagerDutyConfig:
        secret = _read_secret(self.webhook_secret_env, info, required=True)
        # Several comma-separated secrets are accepted while one is being rotated.
        if secret is not None:
            parts = [s.strip() for s in secret.get_secret_value().split(",") if s.strip()]
            self._webhook_secrets = tuple(SecretStr(p) for p in parts)
        return self

    @property
    def webhook_secrets(self) -> tuple[SecretStr, ...]:
        """Secrets of the v3 webhook subscription(s); empty: webhooks are not accepted."""
        return self._webhook_secrets


class OpsgenieTeam(_Model):
    """``[opsgenie.teams.<name>]``: an Opsgenie team, paged as ``opsgenie:<name>``."""

    team: str = Field(min_length=1, max_length=100)


class OpsgenieConfig(_Model):
    """``[opsgenie]``: the Alert API host (US or EU), its key and the webhook token."""

    api_url: HttpUrl = DEFAULT_OPSGENIE_URL
    api_key_env: EnvName | None = None
    webhook_token_env: EnvName | None = None
    teams: dict[str, OpsgenieTeam] = Field(default_factory=dict)
    _api_key: SecretStr = PrivateAttr(default=SecretStr(""))
    _webhook_token: SecretStr | None = PrivateAttr(default=None)

    @field_validator("api_key_env", "webhook_token_env")
    @classmethod
    def _variable_is_set(cls, value: str | None, info: ValidationInfo) -> str | None:
        _read_secret(value, info, required=True)
        return value

    @field_validator("teams")
    @classmethod
    def _names(cls, value: dict[str, OpsgenieTeam]) -> dict[str, OpsgenieTeam]:
        return _lower_names(value, "team")

    @model_validator(mode="after")
    def _keep_secrets(self, info: ValidationInfo) -> OpsgenieConfig:
        if self.teams and self.api_key_env is None:
            raise ValueError("api_key_env is required when teams are configured")
        self._api_key = _read_secret(self.api_key_env, info, required=True) or SecretStr("")
        self._webhook_token = _read_secret(self.webhook_token_env, info, required=True)
        return self

    @property
    def api_key(self) -> SecretStr:
        """The key of the Opsgenie API integration (``Authorization: GenieKey …``)."""
        return self._api_key

    @property
    def webhook_token(self) -> SecretStr | None:
        """Bearer token expected on ``POST /webhooks/opsgenie``; None: not accepted."""
        return self._webhook_token


def _lower_names(value: dict[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key.lower()
        if not _NAME_RE.fullmatch(name):
            raise ValueError(
                f'{what} name "{key}": expected lowercase letters, digits, "-" and "_" '
                "(at most 30, starting with a letter or digit)"
            )
        if name in out:
            raise ValueError(f'duplicate {what} "{name}" (names are case-insensitive)')
        out[name] = item
    return out


def parse_providers(
    data: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[PagerDutyConfig | None, OpsgenieConfig | None, list[str]]:
    """Validate the ``[pagerduty]`` and ``[opsgenie]`` tables of a config file.

    Returns the models (None for an absent table) and the problems found,
    each as ``"<dotted.key>: <what is wrong>"``.
    """
    problems: list[str] = []
    pagerduty = _parse(PagerDutyConfig, "pagerduty", data.get("pagerduty"), env, problems)
    opsgenie = _parse(OpsgenieConfig, "opsgenie", data.get("opsgenie"), env, problems)
    return pagerduty, opsgenie, problems  # type: ignore[return-value]


def _parse(
    model: type[_Model], key: str, raw: object, env: Mapping[str, str], problems: list[str]
) -> _Model | None:
    if raw is None:
        return None
    try:
        return model.model_validate(raw, context={"env": env})
    except ValidationError as error:
        problems += [_problem(key, e) for e in error.errors(include_url=False, include_input=False)]
        return None


def _problem(key: str, error: Mapping[str, Any]) -> str:
    path = ".".join([key, *(str(part) for part in error["loc"])])
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    # pydantic prefixes messages of ValueErrors raised by validators.
    return f"{path}: {message.removeprefix('Value error, ')}"
