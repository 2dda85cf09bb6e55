"""A REAL Prometheus Alertmanager posting to the running bot (`POST /alerts/<source>`).

Alertmanager runs as a child process on 127.0.0.1 with a generated config
(short group_wait / group_interval / repeat_interval, clustering off, a webhook
receiver with `http_config.authorization` bearer token, send_resolved). Alerts
are pushed into its API v2 (`POST /api/v2/alerts`), exactly as Prometheus does.
The bot runs on the wall clock here, so its timers fire as in production.

Skipped (saying so) when the Alertmanager binary is not installed; CI installs
Debian's `prometheus-alertmanager`.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Bot, FakeClock

TOKEN = "real-alertmanager-token"
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="Alertmanager binary not installed (apt-get install prometheus-alertmanager)",
)


class WallClock(FakeClock):
    """The real time, for a test where a real Alertmanager keeps real time."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)


CONFIG: dict[str, Any] = {
    "alerts": {
        "channel": "#alerts",
        "group_wait": "1s",
        "digest_every": "1h",
        "sources": [{"name": "prom", "kind": "alertmanager", "token_env": "ALERTS_TOKEN_REAL"}],
        "routes": [{"name": "web", "match": {"team": "web"}, "action": "triage"}],
    }
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def bot(make_bot: Callable[..., Bot], monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("ALERTS_TOKEN_REAL", TOKEN)
    b = make_bot(CONFIG, clock=WallClock())
    b.standin.add_channel("alerts", channel_id="C0ALERTS", members=["U0ALICE"])
    return b


@pytest.fixture
def alertmanager(bot: Bot, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = f"""
route:
  receiver: incidentbot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 3s
receivers:
  - name: incidentbot
    webhook_configs:
      - url: {bot.url}/alerts/prom
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {TOKEN}
"""
    (tmp_path / "alertmanager.yml").write_text(config)
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base), "Alertmanager to start", timeout=30)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def push(base: str, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def alert(instance: str, *, resolved: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "labels": {"alertname": "HighErrorRate", "team": "web", "instance": instance},
        "annotations": {"summary": "Error rate above 5%", "runbook_url": "https://runbooks/x"},
        "generatorURL": "http://prometheus.example/graph",
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
    }
    body["endsAt"] = (
        now - timedelta(seconds=1) if resolved else now + timedelta(hours=1)
    ).isoformat()
    return body


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def triage(bot: Bot) -> list[Any]:
    return bot.standin.messages("C0ALERTS", include_threads=False)


def test_real_alertmanager_groups_repeats_and_resolves(bot: Bot, alertmanager: str) -> None:
    push(alertmanager, [alert("a"), alert("b")])
    wait_for(lambda: triage(bot) and "FIRING ×2" in str(triage(bot)[0].blocks), "the message")
    # Alertmanager resends the whole group every repeat_interval: nobody is notified.
    received = lambda: len(bot.standin.calls_to("chat.postMessage"))  # noqa: E731
    before = received()
    time.sleep(7)
    assert len(triage(bot)) == 1 and received() == before
    push(alertmanager, [alert("a", resolved=True), alert("b", resolved=True)])
    wait_for(lambda: "RESOLVED" in str(triage(bot)[0].blocks), "the message to say RESOLVED")
    assert len(triage(bot)) == 1
    assert bot.standin.mass_mentions() == []
