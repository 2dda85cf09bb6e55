"""Shared fixtures: the Slack stand-in, a database per test, and the running bot.

The bot is the real thing built by `incidentbot.runtime.build`, served by
waitress on 127.0.0.1, talking to the stand-in through `SLACK_API_URL`. Tests
send it signed requests and look at what Slack (the stand-in) received and
what the database holds.

PostgreSQL: set `INCIDENTBOT_TEST_POSTGRES_URL` (CI does) and every test that
uses the `db_url` fixture runs on SQLite and on PostgreSQL; without it the
PostgreSQL variants are skipped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session, select

from incidentbot.config import Config, Settings, parse_config
from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn
from incidentbot.runtime import Runtime, build
from incidentbot.slack.gateway import Pacer
from incidentbot.store.models import Incident, TimelineEntry
from incidentbot.web import run_until_closed

SIGNING_SECRET = "test-signing-secret"
PG_URL = os.environ.get("INCIDENTBOT_TEST_POSTGRES_URL")


class FakeClock:
    """A clock tests can move; starts at a fixed instant."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


def poll_until(predicate: Callable[[], bool], *, timeout: float = 30.0, what: str = "") -> None:
    """Wait until `predicate()` holds, checking often; fail after a generous `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.02)


def page_dms(standin: SlackStandIn, user: str) -> list[Any]:
    """Escalation pages a user received by DM (also those edited since, e.g. after an ack)."""
    return [
        m
        for m in standin.dm_messages(user)
        if "You are paged" in (m.text or "") or any("You are paged" in str(e) for e in m.edits)
    ]


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn()
    yield stand_in
    stand_in.stop()


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the test server, dropped at the end.

    Concurrent test runs (several developers, CI) on one server never wipe
    each other's data this way.
    """
    if not PG_URL:
        pytest.skip("INCIDENTBOT_TEST_POSTGRES_URL not set")
    name = f"incidentbot_test_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'incidentbot.db'}"
    url = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'incidentbot.db'}"


@dataclass
class Bot:
    """A running bot plus everything a test needs to drive and inspect it."""

    runtime: Runtime
    standin: SlackStandIn
    sender: SlackSender
    url: str
    thread: threading.Thread
    clock: FakeClock
    stopped: bool = field(default=False)

    # -- driving ------------------------------------------------------------------
    def wait(self) -> None:
        assert self.runtime.wait_idle(timeout=20), "listeners did not finish"

    def command(self, text: str, **kwargs: Any) -> Any:
        reply = self.sender.command(text, **kwargs)
        self.wait()
        return reply

    def action(self, action_id: str, **kwargs: Any) -> Any:
        reply = self.sender.block_action(action_id, **kwargs)
        self.wait()
        return reply

    def submit(self, view_id: str, inputs: dict[str, Any], **kwargs: Any) -> Any:
        reply = self.sender.submit_view(view_id, inputs, **kwargs)
        self.wait()
        return reply

    def declare(
        self, title: str = "Checkout is failing", *, user: str = "U0ALICE", severity: str = ""
    ) -> Incident:
        text = f"declare {severity} {title}" if severity else f"declare {title}"
        reply = self.command(text, user=user)
        assert reply.status == 200, reply.body
        return self.incidents()[-1]

    # -- inspecting ---------------------------------------------------------------
    def incidents(self) -> list[Incident]:
        with Session(self.runtime.engine) as session:
            return list(session.exec(select(Incident).order_by(Incident.id)).all())

    def incident(self, number: int) -> Incident:
        with Session(self.runtime.engine) as session:
            found = session.get(Incident, number)
            assert found is not None
            return found

    def timeline(self, number: int) -> list[TimelineEntry]:
        with Session(self.runtime.engine) as session:
            stmt = (
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == number)
                .order_by(TimelineEntry.id)
            )
            return list(session.exec(stmt).all())

    def replies(self, user: str | None = None) -> list[str]:
        """Every private reply text (response_url posts and ephemerals), oldest first."""
        texts = []
        for payloads in self.standin.responses.values():
            texts += [p.get("text", "") for p in payloads]
        texts += [
            e["text"] or "" for e in self.standin.ephemerals if user is None or e["user"] == user
        ]
        return texts

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.runtime.stop()
            self.thread.join(timeout=5)


def start_bot(
    standin: SlackStandIn,
    db_url: str,
    *,
    config: Config | dict[str, Any] | None = None,
    clock: FakeClock | None = None,
    retry_max: float = 0.5,
    pacer: Pacer | None = None,
) -> Bot:
    if not isinstance(config, Config):
        config = parse_config(config or {}, "test")
    clock = clock or FakeClock()
    settings = Settings(
        bot_token="xoxb-test-token",
        signing_secret=SIGNING_SECRET,
        app_token=None,
        api_url=standin.api_url,
        port=0,
        database_url=db_url,
        config_path=None,
        slack_retry_max=retry_max,  # short, so tests see Slack come back within moments
    )
    runtime = build(settings, config, clock=clock, pacer=pacer)
    runtime.start_background()
    server = runtime.serve(host="127.0.0.1", port=0)
    thread = threading.Thread(target=run_until_closed, args=(server,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    sender = SlackSender(f"{url}/slack/events", SIGNING_SECRET, standin)
    return Bot(runtime, standin, sender, url, thread, clock)


DEFAULT_TEST_CONFIG: dict[str, Any] = {"channels": {"announcements": ["#incidents"]}}


@pytest.fixture
def make_bot(standin: SlackStandIn, db_url: str) -> Iterator[Callable[..., Bot]]:
    bots: list[Bot] = []

    def factory(
        config: dict[str, Any] | None = None,
        clock: FakeClock | None = None,
        url: str | None = None,
        **options: Any,
    ) -> Bot:
        bot = start_bot(
            standin,
            url or db_url,
            config=DEFAULT_TEST_CONFIG if config is None else config,
            clock=clock,
            **options,
        )
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        bot.stop()


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()
