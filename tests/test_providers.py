"""Provider configuration, message building and webhook verification as table tests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from incidentbot.config import ConfigError, parse_config
from incidentbot.providers import messages, opsgenie, pagerduty
from incidentbot.providers.http import Result, post_json

ENV = {"PD_KEY": "k" * 32, "PD_SECRET": "s3cret", "OG_KEY": "og-key", "OG_TOKEN": "tok"}
GOOD: dict[str, Any] = {
    "pagerduty": {
        "webhook_secret_env": "PD_SECRET",
        "services": {"Payments": {"routing_key_env": "PD_KEY"}},
    },
    "opsgenie": {
        "api_url": "https://api.eu.opsgenie.com",
        "api_key_env": "OG_KEY",
        "webhook_token_env": "OG_TOKEN",
        "teams": {"dba": {"team": "DBA"}},
    },
    "escalation": {
        "p": {"levels": [{"targets": ["PagerDuty:payments", "opsgenie:DBA"], "timeout": "5m"}]}
    },
}


def problems(data: dict[str, Any], env: dict[str, str] = ENV) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "t", env=env)
    return caught.value.problems


def test_a_good_configuration() -> None:
    config = parse_config(GOOD, "t", env=ENV)
    assert config.pagerduty is not None and config.opsgenie is not None
    assert config.pagerduty.events_url == "https://events.pagerduty.com/v2/enqueue"
    assert config.pagerduty.services["payments"].routing_key.get_secret_value() == "k" * 32
    assert config.opsgenie.api_key.get_secret_value() == "og-key"
    assert config.escalation["p"].levels[0].targets == ("pagerduty:payments", "opsgenie:dba")
    # secrets never show in a repr (logs, tracebacks)
    assert "k" * 32 not in repr(config) and "og-key" not in repr(config)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a target naming a service that is not configured
        (
            {"escalation": {"p": {"levels": [{"targets": ["pagerduty:nope"], "timeout": "5m"}]}}},
            'escalation.p.levels[0].targets[0]: unknown PagerDuty service "nope" '
            "(configured: payments)",
        ),
        # a target naming a team that is not configured
        (
            {"escalation": {"p": {"levels": [{"targets": ["opsgenie:x"], "timeout": "5m"}]}}},
            'escalation.p.levels[0].targets[0]: unknown Opsgenie team "x" (configured: dba)',
        ),
        # a malformed URL
        (
            {"opsgenie": {**GOOD["opsgenie"], "api_url": "api.opsgenie.com"}},
            'opsgenie.api_url: expected an http(s) URL like "https://api.example.com"',
        ),
        # a misspelt key
        (
            {"pagerduty": {**GOOD["pagerduty"], "event_url": "https://x"}},
            'pagerduty.event_url: unknown key (did you mean "events_url"?)',
        ),
        # a secret written into the file instead of named
        (
            {"pagerduty": {"services": {"payments": {"routing_key": "abc"}}}},
            "pagerduty.services.payments.routing_key: unknown key "
            '(did you mean "routing_key_env"?)',
        ),
        # teams without an API key
        (
            {"opsgenie": {"teams": {"dba": {"team": "DBA"}}}},
            "opsgenie.teams: teams need api_key_env, the variable holding the API key",
        ),
    ],
)
def test_bad_provider_configuration_names_the_key(change: dict[str, Any], expected: str) -> None:
    assert expected in problems({**GOOD, **change})


def test_without_an_environment_variables_are_not_checked() -> None:
    config = parse_config(GOOD, "t")  # what tests and tools building a Config do
    assert config.pagerduty is not None
    assert config.pagerduty.services["payments"].routing_key.get_secret_value() == ""


def test_missing_variables_are_named_and_never_echoed() -> None:
    found = problems(GOOD, env={"PD_SECRET": "s3cret"})
    assert (
        "pagerduty.services.Payments.routing_key_env: environment variable PD_KEY is not set "
        "(or empty)" in found
    )
    assert any(p.startswith("opsgenie.api_key_env: environment variable OG_KEY") for p in found)
    assert not any("s3cret" in p for p in found)


@pytest.mark.parametrize(
    ("position", "severity", "priority"),
    [
        (0, "critical", "P1"),
        (1, "error", "P2"),
        (2, "warning", "P3"),
        (3, "info", "P4"),
        (7, "info", "P5"),
    ],
)
def test_severity_by_position(position: int, severity: str, priority: str) -> None:
    assert messages.pd_severity(position) == severity
    assert messages.og_priority(position) == priority


def test_the_key_is_stable_per_incident_and_target() -> None:
    assert messages.dedup_key(7, "pagerduty:payments") == "incidentbot-INC-7-pagerduty-payments"
    assert messages.dedup_key(7, "opsgenie:dba") != messages.dedup_key(8, "opsgenie:dba")


RAW = b'{"event": {"event_type": "incident.acknowledged"}}'
S1, S2 = SecretStr("one"), SecretStr("two")


@pytest.mark.parametrize(
    ("header", "secrets", "ok"),
    [
        (pagerduty.sign(RAW, "one"), [S1], True),  # the plain case
        (f"v1=deadbeef, {pagerduty.sign(RAW, 'one')}", [S1], True),  # rotation: any listed
        (pagerduty.sign(RAW, "two"), [S1, S2], True),  # rotation on our side
        (pagerduty.sign(RAW, "three"), [S1, S2], False),  # wrong secret
        (pagerduty.sign(RAW + b" ", "one"), [S1], False),  # another body
        (pagerduty.sign(RAW, "one").replace("v1=", "v2="), [S1], False),  # unknown scheme
        (None, [S1], False),  # unsigned
        (pagerduty.sign(RAW, "one"), [], False),  # no secret configured: nothing is trusted
    ],
)
def test_pagerduty_signatures(header: str | None, secrets: list[SecretStr], ok: bool) -> None:
    assert pagerduty.verify_signature(RAW, header, secrets) is ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer tok", True),
        ("bearer tok", True),
        ("Bearer tok2", False),
        ("tok", False),
        (None, False),
        ("Basic tok", False),
    ],
)
def test_opsgenie_token(header: str | None, ok: bool) -> None:
    assert opsgenie.verify_token(header, SecretStr("tok")) is ok


def test_webhook_parsing() -> None:
    event = pagerduty.parse_webhook(
        {
            "event": {
                "event_type": "incident.acknowledged",
                "agent": {"summary": "Pat"},
                "data": {"incident_key": "k1", "html_url": "javascript:alert(1)"},
            }
        }
    )
    assert (event.kind, event.key, event.who, event.url) == ("acknowledged", "k1", "Pat", None)
    assert (
        pagerduty.parse_webhook({"event": {"event_type": "incident.annotated"}}).kind == "ignored"
    )
    with pytest.raises(ValueError):
        pagerduty.parse_webhook([])
    closed = opsgenie.parse_webhook({"action": "Close", "alert": {"alias": "a", "username": "u"}})
    assert (closed.kind, closed.key, closed.who) == ("resolved", "a", "u")


def test_connection_errors_are_retried() -> None:
    result = post_json("http://127.0.0.1:9/v2/enqueue", {}, {})  # nothing listens on port 9
    assert isinstance(result, Result) and result.kind == "retry" and result.status is None


def test_alert_group_key_and_text_limits() -> None:
    assert messages.group_key(12, "opsgenie:dba") == "incidentbot-GRP-12-opsgenie-dba"
    payload = messages.group_trigger_payload(
        group_id=12,
        title="Disk <!channel>\n" + "x" * 3000,
        route="db",
        severity=None,
        position=2,
        firing=3,
        step="level 1",
        message_url=None,
    )
    assert len(payload["summary"]) == 1024 and len(payload["message"]) == 130
    assert payload["summary"].startswith("Alert group 12: Disk <!channel> xxx")  # one line
    assert (payload["severity"], payload["priority"]) == ("warning", "P3")
    body = pagerduty.event_body("k" * 32, "trigger", "incidentbot-GRP-12-pagerduty-p", payload)
    assert "links" not in body  # no triage message link yet: nothing to link
