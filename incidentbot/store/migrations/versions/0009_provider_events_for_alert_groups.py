"""provider events for alert groups

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30 19:45:00

`provider_event.incident_id` becomes nullable and `alert_group_id` is added:
an alert group paging a `pagerduty:`/`opsgenie:` target records its events in
the same outbox. Existing rows keep their incident.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("provider_event", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("alert_group_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_provider_event_alert_group_id"), ["alert_group_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_provider_event_alert_group_id", "alert_group", ["alert_group_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_event", schema=None) as batch_op:
        batch_op.drop_constraint("fk_provider_event_alert_group_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_provider_event_alert_group_id"))
        batch_op.drop_column("alert_group_id")
    op.execute("DELETE FROM provider_event WHERE incident_id IS NULL")
    with op.batch_alter_table("provider_event", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
