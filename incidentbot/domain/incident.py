"""Rules about an incident's state: status and severity changes, topics, labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from incidentbot.domain.errors import InvalidChange
from incidentbot.domain.text import one_line, plain_within, truncate

TOPIC_LIMIT = 250
PURPOSE_LIMIT = 250
ROLE_LABELS = {"incident_commander": "Incident Commander", "scribe": "Scribe"}


def label(number: int) -> str:
    """How an incident is named in messages."""
    return f"INC-{number}"


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def check_status_change(current: str, new: str, statuses: Sequence[str]) -> None:
    """Raise `InvalidChange` unless `current` → `new` is allowed."""
    final = statuses[-1]
    if current == final:
        raise InvalidChange(
            f"This incident is {final}. Use `/incident reopen` first to change its status."
        )
    if new == current:
        raise InvalidChange(f"The status is already `{new}`.")


def check_severity_change(current: str, new: str) -> None:
    if new == current:
        raise InvalidChange(f"The severity is already `{new}`.")


def check_open(status: str, statuses: Sequence[str], action: str) -> None:
    if status == statuses[-1]:
        raise InvalidChange(f"This incident is already {status}; cannot {action}.")


def check_resolved(status: str, statuses: Sequence[str]) -> None:
    if status != statuses[-1]:
        raise InvalidChange("This incident is not resolved, so there is nothing to reopen.")


def status_times_after(
    status_times: Mapping[str, str], status: str, at: datetime
) -> dict[str, str]:
    """Record the first entry into `status` (later entries keep the first time)."""
    updated = dict(status_times)
    updated.setdefault(status, at.isoformat())
    return updated


def topic(*, severity: str, status: str, ic: str | None) -> str:
    """The channel topic kept current on every change: severity | status | IC."""
    commander = f"<@{ic}>" if ic else "no IC yet"
    return truncate(f"{severity.upper()} | {status} | IC: {commander}", TOPIC_LIMIT)


def purpose(title: str) -> str:
    """The channel purpose: the title as typed (mentions as @name), within 250 characters."""
    return plain_within(one_line(title), PURPOSE_LIMIT)
