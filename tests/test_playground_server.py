"""The playground's server without a browser: start-up, guards, live events, seed.

`python app.py --playground` must never use the operator's settings (.env,
DATABASE_URL, Slack tokens), must answer only as 127.0.0.1, and must push
changes over server-sent events.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from slack_sdk import WebClient

from incidentbot.playground import seed
from incidentbot.playground.server import Playground, start
from incidentbot.playground.standin import SlackStandIn

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    running = start(0, tmp_path_factory.mktemp("playground"))
    yield running
    running.stop()


def request(
    playground: Playground,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(playground.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if data is not None else {}
    sent.update(headers or {})
    conn.request(method, path, body=data, headers=sent)
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload


def state(playground: Playground, user: str = "U0ALICE", where: str = "C0GENERAL") -> Any:
    status, _, body = request(playground, "GET", f"/ui/state?user={user}&where={where}")
    assert status == 200, body
    return json.loads(body)


# ---------------------------------------------------------------- guards


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"Host": "evil.example:80"}, "DNS rebinding: another host name"),
        ({"Host": "127.0.0.1:1"}, "another port"),
        ({"Origin": "http://evil.example"}, "a cross-site page"),
    ],
)
def test_other_hosts_and_origins_are_refused(
    playground: Playground, headers: dict[str, str], why: str
) -> None:
    status, _, _ = request(playground, "GET", "/", headers=headers)
    assert status == 403, why
    status, _, _ = request(
        playground,
        "POST",
        "/ui/send",
        {"user": "U0ALICE", "channel": "C0GENERAL", "text": "hi"},
        headers=headers,
    )
    assert status == 403, why
    assert not [m for m in playground.standin.messages("C0GENERAL") if m.text == "hi"]


def test_localhost_is_accepted_and_pages_carry_security_headers(playground: Playground) -> None:
    port = urlsplit(playground.url).port
    status, headers, body = request(playground, "GET", "/", headers={"Host": f"localhost:{port}"})
    assert status == 200
    assert b'<nav id="sidebar" aria-label="Channels">' in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "error"),
    [
        ("/ui/send", {"user": "UNOBODY", "channel": "C0GENERAL", "text": "x"}, {}, 400, "user"),
        ("/ui/send", {"user": "UBOT", "channel": "C0GENERAL", "text": "x"}, {}, 400, "user"),
        ("/ui/send", {"user": "U0ALICE", "channel": "CNOPE", "text": "x"}, {}, 400, "channel"),
        ("/ui/send", {"user": "U0ALICE", "channel": "C0GENERAL", "text": "  "}, {}, 400, "text"),
        ("/ui/send", {"user": "U0ALICE", "channel": 7, "text": "x"}, {}, 400, "channel"),
        ("/ui/nope", {"user": "U0ALICE"}, {}, 404, "not found"),
        ("/ui/alert", {"user": "U0ALICE"}, {}, None, None),  # depends on alert ingestion
        (
            "/ui/send",
            {"user": "U0ALICE", "channel": "C0GENERAL", "text": "x"},
            {"Content-Type": "text/plain"},
            415,
            "application/json",
        ),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    playground: Playground,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int | None,
    error: str | None,
) -> None:
    before = len(playground.standin.messages("C0GENERAL"))
    got, _, answer = request(playground, "POST", path, body, headers=headers)
    if status is None:  # the alert control: 400 without ingestion, else the bot's 202
        if not playground.workspace.alerts:
            assert got == 400
            return
        assert got == 200
        assert json.loads(answer)["status"] == 202
        return
    assert got == status
    assert error in json.loads(answer)["error"]
    assert len(playground.standin.messages("C0GENERAL")) == before


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/seed.py", "/files/FNOPE"])
def test_only_known_files_are_served(playground: Playground, path: str) -> None:
    status, _, _ = request(playground, "GET", path)
    assert status == 404


def test_someone_elses_dm_is_never_shown(playground: Playground) -> None:
    bob_dm = playground.standin.add_message("U0BOB", "secret page for bob", user="U0BOB")
    seen = state(playground, user="U0ALICE", where=bob_dm.channel)
    assert "secret page for bob" not in json.dumps(seen)
    assert (
        "secret page for bob" in state(playground, user="U0BOB", where=bob_dm.channel)["messages"]
    )


# ---------------------------------------------------------------- live updates


def test_changes_arrive_as_server_sent_events(playground: Playground) -> None:
    parts = urlsplit(playground.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    conn.request("GET", "/ui/events")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    first = resp.fp.readline()
    assert first.startswith(b"data: ")
    resp.fp.readline()  # the blank line ending the event
    status, _, _ = request(
        playground,
        "POST",
        "/ui/send",
        {"user": "U0ERIN", "channel": "C0GENERAL", "text": "hello from Erin"},
    )
    assert status == 200
    second = resp.fp.readline()
    assert second.startswith(b"data: ") and second != first
    conn.close()
    assert "hello from Erin" in state(playground)["messages"]


def test_a_file_is_served_as_plain_text(playground: Playground) -> None:
    standin = playground.standin
    with standin._lock:
        standin.files["F0TEST"] = {
            "id": "F0TEST",
            "name": "INC-9.md",
            "title": "INC-9 postmortem",
            "content": b"<script>alert(1)</script> # Postmortem",
            "channels": [],
            "complete": True,
            "created": 0,
        }
    status, headers, body = request(playground, "GET", "/files/F0TEST/INC-9.md")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert headers["x-content-type-options"] == "nosniff"
    assert body.endswith(b"# Postmortem")


# ---------------------------------------------------------------- seed and settings


def test_seed_config_pages_sev1_and_sev2_with_short_levels() -> None:
    config, _alerts = seed.config()
    by_name = {s.name: s for s in config.severities}
    assert by_name["sev1"].escalation == "primary"
    assert by_name["sev2"].escalation == "primary"
    assert by_name["sev3"].escalation is None
    levels = config.escalation["primary"].levels
    assert [lvl.targets for lvl in levels] == [("U0BOB",), ("U0CAROL",), ("U0DAVE",)]
    assert all(lvl.timeout == timedelta(seconds=30) for lvl in levels)


def test_the_seeded_workspace() -> None:
    with SlackStandIn() as standin:
        seed.populate(standin)
        assert {p.id for p in seed.PEOPLE} <= set(standin.users)
        assert standin.users["U0BOB"].real_name == "Bob Okafor"
        assert standin.usergroups[seed.ONCALL_GROUP].users == ["U0BOB", "U0CAROL"]
        assert standin.channel_by_name("#incidents") is not None
        guide = standin.messages("C0GENERAL")[0]
        assert "/incident declare" in guide.text


def test_message_shortcuts_match_the_manifest() -> None:
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    shortcuts = manifest["features"]["shortcuts"]
    declared = {(s["name"], s["callback_id"]) for s in shortcuts if s["type"] == "message"}
    assert set(seed.MESSAGE_SHORTCUTS) == declared
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == seed.BOT_EVENTS
    read_only = manifest["features"]["app_home"]["messages_tab_read_only_enabled"]
    assert read_only == seed.MESSAGES_TAB_READ_ONLY


def test_the_stand_in_keeps_bounded_logs() -> None:
    with SlackStandIn(max_log=50) as standin:
        client = WebClient(token="xoxb-x", base_url=standin.api_url)
        for i in range(120):
            client.chat_postMessage(channel="C0GENERAL", text=f"message {i}")
        assert len(standin.calls) <= 50
        assert len(standin.text_log) <= 50
        assert standin.calls[-1].args["text"] == "message 119"
        assert len(standin.messages("C0GENERAL")) == 120  # workspace state is not the log
        for _ in range(120):
            standin.new_trigger_id(user="U0ALICE")
            standin.new_response_url(channel="C0GENERAL", user="U0ALICE")
        assert len(standin._triggers) <= 50
        assert len(standin.responses) <= 50
        newest = standin.new_response_url(channel="C0GENERAL", user="U0ALICE")
        assert standin.responses_to(newest) == []  # the newest still works


def test_app_py_playground_ignores_the_operators_settings(tmp_path: Path) -> None:
    """.env, DATABASE_URL and Slack variables pointing elsewhere change nothing."""
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://nobody@127.0.0.1:1/nope\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nope",
        "SLACK_BOT_TOKEN": "xoxb-operator-token",
        "SLACK_SIGNING_SECRET": "operator-secret",
        "SLACK_API_URL": "http://127.0.0.1:1/api/",
        "SLACK_APP_TOKEN": "xapp-operator",
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--playground", "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else line
        url = line.split("open ", 1)[1].split()[0]
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
        conn.request("GET", "/ui/state?user=U0ALICE&where=C0GENERAL")
        resp = conn.getresponse()
        assert resp.status == 200
        assert "Welcome to the incidentbot playground" in json.loads(resp.read())["messages"]
        conn.close()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
    assert not list(tmp_path.glob("*.db"))  # nothing written where the operator's bot lives


def test_bad_port_is_a_short_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--playground", "--port", "http"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--port: expected a port number from 0 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_port_is_a_short_message(playground: Playground, tmp_path: Path) -> None:
    port = str(urlsplit(playground.url).port)
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--playground", "--port", port],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_dir_keeps_the_workspace_and_the_database(tmp_path: Path) -> None:
    """A restart with --data finds its incident channel, and the bot can still work in it."""
    first = start(0, tmp_path)
    try:
        first.workspace.send("U0ALICE", "C0GENERAL", "/incident declare Disk full on db-3", None)
        assert first.runtime.wait_idle(timeout=20)
        channel = first.standin.channel_by_name("#inc-1-disk-full-on-db-3")
        assert channel is not None
        channel_id = channel.id
    finally:
        first.stop()
    assert (tmp_path / "workspace.json").exists()

    second = start(0, tmp_path)
    try:
        kept = second.standin.channel(channel_id)
        assert kept is not None and kept.name == "inc-1-disk-full-on-db-3"
        assert any(
            "Disk full on db-3" in str(m.blocks) for m in second.standin.messages(channel_id)
        )
        second.workspace.send("U0ALICE", channel_id, "/incident status identified", None)
        assert second.runtime.wait_idle(timeout=20)
        assert "identified" in (second.standin.channel(channel_id).topic or "")
        second.workspace.send("U0ALICE", "C0GENERAL", "/incident declare Second one", None)
        assert second.runtime.wait_idle(timeout=20)
        new = second.standin.channel_by_name("#inc-2-second-one")
        assert new is not None and new.id != channel_id
    finally:
        second.stop()


def test_a_damaged_workspace_file_is_a_short_message(tmp_path: Path) -> None:
    (tmp_path / "workspace.json").write_text("{not json")
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--playground", "--port", "0", "--data", "."],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "workspace.json: cannot read the saved workspace" in result.stderr
    assert "Traceback" not in result.stderr
