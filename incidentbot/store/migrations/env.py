"""Alembic environment: runs migrations on the engine handed over by `db.migrate`."""

from alembic import context
from sqlmodel import SQLModel

from incidentbot.store import models  # noqa: F401  (registers the tables)

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
