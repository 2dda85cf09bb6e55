"""Alert group rules: state after a change, flapping, and who (if anyone) is told. Pure.

A group is *firing* while any of its alerts fires and *resolved* when none
does. Every firing↔resolved change is remembered for `flap_window`; with
`flap_threshold` of them the group is *flapping*: one notice, then quiet.

Whether a change notifies anyone:

    route action drop             never (reason "drop")
    group rolled up in a storm    never (reason "storm")
    group silenced                never (reason "silence")
    group flapping                only the change that made it flap (reason "flap")
    a repeat of a firing alert    never (reason "repeat")
    group acknowledged            the message is kept current; no thread digest (reason "acked")
    otherwise                     the message is edited; a digest in the thread

Message edits are at most one per `EDIT_EVERY` per group; digests at most one
per `digest_every`. `next_sync` says when the message may next be touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

EDIT_EVERY = timedelta(seconds=5)
STORM_WINDOW = timedelta(minutes=1)
ROLLUP_IDLE = timedelta(minutes=5)  # a storm whose last group is older than this is over

FIRING, RESOLVED = "firing", "resolved"


@dataclass(frozen=True, slots=True)
class Delta:
    """What one request did to one group."""

    new: int = 0  # alerts that started firing (first time, or again after resolving)
    repeats: int = 0  # alerts already firing, sent again
    resolved: int = 0  # firing alerts that resolved
    names: tuple[str, ...] = ()  # titles of the new ones (for the digest)


@dataclass(frozen=True, slots=True)
class GroupState:
    status: str | None  # None: the group is new
    firing: int
    flapping: bool
    transitions: tuple[datetime, ...]
    silenced: bool
    acked: bool
    storm: bool
    drop: bool
    posted: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    transitions: tuple[datetime, ...]
    flapping: bool
    became_flapping: bool
    reopened: bool  # resolved → firing
    all_resolved: bool  # firing → resolved
    notify: bool  # the message (and, unless acked, the thread) should be brought up to date
    suppressed: dict[str, int] = field(default_factory=dict)  # reason → alerts
    digest: dict[str, Any] = field(default_factory=dict)  # to add to the pending digest


def apply(
    state: GroupState,
    delta: Delta,
    *,
    now: datetime,
    flap_threshold: int,
    flap_window: timedelta,
) -> Outcome:
    """The group after `delta`, and what it means for notifications."""
    firing = state.firing + delta.new - delta.resolved
    status = FIRING if firing > 0 else RESOLVED
    changed_state = state.status is not None and status != state.status
    recent = tuple(t for t in state.transitions if now - t < flap_window)
    if changed_state:
        recent = (*recent, now)
    flapping = len(recent) >= flap_threshold
    became_flapping = flapping and not state.flapping
    quiet_reason = _quiet_reason(state, flapping and not became_flapping)
    suppressed: dict[str, int] = {}
    if delta.repeats:
        suppressed["repeat"] = delta.repeats
    meaningful = delta.new + delta.resolved
    if quiet_reason and meaningful:
        suppressed[quiet_reason] = suppressed.get(quiet_reason, 0) + meaningful
    elif state.acked and meaningful:
        suppressed["acked"] = meaningful
    notify = bool(meaningful or changed_state) and quiet_reason is None
    digest: dict[str, Any] = {}
    if notify and state.posted and not state.acked:
        digest = {
            "new": delta.new,
            "resolved": delta.resolved,
            "repeats": delta.repeats,
            "reopened": int(changed_state and status == FIRING),
            "names": list(delta.names[:5]),
        }
    return Outcome(
        status=status,
        transitions=recent,
        flapping=flapping,
        became_flapping=became_flapping,
        reopened=changed_state and status == FIRING,
        all_resolved=changed_state and status == RESOLVED,
        notify=notify,
        suppressed=suppressed,
        digest=digest,
    )


def _quiet_reason(state: GroupState, flapping: bool) -> str | None:
    if state.drop:
        return "drop"
    if state.storm:
        return "storm"
    if state.silenced:
        return "silence"
    if flapping:
        return "flap"
    return None


def merge_digest(pending: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """Add `more` to the digest not yet posted (counts add up; a few names are kept)."""
    if not more:
        return dict(pending)
    out = {k: int(pending.get(k, 0)) + int(more.get(k, 0)) for k in _COUNTS}
    names = list(dict.fromkeys([*pending.get("names", []), *more.get("names", [])]))
    out["names"] = names[:5]
    return out


_COUNTS = ("new", "resolved", "repeats", "reopened")


def digest_worth_posting(digest: Mapping[str, Any]) -> bool:
    """Repeats alone are not news: a digest needs something new, resolved or reopened."""
    return any(int(digest.get(k, 0)) for k in ("new", "resolved", "reopened"))


def next_edit_at(edited_at: datetime | None, now: datetime) -> datetime:
    """The earliest the message may be edited again (one edit per EDIT_EVERY)."""
    if edited_at is None:
        return now
    return max(now, edited_at + EDIT_EVERY)


def next_digest_at(digest_at: datetime | None, every: timedelta, now: datetime) -> datetime:
    if digest_at is None:
        return now
    return max(now, digest_at + every)


def reopenable(resolved_at: datetime | None, window: timedelta, now: datetime) -> bool:
    """A resolved group takes a re-firing alert back within `reopen_window` of resolving."""
    return resolved_at is None or now - resolved_at <= window


def storm(recent_new_groups: int, cap: int) -> bool:
    """A new group beyond `cap` new groups of its route in the last minute is rolled up."""
    return recent_new_groups >= cap


def summary_of(titles: Sequence[str], limit: int = 5) -> list[tuple[str, int]]:
    """The most frequent titles with their counts, most frequent first."""
    counts: dict[str, int] = {}
    for title in titles:
        counts[title] = counts.get(title, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


@dataclass(frozen=True, slots=True)
class GroupView:
    """An alert group as the triage message, digests and `/incident alerts` show it."""

    id: int
    route: str
    source: str
    action: str
    title: str
    status: str
    firing: int
    resolved: int
    alerts_total: int
    first_seen: datetime
    last_seen: datetime
    group_labels: Mapping[str, str]
    links: Mapping[str, str]
    acked_by: str | None = None
    silenced_until: datetime | None = None
    flapping: bool = False
    incident: int | None = None
    incident_channel: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    permalink: str | None = None

    def silenced(self, now: datetime) -> bool:
        return self.silenced_until is not None and self.silenced_until > now
