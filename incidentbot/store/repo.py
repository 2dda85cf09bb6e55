"""Small keyword-only data functions over the tables. No Slack, no rules.

Each function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from incidentbot.store.models import (
    FollowUp,
    Incident,
    PersonName,
    RoleAssignment,
    SlackMessage,
    StatusUpdate,
    TimelineEntry,
)


def get_incident(session: Session, *, number: int, lock: bool = False) -> Incident | None:
    stmt = select(Incident).where(Incident.id == number)
    if lock:
        lock_for_write(session)
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def incident_by_channel(
    session: Session, *, channel_id: str, lock: bool = False
) -> Incident | None:
    stmt = select(Incident).where(Incident.channel_id == channel_id)
    if lock:
        lock_for_write(session)
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


def lock_for_write(session: Session) -> None:
    """On SQLite, take the database's write lock before a locking read.

    SQLite ignores `FOR UPDATE` and the driver starts a transaction only at the
    first write, so two check-then-write use cases (a double-clicked button, a
    double-submitted modal) would both read the old state and both write. A
    write that changes nothing starts the transaction and takes the lock, like
    `BEGIN IMMEDIATE`: the other waits (busy timeout), then reads fresh data.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql("UPDATE incident SET id = id WHERE 0")


def incident_by_source_key(session: Session, *, source_key: str) -> Incident | None:
    return session.exec(select(Incident).where(Incident.source_key == source_key)).first()


def is_open(final_status: str) -> ColumnElement[bool]:
    """`status != final_status`, written as two ranges so an index on status can serve it."""
    return or_(col(Incident.status) < final_status, col(Incident.status) > final_status)


def open_incidents(session: Session, *, final_status: str, limit: int = 200) -> Sequence[Incident]:
    # The ids come from the status index first: with ORDER BY id LIMIT in the same query,
    # SQLite would rather walk every incident by id (most are resolved) than use the index.
    open_ids = select(Incident.id).where(is_open(final_status))
    stmt = (
        select(Incident)
        .where(col(Incident.id).in_(open_ids))
        .order_by(col(Incident.id).desc())
        .limit(limit)
    )
    return session.exec(stmt).all()


def open_counts(session: Session, *, final_status: str) -> dict[str, int]:
    """Open incidents by severity."""
    stmt = (
        select(Incident.severity, func.count())
        .where(is_open(final_status))
        .group_by(Incident.severity)
    )
    return {severity: int(n) for severity, n in session.exec(stmt).all()}


def insert_unique(session: Session, *, row: SQLModel) -> bool:
    """Insert `row`; False when a unique key (a retry's `source_key`…) already exists.

    The savepoint keeps the caller's transaction usable after the conflict.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def add_incident(session: Session, *, incident: Incident) -> Incident | None:
    """Insert an incident; None when its `source_key` was already used (a retry)."""
    return incident if insert_unique(session, row=incident) else None


def follow_ups(session: Session, *, incident_id: int) -> Sequence[FollowUp]:
    stmt = (
        select(FollowUp)
        .where(FollowUp.incident_id == incident_id)
        .order_by(col(FollowUp.created_at), col(FollowUp.id))
    )
    return session.exec(stmt).all()


def current_roles(session: Session, *, incident_id: int) -> dict[str, str]:
    """The role → user mapping in force now."""
    stmt = select(RoleAssignment).where(
        RoleAssignment.incident_id == incident_id, col(RoleAssignment.ended_at).is_(None)
    )
    return {a.role: a.user_id for a in session.exec(stmt).all()}


def current_roles_of(session: Session, *, incident_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """`current_roles` of many incidents in one query: incident id → role → user."""
    out: dict[int, dict[str, str]] = {n: {} for n in incident_ids}
    if not incident_ids:
        return out
    stmt = select(RoleAssignment).where(
        col(RoleAssignment.incident_id).in_(incident_ids), col(RoleAssignment.ended_at).is_(None)
    )
    for a in session.exec(stmt).all():
        out[a.incident_id][a.role] = a.user_id
    return out


def role_history(session: Session, *, incident_id: int) -> Sequence[RoleAssignment]:
    stmt = (
        select(RoleAssignment)
        .where(RoleAssignment.incident_id == incident_id)
        .order_by(col(RoleAssignment.started_at), col(RoleAssignment.id))
    )
    return session.exec(stmt).all()


def assign_role(
    session: Session, *, incident_id: int, role: str, user_id: str, by: str, at: datetime
) -> str | None:
    """Give `role` to `user_id`; returns the previous holder (None if vacant)."""
    stmt = select(RoleAssignment).where(
        RoleAssignment.incident_id == incident_id,
        RoleAssignment.role == role,
        col(RoleAssignment.ended_at).is_(None),
    )
    previous = None
    for held in session.exec(stmt).all():
        previous = held.user_id
        held.ended_at = at
        session.add(held)
    session.add(
        RoleAssignment(
            incident_id=incident_id, role=role, user_id=user_id, assigned_by=by, started_at=at
        )
    )
    return previous


def add_entry(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    actor: str,
    text: str,
    at: datetime,
    recorded_at: datetime | None = None,
    source: str = "slack",
    data: dict[str, Any] | None = None,
    dedup_key: str | None = None,
) -> TimelineEntry | None:
    """Append a timeline entry; None when `dedup_key` was already recorded."""
    entry = TimelineEntry(
        incident_id=incident_id,
        kind=kind,
        actor=actor,
        text=text,
        at=at,
        recorded_at=recorded_at or at,
        source=source,
        data=data or {},
        dedup_key=dedup_key,
    )
    return entry if insert_unique(session, row=entry) else None


def timeline(
    session: Session,
    *,
    incident_id: int,
    include_deleted: bool = False,
    latest: int | None = None,
) -> Sequence[TimelineEntry]:
    """The entries in time order; with `latest`, only the last `latest` of them.

    The latest are read newest first (`ORDER BY at DESC, id DESC LIMIT n`, which
    walks `ix_timeline_incident_at` backwards) and returned reversed, so a long
    timeline costs no more than what is shown.
    """
    stmt = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if not include_deleted:
        stmt = stmt.where(col(TimelineEntry.deleted_at).is_(None))
    if latest is None:
        return session.exec(stmt.order_by(col(TimelineEntry.at), col(TimelineEntry.id))).all()
    newest_first = stmt.order_by(col(TimelineEntry.at).desc(), col(TimelineEntry.id).desc())
    return list(reversed(session.exec(newest_first.limit(latest)).all()))


def count_entries(session: Session, *, incident_id: int, include_deleted: bool = True) -> int:
    """How many entries `incident_id` has (deleted ones too, unless told otherwise)."""
    stmt = (
        select(func.count())
        .select_from(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
    )
    if not include_deleted:
        stmt = stmt.where(col(TimelineEntry.deleted_at).is_(None))
    return int(session.exec(stmt).one())


def slack_messages(
    session: Session, *, incident_id: int, kind: str | None = None
) -> Sequence[SlackMessage]:
    stmt = select(SlackMessage).where(SlackMessage.incident_id == incident_id)
    if kind is not None:
        stmt = stmt.where(SlackMessage.kind == kind)
    return session.exec(stmt.order_by(col(SlackMessage.id))).all()


def remember_message(
    session: Session, *, incident_id: int, kind: str, channel_id: str, ts: str
) -> None:
    """Record (or move) the bot message of `kind` in `channel_id`."""
    stmt = select(SlackMessage).where(
        SlackMessage.incident_id == incident_id,
        SlackMessage.kind == kind,
        SlackMessage.channel_id == channel_id,
    )
    existing = session.exec(stmt).first()
    if existing is None:
        session.add(SlackMessage(incident_id=incident_id, kind=kind, channel_id=channel_id, ts=ts))
    else:
        existing.ts = ts
        session.add(existing)


def latest_update_text(session: Session, *, incident_id: int) -> str:
    """The text of the newest stakeholder update, for the card ("" when none yet)."""
    stmt = (
        select(StatusUpdate.text)
        .where(StatusUpdate.incident_id == incident_id)
        .order_by(col(StatusUpdate.posted_at).desc(), col(StatusUpdate.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first() or ""


def latest_update_texts(session: Session, *, incident_ids: Sequence[int]) -> dict[int, str]:
    """`latest_update_text` of many incidents in one query (incidents without one left out)."""
    if not incident_ids:
        return {}
    stmt = (
        select(StatusUpdate.incident_id, StatusUpdate.text)
        .where(col(StatusUpdate.incident_id).in_(incident_ids))
        .order_by(col(StatusUpdate.posted_at).desc(), col(StatusUpdate.id).desc())
    )
    latest: dict[int, str] = {}
    for number, text in session.exec(stmt).all():
        latest.setdefault(number, text)  # the first row of each incident is its newest
    return latest


def latest_update(session: Session, *, incident_id: int) -> StatusUpdate | None:
    """The newest stakeholder update of an incident."""
    stmt = (
        select(StatusUpdate)
        .where(StatusUpdate.incident_id == incident_id)
        .order_by(col(StatusUpdate.posted_at).desc(), col(StatusUpdate.id).desc())
    )
    return session.exec(stmt).first()


def update_by_source_key(session: Session, *, source_key: str) -> StatusUpdate | None:
    return session.exec(select(StatusUpdate).where(StatusUpdate.source_key == source_key)).first()


def resolved_since(
    session: Session, *, since: datetime, final_status: str, limit: int
) -> list[int]:
    """Numbers of incidents resolved since `since`, most recently resolved first."""
    stmt = (
        select(Incident.id)
        .where(Incident.status == final_status, col(Incident.resolved_at) >= since)
        .order_by(col(Incident.resolved_at).desc())
        .limit(limit)
    )
    return [int(n) for n in session.exec(stmt).all() if n is not None]


def entry_exists(session: Session, *, incident_id: int, dedup_key: str) -> bool:
    stmt = select(TimelineEntry.id).where(
        TimelineEntry.incident_id == incident_id, TimelineEntry.dedup_key == dedup_key
    )
    return session.exec(stmt).first() is not None


def entry_for_update(session: Session, *, entry_id: int) -> TimelineEntry | None:
    """A timeline entry, locked for a check-then-write edit."""
    lock_for_write(session)
    stmt = select(TimelineEntry).where(TimelineEntry.id == entry_id).with_for_update()
    return session.exec(stmt).first()


def person_names(session: Session, *, user_ids: Sequence[str]) -> dict[str, PersonName]:
    """The cached display names of `user_ids` (those never looked up are left out)."""
    if not user_ids:
        return {}
    rows = session.exec(select(PersonName).where(col(PersonName.user_id).in_(user_ids))).all()
    return {row.user_id: row for row in rows}


def save_person_name(session: Session, *, user_id: str, name: str, at: datetime) -> None:
    """Insert or refresh one cached display name."""
    row = session.get(PersonName, user_id)
    if row is None:
        row = PersonName(user_id=user_id, name=name, looked_up_at=at)
    else:
        row.name, row.looked_up_at = name, at
    session.add(row)
