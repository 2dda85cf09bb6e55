"""Block Kit for escalation: the page DM, its acknowledged/closed forms, channel
notices and the path picker. Pure functions returning dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from incidentbot.config import Config
from incidentbot.domain.escalation import preview
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escaped_within, one_line, show_within, truncate
from incidentbot.slack import ids
from incidentbot.slack.blocks import (
    Blocks,
    button,
    channel,
    context,
    section,
    severity_badge,
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
        {
            "type": "actions",
            "block_id": "page_actions",
            "elements": [
                button("Acknowledge", ids.ACK_PAGE, str(escalation_id), style="primary"),
                button("Join channel", ids.JOIN_CHANNEL, str(s.number)),
            ],
        },
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
    who = ", ".join(user(u) for u in reached) or "nobody"
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
        {
            "text": {"type": "plain_text", "text": truncate(p.name, 75)},
            "value": p.name,
            "description": {
                "type": "plain_text",
                "text": truncate(f"{len(p.levels)} level(s), repeats {p.repeat} time(s)", 75),
            },
        }
        for p in paths
    ]
    blocks: Blocks = [section(f"Who should be paged for *{label}*?")]
    for path in paths[:40]:
        lines = "\n".join(preview(path, config.schedules, now))
        blocks.append(section(truncate(f"*{path.name}*\n{lines}", 3000)))
    blocks.append(
        {
            "type": "input",
            "block_id": ids.PATH,
            "label": {"type": "plain_text", "text": "Escalation path"},
            "element": {"type": "static_select", "action_id": ids.PATH, "options": options},
        }
    )
    return {
        "type": "modal",
        "callback_id": ids.ESCALATE_VIEW,
        "title": {"type": "plain_text", "text": truncate(f"Escalate {label}", 24)},
        "submit": {"type": "plain_text", "text": "Page"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": str(number),
        "blocks": blocks,
    }


def path_list(config: Config) -> str:
    names: Mapping[str, Any] = config.escalation
    return ", ".join(f"`{n}`" for n in names) or "none configured"
