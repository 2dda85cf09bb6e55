"""Incident statistics for `/incident stats`: counts, MTTA and MTTR over a window of days.

Pure computation. (The Prometheus metrics the bot exports are `incidentbot/metrics.py`.)

Definitions (repeated in the `/incident stats` reply so nobody has to guess):

- **MTTA**, mean/median time to acknowledge: declared → acknowledged, the one
  milestone of PRODUCT.md §4: the first acknowledgement of a page (button,
  `/incident ack`, PagerDuty/Opsgenie); for an incident that paged nobody, the
  Incident Commander's first action. An IC action before the page is answered
  does not count: the page acknowledgement does.
- **MTTR**, mean/median time to resolve: declared → resolved.

An incident counts in the window when it was *declared* in it. Each figure is
taken over the incidents that reached that point (an unacknowledged incident
has no time to acknowledge, an open one no time to resolve), and says how many
that was, so a mean over one incident is not mistaken for a trend.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True, slots=True)
class Elapsed:
    """One incident declared in the window, as the stats query reads it: plain numbers.

    `to_acknowledge` and `to_resolve` are seconds from declared (None when it
    has not got there), computed by the database, so no datetime is built.
    """

    severity: str
    open: bool
    to_acknowledge: float | None = None
    to_resolve: float | None = None


def summarize_seconds(values: Sequence[float]) -> Durations:
    """Mean and median of durations in seconds (None for both when there are none)."""
    if not values:
        return Durations(0)
    mean = timedelta(seconds=math.fsum(values) / len(values))
    return Durations(len(values), mean, timedelta(seconds=statistics.median(values)))


def summarize(values: Sequence[timedelta]) -> Durations:
    """Mean and median of `values` (None for both when there are none)."""
    return summarize_seconds([v.total_seconds() for v in values])


def elapsed(i: IncidentTimes) -> Elapsed:
    def since_declared(at: datetime | None) -> float | None:
        return None if at is None else (at - i.declared_at).total_seconds()

    return Elapsed(
        i.severity, i.open, since_declared(i.acknowledged_at), since_declared(i.resolved_at)
    )


def figures(label: str, incidents: Sequence[Elapsed]) -> Figures:
    return Figures(
        label=label,
        incidents=len(incidents),
        open=sum(1 for i in incidents if i.open),
        mtta=summarize_seconds(
            [i.to_acknowledge for i in incidents if i.to_acknowledge is not None]
        ),
        mttr=summarize_seconds([i.to_resolve for i in incidents if i.to_resolve is not None]),
    )


def window_stats(
    window: Iterable[Elapsed],
    *,
    now: datetime,
    days: int = DEFAULT_DAYS,
    severities: Sequence[str] = (),
    open_now: int,
) -> Stats:
    """Figures for the incidents declared in the `days` before `now` (`window`), by severity.

    Every severity in `severities` gets a row (zero when nothing happened), in
    that order; a severity no longer configured but still found in the data
    follows at the end, so no incident silently drops out of the table.
    `open_now` counts the incidents open at `now`, whenever declared.
    """
    window = list(window)
    groups: dict[str, list[Elapsed]] = {sev: [] for sev in severities}
    for sev in sorted({i.severity for i in window} - groups.keys()):
        groups[sev] = []
    for i in window:
        groups[i.severity].append(i)
    return Stats(
        days=days,
        since=now - timedelta(days=days),
        until=now,
        total=figures("all", window),
        by_severity=tuple(figures(sev, rows) for sev, rows in groups.items()),
        open_now=open_now,
    )


def compute_stats(
    incidents: Iterable[IncidentTimes],
    *,
    now: datetime,
    days: int = DEFAULT_DAYS,
    severities: Sequence[str] = (),
) -> Stats:
    """`window_stats` of incidents given by their timestamps (all of them: any age).

    The database computes the same numbers itself (`ReportService.stats`); this
    is the plain definition, and what the table tests check.
    """
    since = now - timedelta(days=days)
    everything = list(incidents)
    return window_stats(
        (elapsed(i) for i in everything if since <= i.declared_at <= now),
        now=now,
        days=days,
        severities=severities,
        open_now=sum(1 for i in everything if i.open and i.declared_at <= now),
    )
