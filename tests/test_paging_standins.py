"""The PagerDuty and Opsgenie stand-ins behave like the real APIs where the bot relies on it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from incidentbot.playground.paging import OpsgenieStandIn, PagerDutyStandIn
from incidentbot.providers.http import post_json


@pytest.fixture
def pd() -> Iterator[PagerDutyStandIn]:
    stand_in = PagerDutyStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def og() -> Iterator[OpsgenieStandIn]:
    stand_in = OpsgenieStandIn()
    yield stand_in
    stand_in.stop()


def trigger(key: str, **overrides: Any) -> dict[str, Any]:
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "k1",
        "payload": {"summary": "INC-1: x", "source": "incidentbot", "severity": "critical"},
    }
    return {**event, **overrides}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"routing_key": "short"}, "'routing_key' must be a 32-character string"),
        ({"routing_key": "f" * 32}, "Invalid routing key"),
        ({"event_action": "snooze"}, "'event_action' must be one of"),
        ({"payload": {"summary": "x" * 1025, "source": "s", "severity": "info"}}, "1024"),
        ({"payload": {"summary": "x", "source": "s", "severity": "sev1"}}, "'payload.severity'"),
        ({"dedup_key": "k" * 256}, "'dedup_key' must be a string of at most 255"),
    ],
)
def test_pagerduty_validates_events(
    pd: PagerDutyStandIn, overrides: dict[str, Any], error: str
) -> None:
    key = pd.add_service("payments")
    result = post_json(pd.events_url, trigger(key, **overrides), {})
    assert (result.kind, result.status) == ("rejected", 400)
    assert error in result.detail
    assert pd.accepted == []


def test_pagerduty_rate_limits_per_routing_key(pd: PagerDutyStandIn) -> None:
    pd.rate_limit = 3  # events per minute (PagerDuty's is about 120)
    one, two = pd.add_service("one"), pd.add_service("two")
    answers = [post_json(pd.events_url, trigger(one), {}).status for _ in range(4)]
    assert answers == [202, 202, 202, 429]
    assert post_json(pd.events_url, trigger(two), {}).status == 202  # another key is not limited


def test_pagerduty_alert_state_is_per_routing_key_and_dedup_key(pd: PagerDutyStandIn) -> None:
    one, two = pd.add_service("one"), pd.add_service("two")
    post_json(pd.events_url, trigger(one), {})
    post_json(pd.events_url, trigger(one), {})  # same key: appended, no second incident
    assert pd.incidents_opened() == 1
    ack = {"routing_key": two, "event_action": "acknowledge", "dedup_key": "k1"}
    assert post_json(pd.events_url, ack, {}).status == 202
    assert pd.alerts[(one, "k1")].status == "triggered" and pd.dropped == [ack]
    resolve = {"routing_key": one, "event_action": "resolve", "dedup_key": "k1"}
    post_json(pd.events_url, resolve, {})
    post_json(pd.events_url, trigger(one), {})  # after resolving, the key opens a new incident
    assert pd.incidents_opened() == 2


def get(url: str, key: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"GenieKey {key}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


def test_opsgenie_is_asynchronous_and_keeps_one_open_alert_per_alias(og: OpsgenieStandIn) -> None:
    key = og.add_account("us", teams=("DBA",))
    auth = {"Authorization": f"GenieKey {key}"}
    body = {"message": "INC-1: x", "alias": "a1", "responders": [{"name": "DBA", "type": "team"}]}
    first = post_json(f"{og.us_url}/v2/alerts", body, auth)
    assert first.status == 202 and first.body and first.body["requestId"]
    post_json(f"{og.us_url}/v2/alerts", body, auth)
    assert len(og.alerts) == 1 and og.alerts[0].count == 2
    unknown_team = {**body, "alias": "a2", "responders": [{"name": "Nope", "type": "team"}]}
    queued = post_json(f"{og.us_url}/v2/alerts", unknown_team, auth)
    assert queued.status == 202  # accepted now, failed when processed
    assert queued.body is not None
    outcome = get(f"{og.us_url}/v2/alerts/requests/{queued.body['requestId']}", key)
    assert outcome["data"]["success"] is False
    too_long = {**body, "message": "x" * 131}
    assert post_json(f"{og.us_url}/v2/alerts", too_long, auth).status == 422


def test_opsgenie_keys_belong_to_one_region(og: OpsgenieStandIn) -> None:
    eu = og.add_account("eu", teams=("DBA",))
    body = {"message": "m", "alias": "a"}
    assert (
        post_json(f"{og.us_url}/v2/alerts", body, {"Authorization": f"GenieKey {eu}"}).status == 401
    )
    assert (
        post_json(f"{og.eu_url}/v2/alerts", body, {"Authorization": f"GenieKey {eu}"}).status == 202
    )
    assert (
        post_json(f"{og.eu_url}/v2/alerts", body, {"Authorization": f"Bearer {eu}"}).status == 401
    )
