"""Stakeholder communications: status updates, update reminders, the roles watcher,
and the closing update on resolve.

Posting an update follows the same order as every incident use case: check,
then store the `StatusUpdate`, its timeline entry and the next reminder in one
transaction, then tell Slack (the incident channel, a threaded reply under each
card, the card itself). Slack failures come back as `problems`; the update stands.

Reminders and the roles watch are durable timers (`Timers`), keyed
`update:<number>:<id>` and `roles:<number>`, so they survive restarts and fire
once across replicas. This service follows the incident's life through
`IncidentService.listeners`: declare arms both timers, a severity change
re-times the reminder, resolve cancels them and posts the closing update,
reopen re-arms the reminder.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.config import Config
from incidentbot.domain import incident as rules
from incidentbot.domain.errors import InvalidChange
from incidentbot.domain.snapshot import IncidentSnapshot, UpdateSnapshot
from incidentbot.scheduler import AfterCommit, Timers
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import update_blocks
from incidentbot.slack.blocks import channel as channel_link
from incidentbot.slack.gateway import Failure, SlackGateway
from incidentbot.store import repo
from incidentbot.store.db import session_scope
from incidentbot.store.models import Incident, StatusUpdate, Timer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

REMINDER_KIND = "update_reminder"
ROLES_WATCH_KIND = "roles_watch"
# How long an incident may go without an Incident Commander before the channel is told.
ROLES_WATCH_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    incident: IncidentSnapshot
    update: UpdateSnapshot
    problems: tuple[str, ...] = ()
    created: bool = True


class UpdateService:
    def __init__(
        self,
        *,
        engine: Engine,
        config: Config,
        slack: SlackGateway,
        incidents: IncidentService,
        timers: Timers,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.config = config
        self.slack = slack
        self.incidents = incidents
        self.timers = timers
        self.clock = clock

    def subscribe(self) -> None:
        """Register the timer handlers and follow incident events."""
        self.timers.register(REMINDER_KIND, self.remind)
        self.timers.register(ROLES_WATCH_KIND, self.watch_roles)
        self.incidents.listeners.append(self.on_incident_event)

    # -- queries ---------------------------------------------------------------------
    def last_update(self, number: int) -> UpdateSnapshot | None:
        with Session(self.engine) as session:
            stmt = (
                select(StatusUpdate)
                .where(StatusUpdate.incident_id == number)
                .order_by(col(StatusUpdate.posted_at).desc(), col(StatusUpdate.id).desc())
            )
            row = session.exec(stmt).first()
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
    ) -> UpdateOutcome:
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
            return UpdateOutcome(self.incidents.get(number), existing, created=False)
        snapshot = self.incidents.get(number)
        # The card shows the latest update; topic and welcome message stay as they are.
        failures = self.incidents.refresh(snapshot, before=before)
        messages = update_blocks.update_messages(snapshot, self.config, update)
        problems = [f.describe() for f in failures] + self._broadcast(snapshot, messages)
        return UpdateOutcome(snapshot, update, tuple(problems))

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
            problems += self._post_all(s.channel_id, messages)
        if s.private:
            return problems
        for card in self._cards(s.number):
            problems += self._post_all(card.channel_id, messages, thread_ts=card.ts)
        return problems

    def _post_all(
        self, channel_id: str, messages: Sequence[tuple[str, list]], thread_ts: str | None = None
    ) -> list[str]:
        for text, blocks in messages:
            posted = self.slack.post(channel_id, text=text, blocks=blocks, thread_ts=thread_ts)
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
            posted = self.slack.post(s.channel_id, text=text, blocks=blocks)
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

    # -- incident events -------------------------------------------------------------
    def on_incident_event(self, event: str, s: IncidentSnapshot, actor: str) -> None:
        if event == "declared":
            with session_scope(self.engine) as session:
                self._reschedule(session, s.number, s.severity, base=s.declared_at)
                self.timers.schedule(
                    session,
                    kind=ROLES_WATCH_KIND,
                    key=f"roles:{s.number}",
                    due_at=s.declared_at + ROLES_WATCH_AFTER,
                    incident_id=s.number,
                )
        elif event == "severity":
            with session_scope(self.engine) as session:
                base = s.last_update_at or s.declared_at
                self._reschedule(session, s.number, s.severity, base=base)
            before = self._severity_before(s.number) or "?"
            message = update_blocks.severity_message(s, self.config, by=actor, before=before)
            self._tell_stakeholders(s, actor, [message])
        elif event == "reopened":
            with session_scope(self.engine) as session:
                self._reschedule(session, s.number, s.severity, base=self.clock())
            self._tell_stakeholders(s, actor, [update_blocks.reopened_message(s, by=actor)])
        elif event == "resolved":
            self._close(s, actor)

    def _close(self, s: IncidentSnapshot, actor: str) -> None:
        """Stop the reminders, then post the closing update; failures go to the resolver."""
        with session_scope(self.engine) as session:
            self.timers.cancel(session, incident_id=s.number, key_prefix=f"update:{s.number}:")
            self.timers.cancel(session, incident_id=s.number, key_prefix=f"roles:{s.number}")
        self._tell_stakeholders(s, actor, update_blocks.closing_messages(s, self.config))

    def _tell_stakeholders(
        self, s: IncidentSnapshot, actor: str, messages: Sequence[tuple[str, list]]
    ) -> None:
        """Post under every stakeholder card (the incident channel already has its notice,
        so it gets no second message); failures go privately to whoever made the change."""
        if s.private:
            return
        problems: list[str] = []
        for card in self._cards(s.number):
            problems += self._post_all(card.channel_id, messages, thread_ts=card.ts)
        if problems and s.channel_id:
            self.slack.ephemeral(s.channel_id, actor, "\n".join(f":warning: {p}" for p in problems))

    def _severity_before(self, number: int) -> str | None:
        """The severity before the latest change, from its timeline entry."""
        with Session(self.engine) as session:
            entries = repo.timeline(session, incident_id=number, latest=5)
        for entry in reversed(list(entries)):
            if entry.kind == "severity" and (entry.data or {}).get("before"):
                return str(entry.data["before"])
        return None

    # -- helpers ---------------------------------------------------------------------
    def _checked(self, number: int, actor: str) -> IncidentSnapshot:
        s = self.incidents.get(number)
        rules.check_open(s.status, self.config.statuses, "post an update")
        self.incidents.auth.check("update", s, actor)
        return s

    def _every(self, severity: str) -> timedelta | None:
        sev = self.config.severity(severity)
        return sev.update_every if sev else None

    def _cards(self, number: int) -> list:
        with Session(self.engine) as session:
            return list(repo.slack_messages(session, incident_id=number, kind="card"))

    def _by_source_key(self, source_key: str) -> UpdateSnapshot:
        with Session(self.engine) as session:
            stmt = select(StatusUpdate).where(StatusUpdate.source_key == source_key)
            row = session.exec(stmt).one()
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
