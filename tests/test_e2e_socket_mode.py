"""Socket Mode end to end: `python app.py` with `SLACK_APP_TOKEN` set and no signing
secret, talking to the Web API stand-in (which hands out the socket URL from
`apps.connections.open`) and to the Socket Mode stand-in (which pushes envelopes
and collects the acks), exactly as it would talk to Slack.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import create_engine, text

from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn
from tests.socket_standin import SocketModeStandIn
from tests.test_e2e_replicas_restart import ROOT, AppProcess, free_port, wait_for

APP_TOKEN = "xapp-1-A0INCIDENT-1-socket"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class SocketBot:
    app: AppProcess
    web: SlackStandIn
    socket: SocketModeStandIn
    payloads: SlackSender  # builds payloads only; never posts in Socket Mode
    db_url: str

    def envelope(self, type: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        envelope_id = self.socket.send_envelope(type, payload, **kwargs)
        return self.socket.wait_for_ack(envelope_id, timeout=5)

    def command(self, text: str, user: str = "U0ALICE") -> dict[str, Any]:
        fields = self.payloads.command_fields(text, user=user)
        return self.envelope("slash_commands", fields, accepts_response_payload=True)

    def query(self, sql: str) -> list[Any]:
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql)).all())
        finally:
            engine.dispose()


@pytest.fixture
def socket_bot(standin: SlackStandIn, tmp_path: Path) -> Iterator[SocketBot]:
    socket = SocketModeStandIn()
    standin.socket_url = socket.url
    (tmp_path / "incidentbot.toml").write_text('[channels]\nannouncements = ["#incidents"]\n')
    db_url = f"sqlite:///{tmp_path / 'bot.db'}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(free_port()),
        "DATABASE_URL": db_url,
    }
    app = AppProcess(env, tmp_path)
    try:
        app.start()
        socket.wait_for_connection(timeout=15)
        sender = SlackSender("http://unused.invalid/", "", standin)
        yield SocketBot(app, standin, socket, sender, db_url)
    finally:
        log = (tmp_path / "app.log").read_text() if (tmp_path / "app.log").exists() else ""
        if app.proc and app.proc.poll() is None:
            app.proc.send_signal(signal.SIGTERM)  # an orderly stop, as a container runtime does
            try:
                assert app.proc.wait(timeout=15) == 0, log[-4000:]
            finally:
                app.kill()
        socket.stop()
        assert "Traceback" not in log, log[-4000:]
        assert not standin.internal_errors, standin.internal_errors


def test_apps_connections_open_needs_an_app_token(standin: SlackStandIn) -> None:
    standin.socket_url = "ws://127.0.0.1:1/link/?ticket=x"
    opened = WebClient(base_url=standin.api_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"] == standin.socket_url
    with pytest.raises(SlackApiError) as refused:
        WebClient(base_url=standin.api_url).apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"


def test_socket_mode_connects_with_the_app_token_and_serves_health_only(
    socket_bot: SocketBot,
) -> None:
    opens = [c for c in socket_bot.web.calls if c.method == "apps.connections.open"]
    assert opens and all(c.response["ok"] for c in opens)
    conn = socket_bot.socket.open_connections()[-1]
    assert conn.path.startswith("/link/") and conn.headers["sec-websocket-version"] == "13"
    wait_for(lambda: conn.pings >= 1, 5, "the client's first ping (answered with a pong)")
    with urllib.request.urlopen(f"{socket_bot.app.url}/healthz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["mode"] == "socket"
    request = urllib.request.Request(
        f"{socket_bot.app.url}/slack/events", data=b"command=%2Fincident", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 404


def test_slash_command_over_the_socket_declares_an_incident(socket_bot: SocketBot) -> None:
    ack = socket_bot.command("declare sev2 Socket outage")
    assert "payload" not in ack or not ack["payload"]  # a plain ack: the work follows it
    wait_for(
        lambda: socket_bot.web.channel_by_name("#inc-1-socket-outage") is not None,
        10,
        "the incident channel to be created",
    )
    assert socket_bot.query("SELECT id, severity, title FROM incident") == [
        (1, "sev2", "Socket outage")
    ]


def test_bad_command_gets_its_error_in_the_ack_payload(socket_bot: SocketBot) -> None:
    ack = socket_bot.command("frobnicate")
    text_back = ack["payload"]["text"]
    assert text_back.startswith(":warning:") and "frobnicate" in text_back
    assert socket_bot.query("SELECT count(*) FROM incident") == [(0,)]


def test_button_click_over_the_socket_changes_the_incident(socket_bot: SocketBot) -> None:
    socket_bot.command("declare sev2 Socket outage")
    wait_for(
        lambda: (
            (channel := socket_bot.web.channel_by_name("#inc-1-socket-outage")) is not None
            and any(
                "incident.take_scribe" in json.dumps(m.blocks or [])
                for m in socket_bot.web.messages(channel.id)
            )
        ),
        10,
        "the welcome message with its buttons",
    )
    channel = socket_bot.web.channel_by_name("#inc-1-socket-outage")
    assert channel is not None
    click = socket_bot.payloads.block_action_payload(
        "incident.take_scribe", user="U0BOB", channel=channel.id
    )
    assert click["actions"][0]["value"] == "1"
    ack = socket_bot.envelope("interactive", click, accepts_response_payload=False)
    assert not ack.get("payload")
    scribes = "SELECT user_id FROM role_assignment WHERE role = 'scribe' AND ended_at IS NULL"
    wait_for(lambda: socket_bot.query(scribes) == [("U0BOB",)], 10, "Bob to become Scribe")


def test_app_reconnects_when_slack_asks_it_to(socket_bot: SocketBot) -> None:
    first = socket_bot.socket.open_connections()[-1]
    socket_bot.socket.request_disconnect()
    wait_for(
        lambda: socket_bot.socket.open_connections()[-1:] != [first] and first.closed,
        15,
        "a new connection replacing the old one",
    )
    ack = socket_bot.command("frobnicate")
    assert ack["payload"]["text"].startswith(":warning:")


def test_refused_app_token_stops_start_up_with_a_clear_message(
    standin: SlackStandIn, tmp_path: Path
) -> None:
    standin.fail("apps.connections.open", error="invalid_auth")  # e.g. a revoked app token
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        env={
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": standin.api_url,
            "PORT": str(free_port()),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "SLACK_APP_TOKEN" in result.stderr and "invalid_auth" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_closes_the_socket_and_finishes_acknowledged_envelopes(
    socket_bot: SocketBot,
) -> None:
    ids = [
        socket_bot.socket.send_envelope(
            "slash_commands",
            socket_bot.payloads.command_fields(f"declare sev2 Socket drill {n}"),
            accepts_response_payload=True,
        )
        for n in range(1, 11)
    ]
    for envelope_id in ids:
        socket_bot.socket.wait_for_ack(envelope_id, timeout=10)
    proc = socket_bot.app.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)  # the declares' work after their acks is still running
    signalled = time.monotonic()
    assert proc.wait(timeout=15) == 0
    assert time.monotonic() - signalled < 10
    wait_for(lambda: not socket_bot.socket.open_connections(), 5, "the socket to be closed")
    titles = sorted(t for (t,) in socket_bot.query("SELECT title FROM incident"))
    assert titles == sorted(f"Socket drill {n}" for n in range(1, 11))
