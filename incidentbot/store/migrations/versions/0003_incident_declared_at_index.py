"""incident declared_at index (for /incident stats over a window of days)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:00:00.000000
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_declared_at", ["declared_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_declared_at")
