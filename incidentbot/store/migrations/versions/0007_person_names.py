"""person_name: Slack display names cached for the postmortem; logged messages
stored as typed (un-escaped once, broadcast mentions as plain words).

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-30 18:30:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

from incidentbot.domain.text import from_slack

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_name",
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
        sa.Column("looked_up_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    _store_logged_messages_as_typed()


def _store_logged_messages_as_typed() -> None:
    """Logged messages used to be stored as Slack sent them (`&lt;`, `<!here>`); every
    text is now stored as typed, so they go through the same input boundary once."""
    conn = op.get_bind()
    entry = sa.table("timeline_entry", sa.column("id", sa.Integer), sa.column("text", sa.Text))
    rows = conn.execute(
        sa.select(entry.c.id, entry.c.text).where(sa.text("kind = 'message'"))
    ).all()
    for entry_id, text in rows:
        typed = from_slack(text or "")
        if typed != text:
            conn.execute(sa.update(entry).where(entry.c.id == entry_id).values(text=typed))


def downgrade() -> None:
    op.drop_table("person_name")
