"""Alert groups paging PagerDuty and Opsgenie (PRODUCT.md §9 "page", §10), end to end.

Alerts come in over HTTP like Alertmanager sends them; a `page` route's
escalation path has a `pagerduty:` (or `opsgenie:`) target; the stand-ins record
what the providers received; Slack buttons and signed provider webhooks come back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from incidentbot.playground.paging import (
    OpsgenieStandIn,
    PagerDutyStandIn,
    PagerDutyWebhookSender,
)
from tests.alert_senders import am_alert, am_body, post
from tests.conftest import Bot, page_dms
from tests.test_e2e_alerts import CONFIG, TOKEN, groups, thread, tick, top_level, url
from tests.test_e2e_providers import (
    OG_TOKEN,
    WEBHOOK_SECRET,
    configured,
    make_config,
    og,  # noqa: F401  (fixtures)
    pd,  # noqa: F401
    secrets,  # noqa: F401
)

PD_GROUP_KEY = "incidentbot-GRP-1-pagerduty-payments"
OG_GROUP_KEY = "incidentbot-GRP-1-opsgenie-dba"
DB_DOWN = {"alertname": "DBDown", "team": "db"}


def alert_bot(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,  # noqa: F811
    og: OpsgenieStandIn,  # noqa: F811
    first: list[str],
) -> Bot:
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    providers = make_config(pd, og, [])
    config["pagerduty"], config["opsgenie"] = providers["pagerduty"], providers["opsgenie"]
    config["escalation"]["oncall"]["levels"][0]["targets"] = first
    b = make_bot(configured(config))
    b.standin.add_channel("alerts", channel_id="C0ALERTS", members=["U0ALICE", "U0BOB"])
    pd.webhooks = PagerDutyWebhookSender(f"{b.url}/webhooks/pagerduty", [WEBHOOK_SECRET])
    og.webhook = (f"{b.url}/webhooks/opsgenie", OG_TOKEN)
    return b


@pytest.fixture
def bot(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,  # noqa: F811
    og: OpsgenieStandIn,  # noqa: F811
    secrets: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Bot:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    return alert_bot(make_bot, pd, og, ["pagerduty:payments", "U0BOB"])


def fire(bot: Bot, status: str = "firing") -> None:
    """Alertmanager sends DBDown (again): the group's timers run."""
    post(url(bot), am_body([am_alert(DB_DOWN, status=status)], {}), TOKEN)
    tick(bot)


def test_page_route_triggers_pagerduty_once_with_the_group_key(
    bot: Bot,
    pd: PagerDutyStandIn,  # noqa: F811
) -> None:
    fire(bot)
    [trigger] = pd.events("trigger")
    assert trigger["dedup_key"] == PD_GROUP_KEY
    assert trigger["payload"]["summary"] == "Alert group 1: DBDown"
    assert trigger["payload"]["severity"] == "warning"  # the route names no severity
    assert len(page_dms(bot.standin, "U0BOB")) == 1  # the level's person, paged regardless
    fire(bot)  # Alertmanager resends the same alert: a repeat, no new page
    tick(bot, 5 * 60)  # level 2 (a person)
    assert len(pd.events("trigger")) == 1 and pd.incidents_opened() == 1
    assert len(page_dms(bot.standin, "U0CAROL")) == 1


def test_slack_ack_then_resolution_reach_pagerduty(
    bot: Bot,
    pd: PagerDutyStandIn,  # noqa: F811
) -> None:
    fire(bot)
    [message] = top_level(bot)
    bot.action("alerts.ack", user="U0BOB", channel="C0ALERTS", message_ts=message.ts)
    [ack] = pd.events("acknowledge")
    assert ack["dedup_key"] == PD_GROUP_KEY
    assert pd.alerts[(ack["routing_key"], PD_GROUP_KEY)].status == "acknowledged"
    fire(bot, "resolved")
    [resolve] = pd.events("resolve")
    assert resolve["dedup_key"] == PD_GROUP_KEY
    assert pd.alerts[(ack["routing_key"], PD_GROUP_KEY)].status == "resolved"
    assert groups(bot)[0].status == "resolved"


def test_resolve_button_resolves_at_pagerduty(
    bot: Bot,
    pd: PagerDutyStandIn,  # noqa: F811
) -> None:
    fire(bot)
    [message] = top_level(bot)
    bot.action("alerts.resolve", user="U0ALICE", channel="C0ALERTS", message_ts=message.ts)
    [resolve] = pd.events("resolve")
    assert resolve["dedup_key"] == PD_GROUP_KEY and pd.dropped == []


def test_pagerduty_ack_webhook_acknowledges_the_group(
    bot: Bot,
    pd: PagerDutyStandIn,  # noqa: F811
) -> None:
    fire(bot)
    pd.acknowledge(PD_GROUP_KEY, by="Pat <!channel> Oncall")
    bot.wait()
    assert pd.webhooks is not None and pd.webhooks.deliveries[-1]["statuses"] == [202]
    [group] = groups(bot)
    assert group.acked_by is not None and group.acked_by.endswith(" in PagerDuty")
    tick(bot, 6)
    blocks = str(bot.standin.find_message("C0ALERTS", top_level(bot)[0].ts).blocks)
    assert "ACKNOWLEDGED* by Pat" in blocks and "in PagerDuty" in blocks
    assert "<!channel>" not in blocks
    assert pd.events("acknowledge") == []  # never echoed back
    [dm] = page_dms(bot.standin, "U0BOB")
    closed = str(bot.standin.find_message(dm.channel, dm.ts).blocks)
    assert "acknowledged by Pat &lt;!channel&gt; Oncall in PagerDuty" in closed
    tick(bot, 30 * 60)
    assert page_dms(bot.standin, "U0CAROL") == []  # level 2 never paged


def test_opsgenie_target_alias_ack_and_close(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,  # noqa: F811
    og: OpsgenieStandIn,  # noqa: F811
    secrets: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    bot = alert_bot(make_bot, pd, og, ["opsgenie:dba"])
    fire(bot)
    alert = og.open_alert(OG_GROUP_KEY)
    assert alert is not None and alert.message == "Alert group 1: DBDown"
    assert alert.priority == "P3"
    assert og.acknowledge(OG_GROUP_KEY, by="dana@example.com") == 202
    bot.wait()
    assert groups(bot)[0].acked_by == "dana@example.com in Opsgenie"
    tick(bot, 30 * 60)
    assert page_dms(bot.standin, "U0CAROL") == []
    fire(bot, "resolved")
    assert og.open_alert(OG_GROUP_KEY) is None and og.alerts[0].status == "closed"


def test_a_rejected_trigger_is_told_under_the_triage_message(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,  # noqa: F811
    og: OpsgenieStandIn,  # noqa: F811
    secrets: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    bot = alert_bot(make_bot, pd, og, ["pagerduty:legacy", "U0BOB"])
    fire(bot)
    bot.wait()
    [message] = top_level(bot)
    texts = [m.text or "" for m in thread(bot, message)]
    [failure] = [t for t in texts if t.startswith(":warning: Could not page")]
    assert "`pagerduty:legacy`" in failure
    assert len(page_dms(bot.standin, "U0BOB")) == 1


def test_triage_route_pages_pagerduty_after_ack_within_with_the_routes_severity(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,  # noqa: F811
    og: OpsgenieStandIn,  # noqa: F811
    secrets: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    providers = make_config(pd, og, [])
    config["pagerduty"], config["opsgenie"] = providers["pagerduty"], providers["opsgenie"]
    config["escalation"]["oncall"]["levels"][0]["targets"] = ["pagerduty:payments"]
    web = next(r for r in config["alerts"]["routes"] if r["name"] == "web")
    web["severity"] = "sev1"
    bot = make_bot(configured(config))
    bot.standin.add_channel("alerts", channel_id="C0ALERTS", members=["U0ALICE", "U0BOB"])
    post(url(bot), am_body([am_alert({"alertname": "Errors", "team": "web"})], {}), TOKEN)
    tick(bot)
    assert pd.events() == []  # triage: nobody is paged before ack_within
    tick(bot, 15 * 60)
    [trigger] = pd.events("trigger")
    assert trigger["dedup_key"] == PD_GROUP_KEY
    assert trigger["payload"]["severity"] == "critical"  # sev1 is the first severity
