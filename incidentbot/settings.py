"""Settings from environment variables (PRODUCT.md §2), on pydantic-settings.

``load_settings`` reads the Slack tokens (``SecretStr``), the API URL, the
port, the database URL and the configuration file path from a given
environment mapping (``main`` passes ``os.environ`` after python-dotenv merged
``.env`` into it; real variables win). Every problem is reported at once in a
``ConfigError`` whose source is ``"environment"``, one line per variable
(``SLACK_BOT_TOKEN: …``); secret values are never shown. Placeholder values
copied from ``.env.example`` are refused, saying so.

``incidentbot.config`` re-exports these names: import them from there or here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from incidentbot.config_types import ConfigError, problem_lines, show

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_PORT",
    "ENVIRONMENT_SOURCE",
    "Settings",
    "load_settings",
    "normalise_database_url",
]

ENVIRONMENT_SOURCE = "environment"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_DATABASE_URL = "sqlite:///incidentbot.db"
DEFAULT_CONFIG_FILE = "incidentbot.toml"

# What .env.example ships with: a copied file left unedited must not start the
# bot and then fail seconds later with a socket error.
_PLACEHOLDERS = MappingProxyType(
    {"SLACK_BOT_TOKEN": "xoxb-your-bot-token", "SLACK_APP_TOKEN": "xapp-your-app-token"}
)
_PLACEHOLDER_RE = re.compile(r"your[-_]|<[^>]*>|changeme", re.IGNORECASE)
_WHERE_TO_FIND = MappingProxyType(
    {
        "SLACK_BOT_TOKEN": "the Bot User OAuth Token (OAuth & Permissions)",
        "SLACK_APP_TOKEN": (
            "an app-level token (Basic Information → App-Level Tokens), "
            "or leave it empty for HTTP mode"
        ),
        "SLACK_SIGNING_SECRET": "the Signing Secret (Basic Information → App Credentials)",
    }
)
# Token checks look at the prefix only, so no message can ever echo a secret.
_TOKEN_KINDS = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}


def _placeholder_problem(variable: str, value: str) -> str | None:
    if value == _PLACEHOLDERS.get(variable):
        return (
            f"still the placeholder {show(value)} from .env.example; "
            f"put in {_WHERE_TO_FIND[variable]}"
        )
    if _PLACEHOLDER_RE.search(value):
        # The value is not shown: it might be a real secret after all.
        return f"looks like a placeholder left in; put in {_WHERE_TO_FIND[variable]}"
    return None


def _secret(
    variable: str, prefix: str | None, kind: str, owner: Mapping[str, str]
) -> BeforeValidator:
    """A validator for a secret variable: placeholders refused, prefix checked."""

    def check(value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str):
            return value
        if (problem := _placeholder_problem(variable, text)) is not None:
            raise ValueError(problem)
        if prefix is not None and not text.startswith(prefix):
            raise ValueError(f'must start with "{prefix}" ({kind}){_token_hint(text, owner)}')
        return value

    return BeforeValidator(check)


def _token_hint(token: str, owner: Mapping[str, str]) -> str:
    for prefix, kind in _TOKEN_KINDS.items():
        if token.startswith(prefix):
            where = f", which belongs in {owner[prefix]}" if prefix in owner else ""
            return f"; this looks like {kind}{where}"
    return ""


def _api_url(value: object) -> object:
    """Validate an http(s) base URL and make it end with "/" (the SDK appends method names)."""
    if not isinstance(value, str):
        return value
    # The value is not echoed: a proxy URL may carry credentials.
    expected = 'expected an http(s) URL like "https://slack.com/api/"'
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(expected)
    if parts.query or parts.fragment:
        raise ValueError(f"{expected}, without a query or fragment")
    return value if value.endswith("/") else value + "/"


def _port(value: object) -> object:
    # int() alone would also accept "+80", "8_0" and other-script digits. An
    # int comes from code, where 0 (any free port, for tests) is meaningful.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535:
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,5}", value) and 1 <= int(value) <= 65535:
        return int(value)
    raise ValueError(f"expected a port number from 1 to 65535, got {show(value)}")


def normalise_database_url(value: str) -> str:
    """Validate an SQLAlchemy URL; plain postgres URLs get the installed psycopg 3 driver."""
    try:
        url = make_url(value)
    except ArgumentError:
        # Not echoed: it might be a libpq DSN with a password in it.
        raise ValueError(
            'expected an SQLAlchemy URL like "sqlite:///incidentbot.db" '
            'or "postgresql://user:password@host/dbname"'
        ) from None
    backend = url.get_backend_name().lower()
    if backend == "sqlite":
        return _sqlite_url(value, url.host, url.database)
    if backend in ("postgres", "postgresql"):
        # SQLAlchemy dropped the "postgres" alias, and its default driver for a
        # bare "postgresql://" is psycopg2, which is not installed.
        driver = url.get_driver_name() if "+" in url.drivername else "psycopg"
        return url.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)
    raise ValueError(f'unsupported database "{backend}" (use sqlite or postgresql)')


def _sqlite_url(value: str, host: str | None, database: str | None) -> str:
    # "sqlite://" is an in-memory database; "sqlite:///path" is a file. SQLite
    # URLs hold no secrets, so showing them is safe and helps.
    if host:
        rest = value.partition("://")[2]
        raise ValueError(f'a file path needs three slashes: "sqlite:///{rest}", got {show(value)}')
    if database == "":
        raise ValueError('missing the database file, e.g. "sqlite:///incidentbot.db"')
    return value


def _database_url(value: object) -> object:
    return normalise_database_url(value) if isinstance(value, str) else value


def _config_file(value: object) -> object:
    path = Path(value) if isinstance(value, str) else value
    if isinstance(path, Path):
        if not path.exists():
            raise ValueError(f"file not found: {path}")
        if not path.is_file():
            raise ValueError(f"not a file: {path}")
    return path


class Settings(BaseSettings):
    """Process settings from environment variables (PRODUCT.md §2).

    Secrets are ``SecretStr`` (``.get_secret_value()`` to use them), and the
    database URL (which may hold a password) is left out of ``repr()``, so
    logging the settings never leaks them. Build it from an environment with
    ``load_settings``; built directly, it takes only what it is given.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        case_sensitive=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    bot_token: Annotated[
        SecretStr,
        _secret("SLACK_BOT_TOKEN", "xoxb-", "a bot token", {"xapp-": "SLACK_APP_TOKEN"}),
    ] = Field(
        validation_alias="SLACK_BOT_TOKEN",
        json_schema_extra={"required_hint": 'the bot token, starts with "xoxb-"'},
    )
    # Declared before the signing secret: whether that one is needed depends
    # on this one (fields are validated in order).
    app_token: Annotated[
        SecretStr | None,
        _secret("SLACK_APP_TOKEN", "xapp-", "an app-level token", {"xoxb-": "SLACK_BOT_TOKEN"}),
    ] = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    signing_secret: Annotated[SecretStr | None, _secret("SLACK_SIGNING_SECRET", None, "", {})] = (
        Field(default=None, validation_alias="SLACK_SIGNING_SECRET", validate_default=True)
    )
    api_url: Annotated[str, BeforeValidator(_api_url)] = Field(
        default=DEFAULT_API_URL, validation_alias="SLACK_API_URL"
    )
    port: Annotated[int, BeforeValidator(_port)] = Field(
        default=DEFAULT_PORT, validation_alias="PORT"
    )
    database_url: Annotated[str, BeforeValidator(_database_url)] = Field(
        default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL", repr=False
    )
    config_path: Annotated[Path | None, BeforeValidator(_config_file)] = Field(
        default=None, validation_alias="INCIDENTBOT_CONFIG"
    )

    @field_validator("signing_secret")
    @classmethod
    def _needed_in_http_mode(cls, value: SecretStr | None, info: ValidationInfo) -> object:
        # A present but invalid app token is reported on its own; whether the
        # operator meant Socket Mode is then unknown, so nothing more is said.
        if value is None and "app_token" in info.data and info.data["app_token"] is None:
            raise ValueError("required in HTTP mode (or set SLACK_APP_TOKEN to use Socket Mode)")
        return value

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set: connect over Socket Mode, not HTTP."""
        return self.app_token is not None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, *_others: Any, **_: Any
    ) -> tuple[Any, ...]:
        # Only what the constructor is given: load_settings hands over the
        # environment explicitly (tests and main pass their own mapping, with
        # .env already merged by python-dotenv), never os.environ behind it.
        return (init_settings,)


class _EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``.

    Empty or blank values count as unset and surrounding whitespace is ignored
    (a stray newline from a secrets file is a classic).
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._given = {name: value.strip() for name, value in env.items() if value.strip()}
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._given


def load_settings(env: Mapping[str, str], *, cwd: Path) -> Settings:
    """Read and validate ``Settings`` from ``env`` (pass ``os.environ``).

    ``cwd`` is where the default ``incidentbot.toml`` is looked for and what a
    relative ``INCIDENTBOT_CONFIG`` is resolved against. Raises
    ``ConfigError`` naming every problem; secret values never appear in it.
    """
    values = _EnvironmentSource(Settings, env)()
    # Problems are listed in the order of the fields (the order of PRODUCT.md §2).
    order = {str(info.validation_alias): None for info in Settings.model_fields.values()}
    if "INCIDENTBOT_CONFIG" in values:
        values["INCIDENTBOT_CONFIG"] = cwd / Path(values["INCIDENTBOT_CONFIG"]).expanduser()
    elif (cwd / DEFAULT_CONFIG_FILE).is_file():
        values["INCIDENTBOT_CONFIG"] = cwd / DEFAULT_CONFIG_FILE
    try:
        return Settings(**values)
    except ValidationError as error:
        lines = problem_lines(error, order | values, Settings)
        raise ConfigError(lines, ENVIRONMENT_SOURCE) from None
