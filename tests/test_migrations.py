"""Schema migrations: upgrading keeps the data, and the migrations match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from incidentbot.store import models  # noqa: F401  (registers the tables)
from incidentbot.store.db import alembic_config, make_engine, migrate


def test_upgrade_from_the_first_schema_keeps_incidents(db_url: str) -> None:
    engine = make_engine(db_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incident (title, description, severity, status, private, declared_by,"
                " declared_at, summary, status_times, pending_steps, updated_at)"
                " VALUES ('Old one', '', 'sev2', 'investigating', false, 'U1',"
                " '2026-01-01 10:00:00', '', '{}', '{}', '2026-01-01 10:00:00')"
            )
        )
    migrate(engine)  # what start-up does
    migrate(engine)  # and again: nothing to do, no error
    with engine.connect() as conn:
        title = conn.execute(text("SELECT title FROM incident")).scalar_one()
        assert title == "Old one"
        assert conn.execute(text("SELECT count(*) FROM timer")).scalar_one() == 0
    engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: " + repr(diff)
