"""Incident metrics: counts, MTTA and MTTR over a window of days. Pure computation.

Definitions (repeated in the `/incident stats` reply so nobody has to guess):

- **MTTA**, mean/median time to acknowledge: declared → acknowledged (the first
  acknowledgement of a page, or the Incident Commander's first action).
- **MTTR**, mean/median time to resolve: declared → resolved.

An incident counts in the window when it was *declared* in it. Each figure is
taken over the incidents that reached that point (an unacknowledged incident
has no time to acknowledge, an open one no time to resolve), and says how many
that was, so a mean over one incident is not mistaken for a trend.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_DAYS = 30
MAX_DAYS = 3650  # ten years: more is a typo, and would only slow the query down


@dataclass(frozen=True, slots=True)
class IncidentTimes:
    """The key timestamps of one incident, as plain data."""

    number: int
    severity: str
    declared_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class Durations:
    """Mean and median of some durations, and how many there were."""

    count: int
    mean: timedelta | None = None
    median: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one group of incidents (a severity, or all of them)."""

    label: str
    incidents: int
    open: int
    mtta: Durations
    mttr: Durations


@dataclass(frozen=True, slots=True)
class Stats:
    days: int
    since: datetime
    until: datetime
    total: Figures
    by_severity: tuple[Figures, ...]
    open_now: int  # open at `until`, declared in the window or before


def summarize(values: Sequence[timedelta]) -> Durations:
    """Mean and median of `values` (None for both when there are none)."""
    if not values:
        return Durations(0)
    mean = sum(values, timedelta()) / len(values)
    median = timedelta(seconds=statistics.median(v.total_seconds() for v in values))
    return Durations(len(values), mean, median)


def figures(label: str, incidents: Sequence[IncidentTimes]) -> Figures:
    acked = [i.acknowledged_at - i.declared_at for i in incidents if i.acknowledged_at]
    resolved = [i.resolved_at - i.declared_at for i in incidents if i.resolved_at]
    return Figures(
        label=label,
        incidents=len(incidents),
        open=sum(1 for i in incidents if i.open),
        mtta=summarize(acked),
        mttr=summarize(resolved),
    )


def compute_stats(
    incidents: Iterable[IncidentTimes],
    *,
    now: datetime,
    days: int = DEFAULT_DAYS,
    severities: Sequence[str] = (),
) -> Stats:
    """Figures for the incidents declared in the `days` before `now`, by severity.

    Every severity in `severities` gets a row (zero when nothing happened), in
    that order; a severity no longer configured but still found in the data
    follows at the end, so no incident silently drops out of the table.
    """
    since = now - timedelta(days=days)
    everything = list(incidents)
    window = [i for i in everything if since <= i.declared_at <= now]
    seen = dict.fromkeys([*severities, *sorted({i.severity for i in window})])
    rows = tuple(figures(sev, [i for i in window if i.severity == sev]) for sev in seen)
    return Stats(
        days=days,
        since=since,
        until=now,
        total=figures("all", window),
        by_severity=rows,
        open_now=sum(1 for i in everything if i.open and i.declared_at <= now),
    )
