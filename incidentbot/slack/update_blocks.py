"""Block Kit builders for stakeholder updates and update reminders.

Pure functions, like `blocks.py`: user text is escaped and kept within Slack's
limits. A status update can be longer than one message allows (50 blocks,
3,000 characters a section, and Slack clips long messages behind "show more"),
so the update builders return a list of messages, split at line or word
boundaries, each within the limits; a post never fails for being too long.
"""

from __future__ import annotations

import bisect
import itertools
from datetime import datetime, timedelta
from typing import Any

from incidentbot.config import Config
from incidentbot.domain.snapshot import IncidentSnapshot, UpdateSnapshot
from incidentbot.domain.text import (
    cut_outside_token,
    escape,
    one_line,
    show,
    show_within,
    truncate,
)
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
    section,
    severity_badge,
    static_select,
    text_input,
    user,
    when,
)

Message = tuple[str, Blocks]

TEXT_CHUNK = 2900  # escaped characters per section, under Slack's 3,000
MESSAGE_BLOCKS = MAX_BLOCKS - 5  # room for the heading and the footer
NEXT_UPDATE_MINUTES = (15, 30, 60, 120, 240, 480, 1440)
SNOOZE_MINUTES = (15, 30, 60)


# -- splitting long user text -------------------------------------------------------
def split_escaped(text: str, limit: int = TEXT_CHUNK) -> list[str]:
    """`show` `text` in pieces of at most `limit` characters each.

    The cut is made on the original text (never inside an `&amp;` entity or a
    mention), preferring the last line break, then the last space, in the
    second half. Sizes are counted fully escaped, an upper bound of `show`.
    """
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        # sizes[i] = escaped length of rest[:i + 1]
        sizes = list(itertools.accumulate(len(escape(c)) for c in rest))
        cut = bisect.bisect_right(sizes, limit)
        if cut < len(rest):
            for sep in ("\n", " "):
                at = rest.rfind(sep, limit // 2 if cut > limit // 2 else 0, cut)
                if at > 0:
                    cut = at + 1
                    break
        cut = cut_outside_token(rest, cut) or cut  # a token longer than a piece is cut
        pieces.append(show(rest[:cut].strip()) or " ")
        rest = rest[cut:].strip()
    return pieces


def _paginate(
    fallback: str, heading: Blocks, body: Blocks, footer: Blocks, more: str
) -> list[Message]:
    """Spread `body` over as many messages as Slack's limits need."""
    pages: list[Blocks] = [[]]
    size = 0
    for block in body:
        length = len(str(block))
        if pages[-1] and (len(pages[-1]) >= MESSAGE_BLOCKS or size + length > MESSAGE_CHARS):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += length
    out: list[Message] = []
    for number, page in enumerate(pages, start=1):
        if number == 1:
            out.append((fallback, [*heading, *page, *footer]))
        else:
            note = context(f"{more} (continued, part {number} of {len(pages)})")
            out.append((f"{more} (part {number} of {len(pages)})", [note, *page]))
    return out


def _text_sections(title: str, text: str) -> Blocks:
    pieces = split_escaped(text)
    if not pieces:
        return []
    first = section(f"*{title}*\n{pieces[0]}" if title else pieces[0])
    return [first, *(section(p) for p in pieces[1:])]


# -- stakeholder updates ------------------------------------------------------------
def update_messages(s: IncidentSnapshot, config: Config, update: UpdateSnapshot) -> list[Message]:
    """A status update: status, severity, text, impact, what is being done, who, when."""
    what = f"Status update on {s.label}"
    fallback = f"{what}: {show_within(one_line(update.text), 300)}"
    heading = [
        section(
            f":mega: *{what}* · {severity_badge(config, update.severity)} · "
            f"*{escape(update.status)}*"
        )
    ]
    body = _text_sections("", update.text)
    body += _text_sections("Impact", update.impact)
    body += _text_sections("What we are doing", update.doing)
    footer = f"Posted by {user(update.posted_by)} {when(update.posted_at)}"
    if update.next_update_at:
        footer += f" · next update by {when(update.next_update_at, '{time}')}"
    return _paginate(fallback, heading, body, [context(footer)], what)


def closing_messages(s: IncidentSnapshot, config: Config, *, by: str = "") -> list[Message]:
    """The closing update posted when an incident is resolved: who resolved it, after
    how long, the summary. The incident channel's only resolution message."""
    resolved_at = s.resolved_at or s.declared_at
    duration = format_duration(resolved_at - s.declared_at)
    what = f"{s.label} is resolved"
    heading = [
        section(
            f":white_check_mark: *{what}* after {duration} · {severity_badge(config, s.severity)}"
        )
    ]
    body = _text_sections("Summary", s.summary)
    footer = f"Declared {when(s.declared_at)} · resolved {when(resolved_at)}"
    if by:
        footer += f" by {user(by)}"
    if s.ic:
        footer += f" · Incident Commander {user(s.ic)}"
    return _paginate(f"{what} after {duration}", heading, body, [context(footer)], what)


def reopened_message(s: IncidentSnapshot, *, by: str) -> Message:
    """Told under the stakeholder card: the incident is open again."""
    text = f":leftwards_arrow_with_hook: {s.label} was reopened by {user(by)}; status *{s.status}*."
    return f"{s.label} was reopened", [section(text)]


def severity_message(s: IncidentSnapshot, config: Config, *, by: str, before: str) -> Message:
    """Told under the stakeholder card: how bad it is now."""
    now = severity_badge(config, s.severity)
    text = f":rotating_light: {s.label} severity changed by {user(by)}: *{escape(before)}* → {now}"
    return f"{s.label} is now {s.severity.upper()}", [section(text)]


def update_modal(
    s: IncidentSnapshot,
    last: UpdateSnapshot | None,
    *,
    every: timedelta | None,
) -> dict[str, Any]:
    """Current status, impact, what is being done, next update due; pre-filled."""
    minutes = sorted(set(NEXT_UPDATE_MINUTES) | ({_minutes(every)} if every else set()))
    options = [option(_minutes_label(m), str(m)) for m in minutes][:MAX_OPTIONS]
    wanted = _minutes(last.next_update_at - last.posted_at) if last and last.next_update_at else 0
    wanted = wanted or (_minutes(every) if every else 60)
    initial = min(options, key=lambda o: abs(int(o["value"]) - wanted))
    blocks: Blocks = [
        section(f"Stakeholder update for *{s.label}* ({escape(s.severity)}, {escape(s.status)})"),
        input_block(
            ids.UPDATE_STATUS,
            "Current status",
            _text_input(last.text if last else ""),
            hint="What is going on now. Shown in the channel and under the card.",
        ),
        input_block(
            ids.UPDATE_IMPACT,
            "Impact",
            _text_input(last.impact if last else ""),
            optional=True,
            hint="Who is affected and how.",
        ),
        input_block(
            ids.UPDATE_DOING,
            "What is being done",
            _text_input(last.doing if last else ""),
            optional=True,
        ),
        input_block(
            ids.UPDATE_NEXT,
            "Next update due in",
            static_select(options, initial),
            hint="You are reminded if no update is posted by then.",
        ),
    ]
    return modal(ids.UPDATE_VIEW, f"Update {s.label}", "Post update", blocks, str(s.number))


def _text_input(initial: str) -> dict[str, Any]:
    return text_input(max_length=2900, multiline=True, initial=truncate(initial, 2900))


def _minutes(delta: timedelta) -> int:
    return max(round(delta.total_seconds() / 60), 1)


def _minutes_label(minutes: int) -> str:
    return format_duration(timedelta(minutes=minutes))


# -- reminders ------------------------------------------------------------------------
def reminder_message(s: IncidentSnapshot, *, quiet_for: timedelta) -> Message:
    """Reminds the IC (mentioned) that stakeholders have had no update for a while."""
    who = user(s.ic) if s.ic else "Nobody is Incident Commander, so anyone"
    since = "since it was declared" if s.last_update_at is None else "since the last one"
    text = (
        f":alarm_clock: {who}: no stakeholder update on *{s.label}* for "
        f"{format_duration(quiet_for)} ({since}). Stakeholders are waiting: post one now."
    )
    value = str(s.number)
    elements = [button("Post update", ids.OPEN_UPDATE, value, style="primary")]
    elements += [
        button(f"Snooze {_minutes_label(m)}", f"{ids.SNOOZE_UPDATE}{m}", f"{s.number}:{m}")
        for m in SNOOZE_MINUTES
    ]
    return text, [section(text), actions(*elements)]


def snoozed_message(s: IncidentSnapshot, *, by: str, until: datetime) -> Message:
    text = (
        f":zzz: {user(by)} snoozed the update reminder for *{s.label}* until "
        f"{when(until, '{time}')}."
    )
    return text, [section(text)]


def roles_watch_message(s: IncidentSnapshot, minutes: int) -> Message:
    text = (
        f":warning: Nobody has been Incident Commander of *{s.label}* for {minutes} minutes. "
        "Take it with the button, or assign someone with `/incident ic @name`."
    )
    elements = [button("Take IC", ids.TAKE_IC, str(s.number), style="primary")]
    return text, [section(text), actions(*elements)]
