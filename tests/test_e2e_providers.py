"""Paging out through PagerDuty and Opsgenie, and hearing their acknowledgements back
(PRODUCT.md §10), end to end: signed Slack requests in, the real bot, the PagerDuty
and Opsgenie stand-ins over HTTP, signed webhooks back.

Time is a `FakeClock`; provider retries come due when the test moves it and calls
`deliver_due()` — what the scheduler's poll does every second in production.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from incidentbot.config import Config, parse_config
from incidentbot.playground.paging import (
    OpsgenieStandIn,
    PagerDutyStandIn,
    PagerDutyWebhookSender,
    post,
)
from incidentbot.providers.pagerduty import sign
from incidentbot.services.reports import postmortem_markdown
from incidentbot.store.models import Escalation, Page, ProviderEvent, WebhookDelivery
from tests.conftest import Bot, page_dms

PD_KEY = "incidentbot-INC-1-pagerduty-payments"
OG_KEY = "incidentbot-INC-1-opsgenie-dba"
WEBHOOK_SECRET = "pd-webhook-secret-0123456789"
OG_TOKEN = "og-webhook-token-abcdef"


@pytest.fixture
def pd() -> Iterator[PagerDutyStandIn]:
    stand_in = PagerDutyStandIn()
    yield stand_in
    stand_in.stop()
    assert stand_in.server.internal_errors == []


@pytest.fixture
def og() -> Iterator[OpsgenieStandIn]:
    stand_in = OpsgenieStandIn()
    yield stand_in
    stand_in.stop()
    assert stand_in.us.internal_errors == stand_in.eu.internal_errors == []


@pytest.fixture
def secrets(
    pd: PagerDutyStandIn, og: OpsgenieStandIn, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Every secret the bot is given, set in the environment as an operator would."""
    values = {
        "PD_PAYMENTS_ROUTING_KEY": pd.add_service("payments"),
        "PD_LEGACY_ROUTING_KEY": "0" * 32,  # well-formed, but no such integration
        "PAGERDUTY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "OPSGENIE_API_KEY": og.add_account("eu", teams=("DBA",)),
        "OPSGENIE_WEBHOOK_TOKEN": OG_TOKEN,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def make_config(
    pd: PagerDutyStandIn, og: OpsgenieStandIn, levels: list[dict[str, Any]], repeat: int = 0
) -> dict[str, Any]:
    """The TOML tables; `configured` validates them with the secrets from the environment."""
    return {
        "channels": {"announcements": ["#incidents"]},
        "severities": [
            {"name": "sev1", "description": "Critical", "escalation": "primary"},
            {"name": "sev2", "description": "Major"},
        ],
        "escalation": {"primary": {"repeat": repeat, "levels": levels}},
        "pagerduty": {
            "events_url": pd.events_url,
            "webhook_secret_env": "PAGERDUTY_WEBHOOK_SECRET",
            "services": {
                "payments": {"routing_key_env": "PD_PAYMENTS_ROUTING_KEY"},
                "legacy": {"routing_key_env": "PD_LEGACY_ROUTING_KEY"},
            },
        },
        "opsgenie": {
            "api_url": og.eu_url,  # an EU account
            "api_key_env": "OPSGENIE_API_KEY",
            "webhook_token_env": "OPSGENIE_WEBHOOK_TOKEN",
            "teams": {"dba": {"team": "DBA"}},
        },
    }


def configured(data: dict[str, Any]) -> Config:
    return parse_config(data, "test", env=os.environ)  # as load_startup does


TWO_LEVELS = [
    {"targets": ["pagerduty:payments", "U0BOB", "opsgenie:dba"], "timeout": "5m"},
    {"targets": ["U0CAROL"], "timeout": "10m"},
]


@pytest.fixture
def bot(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    og: OpsgenieStandIn,
    secrets: dict[str, str],
) -> Bot:
    b = make_bot(configured(make_config(pd, og, TWO_LEVELS)))
    pd.webhooks = PagerDutyWebhookSender(f"{b.url}/webhooks/pagerduty", [WEBHOOK_SECRET])
    og.webhook = (f"{b.url}/webhooks/opsgenie", OG_TOKEN)
    return b


def channel_texts(bot: Bot, number: int = 1) -> list[str]:
    channel = bot.incident(number).channel_id
    assert channel
    return [m.text or "" for m in bot.standin.messages(channel)]


def events(bot: Bot) -> list[ProviderEvent]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(ProviderEvent).order_by(ProviderEvent.id)).all())


def escalation_state(bot: Bot) -> str:
    with Session(bot.runtime.engine) as session:
        return session.exec(select(Escalation.state)).one()


def advance(bot: Bot, **delta: float) -> None:
    bot.clock.advance(**delta)
    bot.runtime.timers.run_due()
    assert bot.runtime.providers is not None
    bot.runtime.providers.deliver_due()
    bot.wait()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# -- paging out ------------------------------------------------------------------------
def test_paging_a_level_triggers_pagerduty_and_opsgenie_next_to_the_dm(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 Payments <!channel> & refunds down", user="U0ERIN")
    [trigger] = pd.events("trigger")
    assert trigger["dedup_key"] == PD_KEY
    assert trigger["payload"]["summary"] == "INC-1: Payments <!channel> & refunds down"
    assert trigger["payload"]["source"] == "incidentbot"
    assert trigger["payload"]["severity"] == "critical"  # first severity
    channel = bot.incident(1).channel_id
    assert trigger["links"][0]["href"].endswith(f"channel={channel}")
    alert = og.open_alert(OG_KEY)
    assert alert is not None and alert.region == "eu"
    assert alert.message.startswith("INC-1: ") and len(alert.message) <= 130
    assert alert.responders == [{"name": "DBA", "type": "team"}]
    assert alert.priority == "P1"
    assert len(page_dms(bot.standin, "U0BOB")) == 1  # the DM target, paged regardless
    [notice] = [t for t in channel_texts(bot) if t.startswith(":pager:")]
    assert "PagerDuty service `payments`" in notice and "Opsgenie team `dba`" in notice
    assert "<@U0BOB>" in notice and "Could not reach" not in notice
    assert {(e.action, e.status) for e in events(bot)} == {("trigger", "sent")}
    with Session(bot.runtime.engine) as session:
        statuses = {p.target: p.status for p in session.exec(select(Page)).all()}
    assert statuses == {"pagerduty:payments": "sent", "opsgenie:dba": "sent", "U0BOB": "sent"}
    pages = [e.text for e in bot.timeline(1) if e.kind == "page"]
    assert "Paged PagerDuty service `payments` (target `pagerduty:payments`)" in pages
    assert "Paged Opsgenie team `dba` (target `opsgenie:dba`)" in pages


def test_long_titles_are_cut_to_each_providers_limit(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 " + "x" * 2000, user="U0ERIN")
    [trigger] = pd.events("trigger")
    assert len(trigger["payload"]["summary"]) == 1024
    alert = og.open_alert(OG_KEY)
    assert alert is not None and len(alert.message) == 130
    assert trigger["payload"]["summary"].startswith("INC-1: xxx")


def test_the_key_is_stable_across_escalate_now_and_repeats(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    og: OpsgenieStandIn,
    secrets: dict[str, str],
) -> None:
    levels = [
        {"targets": ["pagerduty:payments", "opsgenie:dba"], "timeout": "5m"},
        {"targets": ["U0CAROL"], "timeout": "5m"},
    ]
    bot = make_bot(configured(make_config(pd, og, levels, repeat=2)))
    bot.command("declare sev1 Ledger drift", user="U0ERIN")
    bot.command("escalate", user="U0ERIN", channel=bot.incident(1).channel_id)  # level 2 now
    advance(bot, minutes=6)  # round 2, level 1: the providers again
    bot.command("escalate", user="U0ERIN", channel=bot.incident(1).channel_id)
    advance(bot, minutes=6)  # round 3, level 1
    triggers = pd.events("trigger")
    assert len(triggers) == 3 and {t["dedup_key"] for t in triggers} == {PD_KEY}
    assert pd.incidents_opened() == 1  # one PagerDuty incident, never a second
    assert len(og.alerts) == 1 and og.alerts[0].count == 3  # one Opsgenie alert, count bumped


def test_slack_ack_acknowledges_every_provider_paged(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("ack", user="U0BOB", channel=bot.incident(1).channel_id)
    [ack] = pd.events("acknowledge")
    assert ack["dedup_key"] == PD_KEY and "payload" not in ack
    assert pd.alerts[(ack["routing_key"], PD_KEY)].status == "acknowledged"
    alert = og.open_alert(OG_KEY)
    assert alert is not None and alert.acknowledged
    assert "Slack user U0BOB" in alert.notes[0]
    [dm] = page_dms(bot.standin, "U0BOB")
    assert "Acknowledged by <@U0BOB>" in str(dm.blocks)  # the DM is closed as usual
    assert not any("Something went wrong" in r for r in bot.replies())
    advance(bot, minutes=30)
    assert page_dms(bot.standin, "U0CAROL") == []


def test_resolving_resolves_pagerduty_and_closes_opsgenie(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("resolve Rolled back", user="U0ERIN", channel=bot.incident(1).channel_id)
    [resolve] = pd.events("resolve")
    assert resolve["dedup_key"] == PD_KEY
    assert next(iter(pd.alerts.values())).status == "resolved"
    assert og.open_alert(OG_KEY) is None and og.alerts[0].status == "closed"
    assert pd.dropped == []


def test_an_ack_before_the_trigger_went_out_cancels_the_trigger(
    bot: Bot, pd: PagerDutyStandIn
) -> None:
    pd.fail_next(500)  # the trigger waits for its retry …
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("ack", user="U0BOB", channel=bot.incident(1).channel_id)  # … and is called off
    advance(bot, minutes=1)
    assert pd.events() == []  # nobody is woken for an acknowledged incident
    trigger = next(e for e in events(bot) if e.target == "pagerduty:payments")
    assert trigger.status == "cancelled"


# -- provider failures ---------------------------------------------------------------
def test_429_then_500_is_retried_and_delivered_exactly_once(bot: Bot, pd: PagerDutyStandIn) -> None:
    pd.fail_next(429, 500)
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    assert pd.events() == []
    [notice] = [t for t in channel_texts(bot) if t.startswith(":pager:")]
    assert "HTTP 429" in notice and "retrying" in notice
    advance(bot, seconds=1)  # not yet due: back-off
    assert pd.events() == []
    advance(bot, seconds=2)  # second attempt: 500
    assert pd.events() == []
    advance(bot, seconds=5)  # third attempt: accepted
    advance(bot, seconds=60)  # and nothing more
    assert len(pd.events("trigger")) == 1
    trigger = next(e for e in events(bot) if e.target == "pagerduty:payments")
    assert (trigger.status, trigger.attempts) == ("sent", 3)
    statuses = [r["status"] for r in pd.server.requests]
    assert statuses == [429, 500, 202]


def test_a_rejected_routing_key_is_reported_and_the_other_targets_are_paged(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    og: OpsgenieStandIn,
    secrets: dict[str, str],
) -> None:
    levels = [{"targets": ["pagerduty:legacy", "U0BOB", "pagerduty:payments"], "timeout": "5m"}]
    bot = make_bot(configured(make_config(pd, og, levels)))
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    texts = channel_texts(bot)
    [failure] = [t for t in texts if t.startswith(":warning: Could not page")]
    assert "PagerDuty service `legacy` (`pagerduty:legacy`)" in failure
    assert "HTTP 400" in failure and "Invalid routing key" in failure
    assert len(page_dms(bot.standin, "U0BOB")) == 1
    assert len(pd.events("trigger")) == 1  # payments, paged regardless
    legacy = next(e for e in events(bot) if e.target == "pagerduty:legacy")
    assert (legacy.status, legacy.attempts) == ("failed", 1)  # a 400 is never retried
    advance(bot, minutes=1)
    assert sum(t.startswith(":warning: Could not page") for t in channel_texts(bot)) == 1


def test_opsgenie_eu_key_on_the_us_host_is_refused_and_reported(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    og: OpsgenieStandIn,
    secrets: dict[str, str],
) -> None:
    config = make_config(pd, og, TWO_LEVELS)
    config["opsgenie"]["api_url"] = og.us_url  # the EU account's key is unknown there
    bot = make_bot(configured(config))
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    [failure] = [t for t in channel_texts(bot) if t.startswith(":warning: Could not page")]
    assert "Opsgenie team `dba`" in failure and "HTTP 401" in failure
    assert og.alerts == []
    assert len(pd.events("trigger")) == 1


# -- back from the providers -----------------------------------------------------------
def test_pagerduty_ack_webhook_stops_the_escalation(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.clock.advance(minutes=2)
    pd.acknowledge(PD_KEY, by="Pat <!channel> *Oncall*")
    bot.wait()
    assert pd.webhooks is not None and pd.webhooks.deliveries[-1]["statuses"] == [202]
    assert escalation_state(bot) == "acknowledged"
    incident = bot.incident(1)
    assert incident.acknowledged_at is not None
    assert (incident.acknowledged_at - incident.declared_at).total_seconds() == 120  # MTTA
    [notice] = [t for t in channel_texts(bot) if "acknowledged in PagerDuty" in t]
    assert "Pat &lt;!channel&gt; *Oncall*" in notice and "<!channel>" not in notice
    assert "Escalation stopped" in notice
    alert = og.open_alert(OG_KEY)
    assert alert is not None and alert.acknowledged  # the other provider is told
    assert pd.events("acknowledge") == []  # never echoed back to where it came from
    advance(bot, minutes=30)
    assert page_dms(bot.standin, "U0CAROL") == []  # level 2 never paged
    [entry] = [e for e in bot.timeline(1) if e.source == "pagerduty"]
    assert entry.kind == "ack"
    markdown = postmortem_markdown(bot.runtime.engine, 1)
    assert "acknowledged in PagerDuty at" in markdown


def test_opsgenie_ack_webhook_stops_the_escalation(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    assert og.acknowledge(OG_KEY, by="dana@example.com") == 202
    bot.wait()
    assert escalation_state(bot) == "acknowledged"
    assert any("dana@example.com acknowledged in Opsgenie" in t for t in channel_texts(bot))
    assert pd.alerts[(pd.events()[0]["routing_key"], PD_KEY)].status == "acknowledged"
    advance(bot, minutes=30)
    assert page_dms(bot.standin, "U0CAROL") == []


def test_repeated_webhook_deliveries_act_once(bot: Bot, pd: PagerDutyStandIn) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    sender = pd.webhooks
    assert sender is not None
    alert = next(iter(pd.alerts.values()))
    alert.status = "acknowledged"
    raw = json.dumps(sender.body("incident.acknowledged", alert, agent="Pat")).encode()
    for _ in range(3):  # PagerDuty retries with the same X-Webhook-Id
        assert sender.deliver(raw, webhook_id="wh-1") == [202]
    bot.wait()
    with Session(bot.runtime.engine) as session:
        assert len(session.exec(select(WebhookDelivery)).all()) == 1
    assert sum("acknowledged in PagerDuty" in t for t in channel_texts(bot)) == 1


def test_resolution_in_pagerduty_is_announced_and_the_incident_stays_open(
    bot: Bot, pd: PagerDutyStandIn
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    pd.resolve(PD_KEY, by="Pat")
    bot.wait()
    incident = bot.incident(1)
    assert incident.resolved_at is None and incident.status == "investigating"
    [notice] = [t for t in channel_texts(bot) if "resolved by Pat" in t]
    assert "stays open" in notice and "https://acme.pagerduty.com/incidents/" in notice


def test_signature_rotation_accepts_any_listed_signature(bot: Bot, pd: PagerDutyStandIn) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    sender = PagerDutyWebhookSender(
        f"{bot.url}/webhooks/pagerduty", ["an-old-secret", WEBHOOK_SECRET], retries=0
    )
    alert = next(iter(pd.alerts.values()))
    assert sender.send("incident.acknowledged", alert) == [202]
    bot.wait()
    assert escalation_state(bot) == "acknowledged"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        # a signature made with the wrong secret
        ("/webhooks/pagerduty", {"X-PagerDuty-Signature": "SIGNED:wrong-secret"}),
        # no signature at all
        ("/webhooks/pagerduty", {}),
        # a v0 scheme PagerDuty never sends
        ("/webhooks/pagerduty", {"X-PagerDuty-Signature": "v0=abc"}),
        # a wrong Opsgenie token
        ("/webhooks/opsgenie", {"Authorization": "Bearer not-the-token"}),
        # the right token under another scheme
        ("/webhooks/opsgenie", {"Authorization": f"Basic {OG_TOKEN}"}),
    ],
)
def test_forged_webhooks_get_401_and_change_nothing(
    bot: Bot, pd: PagerDutyStandIn, og: OpsgenieStandIn, path: str, headers: dict[str, str]
) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    alert = next(iter(pd.alerts.values()))
    assert pd.webhooks is not None
    body = pd.webhooks.body("incident.acknowledged", alert, agent="Mallory")
    if path.endswith("opsgenie"):
        og_alert = og.open_alert(OG_KEY)
        assert og_alert is not None
        body = og.webhook_body("Acknowledge", og_alert, "mallory@example.com")
    raw = json.dumps(body).encode()
    if headers.get("X-PagerDuty-Signature") == "SIGNED:wrong-secret":
        headers = {"X-PagerDuty-Signature": sign(raw, "wrong-secret")}
    assert post(bot.url + path, raw, {"Content-Type": "application/json", **headers}) == 401
    bot.wait()
    assert escalation_state(bot) == "running"
    assert bot.incident(1).acknowledged_at is None
    with Session(bot.runtime.engine) as session:
        assert session.exec(select(WebhookDelivery)).all() == []
    assert not any("Mallory" in t or "mallory" in t for t in channel_texts(bot))


def test_malformed_and_foreign_webhooks(bot: Bot, pd: PagerDutyStandIn) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    raw = b'{"not": "a webhook"}'
    headers = {"X-PagerDuty-Signature": sign(raw, WEBHOOK_SECRET), "X-Webhook-Id": "w-bad"}
    assert post(f"{bot.url}/webhooks/pagerduty", raw, headers) == 400
    alert = next(iter(pd.alerts.values()))
    alert.dedup_key = "someone-elses-key"  # an incident the bot did not open
    assert pd.webhooks is not None
    assert pd.webhooks.send("incident.acknowledged", alert) == [202]
    bot.wait()
    assert escalation_state(bot) == "running"


# -- logs ----------------------------------------------------------------------------
def test_keys_tokens_and_secrets_never_appear_in_logs(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    og: OpsgenieStandIn,
    secrets: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    levels = [
        {"targets": ["pagerduty:payments", "pagerduty:legacy", "opsgenie:dba"], "timeout": "5m"}
    ]
    bot = make_bot(configured(make_config(pd, og, levels)))
    pd.fail_next(429)
    og.fail_next(503)
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    advance(bot, seconds=5)
    raw = b'{"event": {"event_type": "incident.acknowledged", "data": {}}}'
    post(f"{bot.url}/webhooks/pagerduty", raw, {"X-PagerDuty-Signature": "v1=00"})
    post(f"{bot.url}/webhooks/opsgenie", raw, {"Authorization": "Bearer guess"})
    og.webhook = (f"{bot.url}/webhooks/opsgenie", OG_TOKEN)
    og.acknowledge(OG_KEY)
    bot.command("resolve", user="U0ERIN", channel=bot.incident(1).channel_id)
    advance(bot, seconds=5)
    assert len(pd.events()) >= 2 and og.alerts  # the flow really ran
    everything = "\n".join(
        f"{r.getMessage()} {r.__dict__!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert "provider event" in everything  # the outbox logged its work …
    for name, value in secrets.items():
        assert value not in everything, f"{name} leaked into the logs"  # … never a secret
    assert repr(bot.runtime.config.pagerduty).count(secrets["PD_PAYMENTS_ROUTING_KEY"]) == 0
