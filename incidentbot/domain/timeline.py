"""Timeline values: a Slack message to log, entries and follow-ups as views show them.

Pure: services build these from stored rows (`TimelineEntry`, `FollowUp`) and
Slack payloads; Block Kit builders render them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import from_slack

# Audit records of edits and deletions: shown, never themselves editable.
AUDIT_KINDS = frozenset({"timeline_edit", "timeline_delete"})
METADATA_LIMIT = 3000  # Slack's limit on a modal's private_metadata


@dataclass(frozen=True, slots=True)
class EntryView:
    """One stored timeline entry, as the timeline and the edit/delete modals show it."""

    id: int | None
    kind: str
    actor: str
    text: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    edited_at: datetime | None = None
    edited_by: str | None = None


@dataclass(frozen=True, slots=True)
class FollowUpView:
    """One follow-up action item, as the timeline lists it."""

    text: str
    created_by: str
    owner: str | None = None
    done_at: datetime | None = None


def owners(entry: EntryView) -> set[str]:
    """Who may change an entry besides the IC, Scribe and admins: whoever made it."""
    return {entry.actor, str((entry.data or {}).get("author") or "")} - {""}


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """A Slack message to log, as the shortcut payload or the API describes it."""

    channel_id: str
    ts: str
    author: str
    text: str
    files: tuple[tuple[str, str], ...] = ()  # (name, link)
    complete: bool = True  # False when the text was cut to fit a modal's metadata
    author_name: str = ""  # a bot's name (`username`); people are shown by mention

    @property
    def posted_at(self) -> datetime:
        """The message's own time: Slack's `ts` is seconds.microseconds since the epoch."""
        seconds, _, fraction = self.ts.partition(".")
        micro = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
        return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micro)

    @property
    def dedup_key(self) -> str:
        return f"msg:{self.channel_id}:{self.ts}"

    def to_metadata(self) -> str:
        """JSON for a modal's private_metadata (3,000 characters at most).

        A long message is carried cut and marked incomplete: the whole of it is
        fetched again when the modal is submitted.
        """
        encoded = _encode(self)
        if len(encoded) <= METADATA_LIMIT:
            return encoded
        short = replace(self, files=(), complete=False)
        text = self.text
        while len(encoded := _encode(replace(short, text=text))) > METADATA_LIMIT:
            text = text[: max(len(text) - (len(encoded) - METADATA_LIMIT), 0)]
        return encoded

    @classmethod
    def from_metadata(cls, raw: str) -> LoggedMessage:
        data = json.loads(raw)
        return cls(
            channel_id=data["c"],
            ts=data["ts"],
            author=data["u"],
            text=data["t"],
            files=tuple((str(n), str(link)) for n, link in data.get("f", [])),
            complete=bool(data.get("ok", True)),
            author_name=str(data.get("n") or ""),
        )

    @classmethod
    def from_api(cls, channel_id: str, message: dict[str, Any]) -> LoggedMessage:
        """From a message object as Slack sends it (shortcut payload, history APIs)."""
        files = [
            (str(f.get("name") or f.get("title") or "file"), str(f.get("permalink") or ""))
            for f in message.get("files") or []
        ]
        files += [
            (str(a.get("title") or a.get("fallback") or "attachment"), str(link))
            for a in message.get("attachments") or []
            if (link := a.get("title_link") or a.get("from_url") or a.get("original_url"))
        ]
        return cls(
            channel_id=channel_id,
            ts=str(message["ts"]),
            author=str(message.get("user") or message.get("bot_id") or ""),
            text=from_slack(str(message.get("text") or "")),
            files=tuple(files),
            author_name=str(
                message.get("username") or (message.get("bot_profile") or {}).get("name") or ""
            ),
        )


def _encode(m: LoggedMessage) -> str:
    data: dict[str, Any] = {"c": m.channel_id, "ts": m.ts, "u": m.author, "t": m.text}
    data["f"] = m.files
    if m.author_name:
        data["n"] = m.author_name
    return json.dumps({**data, "ok": m.complete}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class TimelineView:
    """Everything the timeline messages show to one viewer."""

    incident: IncidentSnapshot
    entries: Sequence[EntryView]
    follow_ups: Sequence[FollowUpView]
    viewer: str
    can_edit_all: bool = False
    hidden: int = 0  # deleted entries, not shown
    earlier: int = 0  # entries before the latest `VIEW_LATEST`, not shown

    def may_edit(self, entry: EntryView) -> bool:
        return entry.kind not in AUDIT_KINDS and (self.can_edit_all or self.viewer in owners(entry))
