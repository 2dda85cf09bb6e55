"""Block Kit builder for the App Home tab. Pure: a function of `HomeData`, config and now.

Like every builder, user text is escaped and the view stays within Slack's
limits (100 blocks a view, 3,000 characters a section).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from incidentbot.config import Config
from incidentbot.domain.home import HomeData
from incidentbot.domain.incident import label, role_label
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import chunk_lines, escape, one_line, show_within
from incidentbot.durations import format_duration
from incidentbot.slack import ids
from incidentbot.slack.blocks import (
    Blocks,
    actions,
    button,
    channel,
    context,
    divider,
    header,
    home_tab,
    section,
    severity_badge,
    user,
    when,
)

HOME_BLOCKS = 100


def home_view(data: HomeData, config: Config, *, now: datetime) -> dict[str, Any]:
    """The Home tab: open incidents, the viewer's roles and pages, recently resolved."""
    blocks: Blocks = [
        header("Incidents"),
        actions(button("Declare incident", ids.HOME_DECLARE, "home", style="primary")),
    ]
    open_lines = [_incident_line(s, seen, config, now) for s, seen in data.open]
    blocks += _home_section(f"Open incidents ({len(data.open)})", open_lines, "No open incidents.")
    role_lines = [
        f"{role_label(role)} of *{s.label}* · {channel(s.channel_id)}" for s, role in data.roles
    ]
    blocks += _home_section("Your roles", role_lines, "You hold no role in an open incident.")
    page_lines = [
        f"*{label(p.number)}* · level {p.level + 1} of `{escape(p.path)}` · "
        f"paged {when(p.paged_at)} · {channel(p.channel_id)}"
        for p in data.pages
    ]
    blocks += _home_section("Your pending pages", page_lines, "No pages waiting for you.")
    resolved_lines = [_resolved_line(s, seen, now) for s, seen in data.resolved]
    blocks += _home_section("Recently resolved", resolved_lines, "Nothing resolved lately.")
    blocks.append(context(f"Updated {when(now, '{date_short_pretty} at {time}')}"))
    return home_tab(blocks[:HOME_BLOCKS])


def _home_section(title: str, lines: Sequence[str], empty: str) -> Blocks:
    chunks = chunk_lines(list(lines), 2900)[:20] or [f"_{empty}_"]
    return [divider(), section(f"*{title}*"), *(section(c) for c in chunks)]


def _incident_line(s: IncidentSnapshot, seen: bool, config: Config, now: datetime) -> str:
    badge = severity_badge(config, s.severity)
    if not seen:
        return f"*{s.label}* {badge} · IC {user(s.ic)} · :lock: _private incident_"
    age = (
        f"last update {format_duration(now - s.last_update_at)} ago"
        if s.last_update_at
        else "no update yet"
    )
    return (
        f"*{s.label}* {badge} · {escape(s.status)} · IC {user(s.ic)} · "
        f"{channel(s.channel_id)} · {age}\n{show_within(one_line(s.title), 300)}"
    )


def _resolved_line(s: IncidentSnapshot, seen: bool, now: datetime) -> str:
    resolved_at = s.resolved_at or now
    took = format_duration(resolved_at - s.declared_at)
    ago = format_duration(now - resolved_at)
    if not seen:
        return f"*{s.label}* · :lock: _private incident_ · resolved {ago} ago"
    title = show_within(one_line(s.title), 200)
    return f"*{s.label}* {title} · resolved {ago} ago after {took} · {channel(s.channel_id)}"
