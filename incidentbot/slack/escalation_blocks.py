"""Block Kit for escalation: the page DM, its acknowledged/closed forms, channel
notices and the path picker. Pure functions returning dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from incidentbot.config import Config
from incidentbot.domain.escalation import (
    SCHEDULE_PREFIX,
    is_provider,
    preview,
    provider_label,
    shift,
)
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escaped_within, one_line, show_within, truncate
from incidentbot.slack import ids
from incidentbot.slack.blocks import (
    Blocks,
    actions,
    button,
    channel,
    context,
    input_block,
    modal,
    option,
    section,
    severity_badge,
    static_select,
    user,
    when,
)


def page_dm(
    s: IncidentSnapshot, config: Config, *, escalation_id: int, step: str, paged_by: str
) -> tuple[str, Blocks]:
    """The page itself: what, how bad, who declared it, where, and the two buttons."""
    title = show_within(one_line(s.title), 500)
    text = f":pager: You are paged for {s.label} ({s.severity.upper()}): {title}"
    blocks: Blocks = [
        section(f":pager: *You are paged for {s.label}*\n{title}"),
        section(
            f"{severity_badge(config, s.severity)} · {s.status} · "
            f"declared by {user(s.declared_by)} {when(s.declared_at)}\n"
            f"Channel: {channel(s.channel_id)} · {step} (started by {user(paged_by)})"
        ),
        actions(
            button("Acknowledge", ids.ACK_PAGE, str(escalation_id), style="primary"),
            button("Join channel", ids.JOIN_CHANNEL, str(s.number)),
            block_id="page_actions",
        ),
    ]
    return text, blocks


def page_dm_closed(s: IncidentSnapshot, note: str) -> tuple[str, Blocks]:
    """The page after it was answered or called off: the buttons are gone."""
    title = show_within(one_line(s.title), 500)
    text = f"{s.label}: {note}"
    where = context(f"Channel: {channel(s.channel_id)}")
    return text, [section(f":pager: *{s.label}*: {title}"), section(note), where]


def paged_notice(
    *,
    step: str,
    reached: Sequence[str],
    unreachable: Sequence[tuple[str, str]],
    next_at: datetime | None,
) -> str:
    """What the incident channel is told after a level was paged."""
    who = ", ".join(provider_label(u) if is_provider(u) else user(u) for u in reached) or "nobody"
    lines = [f":pager: Paged {who} — {step}."]
    if unreachable:
        missed = ", ".join(f"`{escaped_within(t, 100)}` ({error})" for t, error in unreachable)
        lines.append(f":warning: Could not reach: {missed}.")
    if next_at is not None:
        at = when(next_at, "{time}")
        lines.append(f"Next level {at} unless someone acknowledges (`/incident ack`).")
    else:
        lines.append("This is the last level: the escalation ends if nobody acknowledges.")
    return "\n".join(lines)


def picker_modal(config: Config, *, number: int, label: str, now: datetime) -> dict[str, Any]:
    """Choose an escalation path; shows who each level would page right now."""
    paths = list(config.escalation.values())[:100]
    options = [
        option(p.name, p.name, f"{len(p.levels)} level(s), repeats {p.repeat} time(s)")
        for p in paths
    ]
    blocks: Blocks = [section(f"Who should be paged for *{label}*?")]
    for path in paths[:40]:
        lines = "\n".join(preview(path, config.schedules, now))
        blocks.append(section(truncate(f"*{path.name}*\n{lines}", 3000)))
    blocks.append(input_block(ids.PATH, "Escalation path", static_select(options)))
    return modal(ids.ESCALATE_VIEW, f"Escalate {label}", "Page", blocks, str(number))


def path_list(config: Config) -> str:
    names: Mapping[str, Any] = config.escalation
    return ", ".join(f"`{n}`" for n in names) or "none configured"


def oncall_text(config: Config, now: datetime, schedule: str | None) -> str:
    """`/incident oncall`: each schedule's current and next person, and who each path's
    first level pages right now (or one schedule only)."""
    names = [schedule.lower()] if schedule else list(config.schedules)
    lines = [":calendar: *On call now*"]
    for name in names:
        s = shift(config.schedules[name], now)
        lines.append(f"• `{name}`: {_who(s.now)} until {when(s.until)}, then {_who(s.next)}")
    if not names:
        lines.append("• No on-call schedules are configured (`[schedules.<name>]`).")
    if schedule is None and config.escalation:
        lines.append("*First level of each escalation path*")
        for path in config.escalation.values():
            first = ", ".join(_target_now(t, config, now) for t in path.levels[0].targets)
            lines.append(f"• `{path.name}`: {first}")
    return "\n".join(lines)


def _who(target: str) -> str:
    # Shown to the person who asked (ephemeral): naming someone does not page them.
    return user(target) if "@" not in target else escaped_within(target, 100)


def _target_now(target: str, config: Config, now: datetime) -> str:
    if target.startswith(SCHEDULE_PREFIX):
        name = target[len(SCHEDULE_PREFIX) :]
        found = config.schedules.get(name)
        return f"{_who(found.on_call(now))} (`{name}`)" if found else f"`{target}`"
    if is_provider(target):
        return provider_label(target)
    if target.startswith("S"):
        return f"user group `{target}`"
    return _who(target)
