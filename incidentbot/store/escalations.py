"""Queries over escalations and their pages. No Slack, no rules.

Each function takes an open `Session`; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, or_, select

from incidentbot.store.models import Escalation, Incident, Page

# States in which a path counts as used for an incident: raising the severity
# again to one with the same path does not start it a second time.
USED_STATES = ("running", "acknowledged")


def running(session: Session, *, incident_id: int, path: str | None = None) -> list[Escalation]:
    """The incident's running escalations (of one path, if given), oldest first."""
    stmt = select(Escalation).where(
        Escalation.incident_id == incident_id, Escalation.state == "running"
    )
    if path is not None:
        stmt = stmt.where(Escalation.path == path)
    return list(session.exec(stmt.order_by(col(Escalation.id))).all())


def paths_used(session: Session, *, incident_id: int) -> set[str]:
    stmt = select(Escalation.path).where(
        Escalation.incident_id == incident_id, col(Escalation.state).in_(USED_STATES)
    )
    return set(session.exec(stmt).all())


# Pages not sent yet: "retrying" ones wait in the Slack outbox for Slack to be back.
UNSENT = ("pending", "retrying")


def cancel_pending_pages(session: Session, *, escalation_id: int, note: str | None = None) -> None:
    """Withdraw the pages not sent yet, saying why (the outbox then skips them)."""
    session.exec(  # type: ignore[call-overload]
        update(Page)
        .where(Page.escalation_id == escalation_id, col(Page.status).in_(UNSENT))
        .values(status="cancelled", note=note)
    )


def claim_page(session: Session, *, page_id: int, now: datetime, lease_cutoff: datetime) -> bool:
    """Take a pending page for sending; False when it was sent, cancelled or is being sent.

    A claim older than `lease_cutoff` belonged to a process that died mid-send.
    """
    claim = (
        update(Page)
        .where(
            Page.id == page_id,
            Page.status == "pending",
            or_(col(Page.claimed_at).is_(None), col(Page.claimed_at) < lease_cutoff),
        )
        .values(claimed_at=now, attempts=Page.attempts + 1)
    )
    return bool(session.exec(claim).rowcount == 1)  # type: ignore[call-overload]


def finish_page(
    session: Session,
    *,
    page_id: int,
    status: str,
    at: datetime,
    deliveries: list[dict[str, Any]],
    unreachable: list[dict[str, Any]],
    note: str | None = None,
) -> None:
    """Record how sending went, unless the page was cancelled meanwhile (that stands)."""
    page = session.get(Page, page_id)
    if page is None or page.status not in UNSENT:
        return
    page.status, page.deliveries, page.sent_at = status, deliveries, at
    page.unreachable, page.note = unreachable, note
    session.add(page)


def keep_for_retry(
    session: Session, *, page_id: int, deliveries: list[dict[str, Any]], note: str
) -> Page | None:
    """Mark a page `retrying` (Slack did not take it), keeping whom it reached so far.

    Returns the page when it just became `retrying` (the caller hands it to the
    outbox); None when it already was, or was cancelled meanwhile.
    """
    page = session.get(Page, page_id)
    if page is None or page.status not in UNSENT:
        return None
    became = page.status == "pending"
    page.status, page.deliveries, page.claimed_at, page.note = "retrying", deliveries, None, note
    session.add(page)
    return page if became else None


def orphaned_pages(
    session: Session, *, lease_cutoff: datetime, created_before: datetime, limit: int = 200
) -> Sequence[Page]:
    """Pending pages nobody is sending: never claimed, or claimed before `lease_cutoff`."""
    stmt = select(Page).where(
        Page.status == "pending",
        or_(col(Page.claimed_at).is_(None), col(Page.claimed_at) < lease_cutoff),
        col(Page.created_at) <= created_before,
    )
    return session.exec(stmt.order_by(col(Page.id)).limit(limit)).all()


def pages_of(session: Session, *, escalation_ids: Sequence[int]) -> Sequence[Page]:
    return session.exec(select(Page).where(col(Page.escalation_id).in_(escalation_ids))).all()


def open_pages(session: Session, *, limit: int) -> Sequence[tuple[Page, Escalation, Incident]]:
    """Pages of running escalations not withdrawn, newest first, with their incident."""
    stmt = (
        select(Page, Escalation, Incident)
        .where(
            Page.escalation_id == Escalation.id,
            Page.incident_id == Incident.id,
            Escalation.state == "running",
            col(Page.status).in_(("pending", "retrying", "sent")),
        )
        .order_by(col(Page.created_at).desc())
        .limit(limit)
    )
    return session.exec(stmt).all()


def paged(session: Session, *, incident_id: int) -> tuple[bool, bool]:
    """(anyone was paged for the incident, a page of it was acknowledged)."""
    stmt = select(
        func.count(col(Escalation.id)), func.count(col(Escalation.acknowledged_at))
    ).where(Escalation.incident_id == incident_id)
    started, acked = session.exec(stmt).one()
    return bool(started), bool(acked)
