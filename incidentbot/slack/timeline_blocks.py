"""Block Kit builders for the timeline, follow-ups, postmortem and stats. Pure functions.

Timeline texts are stored as people typed them (see `domain.text`); they are
shown with `show_within`, which keeps what is harmless (user and channel
mentions, web links) live and everything else literal, so a logged message
saying `@channel` notifies nobody.
Limits respected here: 50 blocks and about 12,000 characters a message, 3,000
a section, 24 a modal title, 75 an option, 5 options an overflow menu.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from incidentbot.config import Config
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.stats import Durations, Figures, Stats
from incidentbot.domain.text import (
    chunk_lines,
    escape,
    escaped_within,
    one_line,
    plain_within,
    show_within,
)
from incidentbot.domain.timeline import EntryView, FollowUpView, LoggedMessage, TimelineView
from incidentbot.durations import format_duration
from incidentbot.slack import ids
from incidentbot.slack.blocks import (
    MAX_BLOCKS,
    MAX_OPTIONS,
    MESSAGE_CHARS,
    Blocks,
    actions,
    button,
    context,
    input_block,
    modal,
    option,
    overflow,
    section,
    severity_badge,
    static_select,
    text_input,
    user,
    users_select,
    when,
)

_URL = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)
_ENTRY_TEXT = 2000  # of a timeline entry's text in one section (3,000 with the rest)


def author(author_id: str | None, name: str | None = None) -> str:
    """Who wrote a logged message: a mention for a person, the name for a bot.

    Slack cannot render `<@B…>` (a bot ID), so a bot message shows the bot's
    name as sent with the message (`username`) or looked up (`bots.info`).
    """
    if author_id and not author_id.startswith("B"):
        return user(author_id)
    return f"*{escape(one_line(name))}* (bot)" if name else "_a bot_"


# -- the timeline -------------------------------------------------------------------
def entry_line(entry: EntryView) -> str:
    """One entry: time (the viewer's timezone), kind, who, what, and where it came from."""
    data = entry.data or {}
    who = user(entry.actor) if entry.actor else "incidentbot"
    if entry.kind == "message" and data.get("author"):
        who = f"{author(data['author'], data.get('author_name'))} (logged by {who})"
    text = show_within(one_line(entry.text), _ENTRY_TEXT) or "_(no text)_"
    extras = []
    if _URL.match(str(data.get("permalink") or "")):
        extras.append(f"<{data['permalink']}|original message>")
    for name, link in (data.get("files") or [])[:5]:
        shown = escaped_within(one_line(str(name)), 80)
        extras.append(f"<{link}|{shown}>" if _URL.match(str(link)) else shown)
    if entry.edited_at:
        extras.append(f"_edited by {user(entry.edited_by)}_")
    tail = f" · {' · '.join(extras)}" if extras else ""
    stamp = when(entry.at, "{date_num} {time_secs}")
    return f"{stamp} · *{escape(entry.kind)}* · {who}: {text}{tail}"


def _entry_block(view: TimelineView, entry: EntryView) -> dict[str, Any]:
    block = section(entry_line(entry))
    if view.may_edit(entry) and entry.id is not None:
        block["accessory"] = overflow(
            f"{ids.ENTRY_MENU}{entry.id}",
            [option("Edit", f"edit:{entry.id}"), option("Delete", f"delete:{entry.id}")],
        )
    return block


def follow_up_lines(items: Sequence[FollowUpView]) -> list[str]:
    return [
        f"• {show_within(one_line(f.text), 1500)} · "
        f"{'owner ' + user(f.owner) if f.owner else '_no owner_'} · added by {user(f.created_by)}"
        + (" · _done_" if f.done_at else "")
        for f in items
    ]


def _tail(view: TimelineView) -> Blocks:
    """Follow-ups, a hint and the buttons after the last entry."""
    out: Blocks = [section(f"*Follow-ups ({len(view.follow_ups)})*")]
    lines = follow_up_lines(view.follow_ups) or ["_None yet._"]
    out += [section(chunk) for chunk in chunk_lines(lines, 2900)]
    notes = ["Times are in your timezone; logged messages appear at the time they were posted."]
    if any(view.may_edit(e) for e in view.entries):
        notes.append("Use ⋯ on an entry to edit or delete it; changes are recorded.")
    if view.hidden:
        notes.append(
            f"{view.hidden} deleted entr{'y is' if view.hidden == 1 else 'ies are'} hidden."
        )
    out.append(context(" ".join(notes)))
    value = str(view.incident.number)
    out.append(
        actions(button("Add follow-up", ids.OPEN_FOLLOW_UP, value), block_id="timeline_actions")
    )
    return out


def earlier_note(earlier: int) -> str:
    """The line above a timeline that starts with its latest entries only."""
    return (
        f":information_source: {earlier:,} earlier entr{'y is' if earlier == 1 else 'ies are'} "
        "not shown: these are the latest. `/incident postmortem` contains the full timeline."
    )


def timeline_messages(view: TimelineView) -> list[tuple[str, Blocks]]:
    """The timeline, oldest first, in as many ephemeral messages as Slack's limits need.

    A very long one shows only its latest entries (`TimelineView.earlier` are left
    out), and says so at the top.
    """
    items = [_entry_block(view, e) for e in view.entries]
    if not items:
        items = [section("_Nothing recorded yet._")]
    if view.earlier:
        items.insert(0, section(earlier_note(view.earlier)))
    pages: list[Blocks] = [[]]
    size = 0  # characters on the last page so far
    for block in [*items, *_tail(view)]:
        length = len(str(block))
        if pages[-1] and (len(pages[-1]) >= MAX_BLOCKS - 1 or size + length > MESSAGE_CHARS):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += length
    label = view.incident.label
    out = []
    for number, page in enumerate(pages, start=1):
        title = f"Timeline of {label}" + (f" ({number}/{len(pages)})" if len(pages) > 1 else "")
        out.append((title, [section(f"*{title}*"), *page]))
    return out


# -- modals ---------------------------------------------------------------------------
def _entry_preview(entry: EntryView) -> dict[str, Any]:
    return section(entry_line(entry))


def edit_entry_modal(s: IncidentSnapshot, entry: EntryView) -> dict[str, Any]:
    element = text_input(max_length=3000, multiline=True, initial=entry.text[:3000])
    blocks = [
        context(f"Editing an entry of the timeline of *{s.label}*. The change is recorded."),
        _entry_preview(entry),
        input_block(ids.ENTRY_TEXT, "Text", element),
    ]
    return modal(ids.EDIT_ENTRY_VIEW, "Edit timeline entry", "Save", blocks, str(entry.id))


def delete_entry_modal(s: IncidentSnapshot, entry: EntryView) -> dict[str, Any]:
    blocks = [
        section(f"Delete this entry from the timeline of *{s.label}*? The deletion is recorded."),
        _entry_preview(entry),
    ]
    return modal(ids.DELETE_ENTRY_VIEW, "Delete timeline entry", "Delete", blocks, str(entry.id))


def follow_up_modal(s: IncidentSnapshot) -> dict[str, Any]:
    blocks = [
        context(f"A follow-up action item for *{s.label}*; it goes into the postmortem."),
        input_block(
            ids.FOLLOW_UP_TEXT,
            "What should be done?",
            text_input(max_length=2900, multiline=True),
        ),
        input_block(ids.FOLLOW_UP_OWNER, "Owner", users_select(), optional=True),
    ]
    return modal(ids.FOLLOW_UP_VIEW, "Add a follow-up", "Add", blocks, str(s.number))


def pick_incident_modal(
    incidents: Sequence[IncidentSnapshot], message: LoggedMessage
) -> dict[str, Any]:
    """Choose the open incident a message from another channel goes to."""
    options = [
        option(
            plain_within(f"{s.label} · {s.severity.upper()} · {one_line(s.title)}", 75),
            str(s.number),
        )
        for s in incidents[:MAX_OPTIONS]
    ]
    quoted = show_within(one_line(message.text), 500) or "_(no text)_"
    blocks = [
        section(f"Message from {author(message.author, message.author_name)}:\n>{quoted}"),
        input_block(
            ids.PICK_INCIDENT,
            "Incident",
            static_select(options, options[0]),
        ),
    ]
    return modal(ids.LOG_MESSAGE_VIEW, "Add to timeline", "Add", blocks, message.to_metadata())


# -- replies --------------------------------------------------------------------------
def logged_text(s: IncidentSnapshot, *, duplicate: bool) -> str:
    """The reply to whoever logged a message: added, or already there."""
    where = f" (<#{s.channel_id}>)" if s.channel_id else ""
    if duplicate:
        return f":information_source: This message is already in the timeline of *{s.label}*."
    return f":white_check_mark: Added to the timeline of *{s.label}*{where}."


def _durations(name: str, d: Durations) -> str:
    if not d.count or d.mean is None or d.median is None:
        return f"{name} —"
    return f"{name} {format_duration(d.mean)} mean, {format_duration(d.median)} median ({d.count})"


def _figures_line(config: Config, f: Figures) -> str:
    name = "*All severities*" if f.label == "all" else f"*{severity_badge(config, f.label)}*"
    return (
        f"{name}: {f.incidents} incident{'s' if f.incidents != 1 else ''} ({f.open} open) · "
        f"{_durations('MTTA', f.mtta)} · {_durations('MTTR', f.mttr)}"
    )


def stats_message(stats: Stats, config: Config) -> tuple[str, Blocks]:
    text = f"Incidents in the last {stats.days} days: {stats.total.incidents}"
    lines = [_figures_line(config, f) for f in stats.by_severity]
    body: Blocks = [
        section(f"*Incidents declared in the last {stats.days} days* (since {when(stats.since)})"),
        *(section(chunk) for chunk in chunk_lines(lines, 2900)[: MAX_BLOCKS - 5]),
        section(_figures_line(config, stats.total)),
        section(f"*Open now:* {stats.open_now} (declared at any time)"),
        context(
            "*MTTA*: time from declared to acknowledged: the first page acknowledgement; "
            "for an incident that paged nobody, the Incident Commander's first action. "
            "*MTTR*: time from declared to resolved. "
            "Each is taken over the incidents that got there; (n) says how many."
        ),
    ]
    return text, body
