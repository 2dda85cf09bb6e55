"""Settings from the environment and configuration from ``incidentbot.toml``.

Two immutable values come out of here, both validated up front so that a bad
deployment stops at start-up with one message naming every problem, instead of
failing later in the middle of an incident:

- ``Settings`` (``load_settings``): secrets and wiring from environment
  variables — Slack tokens (``SecretStr``), API URL, port, database URL, config
  file path. A pydantic-settings model.
- ``Config`` (``load_config`` / ``parse_config``): how incidents run — channels,
  severities, statuses, roles, escalation paths, on-call schedules,
  permissions, timeline reaction. A tree of pydantic models, one per TOML
  section; a new section is one more field of ``Config``
  (``alerts: AlertsConfig = AlertsConfig()``), its model deriving from
  ``config_types.Section``.

``load_startup`` reads both and reports the environment's and the file's
problems together (``SetupError``).

Adding a section: write its models (``Section`` subclasses, fields typed with
``config_types``' annotated types, validators raising ``ValueError``), add one
field to ``Config``, and for references to names another section declares,
add the declaring table to ``Config.DECLARING_TABLES`` and call
``check_reference`` from the referring field (or, for a new target prefix, add
it to ``TARGET_PREFIXES``). Variables named by ``*_env`` keys are read from
``References.env`` (``load_startup`` passes the process environment).

Error messages follow one convention, implemented once in
``config_types.problem_lines``: ``<where>: <what is wrong>, got <value>``.
``<where>`` is the variable name or the TOML key path as written in the file,
with array items named by their ``name`` (``severities["sev2"].escalation``);
validators raise ``ValueError`` with the message only; unknown keys suggest the
closest known one. Secrets are never shown.

The names of variables and TOML keys are a contract (PRODUCT.md §2 and §6).
Names of severities, statuses, roles, escalation paths and schedules are
case-insensitive and stored in lower case.

Exceptions::

    Exception
    ├── ConfigError    every problem found in one source ("environment" or a
    │                  file path); str() is the message to show the operator
    └── SetupError     the ConfigErrors of every source, from load_startup
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from incidentbot.alerts.config import AlertsConfig
from incidentbot.config_types import (
    EMAIL_RE,
    FROM_KEY,
    GROUP_ID_RE,
    USER_ID_RE,
    Channel,
    Duration,
    Flag,
    Name,
    Problem,
    References,
    Section,
    Text,
    Timestamp,
    UserId,
    as_dict,
    as_name,
    check_reference,
    int_between,
    named_tables,
    non_empty,
    problem_lines,
    raise_problems,
    show,
    unique_items,
    unique_names,
    unknown,
)
from incidentbot.durations import parse_duration
from incidentbot.providers.config import OpsgenieConfig, PagerDutyConfig

__all__ = [
    "BUILTIN_ROLES",
    "DEFAULTS_SOURCE",
    "DEFAULT_API_URL",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_PORT",
    "DEFAULT_RESTRICTED",
    "DEFAULT_SEVERITIES",
    "DEFAULT_STATUSES",
    "ENVIRONMENT_SOURCE",
    "INCIDENT_COMMANDER",
    "RESTRICTABLE_ACTIONS",
    "SCRIBE",
    "ChannelsConfig",
    "Config",
    "ConfigError",
    "EscalationLevel",
    "EscalationPath",
    "Permissions",
    "RoleDef",
    "Schedule",
    "Settings",
    "SetupError",
    "Severity",
    "TimelineConfig",
    "load_config",
    "load_settings",
    "load_startup",
    "normalise_database_url",
    "parse_config",
]

ENVIRONMENT_SOURCE = "environment"
DEFAULTS_SOURCE = "built-in defaults"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_DATABASE_URL = "sqlite:///incidentbot.db"
DEFAULT_CONFIG_FILE = "incidentbot.toml"
DEFAULT_SLACK_RETRY_MAX = 60.0  # seconds

INCIDENT_COMMANDER = "incident_commander"
SCRIBE = "scribe"

# Actions that [permissions].restricted may name (the subcommands that change
# an incident in ways worth guarding).
RESTRICTABLE_ACTIONS = frozenset(
    {
        "resolve",
        "reopen",
        "severity",
        "status",
        "ic",
        "scribe",
        "role",
        "timeline_edit",
        "escalate",
        "update",
        "postmortem",
    }
)
DEFAULT_RESTRICTED = frozenset({"resolve", "reopen", "severity", "ic", "timeline_edit"})

# Template placeholders for channel names, with sample values used to check
# that a template renders to a valid Slack channel name.
_TEMPLATE_SAMPLES: Mapping[str, object] = MappingProxyType(
    {"number": 42, "slug": "db-outage", "severity": "sev1", "date": "2026-01-05"}
)
_CHANNEL_NAME_CHARS_RE = re.compile(r"[a-z0-9_-]+")
_EMOJI_RE = re.compile(r"[a-z0-9_+'-]{1,100}")
_TOML_POSITION_RE = re.compile(r"(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)")


# --------------------------------------------------------------------------- errors


class ConfigError(Exception):
    """Invalid settings or configuration: every problem found in one source.

    ``problems`` are lines like ``"PORT: expected …"``; ``source`` is a file path
    or ``"environment"``. ``str()`` gives the message to show the operator.
    """

    def __init__(self, problems: str | Iterable[str], source: str) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        # Passing both to Exception keeps the error picklable (args rebuild it).
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{self.source}: {count} problem{'' if count == 1 else 's'}:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


class SetupError(Exception):
    """The problems of every source at once (environment, then configuration file)."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: tuple[ConfigError, ...] = tuple(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


# --------------------------------------------------------------------------- settings

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


def _retry_max(value: object) -> object:
    """A duration string from the environment ("30s", "5m"), at least one second.

    A number comes from code (tests compress the back-off below a second)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    expected = 'expected a duration of at least 1s like "30s" or "5m"'
    if not isinstance(value, str):
        raise ValueError(f"{expected}, got {show(value)}")
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError:
        seconds = 0.0
    if seconds < 1:
        raise ValueError(f"{expected}, got {show(value)}")
    return seconds


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
    # Longest wait between tries while Slack is unavailable, in seconds (README: Reliability).
    slack_retry_max: Annotated[float, BeforeValidator(_retry_max)] = Field(
        default=DEFAULT_SLACK_RETRY_MAX, validation_alias="INCIDENTBOT_SLACK_RETRY_MAX"
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


# --------------------------------------------------------------------------- config values


def _as_template(value: object) -> str:
    """A channel-name template: known placeholders only, ``{number}`` required."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    try:
        fields = [
            (name, conversion)
            for _, name, _, conversion in string.Formatter().parse(value)
            if name is not None
        ]
    except ValueError as error:
        raise ValueError(f"invalid template ({error}), got {show(value)}") from None
    allowed = ", ".join(f"{{{name}}}" for name in _TEMPLATE_SAMPLES)
    for name, conversion in fields:
        if name not in _TEMPLATE_SAMPLES:
            raise ValueError(f'unknown placeholder "{{{name}}}" (allowed: {allowed})')
        if conversion:
            raise ValueError(f'placeholder "{{{name}}}" cannot use a "!{conversion}" conversion')
    if "number" not in {name for name, _ in fields}:
        raise ValueError('must contain "{number}" so that every channel name is unique')
    # Rendering a sample catches bad format specs ("{slug:d}") and literal
    # text Slack would reject, at start-up rather than at the first incident.
    try:
        sample = value.format_map(_TEMPLATE_SAMPLES)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"cannot be filled in ({error}), got {show(value)}") from None
    if not _CHANNEL_NAME_CHARS_RE.fullmatch(sample):
        raise ValueError(
            f"renders as {show(sample)}, but channel names may only contain lowercase "
            'letters, digits, "-" and "_"'
        )
    return value


def _as_admin(value: object) -> str:
    if isinstance(value, str) and (USER_ID_RE.fullmatch(value) or GROUP_ID_RE.fullmatch(value)):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    raise ValueError(
        f'expected a user ID like "U0123ABCD" or a user group ID like "S0123ABCD", '
        f"got {show(value)}"
    )


def _as_action(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    action = value.lower()
    if action in RESTRICTABLE_ACTIONS:
        return action
    raise ValueError(unknown("action", value, RESTRICTABLE_ACTIONS, label="valid"))


def _as_reaction(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    reaction = value.strip(":")
    if not _EMOJI_RE.fullmatch(reaction):
        raise ValueError(f'expected an emoji name like "pushpin", got {show(value)}')
    return reaction


# Escalation target prefixes and the kind of declared name each refers to.
TARGET_PREFIXES: Mapping[str, str] = MappingProxyType(
    {"schedule": "schedule", "pagerduty": "PagerDuty service", "opsgenie": "Opsgenie team"}
)


def _as_target(value: object) -> str:
    """Escalation targets: users, user groups, emails or ``<prefix>:<name>``."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    prefix, sep, name = value.partition(":")
    if sep and prefix.lower() in TARGET_PREFIXES:
        return f"{prefix.lower()}:{name.strip().lower()}"
    if USER_ID_RE.fullmatch(value) or GROUP_ID_RE.fullmatch(value) or EMAIL_RE.fullmatch(value):
        return value
    shown = {"pagerduty": "service", "opsgenie": "team"}
    *others, last = [f'"{p}:<{shown.get(p, "name")}>"' for p in TARGET_PREFIXES]
    prefixes = ", ".join(others) + f" or {last}"
    raise ValueError(
        f'expected a user ID ("U…"), a user group ID ("S…"), an email, {prefixes}, '
        f"got {show(value)}"
    )


def _declared_target(value: str, info: ValidationInfo) -> str:
    prefix, sep, name = value.partition(":")
    if sep and prefix in TARGET_PREFIXES:
        check_reference(TARGET_PREFIXES[prefix], name, info)
    return value


def _declared_path(value: str | None, info: ValidationInfo) -> str | None:
    if value is not None:
        check_reference("escalation path", value, info)
    return value


Target = Annotated[str, BeforeValidator(_as_target), AfterValidator(_declared_target)]


class ChannelsConfig(Section):
    """``[channels]``: where incident cards go and how incident channels are named."""

    announcements: Annotated[tuple[Channel, ...], unique_items] = ()
    name_template: Annotated[str, BeforeValidator(_as_template)] = "inc-{number}-{slug}"
    private_by_default: Flag = False


class Severity(Section):
    """One ``[[severities]]`` entry; ``announcements`` adds channels for this severity."""

    name: Name
    description: Text = ""
    escalation: Annotated[Name | None, AfterValidator(_declared_path)] = None
    update_every: Duration | None = None
    announcements: Annotated[tuple[Channel, ...], unique_items] = ()


class RoleDef(Section):
    """A role people can hold in an incident."""

    name: Name
    description: Text = ""


class EscalationLevel(Section):
    """Who is paged at one level, and how long they have to acknowledge."""

    targets: Annotated[tuple[Target, ...], non_empty, unique_items]
    timeout: Duration


def _levels_given(levels: tuple[EscalationLevel, ...]) -> tuple[EscalationLevel, ...]:
    if not levels:
        raise ValueError("must have at least one level")
    return levels


class EscalationPath(Section):
    """``[escalation.<name>]``: levels paged in order; the whole path runs ``repeat`` more times."""

    name: Name = Field(json_schema_extra=FROM_KEY)
    levels: Annotated[tuple[EscalationLevel, ...], AfterValidator(_levels_given)] = Field(
        json_schema_extra={"required_hint": "at least one level with targets and a timeout"}
    )
    repeat: Annotated[int, int_between(0, 10)] = 0


class Schedule(Section):
    """``[schedules.<name>]``: a rotation handing over every ``rotation`` from ``start`` (UTC)."""

    name: Name = Field(json_schema_extra=FROM_KEY)
    # Repeating a user is allowed: it is how someone takes more shifts.
    users: Annotated[tuple[UserId, ...], non_empty]
    rotation: Duration
    start: Timestamp

    def on_call(self, at: datetime) -> str:
        """The user on call at ``at`` (timezone-aware).

        Floor division makes times before ``start`` rotate backwards
        consistently: the shift just before ``start`` belongs to the last user.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("on_call() needs a timezone-aware datetime")
        shift = (at - self.start) // self.rotation
        return self.users[shift % len(self.users)]


class Permissions(Section):
    """``[permissions]``: actions only the IC, the Scribe and admins may take."""

    restricted: Annotated[
        frozenset[str], BeforeValidator(lambda value: _listed(value, _as_action))
    ] = DEFAULT_RESTRICTED
    admins: Annotated[tuple[Annotated[str, BeforeValidator(_as_admin)], ...], unique_items] = ()


def _listed(value: object, convert: Callable[[object], str]) -> object:
    """Convert a list's items one by one (problems name the item); other values pass through.

    For sets, whose items pydantic would report without a position.
    """
    if not isinstance(value, list):
        return value
    problems: list[Problem] = []
    items: list[str] = []
    for index, item in enumerate(value):
        try:
            items.append(convert(item))
        except ValueError as error:
            problems.append(((index,), str(error)))
    raise_problems(problems, value)
    return items


class TimelineConfig(Section):
    """``[timeline]``: the reaction emoji (name without colons) that logs a message."""

    reaction: Annotated[str, BeforeValidator(_as_reaction)] = "pushpin"


DEFAULT_SEVERITIES: tuple[Severity, ...] = (
    Severity(name="sev1", description="Critical: customer-facing outage or data loss"),
    Severity(name="sev2", description="Major: significant degradation for many customers"),
    Severity(name="sev3", description="Minor: limited impact, workaround exists"),
    Severity(name="sev4", description="Low: no customer impact; internal or cosmetic"),
)
DEFAULT_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved")
BUILTIN_ROLES: tuple[RoleDef, ...] = (
    RoleDef(name=INCIDENT_COMMANDER, description="Incident Commander: runs the response"),
    RoleDef(name=SCRIBE, description="Scribe: keeps the timeline"),
)


def _at_least_one(severities: tuple[Severity, ...]) -> tuple[Severity, ...]:
    if not severities:
        raise ValueError("must list at least one severity")
    return severities


def _two_statuses(statuses: tuple[str, ...]) -> tuple[str, ...]:
    if len(statuses) < 2:
        raise ValueError("needs at least two statuses (the last one is the final status)")
    return statuses


def _with_builtins(roles: tuple[RoleDef, ...]) -> tuple[RoleDef, ...]:
    """Built-ins keep their place at the front; configuring one again only changes its text."""
    merged = {role.name: role for role in BUILTIN_ROLES}
    for role in roles:
        if "description" not in role.model_fields_set and role.name in merged:
            continue
        merged[role.name] = role
    return tuple(merged.values())


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


class Config(Section):
    """The validated contents of ``incidentbot.toml`` (or the built-in defaults).

    Each TOML section is one field. Checks between sections use the names the
    file declares (``References`` in the validation context, see
    ``parse_config``), so they run even when other parts have problems.
    """

    # Tables whose keys other sections refer to, by the kind of name they declare.
    DECLARING_TABLES: ClassVar[Mapping[str, tuple[str, ...]]] = MappingProxyType(
        {
            "escalation path": ("escalation",),
            "schedule": ("schedules",),
            "severity": ("severities",),
            "PagerDuty service": ("pagerduty", "services"),
            "Opsgenie team": ("opsgenie", "teams"),
        }
    )

    channels: ChannelsConfig = ChannelsConfig()
    severities: Annotated[
        tuple[Severity, ...], unique_names("severity"), AfterValidator(_at_least_one)
    ] = DEFAULT_SEVERITIES
    default_severity: str = Field(default=None, validate_default=True)  # type: ignore[assignment]
    statuses: Annotated[tuple[Name, ...], unique_items, AfterValidator(_two_statuses)] = (
        DEFAULT_STATUSES
    )
    mitigated_status: str = Field(default=None, validate_default=True)  # type: ignore[assignment]
    roles: Annotated[tuple[RoleDef, ...], unique_names("role"), AfterValidator(_with_builtins)] = (
        BUILTIN_ROLES
    )
    escalation: Annotated[
        Mapping[str, EscalationPath], named_tables("escalation path"), as_dict
    ] = Field(default_factory=_empty_mapping)
    schedules: Annotated[Mapping[str, Schedule], named_tables("schedule"), as_dict] = Field(
        default_factory=_empty_mapping
    )
    permissions: Permissions = Permissions()
    timeline: TimelineConfig = TimelineConfig()
    pagerduty: PagerDutyConfig | None = None  # PRODUCT.md §10
    opsgenie: OpsgenieConfig | None = None
    alerts: AlertsConfig = AlertsConfig()  # PRODUCT.md §9

    _source: str = PrivateAttr(default=DEFAULTS_SOURCE)

    @field_validator("default_severity", mode="before")
    @classmethod
    def _default_severity(cls, value: object, info: ValidationInfo) -> str:
        """The configured default, else the third severity (or the last when fewer)."""
        # Severities come first, so info.data has them unless they are invalid.
        severities = info.data.get("severities")
        names = [s.name for s in severities] if severities is not None else None
        if value is None:
            return names[min(2, len(names) - 1)] if names else ""
        name = as_name(value)
        if names is not None and name not in names:
            raise ValueError(unknown("severity", name, names))
        return name

    @field_validator("mitigated_status", mode="before")
    @classmethod
    def _mitigated_status(cls, value: object, info: ValidationInfo) -> str:
        """The configured one, else "monitoring" when configured, else the second-to-last."""
        statuses: tuple[str, ...] | None = info.data.get("statuses")
        if value is None:
            if statuses is None:
                return ""
            return "monitoring" if "monitoring" in statuses else statuses[-2]
        name = as_name(value)
        if statuses is not None and name not in statuses:
            raise ValueError(unknown("status", name, statuses))
        if statuses is not None and name == statuses[-1]:
            raise ValueError(f'must not be the final status "{name}"')
        return name

    @property
    def source(self) -> str:
        """Where this configuration came from: a file path or "built-in defaults"."""
        return self._source

    def severity(self, name: str) -> Severity | None:
        """The severity called ``name`` (case-insensitive), or None."""
        key = name.strip().lower()
        return next((s for s in self.severities if s.name == key), None)

    @property
    def severity_names(self) -> tuple[str, ...]:
        """Severity names, most severe first."""
        return tuple(s.name for s in self.severities)

    def role(self, name: str) -> RoleDef | None:
        """The role called ``name`` (case-insensitive), or None."""
        key = name.strip().lower()
        return next((r for r in self.roles if r.name == key), None)

    @property
    def role_names(self) -> tuple[str, ...]:
        """Role names; ``incident_commander`` and ``scribe`` come first."""
        return tuple(r.name for r in self.roles)

    @property
    def status_names(self) -> tuple[str, ...]:
        """Statuses in order; the last one is the final (resolved) status."""
        return self.statuses

    @property
    def first_status(self) -> str:
        """The status of a new or reopened incident."""
        return self.statuses[0]

    @property
    def final_status(self) -> str:
        """The status ``resolve`` moves to."""
        return self.statuses[-1]

    def escalation_path(self, name: str) -> EscalationPath | None:
        """The escalation path called ``name`` (case-insensitive), or None."""
        return self.escalation.get(name.strip().lower())

    def schedule(self, name: str) -> Schedule | None:
        """The on-call schedule called ``name`` (case-insensitive), or None."""
        return self.schedules.get(name.strip().lower())

    def is_restricted(self, action: str) -> bool:
        """Whether only the IC, the Scribe and admins may do ``action``.

        An unknown action name raises ``ValueError``: a typo must not silently
        make an action unrestricted.
        """
        if action not in RESTRICTABLE_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        return action in self.permissions.restricted


# --------------------------------------------------------------------------- loading


def load_config(
    path: Path | None, *, env: Mapping[str, str] | None = None, source: str | None = None
) -> Config:
    """Load and validate the TOML file at ``path``; ``None`` gives the built-in defaults.

    ``source`` names the file in messages (default: the path). Raises
    ``ConfigError`` for an unreadable file, a TOML syntax error (with its line
    and column), or any invalid value (all of them at once).
    """
    if path is None:
        return parse_config({}, DEFAULTS_SOURCE, env=env)
    source = source or str(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror or error}", source) from error
    except UnicodeDecodeError as error:
        raise ConfigError("the file is not UTF-8 text", source) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_problem(error), source) from error
    return parse_config(data, source, env=env)


def _toml_problem(error: tomllib.TOMLDecodeError) -> str:
    message = str(error)
    match = _TOML_POSITION_RE.fullmatch(message)
    if match is None:
        return f"invalid TOML: {message}"
    return f"line {match['line']}, column {match['col']}: invalid TOML: {match['msg']}"


def parse_config(
    data: Mapping[str, Any], source: str, *, env: Mapping[str, str] | None = None
) -> Config:
    """Validate already-parsed TOML ``data`` into a ``Config``.

    ``source`` names the origin in error messages. ``env`` is the environment
    for sections whose ``*_env`` keys name variables (``References.env``);
    without it those variables are not checked. Raises ``ConfigError``
    listing every problem.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table at the top level, got {show(data)}", source)
    defaults = {"severity": [s.name for s in DEFAULT_SEVERITIES]}
    context = {"references": References.declared(data, Config.DECLARING_TABLES, defaults, env)}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as error:
        raise ConfigError(problem_lines(error, data, Config), source) from None
    config._source = source
    return config


def load_startup(env: Mapping[str, str], *, cwd: Path) -> tuple[Settings, Config]:
    """Settings from ``env`` and the configuration they point to, or every problem of both.

    An environment problem does not hide the file's problems: the file is
    read whenever its location is known. Raises ``SetupError``.
    """
    errors: list[ConfigError] = []
    settings: Settings | None = None
    try:
        settings = load_settings(env, cwd=cwd)
        path = settings.config_path
    except ConfigError as error:
        errors.append(error)
        path = _config_location(env, cwd)
    config: Config | None = None
    try:
        config = load_config(path, env=env, source=_shown_path(path, cwd) if path else None)
    except ConfigError as error:
        errors.append(error)
    if errors or settings is None or config is None:
        raise SetupError(errors)
    return settings, config


def _config_location(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The configuration file to read when the settings failed (None: none usable)."""
    explicit = env.get("INCIDENTBOT_CONFIG", "").strip()
    path = cwd / Path(explicit).expanduser() if explicit else cwd / DEFAULT_CONFIG_FILE
    # A missing explicit file is already an environment problem.
    return path if path.is_file() else None


def _shown_path(path: Path, cwd: Path) -> str:
    """The path as the operator would type it: relative to the working directory when inside."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)
