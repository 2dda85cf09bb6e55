"""Escalation stepping: which level comes next, and what a target is.

A path has ordered levels; each level is paged, and if nobody acknowledges
within its timeout the next level is paged. After the last level the whole
path runs again `repeat` times; after that it is exhausted. Steps are
identified by (cycle, level): cycle 0 is the first run through the levels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from incidentbot.config import EscalationPath, Schedule
from incidentbot.durations import format_duration


@dataclass(frozen=True, slots=True)
class Step:
    cycle: int
    level: int


def next_step(path: EscalationPath, current: Step) -> Step | None:
    """The step after `current`, or None when the path is exhausted."""
    if current.level + 1 < len(path.levels):
        return Step(current.cycle, current.level + 1)
    if current.cycle < path.repeat:
        return Step(current.cycle + 1, 0)
    return None


def describe_step(path: EscalationPath, step: Step) -> str:
    """`level 2/3 of primary` (with the round when the path repeats)."""
    text = f"level {step.level + 1}/{len(path.levels)} of `{path.name}`"
    if path.repeat:
        text += f" (round {step.cycle + 1}/{path.repeat + 1})"
    return text


# -- targets --------------------------------------------------------------------------
SCHEDULE_PREFIX = "schedule:"
PROVIDER_KINDS = ("pagerduty", "opsgenie")  # `pagerduty:<service>`, `opsgenie:<team>`
# How each provider is named to people; also who "acknowledged" an escalation acked there.
PROVIDER_NAMES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}


def target_kind(target: str) -> str:
    """`user`, `email`, `group`, `schedule`, `pagerduty` or `opsgenie`
    (config validation guarantees one fits)."""
    if target.startswith(SCHEDULE_PREFIX):
        return "schedule"
    prefix, sep, _ = target.partition(":")
    if sep and prefix in PROVIDER_KINDS:
        return prefix
    if "@" in target:
        return "email"
    if target.startswith("S"):
        return "group"
    return "user"


def on_call(target: str, schedules: Mapping[str, Schedule], at: datetime) -> str | None:
    """For `schedule:<name>`, who is on call at `at` (a user ID or email)."""
    schedule = schedules.get(target[len(SCHEDULE_PREFIX) :].lower())
    return schedule.on_call(at) if schedule else None


@dataclass(frozen=True, slots=True)
class Shift:
    """Who holds a schedule now and until when, and who takes over then."""

    schedule: str
    now: str
    until: datetime
    next: str


def shift(schedule: Schedule, at: datetime) -> Shift:
    index = (at - schedule.start) // schedule.rotation
    until = schedule.start + (index + 1) * schedule.rotation
    return Shift(schedule.name, schedule.on_call(at), until, schedule.on_call(until))


def preview(path: EscalationPath, schedules: Mapping[str, Schedule], at: datetime) -> list[str]:
    """One line per level: who it would page right now and its timeout."""
    lines = []
    for index, level in enumerate(path.levels, start=1):
        who = []
        for target in level.targets:
            if target_kind(target) == "schedule":
                person = on_call(target, schedules, at)
                who.append(f"{_plain(person)} (on call: {target[len(SCHEDULE_PREFIX) :]})")
            else:
                who.append(_plain(target))
        lines.append(f"{index}. {', '.join(who)} — {format_duration(level.timeout)}")
    return lines


def _plain(target: str | None) -> str:
    """A target named without notifying anyone (pickers must not ping people)."""
    if target is None:
        return "nobody"
    kind = target_kind(target)
    if kind == "user":
        return f"<@{target}>"  # a user mention in a modal notifies nobody
    if kind == "group":
        return f"group {target}"
    if kind in PROVIDER_KINDS:
        return provider_label(target)
    return target


def is_provider(target: str) -> bool:
    """Whether `target` is paged through PagerDuty or Opsgenie rather than by Slack DM."""
    return target_kind(target) in PROVIDER_KINDS


def provider_label(target: str) -> str:
    """`PagerDuty service payments` / `Opsgenie team dba`."""
    kind, _, name = target.partition(":")
    return f"PagerDuty service `{name}`" if kind == "pagerduty" else f"Opsgenie team `{name}`"
