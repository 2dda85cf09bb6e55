"""A clean stop: `python app.py` told to stop with requests in flight on keep-alive
connections answers them all, closes idle connections, exits 0 within 10 s with no
traceback, and everything it acknowledged is in the database for the next process."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, create_engine, select

from incidentbot.playground.client import SlackSender, slack_signature
from incidentbot.playground.standin import SlackStandIn
from incidentbot.store.models import Incident
from tests.conftest import SIGNING_SECRET, Bot, FakeClock, poll_until

ROOT = Path(__file__).resolve().parents[1]
IN_FLIGHT = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(standin: SlackStandIn, db_url: str, port: int, cwd: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": standin.api_url,
        "PORT": str(port),
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "INFO",
    }
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("INCIDENTBOT_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def signed_command(sender: SlackSender, text: str, channel: str) -> tuple[bytes, dict[str, str]]:
    body = urllib.parse.urlencode(sender.command_fields(text, channel=channel)).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(SIGNING_SECRET, ts, body),
    }
    return body, headers


def keep_alive(port: int) -> http.client.HTTPConnection:
    """An HTTP/1.1 connection that has served one request and stays open."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    conn.request("GET", "/healthz")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200 and not reply.will_close
    return conn


def test_sigterm_with_requests_in_flight_on_keep_alive_connections(
    standin: SlackStandIn, db_url: str, tmp_path: Path, make_bot: Callable[..., Bot]
) -> None:
    port = free_port()
    app = start_app(standin, db_url, port, tmp_path)
    try:
        poll_until(lambda: healthy(port), what="the bot to start")
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, standin)
        busy = [keep_alive(port) for _ in range(IN_FLIGHT)]
        idle = [keep_alive(port) for _ in range(5)]  # open, with nothing to say
        for n, conn in enumerate(busy, start=1):
            body, headers = signed_command(sender, f"declare Shutdown drill {n}", "C0GENERAL")
            conn.request("POST", "/slack/events", body=body, headers=headers)
        app.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        statuses = []
        for conn in busy:
            reply = conn.getresponse()
            reply.read()
            statuses.append(reply.status)
        _out, err = app.communicate(timeout=15)
        took = time.monotonic() - signalled
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert statuses == [200] * IN_FLIGHT  # every request already sent was answered
    assert app.returncode == 0, err
    assert took < 10, f"took {took:.1f}s to exit"
    assert "Traceback" not in err and "Bad file descriptor" not in err, err
    for conn in idle:  # idle keep-alive connections were closed by the server
        conn.sock.settimeout(5)
        assert conn.sock.recv(1) == b""

    engine = create_engine(db_url)
    with Session(engine) as session:
        titles = sorted(i.title for i in session.exec(select(Incident)).all())
    engine.dispose()
    assert titles == sorted(f"Shutdown drill {n}" for n in range(1, IN_FLIGHT + 1))

    # The next process finishes whatever Slack work the stop cut short.
    restarted = make_bot(clock=FakeClock(datetime.now(UTC)))
    restarted.clock.advance(minutes=3)
    restarted.runtime.timers.run_due()
    restarted.wait()
    poll_until(lambda: all(i.channel_id for i in restarted.incidents()), what="every channel")
    names = [restarted.standin.channel(i.channel_id or "").name for i in restarted.incidents()]
    assert len(set(names)) == IN_FLIGHT
