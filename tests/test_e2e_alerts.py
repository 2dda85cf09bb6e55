"""End-to-end alerts in (PRODUCT.md §9) through `POST /alerts/<source>` on the running bot.

Senders post over HTTP like Alertmanager, Grafana and generic webhooks do; the
Slack stand-in records what people would see; the database what was stored.
Time is a `FakeClock`: notification timers fire with `runtime.timers.run_due()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, func, select

from incidentbot.store.models import AlertEvent, AlertGroup, AlertRecord
from tests.alert_senders import (
    AlertmanagerSender,
    am_alert,
    am_body,
    generic_body,
    grafana_body,
    pagerduty_body,
    post,
)
from tests.conftest import Bot

TOKEN = "test-alerts-token"

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "severities": [
        {"name": "sev1", "description": "Critical"},
        {"name": "sev2", "description": "Major"},
    ],
    "escalation": {
        "oncall": {
            "levels": [
                {"targets": ["U0BOB"], "timeout": "5m"},
                {"targets": ["U0CAROL"], "timeout": "5m"},
            ]
        }
    },
    "alerts": {
        "channel": "#alerts",
        "group_wait": "10s",
        "digest_every": "5m",
        "reopen_window": "30m",
        "flap_threshold": 4,
        "flap_window": "30m",
        "max_new_groups_per_minute": 5,
        "sources": [
            {"name": "prom", "kind": "alertmanager", "token_env": "ALERTS_TOKEN_TEST"},
            {"name": "grafana", "kind": "grafana", "token_env": "ALERTS_TOKEN_TEST"},
            {"name": "hooks", "kind": "generic", "token_env": "ALERTS_TOKEN_TEST"},
            {"name": "pd", "kind": "pagerduty", "token_env": "ALERTS_TOKEN_TEST"},
        ],
        "routes": [
            {"name": "drop-staging", "match_re": {"env": "staging|dev"}, "action": "drop"},
            {
                "name": "payments",
                "match": {"team": "payments"},
                "group_by": ["alertname", "service"],
                "action": "declare",
                "severity": "sev2",
                "channel": "#payments-alerts",
            },
            {
                "name": "db",
                "match": {"team": "db"},
                "group_by": ["alertname"],
                "action": "page",
                "escalation": "oncall",
            },
            {
                "name": "web",
                "match": {"team": "web"},
                "group_by": ["alertname"],
                "action": "triage",
                "escalation": "oncall",
                "ack_within": "15m",
            },
        ],
    },
}


@pytest.fixture
def bot(make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    b = make_bot(CONFIG)
    b.standin.add_channel("alerts", channel_id="C0ALERTS", members=["U0ALICE", "U0BOB"])
    b.standin.add_channel("payments-alerts", channel_id="C0PAYALERTS", members=["U0ALICE"])
    return b


def url(bot: Bot, source: str = "prom") -> str:
    return f"{bot.url}/alerts/{source}"


def tick(bot: Bot, seconds: float = 11) -> None:
    """Move time on and fire what came due (what the scheduler's poll does)."""
    bot.clock.advance(seconds=seconds)
    bot.runtime.timers.run_due()
    bot.wait()


def top_level(bot: Bot, channel: str = "C0ALERTS") -> list[Any]:
    return [m for m in bot.standin.messages(channel, include_threads=False)]


def thread(bot: Bot, message: Any, channel: str = "C0ALERTS") -> list[Any]:
    return [m for m in bot.standin.thread(channel, message.ts) if m.ts != message.ts]


def groups(bot: Bot) -> list[AlertGroup]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(AlertGroup).order_by(AlertGroup.id)).all())


def count(bot: Bot, model: Any) -> int:
    with Session(bot.runtime.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def web_alert(name: str, instance: str, **labels: str) -> dict[str, str]:
    return {"alertname": name, "instance": instance, "team": "web", **labels}


# -- triage: one message per group, repeats notify nobody, growth edits in place ------------
def test_a_group_is_one_message_and_repeats_notify_nobody(bot: Bot) -> None:
    am = AlertmanagerSender(url(bot))
    am.fire(web_alert("HighLatency", "a"), {"summary": "Checkout p99 above 2s"})
    am.fire(web_alert("HighLatency", "b"))
    answers = am.flush()
    assert answers[0].status == 202, answers[0].body
    assert answers[0].body["accepted"] == 2
    assert top_level(bot) == []  # group_wait: a burst becomes one message
    tick(bot)
    [message] = top_level(bot)
    assert "FIRING ×2" in str(message.blocks)
    assert "Checkout p99 above 2s" in str(message.blocks)
    for _ in range(3):  # Alertmanager resends the whole group every group_interval
        am.flush()
        tick(bot)
    assert len(top_level(bot)) == 1
    assert message.edits == [] and thread(bot, message) == []
    am.fire(web_alert("HighLatency", "c"))
    am.flush()
    tick(bot)
    [message] = top_level(bot)
    assert "FIRING ×3" in str(message.blocks) and len(message.edits) == 1
    assert thread(bot, message) == []  # at most one digest per digest_every (5m)
    tick(bot, 300)
    [digest] = thread(bot, message)
    assert "+1 new firing" in digest.text
    assert count(bot, AlertRecord) == 3


def test_resolve_then_reopen_within_the_window_reuses_the_message(bot: Bot) -> None:
    am = AlertmanagerSender(url(bot))
    labels = web_alert("DiskFull", "a")
    am.fire(labels)
    am.flush()
    tick(bot)
    am.resolve(labels)
    am.flush()
    tick(bot)
    [message] = top_level(bot)
    assert "RESOLVED" in str(message.blocks)
    assert groups(bot)[0].status == "resolved"
    bot.clock.advance(minutes=10)
    am.fire(labels)
    am.flush()
    tick(bot)
    [message] = top_level(bot)
    assert "FIRING ×1" in str(message.blocks)
    [group] = groups(bot)
    with Session(bot.runtime.engine) as session:
        occurrences = session.exec(select(AlertRecord.occurrence)).all()
    assert sorted(occurrences) == [1, 2]  # the same key firing again is a new occurrence
    assert group.status == "firing"
    # After the reopen window a new firing is a new group and a new message.
    am.resolve(labels)
    am.flush()
    tick(bot)
    bot.clock.advance(minutes=31)
    am.fire(labels)
    am.flush()
    tick(bot)
    assert len(top_level(bot)) == 2 and len(groups(bot)) == 2


def test_flapping_group_notifies_once_then_stays_quiet(bot: Bot) -> None:
    am = AlertmanagerSender(url(bot))
    labels = web_alert("Flappy", "a")
    am.fire(labels)
    am.flush()
    tick(bot)
    for _ in range(3):
        am.resolve(labels)
        am.flush()
        tick(bot, 6)
        am.fire(labels)
        am.flush()
        tick(bot, 6)
    [message] = top_level(bot)
    assert "flapping" in str(message.blocks)
    notices = [m for m in thread(bot, message) if "flapping" in (m.text or "")]
    assert len(notices) == 1
    edits = len(message.edits)
    for _ in range(3):
        am.resolve(labels)
        am.flush()
        tick(bot, 6)
        am.fire(labels)
        am.flush()
        tick(bot, 6)
    assert len(message.edits) == edits
    [group] = groups(bot)
    assert group.flapping and group.paging in (None, "armed", "done")


# -- bad input and auth ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        (b"{not json", "body: not valid JSON"),  # malformed JSON
        (b'{"version": "3", "alerts": []}', "version"),  # wrong version
        (b'{"version": "4"}', "alerts: expected an array"),  # missing alerts
        (b'{"version": "4", "alerts": [{"status": "firing"}]}', "alerts[0].labels"),
        (b'{"version": "4", "alerts": [{"labels": {}, "status": "burning"}]}', "status"),
    ],
)
def test_bad_bodies_are_400_naming_the_problem_and_store_nothing(
    bot: Bot, body: bytes, wanted: str
) -> None:
    answer = post(url(bot), None, TOKEN, raw=body)
    assert answer.status == 400 and wanted in answer.body["error"]
    assert count(bot, AlertRecord) == 0 and count(bot, AlertGroup) == 0


def test_a_hundred_thousand_labels_is_refused(bot: Bot) -> None:
    labels = {f"l{i}": "x" for i in range(100_000)}
    answer = post(url(bot), am_body([am_alert(labels)], {}), TOKEN)
    assert answer.status == 400 and "at most 200" in answer.body["error"]
    assert count(bot, AlertRecord) == 0


def test_auth_unknown_source_and_size(bot: Bot) -> None:
    body = am_body([am_alert(web_alert("X", "a"))], {"alertname": "X"})
    assert post(url(bot), body, None).status == 401
    assert post(url(bot), body, "wrong-token").status == 401
    assert post(url(bot), body, TOKEN + "x").status == 401
    assert post(url(bot, "nope"), body, TOKEN).status == 404
    big = b'{"version": "4", "alerts": [' + b" " * (5 * 1024 * 1024) + b"]}"
    assert post(url(bot), None, TOKEN, raw=big).status == 413
    assert count(bot, AlertRecord) == 0


def test_label_text_is_shown_literally(bot: Bot) -> None:
    labels = web_alert("<!channel> *bold* <@U0BOB>", "a")
    annotations = {"summary": "<!here> db & *cache* `down` <http://evil|click>"}
    post(url(bot), am_body([am_alert(labels, annotations=annotations)], {}), TOKEN)
    tick(bot)
    [message] = top_level(bot)
    assert bot.standin.mass_mentions() == []
    shown = str(message.blocks)
    assert "<!here>" not in shown and "<!channel>" not in shown and "<@U0BOB>" not in shown
    assert "&lt;!here&gt;" in shown


# -- actions -------------------------------------------------------------------------------
def test_drop_route_stores_and_counts_but_shows_nothing(bot: Bot) -> None:
    body = am_body([am_alert({"alertname": "Noise", "env": "staging"})], {})
    assert post(url(bot), body, TOKEN).status == 202
    tick(bot)
    assert top_level(bot) == []
    assert count(bot, AlertRecord) == 1
    with Session(bot.runtime.engine) as session:
        reasons = session.exec(select(AlertEvent.reason).where(AlertEvent.kind == "suppressed"))
        assert "drop" in list(reasons)


def test_acknowledge_and_silence_buttons(bot: Bot) -> None:
    post(url(bot), am_body([am_alert(web_alert("CPU", "a"))], {}), TOKEN)
    tick(bot)
    [message] = top_level(bot)
    bot.action("alerts.ack", user="U0BOB", channel="C0ALERTS", message_ts=message.ts)
    tick(bot, 6)
    assert "ACKNOWLEDGED" in str(bot.standin.find_message("C0ALERTS", message.ts).blocks)
    assert groups(bot)[0].acked_by == "U0BOB"
    bot.action(
        "alerts.silence",
        user="U0BOB",
        channel="C0ALERTS",
        message_ts=message.ts,
        value=f"{groups(bot)[0].id}:4h",
    )
    tick(bot, 6)
    assert "SILENCED" in str(bot.standin.find_message("C0ALERTS", message.ts).blocks)
    # Silenced: new alerts are recorded and counted, nobody is told.
    edits = len(bot.standin.find_message("C0ALERTS", message.ts).edits)
    post(url(bot), am_body([am_alert(web_alert("CPU", "b"))], {}), TOKEN)
    tick(bot, 6)
    assert len(bot.standin.find_message("C0ALERTS", message.ts).edits) == edits


def test_ack_within_pages_when_nobody_acknowledges(bot: Bot) -> None:
    post(url(bot), am_body([am_alert(web_alert("Errors", "a"))], {}), TOKEN)
    tick(bot)
    assert _pages(bot, "U0BOB") == []
    tick(bot, 15 * 60)
    assert len(_pages(bot, "U0BOB")) == 1
    bot.action("alerts.ack", user="U0BOB", channel=_pages(bot, "U0BOB")[0].channel)
    tick(bot, 10 * 60)
    assert _pages(bot, "U0CAROL") == []  # acknowledging the page acknowledged the group
    assert groups(bot)[0].acked_by == "U0BOB"


def test_page_route_pages_level_by_level_once(bot: Bot) -> None:
    post(url(bot), am_body([am_alert({"alertname": "DBDown", "team": "db"})], {}), TOKEN)
    tick(bot)
    assert len(_pages(bot, "U0BOB")) == 1
    post(url(bot), am_body([am_alert({"alertname": "DBDown", "team": "db"})], {}), TOKEN)
    tick(bot, 5 * 60)
    assert len(_pages(bot, "U0BOB")) == 1 and len(_pages(bot, "U0CAROL")) == 1


def test_declare_route_declares_one_incident_with_no_ic(bot: Bot) -> None:
    labels = {"alertname": "PaymentsDown", "service": "api", "team": "payments"}
    body = am_body([am_alert(labels, annotations={"summary": "Payments API down"})], {})
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # duplicate deliveries at once
        answers = list(pool.map(lambda _: post(url(bot), body, TOKEN), range(4)))
    assert {a.status for a in answers} == {202}
    tick(bot)
    tick(bot)
    [incident] = bot.incidents()
    assert incident.title == "Payments API down" and incident.severity == "sev2"
    assert groups(bot)[0].incident_id == incident.id
    roles = bot.runtime.services.incidents.get(incident.id or 0).roles
    assert "incident_commander" not in roles
    texts = " ".join(m.text or "" for m in bot.standin.messages(incident.channel_id or ""))
    assert "Nobody is Incident Commander yet" in texts
    [message] = top_level(bot, "C0PAYALERTS")
    assert f"INC-{incident.id}" in str(message.blocks)


def test_declare_button_links_the_group_and_all_resolved_offers_monitoring(bot: Bot) -> None:
    labels = web_alert("Latency", "a")
    post(url(bot), am_body([am_alert(labels)], {}), TOKEN)
    tick(bot)
    [message] = top_level(bot)
    bot.action("alerts.declare", user="U0ALICE", channel="C0ALERTS", message_ts=message.ts)
    [view] = bot.standin.views_for("U0ALICE")
    bot.submit(view["id"], {})
    [incident] = bot.incidents()
    assert groups(bot)[0].incident_id == incident.id
    tick(bot, 6)
    channel = incident.channel_id or ""
    assert any("Linked alert group" in (m.text or "") for m in bot.standin.messages(channel))
    assert any(e.kind == "alerts" for e in bot.timeline(incident.id or 0))
    post(url(bot), am_body([am_alert(labels, status="resolved")], {}), TOKEN)
    tick(bot, 6)
    resolved = [m for m in bot.standin.messages(channel) if "have resolved" in (m.text or "")]
    assert len(resolved) == 1
    bot.action("alerts.move_to_monitoring", user="U0ALICE", channel=channel)
    assert bot.incident(incident.id or 0).status == "monitoring"


def test_storm_cap_rolls_new_groups_into_one_message(bot: Bot) -> None:
    alerts = [am_alert(web_alert(f"Storm{i}", "a")) for i in range(12)]
    post(url(bot), am_body(alerts, {}), TOKEN)
    tick(bot)
    tick(bot)
    messages = top_level(bot)
    storm = [m for m in messages if "Alert storm" in (m.text or "")]
    assert len(storm) == 1 and len(messages) == 6  # 5 groups, then one roll-up
    assert count(bot, AlertGroup) == 12


def test_grafana_generic_and_pagerduty_sources(bot: Bot) -> None:
    g = grafana_body([am_alert(web_alert("GrafanaAlert", "a"))])
    assert post(url(bot, "grafana"), g, TOKEN).status == 202
    assert post(url(bot, "hooks"), generic_body("k1", "Generic down"), TOKEN).status == 202
    assert post(url(bot, "pd"), pagerduty_body("pd1", "PD thing"), TOKEN).status == 202
    assert post(url(bot, "hooks"), {"status": "firing"}, TOKEN).status == 400
    tick(bot)
    texts = " ".join(m.text or "" for m in top_level(bot))
    assert "GrafanaAlert" in texts and "Generic down" in texts and "PD thing" in texts
    grafana = next(m for m in top_level(bot) if "GrafanaAlert" in (m.text or ""))
    assert "Silence in source" in str(grafana.blocks)
    assert post(url(bot, "pd"), pagerduty_body("pd1", "", "resolve"), TOKEN).status == 202
    tick(bot)
    pd = next(m for m in top_level(bot) if "PD thing" in (m.text or ""))
    assert "RESOLVED" in str(bot.standin.find_message("C0ALERTS", pd.ts).blocks)


def test_alerts_command_report_and_metrics(bot: Bot) -> None:
    post(url(bot), am_body([am_alert(web_alert("Listed", "a"))], {}), TOKEN)
    tick(bot)
    bot.command("alerts", user="U0ALICE")
    assert any("Listed" in str(r) for r in _responses(bot))
    bot.command("alerts report 7", user="U0ALICE")
    assert any("noise ratio" in str(r) for r in _responses(bot))
    reply = bot.command("alerts bogus", user="U0ALICE")
    assert "only `report`" in reply.body
    import urllib.request

    with urllib.request.urlopen(f"{bot.url}/metrics") as response:
        metrics = response.read().decode()
    assert 'incidentbot_alerts_received_total{route="web",source="prom"} 1.0' in metrics
    assert 'incidentbot_alert_notifications_total{kind="post",route="web"} 1.0' in metrics
    assert 'incidentbot_alert_groups_open{route="web"} 1.0' in metrics
    assert "incidentbot_alerts_suppressed_total" in metrics


def _pages(bot: Bot, user: str) -> list[Any]:
    return [m for m in bot.standin.dm_messages(user) if "You are paged" in (m.text or "")]


def _responses(bot: Bot) -> list[Any]:
    out: list[Any] = []
    for payloads in bot.standin.responses.values():
        out += payloads
    return out
