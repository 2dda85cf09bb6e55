"""Stakeholder communications: status updates, update reminders, the roles watcher,
and the closing update on resolve.

Posting an update follows the same order as every incident use case: check,
then store the `StatusUpdate`, its timeline entry and the next reminder in one
transaction, then tell Slack (the incident channel, a threaded reply under each
card, the card itself). Slack failures come back as `problems`; the update stands.

Reminders and the roles watch are durable timers (`Timers`), keyed
`update:<number>:<id>` and `roles:<number>`, so they survive restarts and fire
once across replicas. This service follows the incident's life through
consequences recorded with each change (`incidentbot.consequences`): declare
arms both timers, a severity change re-times the reminder, resolve cancels them
and posts the closing update, reopen re-arms the reminder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlmodel import Session

from incidentbot import consequences as events
from incidentbot.consequences import Consequence
from incidentbot.domain import incident as rules
from incidentbot.domain.errors import InvalidChange
from incidentbot.domain.outcome import Outcome
from incidentbot.domain.snapshot import IncidentSnapshot, UpdateSnapshot
from incidentbot.scheduler import AfterCommit
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import update_blocks
from incidentbot.slack.blocks import channel as channel_link
from incidentbot.slack.gateway import Failure, is_transient
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import Incident, StatusUpdate, Timer

log = logging.getLogger(__name__)

REMINDER_KIND = "update_reminder"
ROLES_WATCH_KIND = "roles_watch"
# How long an incident may go without an Incident Commander before the channel is told.
ROLES_WATCH_AFTER = timedelta(minutes=5)


class UpdateService:
    def __init__(self, deps: Deps, *, incidents: IncidentService) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.slack = deps.slack
        self.timers = deps.timers
        self.outbox = deps.outbox
        self.clock = deps.clock
        self.auth = deps.auth
        self.incidents = incidents
        deps.timers.register(REMINDER_KIND, self.remind)
        deps.timers.register(ROLES_WATCH_KIND, self.watch_roles)
        on = deps.consequences.subscribe
        on(events.DECLARED, "updates.arm_on_declare", self._arm_on_declare)
        on(events.SEVERITY_CHANGED, "updates.retime_on_severity", self._retime_on_severity)
        on(events.REOPENED, "updates.rearm_on_reopen", self._rearm_on_reopen)
        on(events.RESOLVED, "updates.close_on_resolve", self._close_on_resolve)

    # -- queries ---------------------------------------------------------------------
    def last_update(self, number: int) -> UpdateSnapshot | None:
        with Session(self.engine) as session:
            row = repo.latest_update(session, incident_id=number)
            return _snap(row) if row else None

    def modal_for(self, number: int, *, actor: str) -> dict:
        """The update modal, pre-filled from the last update (checks first)."""
        s = self._checked(number, actor)
        return update_blocks.update_modal(
            s, self.last_update(number), every=self._every(s.severity)
        )

    # -- posting ---------------------------------------------------------------------
    def post(
        self,
        number: int,
        *,
        text: str,
        actor: str,
        impact: str = "",
        doing: str = "",
        next_in: timedelta | None = None,
        source_key: str | None = None,
    ) -> Outcome[UpdateSnapshot]:
        """Store the update (once per `source_key`), then tell the channel and stakeholders."""
        text = text.strip()
        if not text:
            raise InvalidChange("The update needs some text.")
        before = self._checked(number, actor)
        now = self.clock()
        row = StatusUpdate(
            incident_id=number,
            status=before.status,
            severity=before.severity,
            text=text,
            impact=impact.strip(),
            doing=doing.strip(),
            next_update_at=now + next_in if next_in else None,
            posted_by=actor,
            posted_at=now,
            source_key=source_key,
        )
        update = self._store(row, before.severity)
        if update is None:  # a repeated submission of the same modal: already posted
            existing = self._by_source_key(source_key or "")
            return Outcome(self.incidents.get(number), existing, created=False)
        snapshot = self.incidents.get(number)
        # The card shows the latest update; topic and welcome message stay as they are.
        failures = self.incidents.refresh(snapshot, before=before)
        messages = update_blocks.update_messages(snapshot, self.config, update)
        problems = [f.describe() for f in failures] + self._broadcast(snapshot, messages)
        return Outcome(snapshot, update, problems=tuple(problems))

    def _store(self, row: StatusUpdate, severity: str) -> UpdateSnapshot | None:
        number, now = row.incident_id, row.posted_at
        with session_scope(self.engine) as session:
            incident = repo.get_incident(session, number=number, lock=True)
            assert incident is not None
            if not repo.insert_unique(session, row=row):
                return None  # `source_key` already used
            repo.add_entry(
                session,
                incident_id=number,
                kind="update",
                actor=row.posted_by,
                at=now,
                text=row.text,
                data={"impact": row.impact, "doing": row.doing, "update_id": row.id},
            )
            incident.last_update_at = incident.updated_at = now
            session.add(incident)
            self._reschedule(session, number, severity, base=now, due=row.next_update_at)
            return _snap(row)

    def _broadcast(self, s: IncidentSnapshot, messages: Sequence[tuple[str, list]]) -> list[str]:
        """Post in the incident channel and under every card (never for private incidents)."""
        problems: list[str] = []
        if s.channel_id:
            problems += self._post_all(s.number, s.channel_id, messages)
        if s.private:
            return problems
        for card in self._cards(s.number):
            problems += self._post_all(s.number, card.channel_id, messages, thread_ts=card.ts)
        return problems

    def _post_all(
        self,
        number: int,
        channel_id: str,
        messages: Sequence[tuple[str, list]],
        thread_ts: str | None = None,
    ) -> list[str]:
        """Post in order; Slack being down defers the rest (the outbox keeps the order)."""
        for index, (text, blocks) in enumerate(messages):
            posted = self.outbox.post(
                channel_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                incident_id=number,
                label=f"the status update in {channel_link(channel_id)}",
            )
            if isinstance(posted, Failure) and is_transient(posted):
                for later_text, later_blocks in messages[index + 1 :]:
                    self.outbox.defer(
                        kind="post",
                        label=f"the status update in {channel_link(channel_id)}",
                        failure=posted,
                        incident_id=number,
                        payload={
                            "channel": channel_id,
                            "text": later_text,
                            "blocks": later_blocks,
                            "thread_ts": thread_ts,
                        },
                    )
                return [
                    f"The update will appear in {channel_link(channel_id)} when Slack is back "
                    f"({posted.describe()})."
                ]
            if isinstance(posted, Failure):
                where = "under the card in " if thread_ts else "in "
                return [
                    f"Could not post the update {where}{channel_link(channel_id)}: "
                    f"{posted.describe()}. Invite the bot there (`/invite @incidentbot`)."
                ]
        return []

    # -- reminders -------------------------------------------------------------------
    def snooze(self, number: int, minutes: int, *, actor: str) -> datetime:
        """Postpone the next update reminder by `minutes` from now."""
        if minutes not in update_blocks.SNOOZE_MINUTES:
            raise InvalidChange("Snooze for 15 minutes, 30 minutes or 1 hour.")
        s = self._checked(number, actor)
        due = self.clock() + timedelta(minutes=minutes)
        with session_scope(self.engine) as session:
            self._reschedule(session, number, s.severity, base=self.clock(), due=due)
        return due

    def remind(self, session: Session, timer: Timer) -> AfterCommit | None:
        """Timer handler: remind the IC in the channel, and arm the next reminder."""
        incident = session.get(Incident, timer.incident_id)
        if incident is None or incident.status == self.config.final_status:
            return None
        number, now = int(incident.id or 0), self.clock()
        self._reschedule(session, number, incident.severity, base=now)
        quiet_for = now - (incident.last_update_at or incident.declared_at)
        return self._after_post(
            number, lambda s: update_blocks.reminder_message(s, quiet_for=quiet_for)
        )

    def watch_roles(self, session: Session, timer: Timer) -> AfterCommit | None:
        """Timer handler: tell the channel once if nobody holds IC a while after declare."""
        incident = session.get(Incident, timer.incident_id)
        if incident is None or incident.status == self.config.final_status:
            return None
        number = int(incident.id or 0)
        if repo.current_roles(session, incident_id=number).get("incident_commander"):
            return None
        minutes = int(ROLES_WATCH_AFTER.total_seconds() // 60)
        return self._after_post(number, lambda s: update_blocks.roles_watch_message(s, minutes))

    def _after_post(
        self, number: int, build: Callable[[IncidentSnapshot], tuple[str, list]]
    ) -> AfterCommit:
        """Slack work for after the timer's transaction: render and post in the channel."""

        def post() -> None:
            s = self.incidents.get(number)
            if s.channel_id is None:
                return
            text, blocks = build(s)
            posted = self.outbox.post(
                s.channel_id, text=text, blocks=blocks, incident_id=number, label="a reminder"
            )
            if isinstance(posted, Failure):
                log.warning("reminder not posted", extra={"error": posted.describe()})

        return post

    def _reschedule(
        self,
        session: Session,
        number: int,
        severity: str,
        *,
        base: datetime,
        due: datetime | None = None,
    ) -> None:
        """Replace the pending reminder: at `due`, else `update_every` after `base`."""
        self.timers.cancel(session, incident_id=number, key_prefix=f"update:{number}:")
        every = self._every(severity)
        due = due or (base + every if every else None)
        if due is None:
            return
        self.timers.schedule(
            session,
            kind=REMINDER_KIND,
            key=f"update:{number}:{uuid.uuid4().hex}",
            due_at=due,
            incident_id=number,
        )

    # -- consequences of incident changes --------------------------------------------
    def _arm_on_declare(self, session: Session, c: Consequence) -> None:
        incident = self._open_incident(session, c)
        if incident is None:
            return
        number = int(incident.id or 0)
        self._reschedule(session, number, incident.severity, base=incident.declared_at)
        self.timers.schedule(
            session,
            kind=ROLES_WATCH_KIND,
            key=f"roles:{number}",
            due_at=incident.declared_at + ROLES_WATCH_AFTER,
            incident_id=number,
        )

    def _retime_on_severity(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Retime the reminder to the new severity, and tell stakeholders in the card's thread."""
        incident = self._open_incident(session, c)
        if incident is None:
            return None
        number = int(incident.id or 0)
        base = incident.last_update_at or incident.declared_at
        self._reschedule(session, number, incident.severity, base=base)
        s = self.incidents.read(session, number)
        before = _severity_before(session, number) or "?"
        message = update_blocks.severity_message(s, self.config, by=c.actor, before=before)
        return lambda: self._tell_stakeholders(s, c.actor, [message])

    def _rearm_on_reopen(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Arm the reminders again, and tell stakeholders the incident is open again."""
        incident = self._open_incident(session, c)
        if incident is None:
            return None
        number = int(incident.id or 0)
        self._reschedule(session, number, incident.severity, base=self.clock())
        s = self.incidents.read(session, number)
        message = update_blocks.reopened_message(s, by=c.actor)
        return lambda: self._tell_stakeholders(s, c.actor, [message])

    def _close_on_resolve(self, session: Session, c: Consequence) -> AfterCommit | None:
        """Stop the reminders, then post the closing update; failures go to the resolver."""
        number = int(c.incident_id or 0)
        s = self.incidents.read(session, number)
        if not s.resolved:
            return None  # reopened before this ran: its reminders are armed again
        self.timers.cancel(session, incident_id=number, key_prefix=f"update:{number}:")
        self.timers.cancel(session, incident_id=number, key_prefix=f"roles:{number}")

        def close() -> None:
            # In the channel (its one resolution message) and under every card.
            closing = update_blocks.closing_messages(s, self.config, by=c.actor)
            problems = self._broadcast(s, closing)
            if problems and s.channel_id and c.actor:
                text = "\n".join(f":warning: {p}" for p in problems)
                self.slack.ephemeral(s.channel_id, c.actor, text)

        return close

    def _open_incident(self, session: Session, c: Consequence) -> Incident | None:
        """The consequence's incident, unless it is resolved by now (nothing to remind)."""
        incident = repo.get_incident(session, number=int(c.incident_id or 0))
        if incident is None or incident.status == self.config.final_status:
            return None
        return incident

    def _tell_stakeholders(
        self, s: IncidentSnapshot, actor: str, messages: Sequence[tuple[str, list]]
    ) -> None:
        """Post under every stakeholder card (the incident channel already has its notice,
        so it gets no second message); failures go privately to whoever made the change."""
        if s.private:
            return
        problems: list[str] = []
        for card in self._cards(s.number):
            problems += self._post_all(s.number, card.channel_id, messages, thread_ts=card.ts)
        if problems and s.channel_id and actor:
            self.slack.ephemeral(s.channel_id, actor, "\n".join(f":warning: {p}" for p in problems))

    # -- helpers ---------------------------------------------------------------------
    def _checked(self, number: int, actor: str) -> IncidentSnapshot:
        s = self.incidents.get(number)
        rules.check_open(s.status, self.config.statuses, "post an update")
        self.auth.check("update", s, actor)
        return s

    def _every(self, severity: str) -> timedelta | None:
        sev = self.config.severity(severity)
        return sev.update_every if sev else None

    def _cards(self, number: int) -> list:
        with Session(self.engine) as session:
            return list(repo.slack_messages(session, incident_id=number, kind="card"))

    def _by_source_key(self, source_key: str) -> UpdateSnapshot:
        with Session(self.engine) as session:
            row = repo.update_by_source_key(session, source_key=source_key)
            assert row is not None  # its insert just conflicted on this key
            return _snap(row)


def _snap(row: StatusUpdate) -> UpdateSnapshot:
    return UpdateSnapshot(
        number=row.incident_id,
        status=row.status,
        severity=row.severity,
        text=row.text,
        impact=row.impact,
        doing=row.doing,
        next_update_at=row.next_update_at,
        posted_by=row.posted_by,
        posted_at=row.posted_at,
    )


def _severity_before(session: Session, number: int) -> str | None:
    """The severity before the latest change, from its timeline entry."""
    for entry in reversed(list(repo.timeline(session, incident_id=number, latest=5))):
        if entry.kind == "severity" and (entry.data or {}).get("before"):
            return str(entry.data["before"])
    return None
