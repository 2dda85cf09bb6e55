"""The database tables. Every table the bot uses is defined here.

Times are timezone-aware UTC datetimes: SQLModel's UTCDateTime column type
stores them as UTC and hands them back aware, on SQLite and PostgreSQL alike.

Uniqueness that protects against Slack's retries and double submissions is
enforced here, by the database, so it holds across threads, restarts and
replicas: `incident.source_key` (one incident per modal submission) and
`timeline_entry.dedup_key` (one entry per logged message or event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class Incident(SQLModel, table=True):
    """One incident. Its primary key is the incident number (INC-<id>)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    severity: str = Field(max_length=40)
    status: str = Field(max_length=40)
    private: bool = False
    declared_by: str = Field(max_length=32)
    declared_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    channel_id: str | None = Field(default=None, max_length=32, unique=True)
    channel_name: str | None = Field(default=None, max_length=80)
    # Declared from the origin channel (for reporting Slack failures back).
    origin_channel_id: str | None = Field(default=None, max_length=32)
    # First entry into each status: {"identified": "2026-…"}.
    status_times: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Slack steps of declare still to finish or report ({"step": "error"}).
    pending_steps: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    source_key: str | None = Field(default=None, max_length=200, unique=True)
    updated_at: datetime

    __table_args__ = (Index("ix_incident_status_declared", "status", "declared_at"),)


class RoleAssignment(SQLModel, table=True):
    """Who held which role, from when to when. `ended_at` is NULL while held."""

    __tablename__ = "role_assignment"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    role: str = Field(max_length=40)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    started_at: datetime
    ended_at: datetime | None = None


class TimelineEntry(SQLModel, table=True):
    """One thing that happened during an incident (append-only; edits are entries too)."""

    __tablename__ = "timeline_entry"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id")
    at: datetime  # when it happened (a logged message keeps its original time)
    recorded_at: datetime
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="slack", max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    dedup_key: str | None = Field(default=None, max_length=200)
    deleted_at: datetime | None = None

    __table_args__ = (
        UniqueConstraint("incident_id", "dedup_key", name="uq_timeline_dedup"),
        Index("ix_timeline_incident_at", "incident_id", "at"),
    )


class SlackMessage(SQLModel, table=True):
    """A message the bot keeps current: the welcome message and incident cards."""

    __tablename__ = "slack_message"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    kind: str = Field(max_length=20)  # "welcome" | "card"
    channel_id: str = Field(max_length=32)
    ts: str = Field(max_length=32)

    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "channel_id", name="uq_slack_message"),
    )
