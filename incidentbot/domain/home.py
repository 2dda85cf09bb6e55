"""What the App Home tab shows one person: plain values, built by services, rendered by views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from incidentbot.domain.snapshot import IncidentSnapshot


@dataclass(frozen=True, slots=True)
class PageLine:
    """A page of a running escalation waiting for the viewer."""

    number: int
    path: str
    level: int
    paged_at: datetime
    channel_id: str | None


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything the Home tab shows one person; `bool` = may see the details."""

    open: Sequence[tuple[IncidentSnapshot, bool]] = ()
    roles: Sequence[tuple[IncidentSnapshot, str]] = ()
    pages: Sequence[PageLine] = ()
    resolved: Sequence[tuple[IncidentSnapshot, bool]] = ()
