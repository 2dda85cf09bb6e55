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
    last_update_at: datetime | None = None  # latest stakeholder update

    __table_args__ = (
        Index("ix_incident_status_declared", "status", "declared_at"),
        Index("ix_incident_declared_at", "declared_at"),  # /incident stats: a window of days
    )


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
    edited_at: datetime | None = None
    edited_by: str | None = Field(default=None, max_length=32)

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


class Timer(SQLModel, table=True):
    """A durable timer: escalation steps, update reminders, role watches, and the
    consequences of a change (kind "consequence", see `incidentbot.consequences`).

    The row is the truth; APScheduler only wakes the bot up at `due_at`. A timer
    fires when a process claims it by setting `fired_at` where it is still NULL,
    in the same transaction as the work it triggers, so exactly one process does
    that work, across restarts and replicas.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    key: str = Field(max_length=200, unique=True)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    due_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime
    fired_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=20)  # fired|cancelled|skipped|failed
    claimed_by: str | None = Field(default=None, max_length=80)

    __table_args__ = (Index("ix_timer_pending", "fired_at", "due_at"),)


class Escalation(SQLModel, table=True):
    """One run of an escalation path on an incident."""

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    path: str = Field(max_length=60)
    state: str = Field(max_length=20)  # running | acknowledged | exhausted | cancelled
    cycle: int = 0  # 0 for the first run through the levels, 1.. for repeats
    level: int = 0  # index of the level paged most recently
    started_by: str = Field(max_length=32)
    started_at: datetime
    next_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, max_length=32)
    acknowledged_at: datetime | None = None
    ended_at: datetime | None = None


class Page(SQLModel, table=True):
    """One target of one level of an escalation: stored before any DM is sent."""

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    cycle: int
    level: int
    target: str = Field(max_length=200)  # as configured: U…, email, S…, schedule:<name>
    status: str = Field(max_length=20)  # pending | retrying | sent | failed | cancelled
    deliveries: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    unreachable: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    attempts: int = 0
    # Why a page ended as it did when that is not obvious ("acknowledged before
    # Slack could deliver it"); pages waiting for Slack have status "retrying".
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))

    __table_args__ = (
        UniqueConstraint("escalation_id", "cycle", "level", "target", name="uq_page_step_target"),
        Index("ix_page_status", "status", "claimed_at"),
    )


class FollowUp(SQLModel, table=True):
    """An action item recorded during or after an incident."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    owner: str | None = Field(default=None, max_length=32)
    created_by: str = Field(max_length=32)
    created_at: datetime
    done_at: datetime | None = None
    source_key: str | None = Field(default=None, max_length=200, unique=True)


class StatusUpdate(SQLModel, table=True):
    """A stakeholder status update."""

    __tablename__ = "status_update"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    status: str = Field(max_length=40)
    severity: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))
    impact: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    doing: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    next_update_at: datetime | None = None
    posted_by: str = Field(max_length=32)
    posted_at: datetime
    source_key: str | None = Field(default=None, max_length=200, unique=True)


# -- alerts in (PRODUCT.md §9) -------------------------------------------------------------
# Uniqueness that keeps retries, concurrent deliveries and replicas from duplicating:
# `alert_group.open_key` (one open group per route and group key; NULL once closed),
# `alert (source, key, occurrence)` (one alert per occurrence) and
# `alert_group.incident_id` (one incident per group).


class AlertGroup(SQLModel, table=True):
    """Alerts of one route and group key: one triage message, one state."""

    __tablename__ = "alert_group"

    id: int | None = Field(default=None, primary_key=True)
    route: str = Field(max_length=40)
    group_key: str = Field(max_length=200)
    open_key: str | None = Field(default=None, max_length=250, unique=True)
    source: str = Field(max_length=40)
    action: str = Field(max_length=10)  # drop | triage | page | declare (the route's, at creation)
    channel: str = Field(max_length=100)  # as configured: "#name" or an ID
    title: str = Field(sa_column=Column(Text, nullable=False))
    group_labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(max_length=10)  # firing | resolved
    firing: int = 0  # alerts firing now
    resolved: int = 0  # alerts resolved (this occurrence of the group)
    alerts_total: int = 0  # alert occurrences ever in the group
    created_at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    transitions: list[Any] = Field(default_factory=list, sa_column=Column(JSON))  # flap window
    flapping: bool = False
    acked_by: str | None = Field(default=None, max_length=40)
    acked_at: datetime | None = None
    silenced_until: datetime | None = None
    silenced_by: str | None = Field(default=None, max_length=32)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", unique=True)
    rollup_id: int | None = Field(default=None, index=True)  # storm: shown in a roll-up
    message_channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    posted_at: datetime | None = None
    edited_at: datetime | None = None
    version: int = 0  # bumped on every change worth showing
    synced_version: int = 0  # the version the message shows
    sync_due_at: datetime | None = None  # a sync timer is pending (coalesces changes)
    digest: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))  # not yet told
    digest_at: datetime | None = None  # last thread digest
    paging: str | None = Field(default=None, max_length=20)  # armed | paging | acked | done

    __table_args__ = (
        Index("ix_alert_group_route_created", "route", "created_at"),
        Index("ix_alert_group_status", "status", "route"),
    )


class AlertRecord(SQLModel, table=True):
    """One occurrence of one alert (a key firing again after resolving is a new one)."""

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="alert_group.id")
    source: str = Field(max_length=40)
    key: str = Field(max_length=200)
    occurrence: int = 1
    status: str = Field(max_length=10)  # firing | resolved
    title: str = Field(sa_column=Column(Text, nullable=False))
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    annotations: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    links: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    repeats: int = 0

    __table_args__ = (
        # Key first: ingest looks alerts up by `key IN (…)`, selective without statistics.
        UniqueConstraint("key", "source", "occurrence", name="uq_alert_occurrence"),
        Index("ix_alert_by_group_status", "group_id", "status"),
    )


class AlertSilence(SQLModel, table=True):
    """Silence of a route's group key until `ends_at` (survives the group closing)."""

    __tablename__ = "alert_silence"

    id: int | None = Field(default=None, primary_key=True)
    route: str = Field(max_length=40)
    group_key: str = Field(max_length=200)
    group_id: int = Field(foreign_key="alert_group.id")
    created_by: str = Field(max_length=32)
    created_at: datetime
    ends_at: datetime

    __table_args__ = (Index("ix_alert_silence_key", "route", "group_key", "ends_at"),)


class AlertRollup(SQLModel, table=True):
    """One message summing up the groups of a storm (beyond max_new_groups_per_minute)."""

    __tablename__ = "alert_rollup"

    id: int | None = Field(default=None, primary_key=True)
    route: str = Field(max_length=40)
    open_key: str | None = Field(default=None, max_length=60, unique=True)
    channel: str = Field(max_length=100)
    started_at: datetime
    last_at: datetime
    groups: int = 0
    alerts: int = 0
    names: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    message_channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    version: int = 0
    synced_version: int = 0
    sync_due_at: datetime | None = None
    edited_at: datetime | None = None


class AlertEvent(SQLModel, table=True):
    """Append-only log of what alerts did and what the bot told whom (the noise report).

    kind: received | repeat | resolved | reopened | suppressed | notified | acked |
    silenced | flapping | declared | linked | resolved_by_hand
    """

    __tablename__ = "alert_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    kind: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=20)  # suppression / notification kind
    source: str | None = Field(default=None, max_length=40)
    route: str = Field(max_length=40)
    group_id: int | None = Field(default=None)
    alert_id: int | None = Field(default=None)
    actor: str | None = Field(default=None, max_length=40)
    count: int = 1
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))

    __table_args__ = (
        Index("ix_alert_event_route_at", "route", "at"),
        Index("ix_alert_event_group", "group_id"),
    )


class SlackOutbox(SQLModel, table=True):
    """A Slack step that Slack could not take yet: retried until it can, oldest first.

    Rows are written when a call fails for a reason that passes (an outage, a
    rate limit, a 5xx) and carried out by `incidentbot.delivery.Outbox`. A row
    is taken by one process at a time (`claimed_by`/`claimed_at` is a lease), so
    replicas never deliver it twice; it survives restarts because it is a row.
    `created_at` is when the step was first wanted, so lateness can be told.
    """

    __tablename__ = "slack_outbox"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # page | setup | refresh | post | call
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(max_length=20)  # pending | delivered | skipped | failed
    created_at: datetime
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=200)
    last_attempt_at: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_at: datetime | None = None
    finished_at: datetime | None = None
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reported: bool = False  # lateness told to the channel and the declarer

    __table_args__ = (Index("ix_slack_outbox_status", "status", "id"),)


class ProviderEvent(SQLModel, table=True):
    """One event for PagerDuty or Opsgenie (trigger, acknowledge, resolve): an outbox row.

    Written in the same transaction as the change that causes it (a level paged,
    an acknowledgement, a resolution), then delivered by whichever process
    claims it first (`claimed_at`), retried with back-off until `sent` or
    `failed`. Events of one `dedup_key` are delivered in `id` order, so an
    acknowledge never overtakes its trigger. Secrets are never stored here;
    the routing key or API key is added from the configuration when sending.
    """

    __tablename__ = "provider_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    page_id: int | None = Field(default=None, foreign_key="page.id")
    target: str = Field(max_length=200)  # pagerduty:<service> | opsgenie:<team>
    action: str = Field(max_length=20)  # trigger | acknowledge | resolve
    dedup_key: str = Field(max_length=255, index=True)  # PagerDuty dedup_key, Opsgenie alias
    event_key: str = Field(max_length=300, unique=True)  # makes recording idempotent
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(max_length=20)  # pending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime

    __table_args__ = (Index("ix_provider_event_due", "status", "next_attempt_at"),)


class WebhookDelivery(SQLModel, table=True):
    """A webhook received from PagerDuty or Opsgenie, stored before it is answered.

    The unique (provider, delivery_key) drops repeated deliveries (PagerDuty's
    `X-Webhook-Id`); the row is processed after the answer, by whichever
    process claims it, so an answered webhook is never lost.
    """

    __tablename__ = "webhook_delivery"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    delivery_key: str = Field(max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    received_at: datetime
    claimed_at: datetime | None = None
    processed_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=200)

    __table_args__ = (
        UniqueConstraint("provider", "delivery_key", name="uq_webhook_delivery"),
        Index("ix_webhook_delivery_pending", "processed_at", "claimed_at"),
    )


class PersonName(SQLModel, table=True):
    """A person's Slack display name, looked up once and kept for documents read outside
    Slack (the postmortem), so the command line prints the same names as the upload."""

    __tablename__ = "person_name"

    user_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=250)
    looked_up_at: datetime
