"""The blameless postmortem, rendered as Markdown from plain data. Pure.

`render(PostmortemData) -> str` is the one renderer: `/incident postmortem`
uploads its output to Slack and `python -m incidentbot postmortem <n>` prints
it, so both are byte for byte the same document. Nothing here reads a clock:
the document depends only on the stored incident, never on when it was made.

Stored texts are what people typed (see `domain.text`), with person and channel
mentions and links kept as Slack tokens (`<@U123>`, `<https://…|label>`).
`markdown_inline` turns them into Markdown that shows them literally: mentions
become the person's Slack display name, links Markdown links, everything else
is escaped so no text can inject HTML, links or structure into the document.

People are named by their Slack display name (`PostmortemData.names`, looked up
and cached by the service), by ID only where no name is known: the file is read
outside Slack, where `U0ALICE` means nothing.

The acknowledged milestone has one definition (PRODUCT.md §4, `ACKNOWLEDGED`),
and the document says which kind it is; an escalation's own acknowledgement
time is labelled as relative to that escalation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidentbot.domain.escalation import PROVIDER_NAMES
from incidentbot.domain.incident import label, role_label
from incidentbot.durations import format_duration

# Audit records of timeline edits, and Slack hiccups: not part of what happened.
HIDDEN_KINDS = frozenset({"timeline_edit", "timeline_delete", "slack_error"})

_SLACK_TOKEN = re.compile(r"<([^<>]*)>")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_LINE_START = re.compile(r"^(#|[-+=]|\d+[.)])")
_SAFE_URL = re.compile(r"^(https?://|mailto:)[^\s<>]+$", re.IGNORECASE)
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_MENTION_TOKEN = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")

# What the "Acknowledged" milestone is (PRODUCT.md §4); the same in stats and Home.
ACKNOWLEDGED_PAGE = "first page acknowledgement"
ACKNOWLEDGED_IC = "first action of the Incident Commander; nobody was paged"


def _mentions(text: str) -> list[str]:
    return _MENTION_TOKEN.findall(text or "")


@dataclass(frozen=True, slots=True)
class RoleSpan:
    role: str
    user: str
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str
    actor: str
    text: str
    author: str | None = None  # a logged message's author (the actor logged it)
    author_name: str | None = None  # a bot author's name (bots have no display name)
    permalink: str | None = None
    files: tuple[tuple[str, str], ...] = ()  # (name, link)
    edited: bool = False


@dataclass(frozen=True, slots=True)
class PageItem:
    level: int  # 0-based, as stored
    target: str
    status: str
    sent_at: datetime | None = None
    cycle: int = 0


@dataclass(frozen=True, slots=True)
class EscalationItem:
    path: str
    state: str
    started_by: str
    started_at: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    pages: tuple[PageItem, ...] = ()


@dataclass(frozen=True, slots=True)
class FollowUpItem:
    text: str
    created_by: str
    created_at: datetime
    owner: str | None = None
    done: bool = False


@dataclass(frozen=True, slots=True)
class PostmortemData:
    number: int
    title: str
    severity: str
    status: str
    declared_by: str
    declared_at: datetime
    description: str = ""
    summary: str = ""
    channel_name: str | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    roles: tuple[RoleSpan, ...] = ()
    timeline: tuple[TimelineItem, ...] = ()
    escalations: tuple[EscalationItem, ...] = ()
    follow_ups: tuple[FollowUpItem, ...] = field(default_factory=tuple)
    names: Mapping[str, str] = field(default_factory=dict)  # user ID -> display name

    @property
    def draft(self) -> bool:
        return self.resolved_at is None

    @property
    def paged(self) -> bool:
        """Whether anyone was paged: then acknowledged means a page acknowledgement."""
        return bool(self.escalations)

    def people(self) -> set[str]:
        """Every user ID the document names, for looking their names up."""
        ids = {self.declared_by, *(r.user for r in self.roles)}
        for item in self.timeline:
            ids |= {item.actor, item.author or "", *_mentions(item.text)}
        for e in self.escalations:
            ids |= {e.started_by, e.acknowledged_by or ""}
            ids |= {p.target for p in e.pages}
        for f in self.follow_ups:
            ids |= {f.created_by, f.owner or "", *_mentions(f.text)}
        ids |= set(_mentions(self.summary)) | set(_mentions(self.description))
        return {i for i in ids if _USER_ID.match(i)}


# -- text ---------------------------------------------------------------------------
def md_escape(text: str) -> str:
    """Backslash-escape what Markdown would read as formatting, HTML or a table cell."""
    return _ENTITY_START.sub("\\&", _MD_SPECIAL.sub(r"\\\1", text))


def _token(inner: str, names: Mapping[str, str]) -> str:
    """One kept Slack token `<…>` as Markdown (already escaped)."""
    body, _, caption = inner.partition("|")
    if body[:1] == "@" and body[1:] in names:
        return md_escape(f"@{names[body[1:]]}")
    if body[:1] in ("@", "#"):  # <@U123|name>, <#C123|general>
        return md_escape(f"{body[0]}{caption.lstrip('@#') or body[1:]}")
    if body.startswith("!"):  # an old row stored before the input boundary: <!here>
        special = body[1:].split("^", 1)[0]
        shown = caption or (f"@{special}" if special in ("here", "channel", "everyone") else "")
        return md_escape(shown or f"@{body[1:]}")
    if _SAFE_URL.match(body):
        return f"[{md_escape(caption)}](<{body}>)" if caption else f"<{body}>"
    return md_escape(f"<{inner}>")


def markdown_inline(text: str, names: Mapping[str, str] | None = None) -> str:
    """Stored `text` as literal Markdown on one line (mentions by display name)."""
    text = " ".join(text.split())
    out, last = [], 0
    for match in _SLACK_TOKEN.finditer(text):
        out.append(md_escape(text[last : match.start()]))
        out.append(_token(match.group(1), names or {}))
        last = match.end()
    out.append(md_escape(text[last:]))
    return "".join(out)


def markdown_block(text: str, names: Mapping[str, str] | None = None) -> str:
    """Multi-line text as literal Markdown: no line may start a heading or a list."""
    lines = [markdown_inline(line, names) for line in text.strip().splitlines()]
    return "  \n".join(_LINE_START.sub(r"\\\1", line) for line in lines)


def _who(user_id: str | None, names: Mapping[str, str]) -> str:
    """A person by display name (the ID only where no name is known); a bot's ID as is."""
    if not user_id:
        return "incidentbot"
    return md_escape(f"@{names.get(user_id, user_id)}")


def _acker(by: str | None, names: Mapping[str, str]) -> str:
    """`by @alice`, or `in PagerDuty` for an acknowledgement made there."""
    return f"in {PROVIDER_NAMES[by]}" if by in PROVIDER_NAMES else f"by {_who(by, names)}"


def _time(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S", missing: str = "—") -> str:
    return at.astimezone(UTC).strftime(fmt) if at else missing


def _clock(at: datetime, day_of: datetime) -> str:
    """Hours and minutes, with the date when it is not the day the incident began."""
    same_day = at.astimezone(UTC).date() == day_of.astimezone(UTC).date()
    return _time(at, "%H:%M" if same_day else "%Y-%m-%d %H:%M")


def _since(start: datetime, end: datetime | None) -> str:
    return format_duration(end - start) if end else "not yet"


# -- sections -----------------------------------------------------------------------
def _prompt(text: str) -> str:
    return f"_To fill in: {text}_"


def _heading(s: PostmortemData) -> list[str]:
    lines = [f"# Postmortem: {label(s.number)}: {markdown_inline(s.title, s.names)}", ""]
    if s.draft:
        lines += [
            f"> **DRAFT**: {label(s.number)} is still open (status: {markdown_inline(s.status)}). "
            "Times, the timeline and action items will change until it is resolved; "
            "generate the postmortem again then.",
            "",
        ]
    lines += [
        "> This is a **blameless** postmortem: it describes what happened and how our "
        "systems and processes allowed it, not who is to blame. People acted in good "
        "faith on what they knew at the time.",
        "",
        "| | |",
        "| --- | --- |",
        f"| Incident | {label(s.number)} |",
        f"| Severity | {markdown_inline(s.severity.upper())} |",
        f"| Status | {markdown_inline(s.status)}{' (draft)' if s.draft else ''} |",
        f"| Declared | {_time(s.declared_at, '%Y-%m-%d %H:%M UTC')} "
        f"by {_who(s.declared_by, s.names)} |",
        f"| Resolved | {_time(s.resolved_at, '%Y-%m-%d %H:%M UTC', 'not yet')} |",
        f"| Duration | {_since(s.declared_at, s.resolved_at)} |",
    ]
    if s.channel_name:
        lines.append(f"| Channel | {markdown_inline('#' + s.channel_name)} |")
    return lines


def _summary(s: PostmortemData) -> list[str]:
    lines = ["## Summary", ""]
    lines.append(
        markdown_block(s.summary, s.names)
        if s.summary.strip()
        else _prompt("what happened, in two or three sentences.")
    )
    lines += ["", "## Impact", ""]
    if s.description.strip():
        lines += [markdown_block(s.description, s.names), ""]
    lines.append(
        _prompt("who was affected, how, and for how long? Customers, revenue, data, SLOs.")
    )
    return lines


def _milestones(s: PostmortemData) -> list[str]:
    acknowledged = "Acknowledged (page)" if s.paged else "Acknowledged (IC's first action)"
    rows = [
        ("Declared", s.declared_at),
        (acknowledged, s.acknowledged_at),
        ("Mitigated", s.mitigated_at),
        ("Resolved", s.resolved_at),
    ]
    lines = [
        "## Key milestones and durations",
        "",
        "| Milestone | Time (UTC) | Since declared |",
        "| --- | --- | --- |",
    ]
    for name, at in rows:
        lines.append(f"| {name} | {_time(at, missing='not yet')} | {_since(s.declared_at, at)} |")
    meaning = ACKNOWLEDGED_PAGE if s.paged else ACKNOWLEDGED_IC
    lines += [
        "",
        f"- **Time to acknowledge:** {_since(s.declared_at, s.acknowledged_at)} "
        f"(acknowledged = {meaning})",
        f"- **Time to mitigate:** {_since(s.declared_at, s.mitigated_at)}",
        f"- **Time to resolve:** {_since(s.declared_at, s.resolved_at)}",
    ]
    return lines


def _roles(s: PostmortemData) -> list[str]:
    order = list(dict.fromkeys(["incident_commander", "scribe", *(r.role for r in s.roles)]))
    lines = ["## Roles", ""]
    for role in order:
        spans = [r for r in s.roles if r.role == role]
        held = ", then ".join(
            f"{_who(r.user, s.names)} ({_clock(r.started_at, s.declared_at)} → "
            f"{_clock(r.ended_at, s.declared_at) if r.ended_at else 'end'})"
            for r in spans
        )
        lines.append(f"- **{role_label(role)}:** {held or 'nobody'}")
    handovers = sum(max(len([r for r in s.roles if r.role == role]) - 1, 0) for role in order)
    lines += ["", f"Handovers: {handovers}."]
    return lines


def _author(item: TimelineItem, names: Mapping[str, str]) -> str:
    assert item.author
    if item.author.startswith("B"):  # a bot's message: Slack has no person to name
        return md_escape(f"{item.author_name} (bot)") if item.author_name else "a bot"
    return _who(item.author, names)


def _timeline_line(item: TimelineItem, names: Mapping[str, str]) -> str:
    who = _who(item.actor, names)
    if item.author:
        who = f"{_author(item, names)} (logged by {who})"
    text = markdown_inline(item.text, names) or "_(no text)_"
    extras = ""
    if item.permalink and _SAFE_URL.match(item.permalink):
        extras += f" ([message](<{item.permalink}>))"
    if item.files:
        links = ", ".join(
            f"[{md_escape(name)}](<{link}>)" if _SAFE_URL.match(link) else md_escape(name)
            for name, link in item.files
        )
        extras += f" · files: {links}"
    if item.edited:
        extras += " _(edited)_"
    return f"- **{_time(item.at)}** · {md_escape(item.kind)} · {who}: {text}{extras}"


def _timeline(s: PostmortemData) -> list[str]:
    items = sorted((i for i in s.timeline if i.kind not in HIDDEN_KINDS), key=lambda i: i.at)
    lines = [
        "## Timeline",
        "",
        "All times UTC. Logged Slack messages appear at the time they were posted.",
        "",
    ]
    lines += [_timeline_line(i, s.names) for i in items] or ["_Nothing recorded._"]
    return lines


def _target(target: str, names: Mapping[str, str]) -> str:
    """A page target: a person by name; a schedule, group or email as configured."""
    return _who(target, names) if _USER_ID.match(target) else md_escape(target)


def _escalations(s: PostmortemData) -> list[str]:
    lines = ["## Escalations", ""]
    if not s.escalations:
        return [*lines, "_Nobody was paged through an escalation path._"]
    for e in s.escalations:
        acked = (
            f"; acknowledged {_acker(e.acknowledged_by, s.names)} at "
            f"{_time(e.acknowledged_at)} ({_since(e.started_at, e.acknowledged_at)} after this "
            "escalation started)"
            if e.acknowledged_by
            else ""
        )
        lines.append(
            f"- **{md_escape(e.path)}**, started {_time(e.started_at)} "
            f"by {_who(e.started_by, s.names)}: "
            f"{md_escape(e.state)}{acked}"
        )
        for p in e.pages:
            cycle = f" (repeat {p.cycle})" if p.cycle else ""
            sent = f" at {_time(p.sent_at)}" if p.sent_at else ""
            target, status = _target(p.target, s.names), md_escape(p.status)
            lines.append(f"  - level {p.level + 1}{cycle}: paged {target}{sent}, {status}")
    return lines


def _prompts() -> list[str]:
    sections = [
        (
            "Contributing factors",
            'what conditions, changes and gaps made this possible? Ask "how", not "who".',
        ),
        ("What went well", "what helped us detect, respond and recover?"),
        ("What went wrong", "what slowed us down or made it worse?"),
        ("Where we got lucky", "what could easily have made this worse, but did not?"),
    ]
    lines: list[str] = []
    for title, prompt in sections:
        lines += [f"## {title}", "", _prompt(prompt), ""]
    return lines[:-1]


def _action_items(s: PostmortemData) -> list[str]:
    lines = ["## Action items", ""]
    if not s.follow_ups:
        return [*lines, "_No follow-ups recorded. Add them with `/incident followup <text>`._"]
    for f in s.follow_ups:
        owner = f"owner {_who(f.owner, s.names)}" if f.owner else "no owner yet"
        lines.append(
            f"- [{'x' if f.done else ' '}] {markdown_inline(f.text, s.names)} ({owner}; added by "
            f"{_who(f.created_by, s.names)} {_time(f.created_at, '%Y-%m-%d')})"
        )
    return lines


def render(data: PostmortemData) -> str:
    """The whole postmortem as Markdown, ending with a newline."""
    parts: Sequence[list[str]] = (
        _heading(data),
        _summary(data),
        _milestones(data),
        _roles(data),
        _timeline(data),
        _escalations(data),
        _prompts(),
        _action_items(data),
    )
    return "\n\n".join("\n".join(p) for p in parts) + "\n"
