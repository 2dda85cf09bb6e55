"""Timers are trustworthy: a bot killed mid-escalation pages the due level once
after restart and never re-pages an earlier one; two bots sharing one database
page each level exactly once. These run on the real clock with short timeouts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn
from tests.conftest import SIGNING_SECRET, Bot, page_dms

ROOT = Path(__file__).resolve().parents[1]

TOML = """
[channels]
announcements = ["#incidents"]

[[severities]]
name = "sev1"
description = "Critical"
escalation = "primary"

[[severities]]
name = "sev2"
description = "Major"

[escalation.primary]
[[escalation.primary.levels]]
targets = ["U0BOB"]
timeout = "{t1}"
[[escalation.primary.levels]]
targets = ["U0CAROL"]
timeout = "{t2}"
[[escalation.primary.levels]]
targets = ["U0DAVE"]
timeout = "{t3}"
"""


def paged(standin: SlackStandIn, user: str) -> int:
    return len(page_dms(standin, user))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppProcess:
    """`python app.py` in a subprocess, as an operator runs it."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{env['PORT']}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=open(self.cwd / "app.log", "ab"),  # noqa: SIM115  (kept open for the child)
        )
        wait_for(self.healthy, 30, "the app to answer /healthz")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                return response.status == 200 and json.loads(response.read())["status"] == "ok"
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def test_killed_mid_escalation_pages_due_level_once_after_restart(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    (tmp_path / "incidentbot.toml").write_text(TOML.format(t1="3s", t2="2s", t3="1h"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
    }
    app = AppProcess(env, tmp_path)
    app.start()
    try:
        sender = SlackSender(f"{app.url}/slack/events", SIGNING_SECRET, standin)
        assert sender.command("declare sev1 Payments down", user="U0ERIN").status == 200
        wait_for(lambda: paged(standin, "U0BOB") == 1, 10, "level 1 to be paged")
        app.kill()  # kill -9 while level 1 waits for an acknowledgement
        time.sleep(3.5)  # level 2 comes due while the bot is down
        assert paged(standin, "U0CAROL") == 0
        app.start()
        wait_for(lambda: paged(standin, "U0CAROL") == 1, 10, "the due level 2 at start-up")
        wait_for(lambda: paged(standin, "U0DAVE") == 1, 10, "level 3 after level 2's timeout")
        time.sleep(2.5)  # a poll or two later, still nothing paged twice
        assert (paged(standin, "U0BOB"), paged(standin, "U0CAROL"), paged(standin, "U0DAVE")) == (
            1,
            1,
            1,
        )
    finally:
        app.kill()


class RealClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)


def test_two_instances_page_each_level_exactly_once(
    make_bot: Callable[..., Bot], db_url: str
) -> None:
    config: dict[str, Any] = {
        "channels": {"announcements": ["#incidents"]},
        "severities": [{"name": "sev1", "escalation": "primary"}, {"name": "sev2"}],
        "escalation": {
            "primary": {
                "repeat": 1,
                "levels": [
                    {"targets": ["U0BOB"], "timeout": "1s"},
                    {"targets": ["U0CAROL"], "timeout": "1s"},
                ],
            }
        },
    }
    first = make_bot(config, clock=RealClock())
    second = make_bot(config, clock=RealClock())
    stop = threading.Event()

    def hammer(bot: Bot) -> None:  # both replicas try to fire every due timer, all the time
        while not stop.is_set():
            bot.runtime.timers.run_due()
            time.sleep(0.01)

    threads = [threading.Thread(target=hammer, args=(b,), daemon=True) for b in (first, second)]
    for thread in threads:
        thread.start()
    try:
        first.command("declare sev1 Shared database", user="U0ERIN")
        standin = first.standin
        wait_for(
            lambda: any(
                "exhausted" in (m.text or "")
                for m in standin.messages(first.incident(1).channel_id or "")
            ),
            20,
            "the escalation to run out",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    # two rounds of two levels: each person paged exactly twice, never more
    assert (paged(standin, "U0BOB"), paged(standin, "U0CAROL")) == (2, 2)
    kinds = [e.kind for e in second.timeline(1)]
    assert kinds.count("page") == 4 and kinds.count("exhausted") == 1


@pytest.mark.parametrize("env", [{}, {"SLACK_BOT_TOKEN": "xoxb-1"}])
def test_app_with_missing_settings_says_what_is_missing(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={"PATH": os.environ.get("PATH", ""), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    if not env:
        assert "SLACK_BOT_TOKEN" in result.stderr


def test_bad_config_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "incidentbot.toml").write_text('[channels]\nanouncements = ["#incidents"]\n')
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
    assert result.returncode != 0
    assert "channels.anouncements" in result.stderr and "announcements" in result.stderr
    assert "Traceback" not in result.stderr
