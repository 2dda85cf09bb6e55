"""Settings from the environment and configuration from ``incidentbot.toml``.

Two immutable values come out of here, both validated up front so that a bad
deployment stops at start-up with one message naming every problem, instead of
failing later in the middle of an incident:

- ``Settings`` (``load_settings``): secrets and wiring from environment
  variables — Slack tokens, API URL, port, database URL, config file path.
- ``Config`` (``load_config`` / ``parse_config``): how incidents run — channels,
  severities, statuses, roles, escalation paths, on-call schedules,
  permissions, timeline reaction.

The names of variables and TOML keys are a contract (PRODUCT.md §2 and §6).
Names of severities, statuses, roles, escalation paths and schedules are
case-insensitive and stored in lower case.

Exceptions::

    Exception
    └── ConfigError    every problem found in one source ("environment" or a
                       file path); str() is the message to show the operator
"""

from __future__ import annotations

import difflib
import json
import os
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from incidentbot.durations import parse_duration
from incidentbot.providers.config import OpsgenieConfig, PagerDutyConfig, parse_providers

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
    "Severity",
    "TimelineConfig",
    "load_config",
    "load_settings",
    "parse_config",
]

T = TypeVar("T")

ENVIRONMENT_SOURCE = "environment"
DEFAULTS_SOURCE = "built-in defaults"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_DATABASE_URL = "sqlite:///incidentbot.db"
DEFAULT_CONFIG_FILE = "incidentbot.toml"

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

# fullmatch() is used everywhere: "$" would also accept a trailing newline.
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
_CHANNEL_ID_RE = re.compile(r"[CG][A-Z0-9]{2,}")
# Slack channel names are lower case; \w keeps non-Latin names usable.
_CHANNEL_NAME_RE = re.compile(r"#[\w-]{1,80}")
_CHANNEL_NAME_CHARS_RE = re.compile(r"[a-z0-9_-]+")
_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP_ID_RE = re.compile(r"S[A-Z0-9]{2,}")
_EMAIL_RE = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_EMOJI_RE = re.compile(r"[a-z0-9_+'-]{1,100}")
_RFC3339_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?"
)
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
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


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class Settings:
    """Process settings from environment variables (PRODUCT.md §2).

    Secrets and the database URL (which may hold a password) are left out of
    ``repr()`` so that logging the settings never leaks them.
    """

    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    port: int = DEFAULT_PORT
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    config_path: Path | None = None

    @property
    def socket_mode(self) -> bool:
        """True when an app-level token is set: connect over Socket Mode, not HTTP."""
        return self.app_token is not None


def load_settings(env: Mapping[str, str], *, cwd: Path) -> Settings:
    """Read and validate ``Settings`` from ``env`` (pass ``os.environ``).

    Empty or blank values count as unset; surrounding whitespace is ignored (a
    stray newline from a secrets file is a classic). ``cwd`` is where the
    default ``incidentbot.toml`` is looked for and what a relative
    ``INCIDENTBOT_CONFIG`` is resolved against. Raises ``ConfigError`` naming
    every problem; token values never appear in it.
    """

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    problems: list[str] = []
    app_token = get("SLACK_APP_TOKEN")
    bot_token = get("SLACK_BOT_TOKEN")
    signing_secret = get("SLACK_SIGNING_SECRET")

    problems += _bot_token_problems(bot_token)
    problems += _app_token_problems(app_token)
    if signing_secret is None and app_token is None:
        problems.append(
            "SLACK_SIGNING_SECRET: required in HTTP mode "
            "(or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    api_url = _env_value(problems, "SLACK_API_URL", get("SLACK_API_URL"), _api_url, DEFAULT_API_URL)
    port = _env_value(problems, "PORT", get("PORT"), _port, DEFAULT_PORT)
    database_url = _env_value(
        problems, "DATABASE_URL", get("DATABASE_URL"), normalise_database_url, DEFAULT_DATABASE_URL
    )
    config_path: Path | None = None
    if (explicit_config := get("INCIDENTBOT_CONFIG")) is not None:
        config_path = _env_value(
            problems, "INCIDENTBOT_CONFIG", explicit_config, lambda v: _config_path(v, cwd), None
        )
    elif (cwd / DEFAULT_CONFIG_FILE).is_file():
        config_path = cwd / DEFAULT_CONFIG_FILE

    if problems:
        raise ConfigError(problems, ENVIRONMENT_SOURCE)
    assert bot_token is not None  # a missing token is a problem above
    return Settings(
        bot_token=bot_token,
        signing_secret=signing_secret,
        app_token=app_token,
        api_url=api_url,
        port=port,
        database_url=database_url,
        config_path=config_path,
    )


def _env_value(
    problems: list[str],
    name: str,
    value: str | None,
    convert: Callable[[str], T],
    default: T,
) -> T:
    """Convert one variable; a ``ValueError`` becomes a problem naming the variable."""
    if value is None:
        return default
    try:
        return convert(value)
    except ValueError as error:
        problems.append(f"{name}: {error}")
        return default


# Token checks look at the prefix only, so no message can ever echo a secret.
_TOKEN_KINDS = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}


def _token_kind_hint(token: str, owner: dict[str, str]) -> str:
    for prefix, kind in _TOKEN_KINDS.items():
        if token.startswith(prefix):
            where = f", which belongs in {owner[prefix]}" if prefix in owner else ""
            return f"; this looks like {kind}{where}"
    return ""


def _bot_token_problems(token: str | None) -> list[str]:
    if token is None:
        return ['SLACK_BOT_TOKEN: required (the bot token, starts with "xoxb-")']
    if not token.startswith("xoxb-"):
        hint = _token_kind_hint(token, {"xapp-": "SLACK_APP_TOKEN"})
        return [f'SLACK_BOT_TOKEN: must start with "xoxb-" (a bot token){hint}']
    return []


def _app_token_problems(token: str | None) -> list[str]:
    if token is None or token.startswith("xapp-"):
        return []
    hint = _token_kind_hint(token, {"xoxb-": "SLACK_BOT_TOKEN"})
    return [f'SLACK_APP_TOKEN: must start with "xapp-" (an app-level token){hint}']


def _api_url(value: str) -> str:
    """Validate an http(s) base URL and make it end with "/" (the SDK appends method names)."""
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


def _port(value: str) -> int:
    # int() alone would also accept "+80", "8_0" and other-script digits.
    if re.fullmatch(r"[0-9]{1,5}", value) and 1 <= int(value) <= 65535:
        return int(value)
    raise ValueError(f"expected a port number from 1 to 65535, got {_show(value)}")


def normalise_database_url(value: str) -> str:
    """Validate an SQLAlchemy URL; plain postgres URLs get the installed psycopg 3 driver."""
    scheme, sep, rest = value.partition("://")
    backend, _, driver = scheme.lower().partition("+")
    if not sep or not re.fullmatch(r"[a-z0-9_]+", backend):
        # Not echoed: it might be a libpq DSN with a password in it.
        raise ValueError(
            'expected an SQLAlchemy URL like "sqlite:///incidentbot.db" '
            'or "postgresql://user:password@host/dbname"'
        )
    if backend == "sqlite":
        return _sqlite_url(value, rest)
    if backend in ("postgres", "postgresql"):
        # SQLAlchemy dropped the "postgres" alias, and its default driver for a
        # bare "postgresql://" is psycopg2, which is not installed.
        return f"postgresql+{driver or 'psycopg'}://{rest}"
    raise ValueError(f'unsupported database "{backend}" (use sqlite or postgresql)')


def _sqlite_url(value: str, rest: str) -> str:
    # "sqlite://" is an in-memory database; "sqlite:///path" is a file. SQLite
    # URLs hold no secrets, so showing them is safe and helps.
    if rest == "" or (rest.startswith("/") and rest != "/"):
        return value
    if rest == "/":
        raise ValueError('missing the database file, e.g. "sqlite:///incidentbot.db"')
    raise ValueError(f'a file path needs three slashes: "sqlite:///{rest}", got {_show(value)}')


def _config_path(value: str, cwd: Path) -> Path:
    path = cwd / Path(value).expanduser()
    if not path.exists():
        raise ValueError(f"file not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    return path


# --------------------------------------------------------------------------- config values


@dataclass(frozen=True, slots=True)
class ChannelsConfig:
    """``[channels]``: where incident cards go and how incident channels are named."""

    announcements: tuple[str, ...] = ()
    name_template: str = "inc-{number}-{slug}"
    private_by_default: bool = False


@dataclass(frozen=True, slots=True)
class Severity:
    """One ``[[severities]]`` entry; ``announcements`` adds channels for this severity."""

    name: str
    description: str = ""
    escalation: str | None = None
    update_every: timedelta | None = None
    announcements: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleDef:
    """A role people can hold in an incident."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """Who is paged at one level, and how long they have to acknowledge."""

    targets: tuple[str, ...]
    timeout: timedelta


@dataclass(frozen=True, slots=True)
class EscalationPath:
    """``[escalation.<name>]``: levels paged in order; the whole path runs ``repeat`` more times."""

    name: str
    levels: tuple[EscalationLevel, ...]
    repeat: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """``[schedules.<name>]``: a rotation handing over every ``rotation`` from ``start`` (UTC)."""

    name: str
    users: tuple[str, ...]
    rotation: timedelta
    start: datetime

    def on_call(self, at: datetime) -> str:
        """The user on call at ``at`` (timezone-aware).

        Floor division makes times before ``start`` rotate backwards
        consistently: the shift just before ``start`` belongs to the last user.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("on_call() needs a timezone-aware datetime")
        shift = (at - self.start) // self.rotation
        return self.users[shift % len(self.users)]


@dataclass(frozen=True, slots=True)
class Permissions:
    """``[permissions]``: actions only the IC, the Scribe and admins may take."""

    restricted: frozenset[str] = DEFAULT_RESTRICTED
    admins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineConfig:
    """``[timeline]``: the reaction emoji (name without colons) that logs a message."""

    reaction: str = "pushpin"


DEFAULT_SEVERITIES: tuple[Severity, ...] = (
    Severity("sev1", "Critical: customer-facing outage or data loss"),
    Severity("sev2", "Major: significant degradation for many customers"),
    Severity("sev3", "Minor: limited impact, workaround exists"),
    Severity("sev4", "Low: no customer impact; internal or cosmetic"),
)
DEFAULT_STATUSES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved")
BUILTIN_ROLES: tuple[RoleDef, ...] = (
    RoleDef(INCIDENT_COMMANDER, "Incident Commander: runs the response"),
    RoleDef(SCRIBE, "Scribe: keeps the timeline"),
)


@dataclass(frozen=True, slots=True)
class Config:
    """The validated contents of ``incidentbot.toml`` (or the built-in defaults)."""

    channels: ChannelsConfig
    severities: tuple[Severity, ...]
    default_severity: str
    statuses: tuple[str, ...]
    mitigated_status: str
    roles: tuple[RoleDef, ...]
    escalation: Mapping[str, EscalationPath]
    schedules: Mapping[str, Schedule]
    permissions: Permissions
    timeline: TimelineConfig
    source: str
    pagerduty: PagerDutyConfig | None = None  # [pagerduty] (PRODUCT.md §10)
    opsgenie: OpsgenieConfig | None = None  # [opsgenie]

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


def load_config(path: Path | None) -> Config:
    """Load and validate the TOML file at ``path``; ``None`` gives the built-in defaults.

    Raises ``ConfigError`` for an unreadable file, a TOML syntax error (with
    its line and column), or any invalid value (all of them at once).
    """
    if path is None:
        return parse_config({}, DEFAULTS_SOURCE)
    source = str(path)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror or error}", source) from error
    except UnicodeDecodeError as error:
        raise ConfigError("the file is not UTF-8 text", source) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_problem(error), source) from error
    return parse_config(data, source)


def _toml_problem(error: tomllib.TOMLDecodeError) -> str:
    message = str(error)
    match = _TOML_POSITION_RE.fullmatch(message)
    if match is None:
        return f"invalid TOML: {message}"
    return f"line {match['line']}, column {match['col']}: invalid TOML: {match['msg']}"


_TOP_KEYS = (
    "channels",
    "severities",
    "default_severity",
    "statuses",
    "mitigated_status",
    "roles",
    "escalation",
    "schedules",
    "permissions",
    "timeline",
    "pagerduty",
    "opsgenie",
)


def parse_config(
    data: Mapping[str, Any], source: str, *, env: Mapping[str, str] | None = None
) -> Config:
    """Validate already-parsed TOML ``data`` into a ``Config``.

    ``source`` names the origin in error messages. ``env`` (default:
    ``os.environ``) holds the secrets that ``*_env`` keys name. Raises
    ``ConfigError`` listing every problem.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a table at the top level, got {_show(data)}", source)
    c = _Checker()
    c.check_keys(data, "", _TOP_KEYS)
    # Cross-references are checked against the names *declared* in the raw
    # tables, so one broken schedule does not also make every reference to it
    # "unknown".
    schedule_names = _declared_names(data.get("schedules"))
    path_names = _declared_names(data.get("escalation"))
    provider_names = _provider_names(data)

    channels = _parse_channels(c, data)
    mark = c.mark()
    severities = _parse_severities(c, data.get("severities"), path_names)
    default_severity = _parse_default_severity(c, data, severities if c.clean_since(mark) else None)
    statuses, mitigated_status = _parse_statuses(c, data)
    roles = _parse_roles(c, data.get("roles"))
    escalation = _parse_escalation(c, data.get("escalation"), schedule_names, provider_names)
    schedules = _parse_schedules(c, data.get("schedules"))
    permissions = _parse_permissions(c, data.get("permissions"))
    timeline = _parse_timeline(c, data.get("timeline"))
    pagerduty, opsgenie, provider_problems = parse_providers(
        data, os.environ if env is None else env
    )
    c.problems += provider_problems

    if c.problems:
        raise ConfigError(c.problems, source)
    return Config(
        channels=channels,
        severities=severities,
        default_severity=default_severity,
        statuses=statuses,
        mitigated_status=mitigated_status,
        roles=roles,
        escalation=MappingProxyType(escalation),
        schedules=MappingProxyType(schedules),
        permissions=permissions,
        timeline=timeline,
        source=source,
        pagerduty=pagerduty,
        opsgenie=opsgenie,
    )


def _keys(cls: type) -> tuple[str, ...]:
    """The TOML keys of a table that maps one-to-one onto a dataclass."""
    return tuple(f.name for f in fields(cls))


def _provider_names(data: Mapping[str, Any]) -> dict[str, frozenset[str] | None]:
    """Names declared under ``[pagerduty.services]`` and ``[opsgenie.teams]``, by target prefix."""
    names: dict[str, frozenset[str] | None] = {}
    for prefix, table, key in (
        ("pagerduty", "pagerduty", "services"),
        ("opsgenie", "opsgenie", "teams"),
    ):
        raw = data.get(table)
        names[prefix] = _declared_names(raw.get(key) if isinstance(raw, Mapping) else None)
    return names


def _declared_names(raw: object) -> frozenset[str] | None:
    """Lower-cased keys of a table of named things; None when it is not a table."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, Mapping):
        return None
    return frozenset(str(key).lower() for key in raw)


def _parse_channels(c: _Checker, data: Mapping[str, Any]) -> ChannelsConfig:
    table = c.table(data.get("channels"), "channels")
    c.check_keys(table, "channels", _keys(ChannelsConfig))
    default = ChannelsConfig()
    return ChannelsConfig(
        announcements=c.strings(table, "announcements", "channels", _as_channel),
        name_template=c.get(
            table, "name_template", "channels", _as_template, default.name_template
        ),
        private_by_default=c.get(
            table, "private_by_default", "channels", _as_bool, default.private_by_default
        ),
    )


def _parse_severities(
    c: _Checker, raw: object, path_names: frozenset[str] | None
) -> tuple[Severity, ...]:
    if raw is None:
        return DEFAULT_SEVERITIES
    items = c.tables(raw, "severities")
    if isinstance(raw, list) and not raw:
        c.add("severities", "must list at least one severity")
    severities: list[Severity] = []
    seen: set[str] = set()
    for path, item in items:
        c.check_keys(item, path, _keys(Severity))
        name = c.unique_name(item, path, seen, "severity")
        escalation = c.get(item, "escalation", path, _as_name, None)
        if escalation is not None and path_names is not None and escalation not in path_names:
            c.add(f"{path}.escalation", _unknown("escalation path", escalation, path_names))
        severity = Severity(
            name=name or "",
            description=c.get(item, "description", path, _as_str, ""),
            escalation=escalation,
            update_every=c.get(item, "update_every", path, _as_duration, None),
            announcements=c.strings(item, "announcements", path, _as_channel),
        )
        if name is not None:
            severities.append(severity)
    return tuple(severities)


def _parse_default_severity(
    c: _Checker, data: Mapping[str, Any], severities: tuple[Severity, ...] | None
) -> str:
    """The configured default, else the third severity (or the last when fewer)."""
    names = [s.name for s in severities or ()]
    name = c.get(data, "default_severity", "", _as_name, None)
    if name is None:
        return names[min(2, len(names) - 1)] if names else ""
    if severities is not None and name not in names:
        c.add("default_severity", _unknown("severity", name, names))
    return name


def _parse_statuses(c: _Checker, data: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    mark = c.mark()
    statuses = DEFAULT_STATUSES
    if data.get("statuses") is not None:
        names = c.strings(data, "statuses", "", _as_name)
        if len(names) < 2 and c.clean_since(mark):
            c.add("statuses", "needs at least two statuses (the last one is the final status)")
        statuses = names
    # Without a trustworthy list, the mitigated status can only be type-checked.
    known = statuses if c.clean_since(mark) else None
    if "monitoring" in statuses:
        default = "monitoring"
    else:
        default = statuses[-2] if len(statuses) >= 2 else ""
    mitigated = c.get(data, "mitigated_status", "", _as_name, default)
    if known is not None and data.get("mitigated_status") is not None:
        if mitigated not in known:
            c.add("mitigated_status", _unknown("status", mitigated, known))
        elif mitigated == known[-1]:
            c.add("mitigated_status", f'must not be the final status "{mitigated}"')
    return statuses, mitigated


def _parse_roles(c: _Checker, raw: object) -> tuple[RoleDef, ...]:
    # Built-ins keep their place at the front; configuring one again only
    # changes its description.
    roles = {role.name: role for role in BUILTIN_ROLES}
    seen: set[str] = set()
    for path, item in c.tables(raw, "roles"):
        c.check_keys(item, path, _keys(RoleDef))
        name = c.unique_name(item, path, seen, "role")
        description = c.get(item, "description", path, _as_str, None)
        if name is None:
            continue
        if description is None:
            description = roles[name].description if name in roles else ""
        roles[name] = RoleDef(name, description)
    return tuple(roles.values())


def _parse_escalation(
    c: _Checker,
    raw: object,
    schedule_names: frozenset[str] | None,
    provider_names: Mapping[str, frozenset[str] | None],
) -> dict[str, EscalationPath]:
    paths: dict[str, EscalationPath] = {}
    for name, path, table in c.named_tables(raw, "escalation", "escalation path"):
        c.check_keys(table, path, ("repeat", "levels"))
        repeat = c.get(table, "repeat", path, _int_between(0, 10), 0)
        levels = _parse_levels(c, table, path, schedule_names, provider_names)
        paths[name] = EscalationPath(name=name, levels=levels, repeat=repeat)
    return paths


def _parse_levels(
    c: _Checker,
    table: Mapping[str, Any],
    path: str,
    schedule_names: frozenset[str] | None,
    provider_names: Mapping[str, frozenset[str] | None],
) -> tuple[EscalationLevel, ...]:
    raw = table.get("levels")
    if raw is None:
        c.add(f"{path}.levels", "required (at least one level with targets and a timeout)")
    elif isinstance(raw, list) and not raw:
        c.add(f"{path}.levels", "must have at least one level")
    as_target = _target_converter(schedule_names, provider_names)
    levels: list[EscalationLevel] = []
    for level_path, level in c.tables(raw, f"{path}.levels"):
        c.check_keys(level, level_path, _keys(EscalationLevel))
        targets = c.strings(level, "targets", level_path, as_target, required=True)
        timeout = c.get(level, "timeout", level_path, _as_duration, None, required=True)
        if timeout is not None:
            levels.append(EscalationLevel(targets=targets, timeout=timeout))
    return tuple(levels)


def _parse_schedules(c: _Checker, raw: object) -> dict[str, Schedule]:
    schedules: dict[str, Schedule] = {}
    for name, path, table in c.named_tables(raw, "schedules", "schedule"):
        c.check_keys(table, path, ("users", "rotation", "start"))
        # Repeating a user is allowed: it is how someone takes more shifts.
        users = c.strings(table, "users", path, _as_user, required=True, unique=False)
        rotation = c.get(table, "rotation", path, _as_duration, None, required=True)
        start = c.get(table, "start", path, _as_timestamp, None, required=True)
        if users and rotation is not None and start is not None:
            schedules[name] = Schedule(name=name, users=users, rotation=rotation, start=start)
    return schedules


def _parse_permissions(c: _Checker, raw: object) -> Permissions:
    table = c.table(raw, "permissions")
    c.check_keys(table, "permissions", _keys(Permissions))
    restricted = DEFAULT_RESTRICTED
    if table.get("restricted") is not None:
        restricted = frozenset(c.strings(table, "restricted", "permissions", _as_action))
    return Permissions(
        restricted=restricted, admins=c.strings(table, "admins", "permissions", _as_admin)
    )


def _parse_timeline(c: _Checker, raw: object) -> TimelineConfig:
    table = c.table(raw, "timeline")
    c.check_keys(table, "timeline", _keys(TimelineConfig))
    return TimelineConfig(
        reaction=c.get(table, "reaction", "timeline", _as_reaction, TimelineConfig().reaction)
    )


# --------------------------------------------------------------------------- checking


class _Checker:
    """Collects problems while reading raw TOML values, so all are reported at once.

    Getters never raise: on a problem they record it and return a fallback,
    which only keeps validation going (a ``Config`` is built only when there
    are no problems at all).
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def mark(self) -> int:
        return len(self.problems)

    def clean_since(self, mark: int) -> bool:
        return len(self.problems) == mark

    def check_keys(self, table: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        """Report keys not in ``allowed``, suggesting the closest known one."""
        for key in table:
            if key in allowed:
                continue
            typed = str(key).lower()
            close = difflib.get_close_matches(typed, allowed, n=1) or [
                # Abbreviations ("desc") are too short for difflib's cutoff.
                known
                for known in allowed
                if len(typed) >= 3 and known.startswith(typed)
            ]
            hint = f'did you mean "{close[0]}"?' if close else "known keys: " + ", ".join(allowed)
            self.add(_child(path, str(key)), f"unknown key ({hint})")

    def table(self, raw: object, path: str) -> Mapping[str, Any]:
        if raw is None:
            return {}
        if isinstance(raw, Mapping):
            return raw
        self.add(path, f"expected a table, got {_show(raw)}")
        return {}

    def tables(self, raw: object, path: str) -> list[tuple[str, Mapping[str, Any]]]:
        """An array of tables as ``(path, table)`` pairs; other items are problems."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(path, f"expected an array of tables ([[{path}]]), got {_show(raw)}")
            return []
        items = []
        for index, item in enumerate(raw):
            if isinstance(item, Mapping):
                items.append((f"{path}[{index}]", item))
            else:
                self.add(f"{path}[{index}]", f"expected a table, got {_show(item)}")
        return items

    def named_tables(
        self, raw: object, path: str, what: str
    ) -> list[tuple[str, str, Mapping[str, Any]]]:
        """``[path.<name>]`` tables as ``(name, path, table)``, names validated and unique."""
        seen: set[str] = set()
        result = []
        for key, value in self.table(raw, path).items():
            item_path = _child(path, str(key))
            name = self._unique(key, item_path, seen, what)
            table = self.table(value, item_path)
            if name is not None and isinstance(value, Mapping):
                result.append((name, item_path, table))
        return result

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        parent: str,
        convert: Callable[[Any], T],
        default: T,
        *,
        required: bool = False,
    ) -> T:
        """Convert ``table[key]``; a ``ValueError`` from ``convert`` becomes a problem.

        ``default`` is returned when the key is absent (a problem if
        ``required``) or invalid.
        """
        path = _child(parent, key)
        raw = table.get(key)
        if raw is None:
            if required:
                self.add(path, "required")
            return default
        try:
            return convert(raw)
        except ValueError as error:
            self.add(path, str(error))
            return default

    def strings(
        self,
        table: Mapping[str, Any],
        key: str,
        parent: str,
        convert: Callable[[str], str],
        *,
        required: bool = False,
        unique: bool = True,
    ) -> tuple[str, ...]:
        """A list of strings, each converted; problems name the item (``key[2]``)."""
        path = _child(parent, key)
        raw = table.get(key)
        if raw is None:
            if required:
                self.add(path, "required")
            return ()
        if not isinstance(raw, list):
            self.add(path, f"expected a list of strings, got {_show(raw)}")
            return ()
        if required and not raw:
            self.add(path, "must not be empty")
        values: list[str] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            item_path = f"{path}[{index}]"
            try:
                value = convert(_as_str(item))
            except ValueError as error:
                self.add(item_path, str(error))
                continue
            if unique and value.casefold() in seen:
                self.add(item_path, f"duplicate {_show(value)}")
                continue
            seen.add(value.casefold())
            values.append(value)
        return tuple(values)

    def unique_name(
        self, item: Mapping[str, Any], path: str, seen: set[str], what: str
    ) -> str | None:
        """The required ``name`` key of an array item, validated and unique."""
        raw = item.get("name")
        if raw is None:
            self.add(f"{path}.name", "required")
            return None
        return self._unique(raw, f"{path}.name", seen, what)

    def _unique(self, raw: object, path: str, seen: set[str], what: str) -> str | None:
        try:
            name = _as_name(raw)
        except ValueError as error:
            self.add(path, str(error))
            return None
        if name in seen:
            self.add(path, f'duplicate {what} "{name}" (names are case-insensitive)')
            return None
        seen.add(name)
        return name


# --------------------------------------------------------------------------- converters
# Each takes a raw TOML value and returns the clean value or raises ValueError
# with a message that ends by showing what was found.


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_show(value)}")
    return value


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_show(value)}")
    return value


def _int_between(low: int, high: int) -> Callable[[object], int]:
    def convert(value: object) -> int:
        # bool is an int subclass; "repeat = true" is still a mistake.
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {_show(value)}")
        return value

    return convert


def _as_duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "30m", got {_show(value)}')
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{error}, got {_show(value)}") from None


def _as_name(value: object) -> str:
    name = _as_str(value).lower()
    if not _NAME_RE.fullmatch(name):
        raise ValueError(
            'expected a name of lowercase letters, digits, "-" and "_" '
            f"(at most 30, starting with a letter or digit), got {_show(value)}"
        )
    return name


def _as_channel(value: str) -> str:
    if _CHANNEL_ID_RE.fullmatch(value):
        return value
    if _CHANNEL_NAME_RE.fullmatch(value) and value == value.lower():
        return value
    raise ValueError(
        f'expected a channel ID like "C0123ABCD" or a lowercase "#name", got {_show(value)}'
    )


def _as_user(value: str) -> str:
    if _USER_ID_RE.fullmatch(value) or _EMAIL_RE.fullmatch(value):
        return value
    raise ValueError(f'expected a user ID like "U0123ABCD" or an email, got {_show(value)}')


def _as_admin(value: str) -> str:
    if _USER_ID_RE.fullmatch(value) or _GROUP_ID_RE.fullmatch(value):
        return value
    raise ValueError(
        f'expected a user ID like "U0123ABCD" or a user group ID like "S0123ABCD", '
        f"got {_show(value)}"
    )


_NAMED_TARGETS = {
    "schedule": "schedule",
    "pagerduty": "PagerDuty service",
    "opsgenie": "Opsgenie team",
}


def _target_converter(
    schedule_names: frozenset[str] | None,
    provider_names: Mapping[str, frozenset[str] | None] | None = None,
) -> Callable[[str], str]:
    """Escalation targets: users, user groups, emails, ``schedule:<name>``,
    ``pagerduty:<service>`` or ``opsgenie:<team>``."""
    declared = {"schedule": schedule_names, **(provider_names or {})}

    def convert(value: str) -> str:
        prefix, sep, rest = value.partition(":")
        kind = prefix.lower()
        if sep and kind in _NAMED_TARGETS:
            name = rest.strip().lower()
            known = declared.get(kind, frozenset())
            if known is not None and name not in known:
                raise ValueError(_unknown(_NAMED_TARGETS[kind], name, known))
            return f"{kind}:{name}"
        if _USER_ID_RE.fullmatch(value) or _GROUP_ID_RE.fullmatch(value):
            return value
        if _EMAIL_RE.fullmatch(value):
            return value
        raise ValueError(
            'expected a user ID ("U…"), a user group ID ("S…"), an email, "schedule:<name>", '
            f'"pagerduty:<service>" or "opsgenie:<team>", got {_show(value)}'
        )

    return convert


def _as_action(value: str) -> str:
    action = value.lower()
    if action in RESTRICTABLE_ACTIONS:
        return action
    raise ValueError(_unknown("action", value, sorted(RESTRICTABLE_ACTIONS), label="valid"))


def _as_template(value: object) -> str:
    """A channel-name template: known placeholders only, ``{number}`` required."""
    template = _as_str(value)
    try:
        fields = [
            (name, conversion)
            for _, name, _, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:
        raise ValueError(f"invalid template ({error}), got {_show(template)}") from None
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
        sample = template.format_map(_TEMPLATE_SAMPLES)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"cannot be filled in ({error}), got {_show(template)}") from None
    if not _CHANNEL_NAME_CHARS_RE.fullmatch(sample):
        raise ValueError(
            f"renders as {_show(sample)}, but channel names may only contain lowercase "
            'letters, digits, "-" and "_"'
        )
    return template


def _as_timestamp(value: object) -> datetime:
    """A TOML offset date-time or an RFC 3339 string, returned in UTC."""
    example = '"2026-01-05T09:00:00Z"'
    if isinstance(value, str):
        if not _RFC3339_RE.fullmatch(value):
            raise ValueError(f"expected a date and time like {example}, got {_show(value)}")
        try:
            value = datetime.fromisoformat(value.upper())
        except ValueError:
            raise ValueError(f"not a valid date and time, got {_show(value)}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected a date and time like {example}, got {_show(value)}")
    # A rotation start without an offset would hand over at a different
    # instant depending on the server's timezone.
    if value.utcoffset() is None:
        raise ValueError(f'needs a timezone offset ("Z" or "+01:00"), got {_show(value)}')
    return value.astimezone(UTC)


def _as_reaction(value: object) -> str:
    reaction = _as_str(value).strip(":")
    if not _EMOJI_RE.fullmatch(reaction):
        raise ValueError(f'expected an emoji name like "pushpin", got {_show(value)}')
    return reaction


# --------------------------------------------------------------------------- messages


def _unknown(what: str, name: str, known: Iterable[str], *, label: str = "configured") -> str:
    names = sorted(known)
    listed = ", ".join(names) if names else "none"
    return f'unknown {what} "{name}" ({label}: {listed})'


def _child(parent: str, key: str) -> str:
    """The dotted path of ``key`` under ``parent``, quoting keys TOML would quote."""
    shown = key if _BARE_KEY_RE.fullmatch(key) else json.dumps(key, ensure_ascii=False)
    return f"{parent}.{shown}" if parent else shown


def _show(value: object) -> str:
    """A value as it would look in TOML, shortened for error messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping):
        return "a table"
    elif isinstance(value, list):
        if value and all(isinstance(item, Mapping) for item in value):
            return "an array of tables"
        text = "[" + ", ".join(_show(item) for item in value) + "]"
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
