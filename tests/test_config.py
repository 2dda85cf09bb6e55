"""Tests for incidentbot.config (settings + TOML configuration) and incidentbot.durations."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import AfterValidator, ValidationError, ValidationInfo

from incidentbot.config import (
    DEFAULT_RESTRICTED,
    DEFAULT_SEVERITIES,
    DEFAULTS_SOURCE,
    ChannelsConfig,
    Config,
    ConfigError,
    EscalationLevel,
    RoleDef,
    Schedule,
    SetupError,
    load_config,
    load_settings,
    load_startup,
    parse_config,
)
from incidentbot.config_types import (
    Name,
    References,
    SecretEnv,
    Section,
    check_reference,
    problem_lines,
)
from incidentbot.durations import format_duration, parse_duration

# The example from PRODUCT.md §6, verbatim: operators copy it, so it must load.
PRODUCT_EXAMPLE = """\
[channels]
announcements = ["#incidents"]
name_template = "inc-{number}-{slug}"
private_by_default = false

[[severities]]
name = "sev1"
description = "Critical: customer-facing outage"
escalation = "primary"        # paged automatically on declare
update_every = "30m"          # IC is reminded to post a stakeholder update

[[roles]]
name = "comms_lead"
description = "Writes stakeholder updates"

[escalation.primary]          # on-call engineer -> team lead -> eng manager
repeat = 1                    # run the whole path again once if nobody acks
[[escalation.primary.levels]]
targets = ["schedule:backend-oncall"]
timeout = "5m"
[[escalation.primary.levels]]
targets = ["U0TEAMLEAD"]
timeout = "10m"
[[escalation.primary.levels]]
targets = ["manager@example.com"]
timeout = "15m"

[escalation.database]         # specialists: /incident escalate database
[[escalation.database.levels]]
targets = ["S0DBTEAM"]
timeout = "10m"

[schedules.backend-oncall]    # built-in weekly rotation
users = ["U0ALICE", "U0BOB", "U0CAROL"]
rotation = "1w"
start = "2026-01-05T09:00:00Z"

[permissions]
restricted = ["resolve", "severity", "ic"]   # only IC, Scribe and admins
admins = ["S0SRELEADS"]
"""

BOT_TOKEN = "xoxb-1111-2222-hunter2BOT"
APP_TOKEN = "xapp-1-A111-2222-hunter2APP"
SIGNING_SECRET = "0123456789abcdefhunter2SIGN"


def parse(text: str) -> Config:
    return parse_config(tomllib.loads(text), "test.toml")


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value.problems


def settings_problems(env: dict[str, str], cwd: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, cwd=cwd)
    assert caught.value.source == "environment"
    return caught.value.problems


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),  # seconds beyond a minute are kept as given
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),  # combined, largest first
        ("1h 30m", timedelta(hours=1, minutes=30)),  # what format_duration prints
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1w2d3h4m5s", timedelta(days=9, hours=3, minutes=4, seconds=5)),  # every unit
        ("  15m\n", timedelta(minutes=15)),  # surrounding whitespace
        ("0h5m", timedelta(minutes=5)),  # a zero part is fine if the total is not
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a duration"),  # empty
        ("   ", "expected a duration"),  # blank
        ("5", "expected a duration"),  # no unit
        ("m", "expected a duration"),  # no amount
        ("1.5h", "expected a duration"),  # fractions
        ("-5m", "expected a duration"),  # negative
        ("1m1h", "expected a duration"),  # wrong order
        ("5m5m", "expected a duration"),  # unit repeated
        ("5M", "expected a duration"),  # units are lower case (M could be months)
        ("1 h", "expected a duration"),  # space inside a part
        ("5 minutes", "expected a duration"),  # words
        ("\u0665m", "expected a duration"),  # non-ASCII digits
        ("0s", "longer than zero"),  # must be > 0
        ("0h0m", "longer than zero"),
        ("9999999999999w", "too long"),  # beyond timedelta's range
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_parse_duration_message_is_the_documented_one() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("soon")
    assert str(caught.value) == 'expected a duration like "90s", "5m", "1h"'


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "1m 30s"),
        (timedelta(hours=1, minutes=5), "1h 5m"),
        (timedelta(hours=1, seconds=5), "1h"),  # the unit after the largest is zero: stop
        (timedelta(days=2, hours=3, minutes=59), "2d 3h"),  # at most two units, truncated
        (timedelta(weeks=2), "2w"),
        (timedelta(days=9), "1w 2d"),
        (timedelta(milliseconds=999), "0s"),  # sub-second parts are dropped
        (timedelta(minutes=-5), "-5m"),  # e.g. "overdue by"
    ],
)
def test_format_duration(td: timedelta, expected: str) -> None:
    assert format_duration(td) == expected


@pytest.mark.parametrize("text", ["45s", "1m 30s", "1h 5m", "2d 3h", "1w 2d", "3w"])
def test_format_output_parses_back(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


# --------------------------------------------------------------------------- settings


def test_settings_http_mode_with_defaults(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    settings = load_settings(env, cwd=tmp_path)
    assert settings.bot_token.get_secret_value() == BOT_TOKEN
    assert settings.signing_secret is not None
    assert settings.signing_secret.get_secret_value() == SIGNING_SECRET
    assert settings.app_token is None
    assert not settings.socket_mode
    assert settings.api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.database_url == "sqlite:///incidentbot.db"
    assert settings.config_path is None


def test_settings_socket_mode_needs_no_signing_secret(tmp_path: Path) -> None:
    settings = load_settings(
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, cwd=tmp_path
    )
    assert settings.socket_mode
    assert settings.app_token is not None
    assert settings.app_token.get_secret_value() == APP_TOKEN
    assert settings.signing_secret is None


def test_settings_missing_everything_lists_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith("environment: 2 problems:\n")
    assert "SLACK_BOT_TOKEN" in message
    assert "SLACK_SIGNING_SECRET" in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # empty strings count as unset, so the signing secret is required again
        ({"SLACK_APP_TOKEN": "", "SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET: required"),
        ({"SLACK_BOT_TOKEN": "   "}, "SLACK_BOT_TOKEN: required"),  # blank is unset too
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, 'SLACK_BOT_TOKEN: must start with "xoxb-"'),
        ({"SLACK_BOT_TOKEN": APP_TOKEN}, "which belongs in SLACK_APP_TOKEN"),  # swapped
        ({"SLACK_APP_TOKEN": BOT_TOKEN}, 'SLACK_APP_TOKEN: must start with "xapp-"'),
        ({"PORT": "http"}, 'PORT: expected a port number from 1 to 65535, got "http"'),
        ({"PORT": "0"}, "PORT: expected a port number"),  # below range
        ({"PORT": "65536"}, "PORT: expected a port number"),  # above range
        ({"PORT": "+80"}, "PORT: expected a port number"),  # int() would accept it
        ({"PORT": "80.0"}, "PORT: expected a port number"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL: expected an http(s) URL"),
        ({"SLACK_API_URL": "ftp://slack.com/api/"}, "SLACK_API_URL: expected an http(s) URL"),
        ({"SLACK_API_URL": "https:///api/"}, "SLACK_API_URL: expected an http(s) URL"),  # no host
        ({"SLACK_API_URL": "https://x/api/?a=1"}, "without a query or fragment"),
        ({"DATABASE_URL": "incidentbot.db"}, "DATABASE_URL: expected an SQLAlchemy URL"),
        ({"DATABASE_URL": "mysql://u:p@db/x"}, 'DATABASE_URL: unsupported database "mysql"'),
        ({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL: missing the database file"),
        # two slashes would make "incidentbot.db" a host name
        ({"DATABASE_URL": "sqlite://incidentbot.db"}, '"sqlite:///incidentbot.db"'),
        ({"INCIDENTBOT_CONFIG": "missing.toml"}, "INCIDENTBOT_CONFIG: file not found:"),
        ({"INCIDENTBOT_CONFIG": "."}, "INCIDENTBOT_CONFIG: not a file:"),  # a directory
    ],
)
def test_settings_bad_values(tmp_path: Path, overrides: dict[str, str], expected: str) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET} | overrides
    problems = settings_problems(env, tmp_path)
    assert len(problems) == 1, problems
    assert expected in problems[0]


@pytest.mark.parametrize(
    "env",
    [
        # tokens in the wrong variables
        {"SLACK_BOT_TOKEN": APP_TOKEN, "SLACK_APP_TOKEN": BOT_TOKEN},
        # tokens without any known prefix
        {"SLACK_BOT_TOKEN": "hunter2BOT-no-prefix", "SLACK_APP_TOKEN": "hunter2APP-no-prefix"},
        # a database URL with a password that is not a supported database
        {"SLACK_BOT_TOKEN": "x", "DATABASE_URL": "mysql://u:hunter2DB@h/db"},
        {"SLACK_BOT_TOKEN": "x", "DATABASE_URL": "host=db password=hunter2DB"},
        # an API URL with credentials
        {"SLACK_BOT_TOKEN": "x", "SLACK_API_URL": "ftp://u:hunter2URL@proxy/"},
    ],
)
def test_settings_errors_never_show_secrets(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, cwd=tmp_path)
    message = str(caught.value)
    assert "hunter2" not in message


def test_settings_repr_hides_secrets(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "DATABASE_URL": "postgresql://u:hunter2DB@db/incidents",
    }
    assert "hunter2" not in repr(load_settings(env, cwd=tmp_path))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # plain postgres URLs get psycopg 3, the installed driver
        ("postgresql://u:p@db:5432/inc", "postgresql+psycopg://u:p@db:5432/inc"),
        ("postgres://u:p@db/inc", "postgresql+psycopg://u:p@db/inc"),  # Heroku-style alias
        ("postgresql+psycopg://u:p@db/inc", "postgresql+psycopg://u:p@db/inc"),  # unchanged
        ("postgres+psycopg://u:p@db/inc", "postgresql+psycopg://u:p@db/inc"),  # alias fixed
        ("postgresql://", "postgresql+psycopg://"),  # libpq defaults (local socket)
        ("sqlite:///incidentbot.db", "sqlite:///incidentbot.db"),  # relative file
        ("sqlite:////var/lib/incidentbot.db", "sqlite:////var/lib/incidentbot.db"),  # absolute
        ("sqlite://", "sqlite://"),  # in memory
    ],
)
def test_settings_database_url(tmp_path: Path, url: str, expected: str) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": url}
    assert load_settings(env, cwd=tmp_path).database_url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/"),  # "/" appended
        ("https://slack-gov.com/api/", "https://slack-gov.com/api/"),  # already ends in "/"
    ],
)
def test_settings_api_url(tmp_path: Path, url: str, expected: str) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": url}
    assert load_settings(env, cwd=tmp_path).api_url == expected


def test_settings_port_and_whitespace(tmp_path: Path) -> None:
    # a trailing newline from a secrets file is ignored
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN + "\n", "SLACK_SIGNING_SECRET": "s", "PORT": " 8080 "}
    settings = load_settings(env, cwd=tmp_path)
    assert settings.port == 8080
    assert settings.bot_token.get_secret_value() == BOT_TOKEN


def test_settings_finds_incidentbot_toml_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text("")
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s"}
    assert load_settings(env, cwd=tmp_path).config_path == tmp_path / "incidentbot.toml"


def test_settings_explicit_config_is_relative_to_cwd(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "bot.toml").write_text("")
    (tmp_path / "incidentbot.toml").write_text("")  # the explicit path wins
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "s",
        "INCIDENTBOT_CONFIG": "conf/bot.toml",
    }
    assert load_settings(env, cwd=tmp_path).config_path == tmp_path / "conf" / "bot.toml"


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = load_settings(
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, cwd=tmp_path
    )
    with pytest.raises(ValidationError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


# --------------------------------------------------------------------------- config: defaults


def test_config_defaults() -> None:
    config = load_config(None)
    assert config.source == DEFAULTS_SOURCE
    assert config.channels == ChannelsConfig()
    assert config.severities == DEFAULT_SEVERITIES
    assert config.severity_names == ("sev1", "sev2", "sev3", "sev4")
    assert config.default_severity == "sev3"
    assert config.status_names == ("investigating", "identified", "monitoring", "resolved")
    assert config.first_status == "investigating"
    assert config.final_status == "resolved"
    assert config.mitigated_status == "monitoring"
    assert config.role_names == ("incident_commander", "scribe")
    assert dict(config.escalation) == {}
    assert dict(config.schedules) == {}
    assert config.permissions.restricted == DEFAULT_RESTRICTED
    assert config.permissions.admins == ()
    assert config.timeline.reaction == "pushpin"
    empty = parse_config({}, "empty.toml")
    assert (empty.model_dump(), empty.source) == (config.model_dump(), "empty.toml")


def test_config_is_immutable() -> None:
    config = load_config(None)
    with pytest.raises(ValidationError, match="frozen"):
        config.default_severity = "sev1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.escalation["x"] = config.escalation.get("y")  # type: ignore[index]


def test_config_lookups() -> None:
    config = load_config(None)
    assert config.severity("SEV2") == DEFAULT_SEVERITIES[1]  # case-insensitive
    assert config.severity("sev9") is None
    assert config.role("Scribe") == RoleDef(name="scribe", description="Scribe: keeps the timeline")
    assert config.role("comms_lead") is None
    assert config.is_restricted("resolve")
    assert not config.is_restricted("update")
    with pytest.raises(ValueError, match="unknown action"):
        config.is_restricted("resovle")  # a typo must not silently mean "unrestricted"


# --------------------------------------------------------------------------- config: the example


def test_product_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "incidentbot.toml"
    path.write_text(PRODUCT_EXAMPLE)
    config = load_config(path)
    assert config.source == str(path)
    assert config.channels.announcements == ("#incidents",)
    assert config.severity_names == ("sev1",)
    assert config.default_severity == "sev1"  # the only one configured
    sev1 = config.severity("sev1")
    assert sev1 is not None
    assert sev1.escalation == "primary"
    assert sev1.update_every == timedelta(minutes=30)
    assert config.role_names == ("incident_commander", "scribe", "comms_lead")
    primary = config.escalation["primary"]
    assert primary.repeat == 1
    assert primary.levels == (
        EscalationLevel(targets=("schedule:backend-oncall",), timeout=timedelta(minutes=5)),
        EscalationLevel(targets=("U0TEAMLEAD",), timeout=timedelta(minutes=10)),
        EscalationLevel(targets=("manager@example.com",), timeout=timedelta(minutes=15)),
    )
    assert config.escalation_path("Database") == config.escalation["database"]
    assert config.escalation["database"].repeat == 0
    schedule = config.schedules["backend-oncall"]
    assert schedule.users == ("U0ALICE", "U0BOB", "U0CAROL")
    assert schedule.rotation == timedelta(weeks=1)
    assert schedule.start == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert config.permissions.restricted == frozenset({"resolve", "severity", "ic"})
    assert config.permissions.admins == ("S0SRELEADS",)
    assert not config.is_restricted("reopen")


def test_our_additions_load() -> None:
    config = parse(
        """
        default_severity = "SEV2"
        statuses = ["open", "Fixing", "watching", "closed"]
        mitigated_status = "fixing"

        [channels]
        name_template = "{date}-{severity}-{number:04d}"
        announcements = ["C0123ABCD", "G0456EFGH"]

        [[severities]]
        name = "sev1"
        announcements = ["#exec-incidents"]
        [[severities]]
        name = "sev2"

        [[roles]]
        name = "scribe"
        description = "Takes notes"
        [[roles]]
        name = "incident_commander"   # overriding without a description keeps it

        [timeline]
        reaction = ":memo:"
        """
    )
    assert config.default_severity == "sev2"
    assert config.statuses == ("open", "fixing", "watching", "closed")
    assert config.mitigated_status == "fixing"
    assert config.channels.name_template == "{date}-{severity}-{number:04d}"
    sev1 = config.severity("sev1")
    assert sev1 is not None and sev1.announcements == ("#exec-incidents",)
    assert config.roles == (
        RoleDef(name="incident_commander", description="Incident Commander: runs the response"),
        RoleDef(name="scribe", description="Takes notes"),
    )
    assert config.timeline.reaction == "memo"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a"], "a"),  # one severity: that one
        (["a", "b"], "b"),  # fewer than three: the last one
        (["a", "b", "c"], "c"),  # the third one
        (["a", "b", "c", "d", "e"], "c"),  # still the third one
    ],
)
def test_default_severity_fallback(names: list[str], expected: str) -> None:
    data = {"severities": [{"name": name} for name in names]}
    assert parse_config(data, "t").default_severity == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["open", "monitoring", "done"], "monitoring"),  # "monitoring" when configured
        (["open", "fixing", "done"], "fixing"),  # else the second-to-last
        (["open", "done"], "open"),
    ],
)
def test_mitigated_status_fallback(statuses: list[str], expected: str) -> None:
    assert parse_config({"statuses": statuses}, "t").mitigated_status == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ('"2026-01-05T09:00:00Z"', datetime(2026, 1, 5, 9, tzinfo=UTC)),  # RFC 3339 string
        ('"2026-01-05t10:00:00+01:00"', datetime(2026, 1, 5, 9, tzinfo=UTC)),  # lower-case t
        ("2026-01-05T04:00:00-05:00", datetime(2026, 1, 5, 9, tzinfo=UTC)),  # TOML datetime
        ('"2026-01-05 09:00:00.5Z"', datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_schedule_start_is_stored_in_utc(start: str, expected: datetime) -> None:
    config = parse(f'[schedules.s]\nusers = ["U0A"]\nrotation = "1d"\nstart = {start}\n')
    assert config.schedules["s"].start == expected
    assert config.schedules["s"].start.tzinfo == UTC


# --------------------------------------------------------------------------- schedules


START = datetime(2026, 1, 5, 9, tzinfo=UTC)
ROTA = Schedule(name="rota", users=("U0A", "U0B", "U0C"), rotation=timedelta(weeks=1), start=START)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (START, "U0A"),  # exactly at the start
        (START + timedelta(days=6, hours=23, minutes=59), "U0A"),  # last minute of shift 0
        (START + timedelta(weeks=1), "U0B"),  # exactly at a boundary: the next person
        (START + timedelta(weeks=2, hours=1), "U0C"),
        (START + timedelta(weeks=3), "U0A"),  # wraps around
        (START + timedelta(weeks=301), "U0B"),  # far future
        (START - timedelta(seconds=1), "U0C"),  # just before start: the shift before
        (START - timedelta(weeks=1), "U0C"),
        (START - timedelta(weeks=2), "U0B"),
        (START - timedelta(weeks=3), "U0A"),
        (datetime(2026, 1, 12, 10, tzinfo=UTC).astimezone(), "U0B"),  # any timezone works
    ],
)
def test_schedule_on_call(at: datetime, expected: str) -> None:
    assert ROTA.on_call(at) == expected


def test_schedule_on_call_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ROTA.on_call(datetime(2026, 1, 5, 9))


# --------------------------------------------------------------------------- config: problems


# Messages that many cases share, so each row stays readable.
NAME = (
    'expected a name of lowercase letters, digits, "-" and "_" '
    "(at most 30, starting with a letter or digit)"
)
CHANNEL = 'expected a channel ID like "C0123ABCD" or a lowercase "#name"'
TARGET = (
    'expected a user ID ("U…"), a user group ID ("S…"), an email, "schedule:<name>", '
    '"pagerduty:<service>" or "opsgenie:<team>"'
)
PLACEHOLDERS = "(allowed: {number}, {slug}, {severity}, {date})"
ACTIONS = (
    "(valid: escalate, ic, postmortem, reopen, resolve, role, scribe, severity, status, "
    "timeline_edit, update)"
)
BAD_DATETIME = 'expected a date and time like "2026-01-05T09:00:00Z"'
NEEDS_OFFSET = 'needs a timezone offset ("Z" or "+01:00")'
# A valid escalation level and a valid schedule (minus `start`) to build cases on.
LEVEL = '[[escalation.p.levels]]\ntargets = ["U0A"]\ntimeout = "1m"\n'
ROTATION = '[schedules.s]\nusers = ["U0A"]\nrotation = "1d"\n'
START_OK = 'start = "2026-01-05T09:00:00Z"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a typo with a close match gets a suggestion
        (
            "[channels]\nanouncements = []",
            'channels.anouncements: unknown key (did you mean "announcements"?)',
        ),
        # top level
        ("severity = []", 'severity: unknown key (did you mean "severities"?)'),
        # inside an array-of-tables item
        (
            '[[severities]]\nname = "s"\nupdate_evry = "5m"',
            'severities["s"].update_evry: unknown key (did you mean "update_every"?)',
        ),
        # an abbreviation is too short for difflib, but still gets a suggestion
        (
            '[[roles]]\nname = "r"\ndesc = "x"',
            'roles["r"].desc: unknown key (did you mean "description"?)',
        ),
        # inside a named table
        (
            "[escalation.p]\nrepeats = 1\n" + LEVEL,
            'escalation.p.repeats: unknown key (did you mean "repeat"?)',
        ),
        # inside a nested array of tables
        (
            LEVEL + 'timout = "2m"',
            'escalation.p.levels[0].timout: unknown key (did you mean "timeout"?)',
        ),
        # a misspelt required key: also reported as missing (hence `in` below)
        (
            '[schedules.s]\nuser = ["U0A"]\nrotation = "1d"\n' + START_OK,
            'schedules.s.user: unknown key (did you mean "users"?)',
        ),
        ("[permissions]\nadmin = []", 'permissions.admin: unknown key (did you mean "admins"?)'),
        # nothing close: list what is known
        ('[timeline]\nemoji = "x"', "timeline.emoji: unknown key (known keys: reaction)"),
        # keys TOML has to quote are quoted in the path too
        (
            '[channels]\n"odd key" = 1',
            'channels."odd key": unknown key '
            "(known keys: announcements, name_template, private_by_default)",
        ),
    ],
)
def test_unknown_keys(text: str, expected: str) -> None:
    assert expected in problems_of(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ---- wrong types
        ("channels = 1", "channels: expected a table, got 1"),
        (
            '[channels]\nannouncements = "#incidents"',
            'channels.announcements: expected a list of strings, got "#incidents"',
        ),
        ("[channels]\nannouncements = [1]", "channels.announcements[0]: expected a string, got 1"),
        (
            '[channels]\nprivate_by_default = "yes"',
            'channels.private_by_default: expected true or false, got "yes"',
        ),
        # a bare number where a duration string belongs (the second item)
        (
            '[[severities]]\nname = "s"\n[[severities]]\nname = "t"\nupdate_every = 30',
            'severities["t"].update_every: expected a duration like "30m", got 30',
        ),
        # [severities] instead of [[severities]]
        (
            '[severities]\nname = "s"',
            "severities: expected an array of tables ([[severities]]), got a table",
        ),
        ("severities = [1]", "severities[0]: expected a table, got 1"),
        # booleans are not numbers
        (
            "[escalation.p]\nrepeat = true\n" + LEVEL,
            "escalation.p.repeat: expected a whole number from 0 to 10, got true",
        ),
        ('escalation = "primary"', 'escalation: expected a table, got "primary"'),
        ("[escalation]\np = 1", "escalation.p: expected a table, got 1"),
        (
            '[escalation.p.levels]\ntargets = ["U0A"]\ntimeout = "1m"',
            "escalation.p.levels: expected an array of tables ([[escalation.p.levels]]), "
            "got a table",
        ),
        # ---- channels
        # a name without "#", an upper-case name, surrounding space, a user ID
        (
            '[channels]\nannouncements = ["incidents"]',
            f'channels.announcements[0]: {CHANNEL}, got "incidents"',
        ),
        (
            '[channels]\nannouncements = ["#Incidents"]',
            f'channels.announcements[0]: {CHANNEL}, got "#Incidents"',
        ),
        (
            '[channels]\nannouncements = [" #incidents"]',
            f'channels.announcements[0]: {CHANNEL}, got " #incidents"',
        ),
        (
            '[channels]\nannouncements = ["U0123ABCD"]',
            f'channels.announcements[0]: {CHANNEL}, got "U0123ABCD"',
        ),
        ('[channels]\nannouncements = ["#a", "#a"]', 'channels.announcements[1]: duplicate "#a"'),
        # ---- channels.name_template
        (
            '[channels]\nname_template = "inc-{slug}"',
            'channels.name_template: must contain "{number}" so that every channel name is unique',
        ),
        (
            '[channels]\nname_template = "inc-{number}-{title}"',
            f'channels.name_template: unknown placeholder "{{title}}" {PLACEHOLDERS}',
        ),
        # a positional placeholder
        (
            '[channels]\nname_template = "inc-{}"',
            f'channels.name_template: unknown placeholder "{{}}" {PLACEHOLDERS}',
        ),
        (
            '[channels]\nname_template = "inc-{number!r}"',
            'channels.name_template: placeholder "{number}" cannot use a "!r" conversion',
        ),
        # unbalanced braces
        (
            '[channels]\nname_template = "inc-{number"',
            "channels.name_template: invalid template (expected '}' before end of string), "
            'got "inc-{number"',
        ),
        # a format spec that cannot apply
        (
            '[channels]\nname_template = "inc-{number}-{slug:d}"',
            "channels.name_template: cannot be filled in "
            "(Unknown format code 'd' for object of type 'str'), "
            'got "inc-{number}-{slug:d}"',
        ),
        # literal text Slack would not accept in a channel name
        (
            '[channels]\nname_template = "Incident {number}"',
            'channels.name_template: renders as "Incident 42", but channel names may only '
            'contain lowercase letters, digits, "-" and "_"',
        ),
        # ---- severities
        ("severities = []", "severities: must list at least one severity"),
        ('[[severities]]\ndescription = "x"', "severities[0].name: required"),
        ('[[severities]]\nname = "sev 1"', f'severities["sev 1"].name: {NAME}, got "sev 1"'),
        ('[[severities]]\nname = "-sev"', f'severities["-sev"].name: {NAME}, got "-sev"'),
        # names are unique case-insensitively
        (
            '[[severities]]\nname = "s"\n[[severities]]\nname = "S"',
            'severities["S"].name: duplicate severity "s" (names are case-insensitive)',
        ),
        (
            '[[severities]]\nname = "sev1"\nescalation = "primary"',
            'severities["sev1"].escalation: unknown escalation path "primary" (configured: none)',
        ),
        (
            '[[severities]]\nname = "s"\nupdate_every = "half an hour"',
            'severities["s"].update_every: expected a duration like "90s", "5m", "1h", '
            'got "half an hour"',
        ),
        (
            '[[severities]]\nname = "s"\nupdate_every = "0m"',
            'severities["s"].update_every: duration must be longer than zero, got "0m"',
        ),
        (
            '[[severities]]\nname = "s"\nannouncements = ["exec"]',
            f'severities["s"].announcements[0]: {CHANNEL}, got "exec"',
        ),
        (
            'default_severity = "sev9"',
            'default_severity: unknown severity "sev9" (configured: sev1, sev2, sev3, sev4)',
        ),
        # ---- statuses
        (
            'statuses = ["open"]',
            "statuses: needs at least two statuses (the last one is the final status)",
        ),
        ('statuses = ["open", "Open", "done"]', 'statuses[1]: duplicate "open"'),
        ('statuses = ["open", "in progress", "done"]', f'statuses[1]: {NAME}, got "in progress"'),
        (
            'mitigated_status = "resolved"',
            'mitigated_status: must not be the final status "resolved"',
        ),
        (
            'mitigated_status = "fixed"',
            'mitigated_status: unknown status "fixed" '
            "(configured: identified, investigating, monitoring, resolved)",
        ),
        # ---- roles
        (
            '[[roles]]\nname = "comms"\n[[roles]]\nname = "Comms"',
            'roles["Comms"].name: duplicate role "comms" (names are case-insensitive)',
        ),
        ('[[roles]]\nname = "comms lead"', f'roles["comms lead"].name: {NAME}, got "comms lead"'),
        # ---- escalation
        (
            "[escalation.p]\nrepeat = 0",
            "escalation.p.levels: required (at least one level with targets and a timeout)",
        ),
        ("[escalation.p]\nlevels = []", "escalation.p.levels: must have at least one level"),
        (
            "[escalation.p]\nrepeat = 11\n" + LEVEL,
            "escalation.p.repeat: expected a whole number from 0 to 10, got 11",
        ),
        (
            "[escalation.p]\nrepeat = -1\n" + LEVEL,
            "escalation.p.repeat: expected a whole number from 0 to 10, got -1",
        ),
        # the third level has nobody to page
        (
            LEVEL.replace(".p.", ".primary.") * 2
            + '[[escalation.primary.levels]]\ntargets = []\ntimeout = "5m"',
            "escalation.primary.levels[2].targets: must not be empty",
        ),
        ('[[escalation.p.levels]]\ntimeout = "5m"', "escalation.p.levels[0].targets: required"),
        ('[[escalation.p.levels]]\ntargets = ["U0A"]', "escalation.p.levels[0].timeout: required"),
        (
            '[[escalation.p.levels]]\ntargets = ["U0A"]\ntimeout = 300',
            'escalation.p.levels[0].timeout: expected a duration like "30m", got 300',
        ),
        # a bare name, a Slack-style mention, a channel ID
        (LEVEL.replace("U0A", "bob"), f'escalation.p.levels[0].targets[0]: {TARGET}, got "bob"'),
        (LEVEL.replace("U0A", "@bob"), f'escalation.p.levels[0].targets[0]: {TARGET}, got "@bob"'),
        (LEVEL.replace("U0A", "C0AB"), f'escalation.p.levels[0].targets[0]: {TARGET}, got "C0AB"'),
        (
            LEVEL.replace("U0A", "schedule:oncall"),
            'escalation.p.levels[0].targets[0]: unknown schedule "oncall" (configured: none)',
        ),
        (
            LEVEL.replace('"U0A"', '"U0A", "U0A"'),
            'escalation.p.levels[0].targets[1]: duplicate "U0A"',
        ),
        # path names follow the same rule as other names, and are case-insensitive
        (LEVEL.replace(".p.", '."on call".'), f'escalation."on call": {NAME}, got "on call"'),
        (
            LEVEL + LEVEL.replace(".p.", ".P."),
            'escalation.P: duplicate escalation path "p" (names are case-insensitive)',
        ),
        # ---- schedules
        ('[schedules.s]\nrotation = "1d"\n' + START_OK, "schedules.s.users: required"),
        (
            '[schedules.s]\nusers = []\nrotation = "1d"\n' + START_OK,
            "schedules.s.users: must not be empty",
        ),
        # user groups cannot be on call: someone specific must be
        (
            ROTATION.replace("U0A", "S0GROUP") + START_OK,
            'schedules.s.users[0]: expected a user ID like "U0123ABCD" or an email, got "S0GROUP"',
        ),
        (
            ROTATION.replace('"1d"', '"weekly"') + START_OK,
            'schedules.s.rotation: expected a duration like "90s", "5m", "1h", got "weekly"',
        ),
        ('[schedules.s]\nusers = ["U0A"]\n' + START_OK, "schedules.s.rotation: required"),
        (ROTATION, "schedules.s.start: required"),
        # no offset, as a string and as a TOML local date-time
        (
            ROTATION + 'start = "2026-01-05T09:00:00"',
            f"schedules.s.start: {NEEDS_OFFSET}, got 2026-01-05T09:00:00",
        ),
        (
            ROTATION + "start = 2026-01-05T09:00:00",
            f"schedules.s.start: {NEEDS_OFFSET}, got 2026-01-05T09:00:00",
        ),
        # a TOML date without a time
        (ROTATION + "start = 2026-01-05", f"schedules.s.start: {BAD_DATETIME}, got 2026-01-05"),
        (
            ROTATION + 'start = "next monday"',
            f'schedules.s.start: {BAD_DATETIME}, got "next monday"',
        ),
        # looks right, but there is no month 13
        (
            ROTATION + 'start = "2026-13-05T09:00:00Z"',
            'schedules.s.start: not a valid date and time, got "2026-13-05T09:00:00Z"',
        ),
        # ---- permissions
        (
            '[permissions]\nrestricted = ["resolv"]',
            f'permissions.restricted[0]: unknown action "resolv" {ACTIONS}',
        ),
        # admins are checked by ID: emails cannot be matched against Slack users here
        (
            '[permissions]\nadmins = ["alice@example.com"]',
            'permissions.admins[0]: expected a user ID like "U0123ABCD" or a user group ID '
            'like "S0123ABCD", got "alice@example.com"',
        ),
        # ---- timeline
        (
            '[timeline]\nreaction = "push pin"',
            'timeline.reaction: expected an emoji name like "pushpin", got "push pin"',
        ),
        (
            '[timeline]\nreaction = "::"',
            'timeline.reaction: expected an emoji name like "pushpin", got "::"',
        ),
    ],
)
def test_bad_values(text: str, expected: str) -> None:
    assert problems_of(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        # an empty restricted list means nothing is restricted
        "[permissions]\nrestricted = []",
        # users may repeat in a rotation: that is how someone takes more shifts
        ROTATION.replace('"U0A"', '"U0A", "U0B", "U0A"') + START_OK,
        # names are case-insensitive wherever they are referred to
        (
            '[[severities]]\nname = "SEV1"\nescalation = "Primary"\n'
            '[[escalation.primary.levels]]\ntargets = ["schedule:OnCall", "W0ENTERPRISE"]\n'
            'timeout = "1m"\n'
            '[schedules.oncall]\nusers = ["a.b@example.co.uk"]\nrotation = "12h"\n'
            'start = "2026-01-05T09:00:00+02:00"'
        ),
        # restricted actions may be written in any case; admins: users and groups
        '[permissions]\nrestricted = ["Resolve", "STATUS"]\nadmins = ["U0A", "W0B", "S0C"]',
        # non-Latin channel names exist in Slack
        '[channels]\nannouncements = ["#インシデント", "#inc_ops-2"]',
    ],
)
def test_accepted_variants(text: str) -> None:
    parse(text)


def test_references_are_normalised_to_lower_case() -> None:
    config = parse(
        '[[severities]]\nname = "SEV1"\nescalation = "Primary"\n'
        '[[escalation.Primary.levels]]\ntargets = ["schedule:OnCall"]\ntimeout = "1m"\n'
        '[schedules.OnCall]\nusers = ["U0A"]\nrotation = "1d"\nstart = "2026-01-05T09:00:00Z"\n'
        '[permissions]\nrestricted = ["Resolve"]'
    )
    assert config.severity_names == ("sev1",)
    assert config.severities[0].escalation == "primary"
    assert config.escalation["primary"].levels[0].targets == ("schedule:oncall",)
    assert config.schedule("ONCALL") == config.schedules["oncall"]
    assert config.permissions.restricted == frozenset({"resolve"})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(
            """
            default_sevrity = "sev1"
            [channels]
            announcements = ["incidents"]
            [[severities]]
            name = "sev1"
            escalation = "primary"
            update_every = 30
            [permissions]
            restricted = ["everything"]
            """
        )
    error = caught.value
    assert error.source == "test.toml"
    assert error.problems == [
        'default_sevrity: unknown key (did you mean "default_severity"?)',
        f'channels.announcements[0]: {CHANNEL}, got "incidents"',
        'severities["sev1"].escalation: unknown escalation path "primary" (configured: none)',
        'severities["sev1"].update_every: expected a duration like "30m", got 30',
        f'permissions.restricted[0]: unknown action "everything" {ACTIONS}',
    ]
    lines = str(error).splitlines()
    assert lines[0] == "test.toml: 5 problems:"
    assert lines[1:] == [f"  - {problem}" for problem in error.problems]


def test_a_broken_schedule_is_not_also_unknown() -> None:
    # the schedule is declared (just invalid): references to it are not "unknown"
    problems = problems_of(
        '[[escalation.p.levels]]\ntargets = ["schedule:s"]\ntimeout = "1m"\n'
        '[schedules.s]\nusers = []\nrotation = "1d"\nstart = "2026-01-05T09:00:00Z"'
    )
    assert problems == ["schedules.s.users: must not be empty"]


def test_config_error_formats_and_pickles() -> None:
    error = ConfigError("something is off", "x.toml")
    assert str(error) == "x.toml: 1 problem:\n  - something is off"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.problems, copy.source) == (["something is off"], "x.toml")


# --------------------------------------------------------------------------- config: files


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "incidentbot.toml"
    path.write_text("[channels]\nprivate_by_default = \n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert caught.value.problems == ["line 2, column 22: invalid TOML: Invalid value"]


@pytest.mark.parametrize(
    ("name", "setup", "expected"),
    [
        ("missing.toml", None, "cannot read the file: No such file or directory"),
        ("adir", "dir", "cannot read the file: Is a directory"),
        ("latin1.toml", b'[timeline]\nreaction = "caf\xe9"\n', "the file is not UTF-8 text"),
    ],
)
def test_unreadable_file(
    tmp_path: Path, name: str, setup: bytes | str | None, expected: str
) -> None:
    path = tmp_path / name
    if setup == "dir":
        path.mkdir()
    elif isinstance(setup, bytes):
        path.write_bytes(setup)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [expected]


def test_parse_config_rejects_a_non_table() -> None:
    with pytest.raises(ConfigError, match="expected a table at the top level"):
        parse_config(["x"], "t")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- named items


def test_array_items_are_named_by_their_name() -> None:
    problems = problems_of(
        '[[severities]]\nname = "sev1"\n'
        '[[severities]]\nname = "sev2"\nescalation = "nope"\n'
        '[[severities]]\ndescription = "no name"\nupdate_every = "soon"\n'
    )
    assert problems == [
        'severities["sev2"].escalation: unknown escalation path "nope" (configured: none)',
        # without a name, the position is all there is; missing keys come last
        'severities[2].update_every: expected a duration like "90s", "5m", "1h", got "soon"',
        "severities[2].name: required",
    ]


def test_items_sharing_a_name_are_named_by_position() -> None:
    # `severities["s"]` would not say which of the two is meant
    problems = problems_of('[[severities]]\nname = "s"\n[[severities]]\nname = "s"\n')
    assert problems == ['severities[1].name: duplicate severity "s" (names are case-insensitive)']


def test_problems_come_in_file_order() -> None:
    problems = problems_of(
        '[timeline]\nreaction = "push pin"\n'
        '[channels]\nprivate_by_default = "no"\n'
        '[[severities]]\nname = "a b"\n'
    )
    assert [problem.split(":")[0] for problem in problems] == [
        "timeline.reaction",
        "channels.private_by_default",
        'severities["a b"].name',
    ]


def test_a_name_key_in_a_named_table_is_unknown() -> None:
    # the table key is the name; a `name` key inside could only disagree with it
    problems = problems_of('[escalation.p]\nname = "q"\n' + LEVEL)
    assert problems == ['escalation.p.name: unknown key (the name is the table\'s: "p")']


# --------------------------------------------------------------------------- placeholders


def _env_example() -> dict[str, str]:
    path = Path(__file__).resolve().parents[1] / ".env.example"
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#") and value.strip():
            values[name.strip()] = value.strip()
    return values


def test_env_example_as_shipped_is_refused(tmp_path: Path) -> None:
    example = _env_example()
    assert example, ".env.example has placeholder values to refuse"
    problems = settings_problems(example, tmp_path)
    # one problem per placeholder, each saying it was left in
    assert len(problems) == len(example), problems
    for name, value in example.items():
        [problem] = [p for p in problems if p.startswith(f"{name}:")]
        assert f'still the placeholder "{value}" from .env.example' in problem


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-your-token-here"),
        ("SLACK_APP_TOKEN", "xapp-<app token>"),
        ("SLACK_SIGNING_SECRET", "your_signing_secret"),
    ],
)
def test_other_placeholders_are_refused_without_echoing(
    tmp_path: Path, name: str, value: str
) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, name: value}
    [problem] = settings_problems(env, tmp_path)
    assert problem.startswith(f"{name}: looks like a placeholder left in; put in ")
    assert value not in problem


# --------------------------------------------------------------------------- start-up


def _startup_problems(env: dict[str, str], cwd: Path) -> SetupError:
    with pytest.raises(SetupError) as caught:
        load_startup(env, cwd=cwd)
    return caught.value


def test_environment_and_config_problems_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text('[timeline]\nreaction = "push pin"\n')
    error = _startup_problems({"PORT": "http"}, tmp_path)
    assert [e.source for e in error.errors] == ["environment", "incidentbot.toml"]
    assert str(error).splitlines() == [
        "environment: 3 problems:",
        '  - SLACK_BOT_TOKEN: required (the bot token, starts with "xoxb-")',
        "  - SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN to use "
        "Socket Mode)",
        '  - PORT: expected a port number from 1 to 65535, got "http"',
        "incidentbot.toml: 1 problem:",
        '  - timeline.reaction: expected an emoji name like "pushpin", got "push pin"',
    ]


def test_explicit_config_is_read_despite_environment_problems(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "bot.toml").write_text('default_severity = "sev9"\n')
    error = _startup_problems({"INCIDENTBOT_CONFIG": "conf/bot.toml"}, tmp_path)
    assert [e.source for e in error.errors] == ["environment", "conf/bot.toml"]
    assert error.errors[1].problems == [
        'default_severity: unknown severity "sev9" (configured: sev1, sev2, sev3, sev4)'
    ]


def test_a_missing_config_file_is_one_environment_problem(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    error = _startup_problems(env | {"INCIDENTBOT_CONFIG": "gone.toml"}, tmp_path)
    assert [(e.source, len(e.problems)) for e in error.errors] == [("environment", 1)]


def test_startup_loads_both(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text(PRODUCT_EXAMPLE)
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}
    settings, config = load_startup(env, cwd=tmp_path)
    assert settings.socket_mode
    assert config.source == "incidentbot.toml"
    assert config.severity_names == ("sev1",)


README_BROKEN_CONFIG = """\
[[severities]]
name = "sev1"
escalation = "primray"
update_evry = "30m"

[[escalation.primary.levels]]
targets = ["U0ONCALL"]
timeout = "5m"
"""


def test_readme_startup_example_is_what_the_bot_prints(tmp_path: Path) -> None:
    # The situation README describes, run for real: `.env` copied from
    # `.env.example` unedited, and a config with a wrong path and a typo.
    root = Path(__file__).resolve().parents[1]
    (tmp_path / ".env").write_text((root / ".env.example").read_text())
    (tmp_path / "incidentbot.toml").write_text(README_BROKEN_CONFIG)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, str(root / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    readme = (root / "README.md").read_text()
    block = re.search(r"```\n(incidentbot cannot start:\n.*?)```", readme, re.DOTALL)
    assert block is not None
    assert result.stderr == block.group(1)


# --------------------------------------------------------------------------- references


class _Route(Section):
    """A stand-in for a section that refers to severities (as [alerts] routes do)."""

    severity: Annotated[Name, AfterValidator(lambda v, info: _known("severity", v, info))]


def _known(kind: str, value: str, info: ValidationInfo) -> str:
    check_reference(kind, value, info)
    return value


@pytest.mark.parametrize(
    ("data", "severity", "problem"),
    [
        ({}, "SEV2", None),  # no [[severities]]: the built-in ones are declared
        ({}, "sev9", 'unknown severity "sev9" (configured: sev1, sev2, sev3, sev4)'),
        ({"severities": [{"name": "P1"}, {"name": "p2"}]}, "p1", None),
        ({"severities": [{"name": "P1"}]}, "sev1", 'unknown severity "sev1" (configured: p1)'),
        # a malformed declaring table: its own problem is reported, not this one
        ({"severities": {"name": "p1"}}, "sev1", None),
    ],
)
def test_sections_check_references_against_declared_names(
    data: dict[str, object], severity: str, problem: str | None
) -> None:
    references = References.declared(
        data, Config.DECLARING_TABLES, {"severity": ["sev1", "sev2", "sev3", "sev4"]}
    )
    context = {"references": references}
    if problem is None:
        assert _Route.model_validate({"severity": severity}, context=context)
        return
    with pytest.raises(ValidationError) as caught:
        _Route.model_validate({"severity": severity}, context=context)
    assert problem_lines(caught.value, {"severity": severity}, _Route) == [f"severity: {problem}"]


def test_references_carry_the_environment_only_when_given() -> None:
    # Sections whose *_env keys name variables check them only against a real environment.
    assert References.declared({}, Config.DECLARING_TABLES).env is None
    references = References.declared({}, Config.DECLARING_TABLES, env={"PD_KEY": "k"})
    assert references.env == {"PD_KEY": "k"}


class _Source(Section):
    """A stand-in for a section naming a secret's variable (as [alerts] sources do)."""

    token_env: SecretEnv


@pytest.mark.parametrize(
    ("env", "token_env", "problem"),
    [
        (None, "ANY_NAME", None),  # validated without an environment: not checked
        ({"TOKEN": "s3cret"}, "TOKEN", None),
        ({"TOKEN": " \n"}, "TOKEN", "token_env: environment variable TOKEN is not set (or empty)"),
        ({}, "TOKEN", "token_env: environment variable TOKEN is not set (or empty)"),
        (
            {},
            "not a name",
            'token_env: expected an environment variable name like "PD_ROUTING_KEY", '
            'got "not a name"',
        ),
    ],
)
def test_secret_env_keys_name_a_set_variable(
    env: dict[str, str] | None, token_env: str, problem: str | None
) -> None:
    data = {"token_env": token_env}
    context = {"references": References.declared({}, {}, env=env)}
    if problem is None:
        assert _Source.model_validate(data, context=context).token_env == token_env
        return
    with pytest.raises(ValidationError) as caught:
        _Source.model_validate(data, context=context)
    assert problem_lines(caught.value, data, _Source) == [problem]
    assert "s3cret" not in problem
