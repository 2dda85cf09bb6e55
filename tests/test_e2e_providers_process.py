"""Provider events survive crashes and replicas: a bot killed (`kill -9`) after the
paging transaction committed but before PagerDuty took the event delivers it once
after restart; two bots sharing one database send one trigger between them.
These run on the real clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from incidentbot.config import parse_config
from incidentbot.playground.client import SlackSender
from incidentbot.playground.paging import PagerDutyStandIn
from incidentbot.playground.standin import SlackStandIn
from tests.conftest import SIGNING_SECRET, Bot, page_dms
from tests.test_e2e_replicas_restart import ROOT, AppProcess, RealClock, free_port, wait_for

TOML = """
[channels]
announcements = ["#incidents"]

[[severities]]
name = "sev1"
escalation = "primary"

[[severities]]
name = "sev2"

[pagerduty]
events_url = "{events_url}"
[pagerduty.services.payments]
routing_key_env = "PD_PAYMENTS_ROUTING_KEY"

[[escalation.primary.levels]]
targets = ["pagerduty:payments", "U0BOB"]
timeout = "1h"
"""


@pytest.fixture
def pd() -> Iterator[PagerDutyStandIn]:
    stand_in = PagerDutyStandIn()
    yield stand_in
    stand_in.stop()


def trigger_row(db_url: str) -> tuple[int, Any] | None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT attempts, claimed_at FROM provider_event WHERE action = 'trigger'")
            ).first()
    finally:
        engine.dispose()
    return (int(row[0]), row[1]) if row else None


def test_killed_before_delivery_sends_the_trigger_once_after_restart(
    standin: SlackStandIn, pd: PagerDutyStandIn, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "incidentbot.toml").write_text(TOML.format(events_url=pd.events_url))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(free_port()),
        "DATABASE_URL": db_url,
        "PD_PAYMENTS_ROUTING_KEY": pd.add_service("payments"),
    }
    pd.fail_next(*[503] * 1000)  # PagerDuty is down while the first process runs
    app = AppProcess(env, tmp_path)
    app.start()
    try:
        sender = SlackSender(f"{app.url}/slack/events", SIGNING_SECRET, standin)
        assert sender.command("declare sev1 Payments down", user="U0ERIN").status == 200

        def attempted_and_released() -> bool:
            row = trigger_row(db_url)
            return row is not None and row[0] >= 1 and row[1] is None

        # Kill between attempts (the next one is seconds away): the event is
        # committed, not delivered, and nobody holds it.
        wait_for(attempted_and_released, 15, "a first, failed attempt")
        wait_for(lambda: len(page_dms(standin, "U0BOB")) == 1, 15, "the DM target")
        app.kill()
        assert pd.events() == []
        pd.faults.clear()  # PagerDuty is back
        app.start()
        wait_for(lambda: len(pd.events("trigger")) == 1, 15, "the trigger after restart")
        time.sleep(2.5)  # a few polls later: still exactly one
        assert len(pd.events("trigger")) == 1
        assert len(page_dms(standin, "U0BOB")) == 1
    finally:
        app.kill()
    log = (tmp_path / "app.log").read_text()
    assert "provider event" in log and "result=retry" in log  # what the operator sees …
    assert env["PD_PAYMENTS_ROUTING_KEY"] not in log  # … never the routing key


def test_two_replicas_send_one_trigger(
    make_bot: Callable[..., Bot],
    pd: PagerDutyStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PD_PAYMENTS_ROUTING_KEY", pd.add_service("payments"))
    config: dict[str, Any] = {
        "channels": {"announcements": ["#incidents"]},
        "severities": [{"name": "sev1", "escalation": "primary"}, {"name": "sev2"}],
        "escalation": {
            "primary": {"levels": [{"targets": ["pagerduty:payments"], "timeout": "1h"}]}
        },
        "pagerduty": {
            "events_url": pd.events_url,
            "services": {"payments": {"routing_key_env": "PD_PAYMENTS_ROUTING_KEY"}},
        },
    }
    validated = parse_config(config, "test", env=os.environ)  # secrets from the environment
    first = make_bot(validated, clock=RealClock())
    second = make_bot(validated, clock=RealClock())
    stop = threading.Event()

    def hammer(bot: Bot) -> None:  # both replicas sweep for due events all the time
        assert bot.runtime.providers is not None
        while not stop.is_set():
            bot.runtime.timers.run_due()
            bot.runtime.providers.deliver_due()
            time.sleep(0.005)

    pd.fail_next(500)  # the first attempt fails: the retry is up for grabs by both
    threads = [threading.Thread(target=hammer, args=(b,), daemon=True) for b in (first, second)]
    for thread in threads:
        thread.start()
    try:
        first.command("declare sev1 Shared database", user="U0ERIN")
        wait_for(lambda: len(pd.events("trigger")) == 1, 15, "the trigger")
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert len(pd.events("trigger")) == 1
    assert [r["status"] for r in pd.server.requests] == [500, 202]


def test_provider_problems_stop_start_up_naming_the_keys(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text(
        TOML.format(events_url="events.pagerduty.com")
        + '[[escalation.primary.levels]]\ntargets = ["opsgenie:dba"]\ntimeout = "5m"\n'
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_APP_TOKEN": "xapp-1",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    for problem in (
        "pagerduty.events_url: expected an http(s) URL",
        "pagerduty.services.payments.routing_key_env: environment variable "
        "PD_PAYMENTS_ROUTING_KEY is not set",
        'escalation.primary.levels[1].targets[0]: unknown Opsgenie team "dba" (configured: none)',
    ):
        assert problem in result.stderr
    assert "Traceback" not in result.stderr
