"""Alerts are never lost or doubled: kill -9 right after a 202, and two replicas.

- `python app.py` is killed with SIGKILL right after answering 202 (before its
  group_wait is over): after restart the group is posted, exactly once.
- Two bots sharing one database receive the same Alertmanager deliveries at
  the same time (Alertmanager HA pairs each send, and load balancers spread):
  one group, one message, one incident for a declare route.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from incidentbot.playground.standin import SlackStandIn
from incidentbot.store.models import AlertGroup, AlertRecord
from tests.alert_senders import am_alert, am_body, post
from tests.conftest import Bot
from tests.test_e2e_alertmanager import WallClock
from tests.test_e2e_replicas_restart import AppProcess, free_port, wait_for

TOKEN = "durable-token"

TOML = """
[alerts]
channel = "#alerts"
group_wait = "2s"

[[alerts.sources]]
name = "prom"
kind = "alertmanager"
token_env = "ALERTS_TOKEN_PROMETHEUS"
"""


def top_level(standin: SlackStandIn, channel: str) -> list[Any]:
    return standin.messages(channel, include_threads=False)


def test_killed_right_after_202_posts_the_group_once_after_restart(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    channel = standin.add_channel("alerts", members=["U0ALICE"])
    (tmp_path / "incidentbot.toml").write_text(TOML)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": standin.api_url,
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "ALERTS_TOKEN_PROMETHEUS": TOKEN,
    }
    app = AppProcess(env, tmp_path)
    app.start()
    try:
        body = am_body([am_alert({"alertname": "Killed", "i": str(i)}) for i in range(3)], {})
        answer = post(f"{app.url}/alerts/prom", body, TOKEN)
        assert answer.status == 202 and answer.body["accepted"] == 3, answer
        app.kill()  # SIGKILL: the group_wait timer is only in the database now
        time.sleep(2.5)
        assert top_level(standin, channel) == []
        app.start()
        wait_for(lambda: len(top_level(standin, channel)) == 1, 20, "the group's message")
        time.sleep(3)  # a poll or two later: still one message
        [message] = top_level(standin, channel)
        assert "FIRING ×3" in str(message.blocks)
    finally:
        app.kill()


CONFIG: dict[str, Any] = {
    "severities": [{"name": "sev1"}, {"name": "sev2"}],
    "alerts": {
        "channel": "#alerts",
        "group_wait": "1s",
        "sources": [{"name": "prom", "kind": "alertmanager", "token_env": "ALERTS_TOKEN_DUR"}],
        "routes": [
            {"name": "pay", "match": {"team": "payments"}, "action": "declare", "severity": "sev1"}
        ],
    },
}


def test_two_replicas_receiving_the_same_alerts_make_one_group_and_one_message(
    make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTS_TOKEN_DUR", TOKEN)
    first = make_bot(CONFIG, clock=WallClock())
    second = make_bot(CONFIG, clock=WallClock())
    standin = first.standin
    channel = standin.add_channel("alerts", members=["U0ALICE"])
    stop = threading.Event()

    def hammer(bot: Bot) -> None:  # both replicas fire every due timer, all the time
        while not stop.is_set():
            bot.runtime.timers.run_due()
            time.sleep(0.01)

    threads = [threading.Thread(target=hammer, args=(b,), daemon=True) for b in (first, second)]
    for thread in threads:
        thread.start()
    web = [am_alert({"alertname": "Shared", "instance": str(i)}) for i in range(20)]
    pay = [am_alert({"alertname": "PayDown", "team": "payments"})]
    bodies = [am_body(web, {"alertname": "Shared"}), am_body(pay, {"alertname": "PayDown"})]
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            jobs = [
                pool.submit(post, f"{bot.url}/alerts/prom", body, TOKEN)
                for _ in range(4)
                for bot in (first, second)
                for body in bodies
            ]
            assert {job.result().status for job in jobs} == {202}
        wait_for(lambda: len(top_level(standin, channel)) == 2, 20, "two group messages")
        wait_for(lambda: len(first.incidents()) == 1, 20, "the incident")
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert len(top_level(standin, channel)) == 2
    assert len(first.incidents()) == 1
    with Session(first.runtime.engine) as session:
        assert session.exec(select(func.count()).select_from(AlertGroup)).one() == 2
        assert session.exec(select(func.count()).select_from(AlertRecord)).one() == 21
