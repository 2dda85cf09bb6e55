"""Pure alert code: source parsers, routing, group rules, pacing, config checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidentbot.alerts import rules
from incidentbot.alerts.config import AlertsConfig
from incidentbot.alerts.routing import Router
from incidentbot.alerts.sources import BadPayload, parse
from incidentbot.config import ConfigError, parse_config
from incidentbot.slack.alert_blocks import link_line, literal
from incidentbot.slack.pacing import ChannelPacer
from tests.alert_senders import am_alert, am_body, generic_body, grafana_body, pagerduty_body

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()


# -- parsers --------------------------------------------------------------------------------
def test_alertmanager_body_is_normalised() -> None:
    alert = am_alert({"alertname": "Up", "job": "api"}, annotations={"summary": "API down"})
    batch = parse("alertmanager", raw(am_body([alert], {"alertname": "Up"}, truncated=3)))
    [a] = batch.alerts
    assert (a.key, a.status, a.title) == (alert["fingerprint"], "firing", "API down")
    assert a.ends_at is None  # Go's zero time means "not ended"
    assert a.source_group and batch.truncated == 3


@pytest.mark.parametrize(
    ("kind", "body", "wanted"),
    [
        ("alertmanager", {"version": "4", "alerts": {}}, "alerts: expected an array"),
        ("alertmanager", {"alerts": []}, "version: missing"),
        ("grafana", {"version": "4", "alerts": []}, 'expected "1"'),
        ("generic", {"status": "firing", "title": "x"}, "dedup_key: missing"),
        ("generic", {"alerts": [{"status": "firing", "dedup_key": "k"}]}, "alerts[0].title"),
        ("generic", {"status": "up", "dedup_key": "k", "title": "t"}, "status"),
        ("pagerduty", {"event_action": "trigger"}, "payload: required"),
        ("pagerduty", {"event_action": "resolve"}, "dedup_key: required"),
        ("pagerduty", {"event_action": "page"}, "event_action"),
        (
            "alertmanager",
            {"version": "4", "alerts": [{"status": "firing", "labels": {"a": 1}}]},
            "alerts[0].labels.a: expected a string",
        ),
        (
            "alertmanager",
            {"version": "4", "alerts": [{"status": "firing", "labels": {}, "startsAt": "soon"}]},
            "startsAt",
        ),
    ],
)
def test_bad_bodies_name_the_problem(kind: str, body: dict[str, Any], wanted: str) -> None:
    with pytest.raises(BadPayload) as error:
        parse(kind, raw(body))
    assert wanted in str(error.value)


def test_other_kinds() -> None:
    [g] = parse("grafana", raw(grafana_body([am_alert({"alertname": "G"})]))).alerts
    assert g.links["silence_url"].startswith("http://grafana") and "dashboard_url" in g.links
    many = parse("generic", raw({"alerts": [generic_body("a", "A"), generic_body("b", "B")]}))
    assert [a.key for a in many.alerts] == ["a", "b"]
    [pd] = parse("pagerduty", raw(pagerduty_body("k", "Disk full"))).alerts
    assert (pd.key, pd.title, pd.labels["severity"]) == ("k", "Disk full", "critical")
    assert parse("pagerduty", raw(pagerduty_body("k", "", "acknowledge"))).ignored == 1


def test_long_keys_are_hashed_and_values_cut() -> None:
    body = generic_body("k" * 500, "t" * 20_000)
    [a] = parse("generic", raw(body)).alerts
    assert a.key.startswith("sha256:") and len(a.key) <= 200 and len(a.title) == 8000


# -- routing ----------------------------------------------------------------------------------
def config(**alerts: Any) -> AlertsConfig:
    return parse_config({"alerts": alerts}, "test").alerts


def test_first_match_wins_with_anchored_regexes() -> None:
    router = Router(
        config(
            routes=[
                {"name": "staging", "match_re": {"env": "staging|dev"}, "action": "drop"},
                {"name": "pay", "match": {"team": "payments"}, "group_by": ["alertname"]},
                {"name": "pay-too", "match": {"team": "payments"}},
            ]
        )
    )
    assert router.route({"env": "staging"}).name == "staging"
    assert router.route({"env": "staging-eu"}).name == "default"  # anchored: not a prefix
    assert router.route({"env": "xdev"}).name == "default"
    assert router.route({"team": "payments", "env": "dev"}).name == "staging"
    assert router.route({"team": "payments"}).name == "pay"


def test_group_keys() -> None:
    router = Router(config(routes=[{"name": "by", "match": {"t": "1"}, "group_by": ["alertname"]}]))
    a = parse("alertmanager", raw(am_body([am_alert({"alertname": "X", "t": "1"})], {}))).alerts[0]
    b = parse("generic", raw(generic_body("k", "T"))).alerts[0]
    assert router.place(a).group_key == "by:alertname='X'"
    assert router.place(b).group_key == "alert:k"  # no group_by, no source group: the alert


# -- rules ------------------------------------------------------------------------------------
def state(**overrides: Any) -> rules.GroupState:
    base: dict[str, Any] = dict(
        status="firing",
        firing=1,
        flapping=False,
        transitions=(),
        silenced=False,
        acked=False,
        storm=False,
        drop=False,
        posted=True,
    )
    return rules.GroupState(**{**base, **overrides})


def apply(s: rules.GroupState, **delta: Any) -> rules.Outcome:
    return rules.apply(
        s, rules.Delta(**delta), now=NOW, flap_threshold=3, flap_window=timedelta(minutes=30)
    )


@pytest.mark.parametrize(
    ("overrides", "delta", "notify", "suppressed"),
    [
        ({}, {"repeats": 3}, False, {"repeat": 3}),  # repeats notify nobody
        ({}, {"new": 2}, True, {}),  # growth: edit and digest
        ({"silenced": True}, {"new": 2}, False, {"silence": 2}),
        ({"drop": True}, {"new": 1}, False, {"drop": 1}),
        ({"storm": True}, {"new": 1}, False, {"storm": 1}),
        ({"acked": True}, {"new": 1}, True, {"acked": 1}),  # kept current, no digest
        ({}, {"resolved": 1}, True, {}),
    ],
)
def test_who_is_told(
    overrides: dict[str, Any], delta: dict[str, Any], notify: bool, suppressed: dict[str, int]
) -> None:
    outcome = apply(state(**overrides), **delta)
    assert outcome.notify is notify and outcome.suppressed == suppressed
    if overrides.get("acked"):
        assert outcome.digest == {}


def test_flapping_after_threshold_changes_then_quiet() -> None:
    s = state(transitions=(NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)))
    outcome = apply(s, resolved=1)
    assert outcome.flapping and outcome.became_flapping and outcome.notify
    quiet = apply(
        state(status="resolved", firing=0, flapping=True, transitions=outcome.transitions), new=1
    )
    assert quiet.flapping and not quiet.notify and quiet.suppressed == {"flap": 1}
    old = state(transitions=(NOW - timedelta(hours=2),) * 5)
    assert not apply(old, resolved=1).flapping  # outside the window


def test_edit_and_digest_pacing() -> None:
    assert rules.next_edit_at(NOW, NOW) == NOW + rules.EDIT_EVERY
    assert rules.next_edit_at(None, NOW) == NOW
    assert rules.next_digest_at(NOW - timedelta(minutes=6), timedelta(minutes=5), NOW) == NOW
    assert not rules.digest_worth_posting({"repeats": 9})


# -- views, pacing, config --------------------------------------------------------------------
def test_untrusted_text_is_literal_and_links_are_safe() -> None:
    assert "<!channel>" not in literal("<!channel> *hi*", 100)
    assert link_line({"url": "https://ok.example/a?b=1&c=2"}) == (
        "<https://ok.example/a?b=1&amp;c=2|Source>"
    )
    assert link_line({"url": "javascript:alert(1)", "runbook_url": "https://x|<!here>"}) == ""


def test_pacer_allows_a_burst_then_one_per_second() -> None:
    clock = [0.0]
    pacer = ChannelPacer(rate=1.0, burst=3, now=lambda: clock[0], sleep=lambda s: None)
    waits = [pacer.reserve("C1") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert pacer.reserve("C2") == 0.0  # per channel


def test_config_problems_are_named() -> None:
    data = {
        "alerts": {
            "bogus": 1,
            "sources": [{"name": "p", "kind": "generic", "token_env": "T_ENV"}],
            "routes": [
                {"name": "x", "action": "page"},
                {"name": "r", "severity": "sev9", "escalation": "nope"},
            ],
        }
    }
    with pytest.raises(ConfigError) as error:
        parse_config(data, "test", env={})
    problems = "\n".join(error.value.problems)
    assert 'alerts.routes["x"]' in problems and "needs escalation" in problems
    assert 'alerts.routes["r"].severity: unknown severity "sev9"' in problems
    assert 'alerts.routes["r"].escalation: unknown escalation path "nope"' in problems
    assert "alerts.bogus: unknown key" in problems
    assert 'alerts.sources["p"].token_env: environment variable T_ENV is not set' in problems
    ok = {"alerts": {"sources": data["alerts"]["sources"]}}
    assert parse_config(ok, "test", env={"T_ENV": "x"}).alerts.sources[0].name == "p"
