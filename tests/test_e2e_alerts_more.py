"""More alerts end to end: Resolve button, edit pacing, silence expiry, linked digests,
Grafana's HMAC signature and Alertmanager's max_alerts."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.alert_senders import AlertmanagerSender, am_alert, am_body, grafana_body, post
from tests.conftest import Bot
from tests.test_e2e_alerts import CONFIG, TOKEN, groups, thread, tick, top_level, url, web_alert

SECRET = "grafana-hmac-secret"


@pytest.fixture
def bot(make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("ALERTS_TOKEN_TEST", TOKEN)
    monkeypatch.setenv("GRAFANA_SECRET_TEST", SECRET)
    config: dict[str, Any] = json.loads(json.dumps(CONFIG))
    config["alerts"]["sources"].append(
        {
            "name": "signed",
            "kind": "grafana",
            "token_env": "ALERTS_TOKEN_TEST",
            "hmac_secret_env": "GRAFANA_SECRET_TEST",
        }
    )
    b = make_bot(config)
    b.standin.add_channel("alerts", channel_id="C0ALERTS", members=["U0ALICE", "U0BOB"])
    return b


def message(bot: Bot) -> Any:
    [m] = top_level(bot)
    return bot.standin.find_message("C0ALERTS", m.ts)


def test_resolve_button_resolves_every_alert_of_the_group(bot: Bot) -> None:
    alerts = [am_alert(web_alert("NoResolve", i)) for i in "ab"]
    post(url(bot), am_body(alerts, {}), TOKEN)
    tick(bot)
    bot.action("alerts.resolve", user="U0ALICE", channel="C0ALERTS", message_ts=message(bot).ts)
    tick(bot, 6)
    assert "RESOLVED" in str(message(bot).blocks)
    [group] = groups(bot)
    assert (group.status, group.firing, group.resolved) == ("resolved", 0, 2)


def test_message_is_edited_at_most_once_per_5_seconds(bot: Bot) -> None:
    am = AlertmanagerSender(url(bot))
    am.fire(web_alert("Busy", "0"))
    am.flush()
    tick(bot)
    for i in range(1, 4):  # three changes within 3 seconds
        am.fire(web_alert("Busy", str(i)))
        am.flush()
        tick(bot, 1)
    assert len(message(bot).edits) == 1
    assert "FIRING ×2" in str(message(bot).blocks)
    tick(bot, 5)
    assert len(message(bot).edits) == 2
    assert "FIRING ×4" in str(message(bot).blocks)


def test_the_message_drops_silenced_when_the_silence_ends(bot: Bot) -> None:
    post(url(bot), am_body([am_alert(web_alert("Quiet", "a"))], {}), TOKEN)
    tick(bot)
    group_id = groups(bot)[0].id
    bot.action(
        "alerts.silence",
        user="U0BOB",
        channel="C0ALERTS",
        message_ts=message(bot).ts,
        value=f"{group_id}:1h",
    )
    tick(bot, 6)
    assert "SILENCED" in str(message(bot).blocks)
    tick(bot, 3600)
    assert "SILENCED" not in str(message(bot).blocks)


def test_linked_group_changes_are_digested_in_the_incident_channel(bot: Bot) -> None:
    loud = {"summary": "<!channel> Linked"}  # untrusted: never a broadcast anywhere
    post(url(bot), am_body([am_alert(web_alert("Linked", "a"), annotations=loud)], {}), TOKEN)
    tick(bot)
    bot.action("alerts.declare", user="U0ALICE", channel="C0ALERTS", message_ts=message(bot).ts)
    [view] = bot.standin.views_for("U0ALICE")
    assert "Linked" in json.dumps(view)  # pre-filled from the group
    bot.submit(view["id"], {})
    tick(bot, 6)
    [incident] = bot.incidents()
    channel = incident.channel_id or ""
    assert f"INC-{incident.id}" in str(message(bot).blocks)
    post(url(bot), am_body([am_alert(web_alert("Linked", "b"))], {}), TOKEN)
    tick(bot, 300)
    digests = [m for m in bot.standin.messages(channel) if "+1 new firing" in (m.text or "")]
    assert len(digests) == 1
    assert [m for m in thread(bot, message(bot)) if "+1 new firing" in (m.text or "")]
    assert bot.standin.mass_mentions() == []


def test_grafana_hmac_signature(bot: Bot) -> None:
    data = json.dumps(grafana_body([am_alert(web_alert("Signed", "a"))])).encode()
    signed = hmac.new(SECRET.encode(), data, hashlib.sha256).hexdigest()
    target = url(bot, "signed")
    assert post(target, None, TOKEN, raw=data).status == 401  # unsigned
    bad = {"X-Grafana-Alerting-Signature": "0" * 64}
    assert post(target, None, TOKEN, raw=data, headers=bad).status == 401
    good = {"X-Grafana-Alerting-Signature": signed}
    assert post(target, None, TOKEN, raw=data, headers=good).status == 202
    stamp = "1764000000"
    stamped = hmac.new(SECRET.encode(), f"{stamp}:".encode() + data, hashlib.sha256).hexdigest()
    headers = {
        "X-Grafana-Alerting-Signature": stamped,
        "X-Grafana-Alerting-Signature-Timestamp": stamp,
    }
    assert post(target, None, TOKEN, raw=data, headers=headers).status == 202


def test_alertmanager_max_alerts_truncates_and_the_rest_still_groups(bot: Bot) -> None:
    am = AlertmanagerSender(url(bot), max_alerts=2)
    for i in "abc":
        am.fire(web_alert("Many", i))
    [answer] = am.flush()
    assert answer.status == 202 and answer.body["accepted"] == 2
    tick(bot)
    assert "FIRING ×2" in str(message(bot).blocks)
