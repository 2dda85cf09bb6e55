"""Queries behind reports: the postmortem's rows and the statistics window.

Plain values, not ORM objects, where an incident can have thousands of rows.
No Slack, no rules; the caller owns the session or the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, case, cast, extract, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.store.models import Escalation, Incident, Page, TimelineEntry
from incidentbot.store.repo import is_open

# (at, kind, actor, text, data, edited)
EntryRow = tuple[datetime, str, str, str, dict[str, Any] | None, bool]
# (severity, open, seconds to acknowledge, seconds to resolve)
ElapsedRow = tuple[str, bool, float | None, float | None]


def timeline_rows(session: Session, *, incident_id: int) -> Sequence[EntryRow]:
    """Every entry not deleted, in time order: only the columns shown.

    An incident can have 10,000 entries; building a `TimelineEntry` for each
    would cost more than the whole query.
    """
    return session.execute(  # type: ignore[return-value]  # rows are tuples
        select(
            TimelineEntry.at,
            TimelineEntry.kind,
            TimelineEntry.actor,
            TimelineEntry.text,
            TimelineEntry.data,
            col(TimelineEntry.edited_at).is_not(None),
        )
        .where(TimelineEntry.incident_id == incident_id, col(TimelineEntry.deleted_at).is_(None))
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    ).all()


def escalations_with_pages(
    session: Session, *, incident_id: int
) -> list[tuple[Escalation, Sequence[Page]]]:
    """Every escalation run of an incident, oldest first, with its pages in step order."""
    runs = session.exec(
        select(Escalation)
        .where(Escalation.incident_id == incident_id)
        .order_by(col(Escalation.started_at), col(Escalation.id))
    ).all()
    out = []
    for run in runs:
        pages = session.exec(
            select(Page)
            .where(Page.escalation_id == run.id)
            .order_by(col(Page.cycle), col(Page.level), col(Page.id))
        ).all()
        out.append((run, pages))
    return out


def elapsed_in_window(
    engine: Engine, *, since: datetime, until: datetime, final_status: str
) -> tuple[list[ElapsedRow], int]:
    """Per incident declared in [since, until]: severity, open, seconds to ack and to resolve;
    and how many incidents declared before `since` are still open.

    The database does the date arithmetic; Python only averages floats.
    """
    declared = col(Incident.declared_at)
    resolved = col(Incident.resolved_at)
    seconds = _seconds_between(engine.dialect.name)
    # Core rows of plain values: no ORM layer for thousands of rows.
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Incident.severity,
                resolved.is_(None),
                seconds(declared, col(Incident.acknowledged_at)),
                seconds(declared, resolved),
            ).where(declared >= since, declared <= until)
        ).all()
        # Open now and declared before the window: the few open incidents, found by
        # status alone (with a condition on declared_at in WHERE, SQLite would walk the
        # declared_at index over every incident instead).
        open_before = conn.execute(
            select(func.coalesce(func.sum(case((declared < since, 1), else_=0)), 0)).where(
                is_open(final_status), resolved.is_(None)
            )
        ).scalar_one()
    window = [(str(sev), bool(open_), ack, res) for sev, open_, ack, res in rows]
    return window, int(open_before)


def _seconds_between(dialect: str) -> Callable[[Any, Any], ColumnElement[Any]]:
    """SQL for the seconds from one timestamp column to another (NULL when either is)."""
    if dialect == "postgresql":
        return lambda start, end: cast(extract("epoch", end - start), Float)
    if dialect == "sqlite":
        # julianday() counts whole milliseconds; rounding drops the float noise of * 86400.
        return lambda start, end: func.round(
            (func.julianday(end) - func.julianday(start)) * 86400.0, 3
        )
    raise NotImplementedError(f"stats on {dialect}")
