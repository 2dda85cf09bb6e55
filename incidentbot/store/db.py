"""The database engine and schema migrations.

SQLite is tuned for a bot that answers many Slack requests at once from a
thread pool: WAL (readers never block the writer), a busy timeout (writers
queue instead of failing with "database is locked") and foreign keys on.
PostgreSQL is used as configured. `migrate` brings any database to the newest
schema with Alembic; on PostgreSQL it holds an advisory lock so replicas
starting together do not race each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from incidentbot.domain.errors import ConnectionLost

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 7_304_112_001  # any constant shared by every replica


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine for `url` with the settings this bot relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Apply every pending migration (idempotent; safe with concurrent replicas)."""
    cfg = alembic_config(engine)
    if engine.dialect.name != "postgresql":
        command.upgrade(cfg, "head")
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        try:
            command.upgrade(cfg, "head")
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()


def ping(engine: Engine) -> bool:
    """True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "unreachable" for /healthz
        return False


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    A connection that died under the transaction becomes `ConnectionLost`, an
    error the person is shown (nothing was saved; trying again is safe).
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except DBAPIError as error:
            session.rollback()
            if error.connection_invalidated:
                raise ConnectionLost() from error
            raise
        except BaseException:
            session.rollback()
            raise


def transaction(engine: Engine, work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction; retried once if the connection dies under it.

    A connection killed mid-transaction (a failover, `pg_terminate_backend`)
    takes its uncommitted work with it, so nothing is half-written and `work`
    can run again from the start on a fresh connection (the pool throws the
    dead one away; `pool_pre_ping` checks the others). A second loss is raised
    for the person to be told. `work` must only touch the database.
    """
    try:
        with session_scope(engine) as session:
            return work(session)
    except ConnectionLost:
        log.warning("database connection lost mid-transaction; retrying once")
    with session_scope(engine) as session:
        return work(session)
