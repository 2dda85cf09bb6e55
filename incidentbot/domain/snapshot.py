"""Read-only pictures of an incident and of its stakeholder updates.

Services build them from stored rows; Block Kit builders render them. Pure values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from incidentbot.domain.incident import label


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    number: int
    title: str
    description: str
    severity: str
    status: str
    private: bool
    declared_by: str
    declared_at: datetime
    channel_id: str | None
    channel_name: str | None
    roles: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    final_status: str = "resolved"
    last_update_at: datetime | None = None  # latest stakeholder update (shown on the card)
    last_update_text: str = ""

    @property
    def label(self) -> str:
        return label(self.number)

    @property
    def ic(self) -> str | None:
        return self.roles.get("incident_commander")

    @property
    def scribe(self) -> str | None:
        return self.roles.get("scribe")

    @property
    def resolved(self) -> bool:
        return self.status == self.final_status


@dataclass(frozen=True, slots=True)
class UpdateSnapshot:
    """One stored stakeholder update, for builders and the modal's pre-fill."""

    number: int
    status: str
    severity: str
    text: str
    impact: str
    doing: str
    next_update_at: datetime | None
    posted_by: str
    posted_at: datetime
