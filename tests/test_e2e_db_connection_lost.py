"""A PostgreSQL connection killed in the middle of a transaction (failover,
`pg_terminate_backend`) loses nothing silently and leaves nothing half-written:
the change is retried once on a fresh connection, and if that fails too the
person is told."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from tests.conftest import Bot, poll_until


@contextmanager
def row_locked(url: str, number: int) -> Iterator[Connection]:
    """Hold the incident's row lock, so the bot's change waits inside its transaction."""
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT id FROM incident WHERE id = :n FOR UPDATE"), {"n": number})
        try:
            yield conn
        finally:
            conn.rollback()
    engine.dispose()


def waiting_backends(admin: Connection) -> list[int]:
    rows = admin.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    return [int(r[0]) for r in rows]


def kill_waiting(url: str, times: int) -> None:
    """Terminate the bot's backend each time it waits on the lock, `times` times."""
    admin_engine = create_engine(url, isolation_level="AUTOCOMMIT")
    killed: set[int] = set()
    fresh: list[int] = []

    def found() -> bool:
        fresh[:] = [p for p in waiting_backends(admin) if p not in killed]
        return bool(fresh)

    with admin_engine.connect() as admin:
        for _ in range(times):
            poll_until(found, what="the bot's transaction to wait on the lock")
            admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": fresh[0]})
            killed.add(fresh[0])
    admin_engine.dispose()


@pytest.fixture
def pg_bot(make_bot: Callable[..., Bot], db_url: str) -> Bot:
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    return make_bot()


def test_killed_mid_transaction_is_retried_once_on_a_fresh_connection(
    pg_bot: Bot, db_url: str
) -> None:
    bot = pg_bot
    inc = bot.declare("Failover drill", user="U0ALICE")
    channel = inc.channel_id or ""
    with row_locked(db_url, inc.id or 0):
        bot.sender.command("status identified", user="U0ALICE", channel=channel)
        kill_waiting(db_url, times=1)  # the bot's first try dies while holding its transaction
    bot.wait()
    assert bot.incident(1).status == "identified"
    assert [e.kind for e in bot.timeline(1)].count("status") == 1  # applied exactly once
    assert any("identified" in (m.text or "") for m in bot.standin.messages(channel))
    assert not any("went wrong" in r or "connection was lost" in r for r in bot.replies())


def test_killed_twice_changes_nothing_and_the_person_is_told(pg_bot: Bot, db_url: str) -> None:
    bot = pg_bot
    inc = bot.declare("Failover drill", user="U0ALICE")
    channel = inc.channel_id or ""
    entries = len(bot.timeline(1))
    with row_locked(db_url, inc.id or 0):
        bot.sender.command("severity sev1", user="U0ALICE", channel=channel)
        kill_waiting(db_url, times=2)
    bot.wait()
    assert bot.incident(1).severity == inc.severity  # nothing half-written
    assert len(bot.timeline(1)) == entries
    assert any("database connection was lost" in r for r in bot.replies("U0ALICE"))
    bot.command("severity sev1", user="U0ALICE", channel=channel)  # and the next try works
    assert bot.incident(1).severity == "sev1"
