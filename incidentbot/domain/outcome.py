"""`Outcome`: what a use case did, the one result type every service returns.

Every change a person makes (declare, a status change, an update, an ack, a
timeline edit, a postmortem upload) answers with the same shape: the incident
afterwards, what the use case itself produced (`value`: the stored update, the
acknowledged paths, the postmortem text…), the Slack steps that still failed
(`problems`: the change itself was saved) and whether anything new was stored
(`created` is False for a retry, a double submission or an already logged
message, which changed nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from incidentbot.domain.snapshot import IncidentSnapshot

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    incident: IncidentSnapshot
    value: T = None  # type: ignore[assignment]  # Outcome[None] for plain changes
    problems: tuple[str, ...] = ()
    created: bool = True

    @property
    def number(self) -> int:
        return self.incident.number

    @property
    def duplicate(self) -> bool:
        """A repeat of something already done: nothing new was stored."""
        return not self.created

    def with_problems(self, more: tuple[str, ...] | list[str]) -> Outcome[T]:
        return Outcome(self.incident, self.value, self.problems + tuple(more), self.created)
