"""Timeline use cases: log Slack messages, edit or delete entries, record follow-ups.

Same order as every use case (see `services/incidents.py`): check, save with
a timeline entry in one transaction, then tell Slack and return `problems`.

A logged message keeps its original time (from its Slack `ts`) and is recorded
once per incident: its entry carries `dedup_key = "msg:<channel>:<ts>"`, and
the database's unique constraint on (incident, dedup_key) settles every race —
a shortcut used twice, a reaction added by two people, Slack redelivering an
event (`X-Slack-Retry-Num`) or two replicas handling it at the same moment.

Edits never rewrite history silently: the entry gets the new text plus
`edited_at`/`edited_by`, and a `timeline_edit` (or `timeline_delete`) entry
records who changed what, before and after.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlmodel import Session

from incidentbot.domain.errors import InvalidChange, NotAllowed, NotFound
from incidentbot.domain.outcome import Outcome
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import one_line, show_within
from incidentbot.domain.timeline import (
    AUDIT_KINDS,
    EntryView,
    FollowUpView,
    LoggedMessage,
    TimelineView,
    owners,
)
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import blocks
from incidentbot.slack.gateway import Failure
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import FollowUp, TimelineEntry

CONFIRM_REACTION = "white_check_mark"
# `/incident timeline` shows at most this many entries, the latest; the postmortem has all.
VIEW_LATEST = 300


class TimelineService:
    def __init__(self, deps: Deps, *, incidents: IncidentService) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.slack = deps.slack
        self.clock = deps.clock
        self.auth = deps.auth
        self.incidents = incidents

    # -- where a message goes ----------------------------------------------------------
    def incident_for_channel(self, channel_id: str) -> int | None:
        with Session(self.engine) as session:
            incident = repo.incident_by_channel(session, channel_id=channel_id)
            return incident.id if incident else None

    def open_incidents_to_log_into(self) -> list[IncidentSnapshot]:
        """The incidents a message from elsewhere can go to; refuses when there are none."""
        found = self.incidents.list_open()
        if not found:
            raise InvalidChange(
                "There is no open incident to add this message to. "
                "Declare one with `/incident declare <title>`."
            )
        return found

    # -- logging -------------------------------------------------------------------------
    def log_message(
        self, number: int, message: LoggedMessage, *, actor: str, source: str
    ) -> Outcome[bool]:
        """Record `message` in the timeline of `number` at its original time, once."""
        snapshot = self.incidents.get(number)  # NotFound for a stale modal
        if self._already_logged(number, message):
            return Outcome(snapshot, False, created=False)
        message = self._complete(message)
        if message.author.startswith("B") and not message.author_name:
            message = replace(message, author_name=self.slack.bot_name(message.author) or "")
        permalink = self._permalink(message)
        with session_scope(self.engine) as session:
            entry = repo.add_entry(
                session,
                incident_id=number,
                kind="message",
                actor=actor,
                text=message.text,
                at=message.posted_at,
                recorded_at=self.clock(),
                source=source,
                dedup_key=message.dedup_key,
                data={
                    "author": message.author,
                    "author_name": message.author_name or None,
                    "channel": message.channel_id,
                    "ts": message.ts,
                    "permalink": permalink,
                    "files": [list(f) for f in message.files],
                    "complete": message.complete,
                },
            )
            entry_id = entry.id if entry else None
        if entry_id is None:
            return Outcome(snapshot, False, created=False)
        reacted = self.slack.try_call(
            "reactions.add", channel=message.channel_id, timestamp=message.ts, name=CONFIRM_REACTION
        )
        confirmed = not isinstance(reacted, Failure) or reacted.error == "already_reacted"
        return Outcome(snapshot, confirmed)  # value: the ✅ reaction is on the message

    def capture_reaction(
        self,
        *,
        reaction: str,
        item_type: str,
        channel_id: str,
        ts: str,
        user: str,
        item_user: str | None,
    ) -> Outcome[bool] | None:
        """A reaction was added; log the message when it is the configured one in an incident."""
        if reaction != self.config.timeline.reaction or item_type != "message":
            return None
        if user == self.slack.bot_user_id:
            return None
        number = self.incident_for_channel(channel_id)
        if number is None:
            return None  # reactions elsewhere are none of our business
        placeholder = LoggedMessage(channel_id, ts, item_user or "", "", complete=False)
        return self.log_message(number, placeholder, actor=user, source="reaction")

    def _already_logged(self, number: int, message: LoggedMessage) -> bool:
        """A cheap check that spares Slack calls for retries; the constraint decides races."""
        with Session(self.engine) as session:
            return repo.entry_exists(session, incident_id=number, dedup_key=message.dedup_key)

    def _complete(self, message: LoggedMessage) -> LoggedMessage:
        """Fetch the full message when we only carry part of it (or nothing, for reactions)."""
        if message.complete:
            return message
        found = self.slack.try_call(
            "conversations.replies",
            channel=message.channel_id,
            ts=message.ts,
            oldest=message.ts,
            latest=message.ts,
            inclusive=True,
        )
        if isinstance(found, Failure):
            return message  # keep what we have: the permalink still leads to it
        for item in found.get("messages", []):
            if item.get("ts") == message.ts:
                return LoggedMessage.from_api(message.channel_id, item)
        return message

    def _permalink(self, message: LoggedMessage) -> str | None:
        result = self.slack.try_call(
            "chat.getPermalink", channel=message.channel_id, message_ts=message.ts
        )
        return None if isinstance(result, Failure) else str(result["permalink"])

    # -- viewing and editing -------------------------------------------------------------
    def view(self, number: int, viewer: str) -> TimelineView:
        """The latest `VIEW_LATEST` entries; how many earlier and deleted ones are not shown."""
        snapshot, entries = self.incidents.timeline(number, latest=VIEW_LATEST)
        with Session(self.engine) as session:
            follow_ups = [follow_up_view(f) for f in repo.follow_ups(session, incident_id=number)]
            total = repo.count_entries(session, incident_id=number)  # deleted ones too
            live = len(entries)
            if live >= VIEW_LATEST:  # there may be more than are shown
                live = repo.count_entries(session, incident_id=number, include_deleted=False)
        try:
            self.auth.check("timeline_edit", snapshot, viewer)
            can_edit_all = True
        except NotAllowed:
            can_edit_all = False
        # max(): entries added between the reads must not make a count negative.
        earlier = max(live - len(entries), 0)
        hidden = max(total - max(live, len(entries)), 0)
        shown = [entry_view(e) for e in entries]
        return TimelineView(snapshot, shown, follow_ups, viewer, can_edit_all, hidden, earlier)

    def entry_for_change(self, entry_id: int, actor: str) -> tuple[IncidentSnapshot, EntryView]:
        """The entry `actor` wants to edit or delete, once they are allowed to."""
        with Session(self.engine) as session:
            row = session.get(TimelineEntry, entry_id)
        if row is None or row.deleted_at is not None:
            raise NotFound("That timeline entry no longer exists.")
        entry = entry_view(row)
        if entry.kind in AUDIT_KINDS:
            raise InvalidChange("The record of an edit cannot itself be changed.")
        snapshot = self.incidents.get(row.incident_id)
        if actor not in owners(entry):
            self.auth.check("timeline_edit", snapshot, actor)
        return snapshot, entry

    def edit_entry(self, entry_id: int, text: str, *, actor: str) -> Outcome[None]:
        text = text.strip()
        if not text:
            raise InvalidChange("The entry needs some text; delete it instead.")
        snapshot, entry = self.entry_for_change(entry_id, actor)
        now = self.clock()
        with session_scope(self.engine) as session:
            stored = _entry_locked(session, entry_id)
            before = stored.text
            if text == before:  # unchanged, or the same edit submitted twice
                return Outcome(snapshot, created=False)
            stored.text, stored.edited_at, stored.edited_by = text, now, actor
            original = (stored.data or {}).get("original_text", before)
            stored.data = {**(stored.data or {}), "original_text": original}
            session.add(stored)
            repo.add_entry(
                session,
                incident_id=stored.incident_id,
                kind="timeline_edit",
                actor=actor,
                at=now,
                text=f"Edited the {stored.kind} entry of {_hhmm(stored.at)}: “{before}” → “{text}”",
                data={"entry_id": entry_id, "before": before, "after": text},
            )
        notice = (
            f":pencil2: <@{actor}> edited the {entry.kind} entry of {blocks.when(entry.at)} "
            f"in the timeline: {show_within(one_line(text), 2500)}"
        )
        return Outcome(snapshot, problems=self._notify(snapshot, notice))

    def delete_entry(self, entry_id: int, *, actor: str) -> Outcome[None]:
        snapshot, entry = self.entry_for_change(entry_id, actor)
        now = self.clock()
        with session_scope(self.engine) as session:
            stored = _entry_locked(session, entry_id)
            stored.deleted_at, stored.edited_by = now, actor
            session.add(stored)
            repo.add_entry(
                session,
                incident_id=stored.incident_id,
                kind="timeline_delete",
                actor=actor,
                at=now,
                text=f"Deleted the {stored.kind} entry of {_hhmm(stored.at)}: “{stored.text}”",
                data={"entry_id": entry_id, "before": stored.text},
            )
        notice = (
            f":wastebasket: <@{actor}> deleted the {entry.kind} entry of "
            f"{blocks.when(entry.at)} from the timeline."
        )
        return Outcome(snapshot, problems=self._notify(snapshot, notice))

    # -- follow-ups ----------------------------------------------------------------------
    def add_follow_up(
        self,
        number: int,
        text: str,
        *,
        actor: str,
        owner: str | None = None,
        source_key: str | None = None,
    ) -> Outcome[None]:
        """Record an action item (anyone may), with a timeline entry, then say so."""
        text = text.strip()
        if not text:
            raise InvalidChange("The follow-up needs some text.")
        now = self.clock()
        self.incidents.get(number)  # NotFound for a stale modal
        with session_scope(self.engine) as session:
            item = FollowUp(
                incident_id=number,
                text=text,
                owner=owner,
                created_by=actor,
                created_at=now,
                source_key=source_key,
            )
            if not repo.insert_unique(session, row=item):
                return Outcome(self.incidents.get(number), created=False)  # a repeated submit
            repo.add_entry(
                session,
                incident_id=number,
                kind="followup",
                actor=actor,
                at=now,
                text=text,
                data={"follow_up_id": item.id, "owner": owner},
            )
        snapshot = self.incidents.get(number)
        whose = f" (owner <@{owner}>)" if owner else ""
        notice = (
            f":clipboard: <@{actor}> recorded a follow-up{whose}: "
            f"{show_within(one_line(text), 2500)}"
        )
        return Outcome(snapshot, problems=self._notify(snapshot, notice))

    def _notify(self, snapshot: IncidentSnapshot, text: str) -> tuple[str, ...]:
        if not snapshot.channel_id:
            return ()
        message, notice_blocks = blocks.notice(text)
        posted = self.slack.post(snapshot.channel_id, text=message, blocks=notice_blocks)
        return (posted.describe(),) if isinstance(posted, Failure) else ()


def entry_view(row: TimelineEntry) -> EntryView:
    """A stored entry as views show it."""
    return EntryView(
        id=row.id,
        kind=row.kind,
        actor=row.actor,
        text=row.text,
        at=row.at,
        data=dict(row.data or {}),
        edited_at=row.edited_at,
        edited_by=row.edited_by,
    )


def follow_up_view(row: FollowUp) -> FollowUpView:
    """A stored follow-up as the timeline lists it."""
    return FollowUpView(
        text=row.text, created_by=row.created_by, owner=row.owner, done_at=row.done_at
    )


def _entry_locked(session: Session, entry_id: int) -> TimelineEntry:
    entry = repo.entry_for_update(session, entry_id=entry_id)
    if entry is None or entry.deleted_at is not None:
        raise NotFound("That timeline entry no longer exists.")
    return entry


def _hhmm(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M UTC")
