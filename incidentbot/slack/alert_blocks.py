"""Block Kit of alerts: the triage message, digests, page DMs, storm roll-ups, reports.

Pure functions of `GroupView` values. Label and annotation text comes from
monitoring and is untrusted: it is escaped (never a mention, never mrkdwn
formatting) and cut to Slack's limits; links are shown only when they are
plain http(s) URLs that cannot break out of Slack's `<url|text>` syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from incidentbot.alerts.rules import GroupView
from incidentbot.domain.text import escaped_within, mrkdwn_literal, one_line
from incidentbot.slack import ids
from incidentbot.slack.blocks import (
    Blocks,
    actions,
    button,
    context,
    fields,
    option,
    section,
    static_select,
    when,
)

SILENCE_CHOICES = ("1h", "4h", "24h")
_SAFE_URL = re.compile(r"https?://[^\s<>|`]{1,1900}")
_LINK_NAMES = (
    ("url", "Source"),
    ("runbook_url", "Runbook"),
    ("dashboard_url", "Dashboard"),
    ("panel_url", "Panel"),
    ("silence_url", "Silence in source"),
)


def literal(text: str, limit: int) -> str:
    """Untrusted text for mrkdwn: shown exactly, within `limit` characters."""
    text = one_line(text)
    out = mrkdwn_literal(text)
    if len(out) <= limit:
        return out
    return escaped_within(text, limit)  # without the formatting guards, but still no markup


def state_line(g: GroupView, now: datetime) -> str:
    """FIRING ×N / RESOLVED / ACKNOWLEDGED by … / SILENCED until … / flapping / → INC-n."""
    parts = [f":rotating_light: *FIRING ×{g.firing}*" if g.status == "firing" else ""]
    if g.status != "firing":
        parts = [":white_check_mark: *RESOLVED*"]
    if g.acked_by:
        parts.append(f"*ACKNOWLEDGED* by {_who(g.acked_by)}")
    if g.silenced(now) and g.silenced_until is not None:
        parts.append(f":mute: *SILENCED* until {when(g.silenced_until)}")
    if g.flapping:
        parts.append(":arrows_counterclockwise: *flapping* (notifications paused)")
    if g.incident is not None:
        where = f" in <#{g.incident_channel}>" if g.incident_channel else ""
        parts.append(f"→ *INC-{g.incident}*{where}")
    return " · ".join(p for p in parts if p)


def triage_message(g: GroupView, *, now: datetime) -> tuple[str, Blocks]:
    """The one message of a group, edited in place on every change."""
    title = literal(g.title, 200)
    state = state_line(g, now)
    labels = ", ".join(f"{k}={v}" for k, v in g.group_labels.items()) or "—"
    blocks: Blocks = [
        section(f"{state}\n*{title}*"),
        fields(
            f"*Source*\n{literal(g.source, 100)}",
            f"*Route*\n{literal(g.route, 100)}",
            f"*Group*\n{literal(labels, 1500)}",
            f"*Alerts*\n{g.firing} firing · {g.resolved} resolved",
            f"*First seen*\n{when(g.first_seen)}",
            f"*Last seen*\n{when(g.last_seen)}",
        ),
    ]
    links = link_line(g.links)
    if links:
        blocks.append(context(links))
    blocks.append(actions(*buttons(g), block_id=f"alerts:{g.id}"))
    text = f"{_plain_state(g, now)}: {escaped_within(one_line(g.title), 200)}"
    return text, blocks


def buttons(g: GroupView) -> list[dict[str, Any]]:
    value = str(g.id)
    out = []
    if g.incident is None:
        out.append(button("Declare incident", ids.ALERT_DECLARE, value, "danger"))
    if g.status == "firing" and not g.acked_by:
        out.append(button("Acknowledge", ids.ALERT_ACK, value, "primary"))
    silences = [option(f"Silence {d}", f"{g.id}:{d}") for d in SILENCE_CHOICES]
    out.append(static_select(silences, action_id=ids.ALERT_SILENCE, placeholder="Silence…"))
    if g.status == "firing":
        out.append(button("Resolve", ids.ALERT_RESOLVE, value))
    return out


def link_line(links: Mapping[str, str]) -> str:
    shown = []
    for key, label in _LINK_NAMES:
        url = links.get(key)
        if url and _SAFE_URL.fullmatch(url):
            shown.append(f"<{url.replace('&', '&amp;')}|{label}>")
    return " · ".join(shown)


def digest(g: GroupView, counts: Mapping[str, Any]) -> tuple[str, Blocks]:
    """One thread reply summing up what changed since the last one."""
    parts = []
    if counts.get("reopened"):
        parts.append(":repeat: reopened")
    if counts.get("new"):
        parts.append(f"+{counts['new']} new firing")
    if counts.get("resolved"):
        parts.append(f"{counts['resolved']} resolved")
    if counts.get("repeats"):
        parts.append(f"{counts['repeats']} repeat(s), nobody notified")
    names = [literal(n, 150) for n in counts.get("names", [])]
    line = ", ".join(parts) or "no change"
    if names:
        line += f" ({', '.join(names)})"
    text = f"Since the last update: {line}. Now {g.firing} firing, {g.resolved} resolved."
    return text, [section(text)]


def linked_summary(g: GroupView, *, now: datetime, heading: str) -> tuple[str, Blocks]:
    """What an incident channel is told about a linked group."""
    title = literal(g.title, 200)
    where = f" ({_message_link(g).strip()})" if _message_link(g) else ""
    text = f"{heading}: *{title}* — {state_line(g, now)}{where}"
    return f"{heading}: {escaped_within(one_line(g.title), 250)}", [section(text)]


def all_resolved(number: int, groups: int) -> tuple[str, Blocks]:
    text = (
        f":white_check_mark: All {groups} linked alert group(s) of INC-{number} have resolved. "
        "The incident stays open until someone resolves it."
    )
    return text, [
        section(text),
        actions(button("Move to monitoring", ids.ALERT_MONITORING, str(number))),
    ]


def flapping_notice(g: GroupView) -> tuple[str, Blocks]:
    text = (
        ":arrows_counterclockwise: This group is flapping (firing and resolving repeatedly): "
        "nobody is notified or paged for it until it settles."
    )
    return text, [section(text)]


def page_dm(g: GroupView, *, level: str, route: str) -> tuple[str, Blocks]:
    title = literal(g.title, 200)
    where = f"<#{g.message_channel}>" if g.message_channel else "the alerts channel"
    text = (
        f":pager: You are paged for alert group *{title}* (route `{literal(route, 40)}`, {level})"
    )
    blocks = [
        section(f"{text}\n{state_line_plain(g)} · triage message in {where}"),
        actions(button("Acknowledge", ids.ALERT_ACK, str(g.id), "primary")),
    ]
    return f"You are paged: {escaped_within(one_line(g.title), 200)}", blocks


def page_closed(g: GroupView, note: str) -> tuple[str, Blocks]:
    title = literal(g.title, 200)
    text = f":pager: Alert group *{title}*: {note}"
    return f"Alert group {escaped_within(one_line(g.title), 200)}: {note}", [section(text)]


def rollup(route: str, groups: int, alerts: int, names: Mapping[str, int]) -> tuple[str, Blocks]:
    """The one message that stands for every group of a storm."""
    top = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    lines = "\n".join(f"• {literal(n, 150)} ×{c}" for n, c in top)
    text = (
        f":thunder_cloud_and_rain: *Alert storm on route `{literal(route, 40)}`*: "
        f"{groups} more new group(s), {alerts} alert(s), rolled up here instead of one "
        "message each. `/incident alerts` lists them."
    )
    blocks = [section(text)]
    if lines:
        blocks.append(section(lines))
    return f"Alert storm on route {route}: {groups} groups rolled up", blocks


def group_list(groups: Sequence[GroupView], *, now: datetime, heading: str) -> tuple[str, Blocks]:
    """`/incident alerts`: firing groups with links to their messages."""
    if not groups:
        return f"{heading}: none firing.", [section(f"*{heading}*: none firing.")]
    lines = []
    for g in groups[:40]:
        link = _message_link(g)
        lines.append(f"• {state_line(g, now)} — *{literal(g.title, 150)}* ({g.route}){link}")
    more = f"\n…and {len(groups) - 40} more" if len(groups) > 40 else ""
    from incidentbot.domain.text import chunk_lines

    blocks = [section(f"*{heading}* ({len(groups)})")]
    blocks += [section(chunk) for chunk in chunk_lines(lines, 2900)[:45]]
    if more:
        blocks.append(context(more.strip()))
    return f"{heading}: {len(groups)} firing", blocks


def report(rows: Sequence[Mapping[str, Any]], days: int) -> tuple[str, Blocks]:
    """`/incident alerts report [days]`: signal to noise per route."""
    if not rows:
        text = f"No alerts in the last {days} day(s)."
        return text, [section(text)]
    blocks: Blocks = [section(f"*Alerts, last {days} day(s)* — per route")]
    for r in rows[:40]:
        mtta = r["median_ack"] or "—"
        names = ", ".join(f"{literal(n, 60)} ×{c}" for n, c in r["noisiest"]) or "—"
        blocks.append(
            section(
                f"*{literal(r['route'], 40)}*: {r['alerts']} alerts in, {r['groups']} groups, "
                f"{r['notifications']} notifications out, noise ratio {r['noise']:.3f}\n"
                f"acknowledged or declared {r['handled']:.0%} · resolved untouched "
                f"{r['untouched']:.0%} · median time to acknowledge {mtta}\n"
                f"noisiest: {names}"
            )
        )
    return f"Alerts report, last {days} day(s)", blocks


def state_line_plain(g: GroupView) -> str:
    return f"{g.firing} firing, {g.resolved} resolved"


def _plain_state(g: GroupView, now: datetime) -> str:
    if g.incident is not None:
        return f"INC-{g.incident}"
    if g.silenced(now):
        return "SILENCED"
    if g.acked_by:
        return "ACKNOWLEDGED"
    return f"FIRING ×{g.firing}" if g.status == "firing" else "RESOLVED"


def _who(actor: str) -> str:
    return f"<@{actor}>" if re.fullmatch(r"[UW][A-Z0-9]{2,}", actor) else literal(actor, 40)


def _message_link(g: GroupView) -> str:
    if g.permalink and _SAFE_URL.fullmatch(g.permalink):
        return f" <{g.permalink}|message>"
    if g.message_channel:
        return f" in <#{g.message_channel}>"
    return ""
