"""Incident use cases: declare, change status/severity, assign roles, note, resolve, reopen.

Every use case follows the same order, so a Slack outage can never lose data:
1. load and check (domain rules, permissions);
2. apply and save, with a timeline entry and the change's consequences
   (`incidentbot.consequences`: escalation, reminders…), in one transaction;
3. tell Slack (topic, welcome message, cards, a notice) through the gateway;
4. carry out the recorded consequences (if this process dies before, any
   process's timer sweep does, exactly once).
Slack failures in step 3 are collected and returned as `problems` for the
listener to report to the person; the stored change stands. Failures that pass
(an outage, a rate limit) are also handed to the outbox (`incidentbot.delivery`):
the channel set-up, the topic and cards, and notices are then completed when
Slack is back, however long that takes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from incidentbot import consequences as events
from incidentbot.delivery import Attempt
from incidentbot.domain import incident as rules
from incidentbot.domain.errors import InvalidChange, NotAllowed, NotAnIncidentChannel, NotFound
from incidentbot.domain.naming import channel_name
from incidentbot.domain.outcome import Outcome
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escape, show_within
from incidentbot.services.deps import Deps
from incidentbot.slack import blocks
from incidentbot.slack.gateway import Failure, SlackGateway, is_transient
from incidentbot.store import escalations, repo
from incidentbot.store.db import session_scope, transaction
from incidentbot.store.models import Incident, SlackOutbox, TimelineEntry, Timer

log = logging.getLogger(__name__)

SETUP_TIMER = "declare_setup"
SETUP_GRACE = timedelta(minutes=2)  # longer than the slowest declare with all its retries
SETUP_ATTEMPTS = 3
SETUP_RETRY = "setup"  # outbox kinds: the channel set-up, and topic + welcome + cards
REFRESH_RETRY = "refresh"


class IncidentService:
    """Incident use cases. Their consequences elsewhere (escalation, reminders…) are
    recorded as events in the change's transaction; see `incidentbot.consequences`."""

    def __init__(self, deps: Deps) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.slack: SlackGateway = deps.slack
        self.timers = deps.timers
        self.outbox = deps.outbox
        self.consequences = deps.consequences
        self.metrics = deps.metrics
        self.clock = deps.clock
        self.auth = deps.auth
        deps.timers.register(SETUP_TIMER, self._on_setup_timer)
        deps.outbox.register(SETUP_RETRY, self._retry_setup)
        deps.outbox.register(REFRESH_RETRY, self._retry_refresh)

    # -- queries -------------------------------------------------------------------
    def number_for_channel(self, channel_id: str) -> int:
        with Session(self.engine) as session:
            incident = repo.incident_by_channel(session, channel_id=channel_id)
        if incident is None or incident.id is None:
            raise NotAnIncidentChannel(
                "This is not an incident channel. Run this in the channel of the incident, "
                "or see open incidents with `/incident list`."
            )
        return incident.id

    def open_counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return repo.open_counts(session, final_status=self.config.final_status)

    def get(self, number: int) -> IncidentSnapshot:
        with Session(self.engine) as session:
            return self.read(session, number)

    def read(self, session: Session, number: int, *, lock: bool = False) -> IncidentSnapshot:
        """The incident as plain data, read in the caller's transaction (`lock`: for update)."""
        return self._snapshot(session, self._load(session, number, lock=lock))

    def list_open(self) -> list[IncidentSnapshot]:
        with Session(self.engine) as session:
            rows = repo.open_incidents(session, final_status=self.config.final_status)
            # Roles and latest updates of all of them in two queries, not two per incident.
            numbers = [int(row.id or 0) for row in rows]
            roles = repo.current_roles_of(session, incident_ids=numbers)
            updates = repo.latest_update_texts(session, incident_ids=numbers)
            return [
                self._snapshot(session, row, roles=roles[n], update_text=updates.get(n, ""))
                for n, row in zip(numbers, rows, strict=True)
            ]

    def timeline(
        self, number: int, *, latest: int | None = None
    ) -> tuple[IncidentSnapshot, Sequence[TimelineEntry]]:
        """The incident and its entries in time order (only the `latest` ones, if given)."""
        with Session(self.engine) as session:
            snapshot = self._snapshot(session, self._load(session, number))
            return snapshot, repo.timeline(session, incident_id=number, latest=latest)

    def check_may(self, action: str, number: int, actor: str) -> IncidentSnapshot:
        """Raise unless `actor` may do `action` on the open incident `number` now: what a
        form checks before it opens, and again before its submission is accepted."""
        snapshot = self.get(number)
        rules.check_open(snapshot.status, self.config.statuses, _DOING.get(action, action))
        self.auth.check(action, snapshot, actor)
        return snapshot

    def check_roles(self, number: int, wanted: Mapping[str, str | None], actor: str) -> None:
        """Raise unless `actor` may give these roles to these people (the roles form)."""
        held = self.get(number)
        changed = {r: u for r, u in wanted.items() if held.roles.get(r) != u}
        for action in _role_actions(changed):
            self.auth.check(action, held, actor)
        self.auth.check_people(changed.values())

    # -- declare -------------------------------------------------------------------
    def declare(
        self,
        *,
        title: str,
        declared_by: str,
        severity: str | None = None,
        description: str = "",
        ic: str | None = None,
        scribe: str | None = None,
        private: bool | None = None,
        origin_channel: str | None = None,
        source_key: str | None = None,
        assign_ic: bool = True,
    ) -> Outcome[None]:
        """Store a new incident first, then open its channel and announce it.

        `assign_ic=False` leaves the IC vacant (declared by a rule, not a person:
        someone must claim the role).
        """
        title = title.strip()
        if not title:
            raise InvalidChange("The incident needs a title.")
        severity = (severity or self.config.default_severity).lower()
        if self.config.severity(severity) is None:
            raise InvalidChange(f"Unknown severity `{escape(severity)}`.")
        if ic or scribe:  # the declarer is a person: they are using Slack right now
            self.auth.check_people([ic, scribe])
        now = self.clock()
        with session_scope(self.engine) as session:
            if source_key and (
                existing := repo.incident_by_source_key(session, source_key=source_key)
            ):
                return Outcome(self._snapshot(session, existing), created=False)
            incident = Incident(
                title=title,
                description=description.strip(),
                severity=severity,
                status=self.config.first_status,
                private=self.config.channels.private_by_default if private is None else private,
                declared_by=declared_by,
                declared_at=now,
                origin_channel_id=origin_channel,
                status_times={self.config.first_status: now.isoformat()},
                source_key=source_key,
                updated_at=now,
            )
            if repo.add_incident(session, incident=incident) is None:
                existing = repo.incident_by_source_key(session, source_key=source_key or "")
                assert existing is not None
                return Outcome(self._snapshot(session, existing), created=False)
            number = int(incident.id or 0)
            repo.add_entry(
                session,
                incident_id=number,
                kind="declared",
                actor=declared_by,
                at=now,
                text=f"Declared {rules.label(number)} ({severity}): {title}",
            )
            if assign_ic or ic:
                self._assign(
                    session, number, "incident_commander", ic or declared_by, declared_by, now
                )
            if scribe:
                self._assign(session, number, "scribe", scribe, declared_by, now)
            # If this process dies before Slack is set up, any process finishes it.
            self.timers.schedule(
                session,
                kind=SETUP_TIMER,
                key=f"setup:{number}:1",
                due_at=now + SETUP_GRACE,
                incident_id=number,
                payload={"attempt": 1},
            )
            recorded = self.consequences.record(
                session, events.DECLARED, incident_id=number, payload={"actor": declared_by}
            )
            snapshot = self._snapshot(session, incident)
        self.metrics.declared.labels(severity).inc()
        failures = self._open_channel(snapshot)
        self._setup_done(number, failures)
        self.consequences.run(recorded)  # page, reminders: now that the channel exists
        return Outcome(self.get(number), problems=tuple(_setup_problems(failures)))

    def _open_channel(
        self, s: IncidentSnapshot, *, resume: bool = False, record: bool = True
    ) -> list[Failure]:
        """Slack steps of declare; each failure is returned, none undoes the incident.

        `resume` finishes the steps of a declare whose process died or whose
        Slack was down: it adopts the channel a previous try may already have
        created, and posts only the messages that are missing. Without
        `record`, only failures that will not pass are written to the timeline
        (a retry during an outage must not add an entry per attempt).
        """
        if s.channel_id is None:
            name = channel_name(
                self.config.channels.name_template,
                number=s.number,
                title=s.title,
                severity=s.severity,
                declared_at=s.declared_at,
            )
            created = self.slack.create_channel(name, private=s.private, adopt=resume)
            if isinstance(created, Failure):
                self._record_problems(s.number, [created] if record else _lasting([created]))
                return [created]
            with session_scope(self.engine) as session:
                incident = self._load(session, s.number)
                incident.channel_id, incident.channel_name = created
                session.add(incident)
                s = self._snapshot(session, incident)
        assert s.channel_id is not None
        failures = self.slack.invite(s.channel_id, [s.declared_by, *s.roles.values()])
        failures += self._set_topic(s)
        purpose = self.slack.try_call(
            "conversations.setPurpose", channel=s.channel_id, purpose=rules.purpose(s.title)
        )
        failures += [purpose] if isinstance(purpose, Failure) else []
        if not (resume and self._messages(s.number, "welcome")):
            failures += self._post_welcome(s)
        failures += self._sync_cards(s)
        self._record_problems(s.number, failures if record else _lasting(failures))
        return failures

    def _setup_done(self, number: int, failures: Sequence[Failure] = ()) -> None:
        """The declare's Slack steps ran: swap the crash-recovery timer for an
        outbox row if some step failed only because Slack is unavailable."""
        passing = [f for f in failures if is_transient(f)]
        with session_scope(self.engine) as session:
            self.timers.cancel(session, key_prefix=f"setup:{number}:")
            if passing and not self.outbox.waiting(session, kind=SETUP_RETRY, incident_id=number):
                self.outbox.add(
                    session,
                    kind=SETUP_RETRY,
                    label="the incident channel set-up",
                    incident_id=number,
                    payload={"number": number},
                    error=passing[0].error,
                )

    def _retry_setup(self, row: SlackOutbox) -> Attempt:
        """Outbox handler: finish the channel set-up (also for a resolved incident)."""
        number = int(row.payload["number"])
        return Attempt.of(self._open_channel(self.get(number), resume=True, record=False))

    def _retry_refresh(self, row: SlackOutbox) -> Attempt:
        """Outbox handler: bring topic, welcome message and cards to the current state."""
        return Attempt.of(self._refresh_once(self.get(int(row.payload["number"]))))

    def _on_setup_timer(self, session: Session, timer: Timer) -> Callable[[], None]:
        """A declare did not finish its Slack steps in time: finish them here."""
        number, attempt = int(timer.incident_id or 0), int(timer.payload.get("attempt", 1))
        if attempt < SETUP_ATTEMPTS:  # in case this process dies too
            self.timers.schedule(
                session,
                kind=SETUP_TIMER,
                key=f"setup:{number}:{attempt + 1}",
                due_at=self.clock() + SETUP_GRACE,
                incident_id=number,
                payload={"attempt": attempt + 1},
            )

        def finish() -> None:
            snapshot = self.get(number)
            failures = self._open_channel(snapshot, resume=True)
            self._setup_done(number, failures)
            snapshot = self.get(number)
            where = f"<#{snapshot.channel_id}>" if snapshot.channel_id else "(no channel yet)"
            text = f":wrench: {snapshot.label} was declared as the bot restarted. Set up: {where}"
            if failures:
                text += "\n" + "\n".join(f"• {p}" for p in _setup_problems(failures))
            self.outbox.post(
                snapshot.declared_by, text=text, incident_id=number, label="the set-up notice"
            )

        return finish

    def _post_welcome(self, s: IncidentSnapshot) -> list[Failure]:
        assert s.channel_id is not None
        text, welcome = blocks.welcome_message(s, self.config)
        posted = self.slack.post(s.channel_id, text=text, blocks=welcome)
        if isinstance(posted, Failure):
            return [posted]
        ts = str(posted["ts"])
        with session_scope(self.engine) as session:
            repo.remember_message(
                session, incident_id=s.number, kind="welcome", channel_id=s.channel_id, ts=ts
            )
        pinned = self.slack.try_call("pins.add", channel=s.channel_id, timestamp=ts)
        return [pinned] if isinstance(pinned, Failure) else []

    # -- changes -------------------------------------------------------------------
    def change_status(self, number: int, status: str, *, actor: str) -> Outcome[None]:
        if status == self.config.final_status:
            raise InvalidChange("Use `/incident resolve [summary]` to resolve the incident.")

        def apply(session: Session, incident: Incident, now: datetime) -> str:
            rules.check_status_change(incident.status, status, self.config.statuses)
            old, incident.status = incident.status, status
            incident.status_times = rules.status_times_after(
                incident.status_times or {}, status, now
            )
            if status == self.config.mitigated_status and incident.mitigated_at is None:
                incident.mitigated_at = now
            self._entry(session, incident, "status", actor, now, f"Status {old} → {status}")
            return f":arrows_counterclockwise: <@{actor}> changed the status: *{old}* → *{status}*"

        return self._change(number, "status", actor, apply)

    def change_severity(self, number: int, severity: str, *, actor: str) -> Outcome[None]:
        def apply(session: Session, incident: Incident, now: datetime) -> str:
            rules.check_open(incident.status, self.config.statuses, "change the severity")
            rules.check_severity_change(incident.severity, severity)
            old, incident.severity = incident.severity, severity
            text = f"Severity {old} → {severity}"
            self._entry(session, incident, "severity", actor, now, text, before=old, after=severity)
            return f":rotating_light: <@{actor}> changed the severity: *{old}* → *{severity}*"

        return self._change(number, "severity", actor, apply, event=events.SEVERITY_CHANGED)

    def assign_role(self, number: int, role: str, user_id: str, *, actor: str) -> Outcome[None]:
        return self.assign_roles(number, {role: user_id}, actor=actor)

    def assign_roles(
        self, number: int, wanted: Mapping[str, str | None], *, actor: str
    ) -> Outcome[None]:
        """Give several roles at once (the roles modal); unchanged ones are skipped."""
        unknown = [r for r in wanted if r not in self.config.role_names]
        if unknown:
            raise InvalidChange(f"Unknown role `{escape(unknown[0])}`.")
        held = self.get(number).roles
        # Only the roles that actually change need permission (the modal sends all).
        actions = _role_actions({r: u for r, u in wanted.items() if held.get(r) != u}) or ("role",)
        self.auth.check_people(u for r, u in wanted.items() if held.get(r) != u)
        invited: list[str] = []

        def apply(session: Session, incident: Incident, now: datetime) -> str:
            current = repo.current_roles(session, incident_id=int(incident.id or 0))
            changes = {r: u for r, u in wanted.items() if u and current.get(r) != u}
            if not changes:
                who = next(iter(wanted.values()), None)
                raise InvalidChange(
                    f"No change: <@{who}> already holds that role."
                    if len(wanted) == 1
                    else "No change."
                )
            lines = []
            for role, user_id in changes.items():
                before = self._assign(session, int(incident.id or 0), role, user_id, actor, now)
                was = f" (was <@{before}>)" if before else ""
                role_name = rules.role_label(role)
                lines.append(f":bust_in_silhouette: <@{actor}> made <@{user_id}> {role_name}{was}")
                invited.append(user_id)
            return "\n".join(lines)

        outcome = self._change(number, actions, actor, apply)
        if outcome.incident.channel_id:
            failures = self.slack.invite(outcome.incident.channel_id, invited)
            outcome = outcome.with_problems([f.describe() for f in failures])
        return outcome

    def take_role(self, number: int, role: str, user_id: str) -> Outcome[None] | str:
        """Take IC/Scribe from the welcome message's button.

        Someone not allowed to reassign it gets a request in the incident channel
        instead, that the holder (or Scribe, or an admin) grants in one click; the
        holder returned is whom it was asked of.
        """
        s = self.get(number)
        holder = s.roles.get(role)
        try:
            self.auth.check(_role_actions({role: user_id})[0], s, user_id)
        except NotAllowed:
            if not holder or not s.channel_id:
                raise
            name = self.slack.display_name(user_id) or user_id
            text, request = blocks.handover_request(
                s, role, asker=user_id, asker_name=name, holder=holder
            )
            posted = self.slack.post(s.channel_id, text=text, blocks=request)
            if isinstance(posted, Failure):
                raise
            return holder
        return self.assign_role(number, role, user_id, actor=user_id)

    def hand_over(self, number: int, role: str, to: str, *, actor: str) -> Outcome[None]:
        """The holder (or Scribe, or an admin) grants a hand-over request."""
        return self.assign_role(number, role, to, actor=actor)

    def add_note(self, number: int, text: str, *, actor: str) -> Outcome[None]:
        if not text.strip():
            raise InvalidChange("The note needs some text.")

        def apply(session: Session, incident: Incident, now: datetime) -> str:
            self._entry(session, incident, "note", actor, now, text.strip())
            return f":memo: Note from <@{actor}>: {show_within(text.strip(), 2800)}"

        return self._change(number, (), actor, apply, refresh=False)  # anyone may add notes

    def resolve(self, number: int, summary: str, *, actor: str) -> Outcome[None]:
        def apply(session: Session, incident: Incident, now: datetime) -> str:
            rules.check_open(incident.status, self.config.statuses, "resolve it")
            final = self.config.final_status
            incident.status, incident.resolved_at, incident.summary = final, now, summary.strip()
            incident.status_times = rules.status_times_after(
                incident.status_times or {}, final, now
            )
            incident.mitigated_at = incident.mitigated_at or now
            self._entry(session, incident, "resolved", actor, now, summary.strip() or "Resolved")
            # No notice: the one resolution message in the channel is the closing update,
            # a consequence recorded with the change (so a crash cannot lose it), posted in
            # the channel and under every stakeholder card.
            return ""

        return self._change(number, "resolve", actor, apply, event=events.RESOLVED)

    def reopen(self, number: int, *, actor: str) -> Outcome[None]:
        def apply(session: Session, incident: Incident, now: datetime) -> str:
            rules.check_resolved(incident.status, self.config.statuses)
            incident.status, incident.resolved_at = self.config.first_status, None
            self._entry(
                session, incident, "reopened", actor, now, f"Reopened; status {incident.status}"
            )
            status = incident.status
            return f":leftwards_arrow_with_hook: <@{actor}> reopened this incident ({status})."

        return self._change(number, "reopen", actor, apply, event=events.REOPENED)

    # -- the shared path of every change -------------------------------------------
    def _change(
        self,
        number: int,
        action: str | tuple[str, ...],
        actor: str,
        apply: Callable[[Session, Incident, datetime], str],
        *,
        event: str | None = None,
        refresh: bool = True,
    ) -> Outcome[None]:
        before = self.get(number)
        for name in (action,) if isinstance(action, str) else action:
            self.auth.check(name, before, actor)
        now = self.clock()

        def save(session: Session) -> tuple[str, list[int], IncidentSnapshot, bool]:
            incident = self._load(session, number, lock=True)
            notice = apply(session, incident, now)
            # PRODUCT.md §4: the IC's first action is the acknowledged milestone only
            # when nobody was paged; otherwise it is the first page acknowledgement.
            acknowledged = (
                incident.acknowledged_at is None
                and actor == self._ic(session, number)
                and not escalations.paged(session, incident_id=number)[0]
            )
            if acknowledged:
                incident.acknowledged_at = now
            incident.updated_at = now
            session.add(incident)
            recorded: list[int] = []
            if event:  # committed with the change, so a crash after commit cannot lose it
                recorded = self.consequences.record(
                    session, event, incident_id=number, payload={"actor": actor}
                )
            return notice, recorded, self._snapshot(session, incident), acknowledged

        # Only database work inside: safe to run again if the connection dies under it.
        notice, recorded, snapshot, acknowledged = transaction(self.engine, save)
        failures = self.refresh(snapshot, before=before) if refresh else []
        if snapshot.channel_id and notice:  # "": the change's consequence says it instead
            text, notice_blocks = blocks.notice(notice)
            posted = self.outbox.post(
                snapshot.channel_id,
                text=text,
                blocks=notice_blocks,
                incident_id=number,
                label=f"the {action if isinstance(action, str) else 'note'} notice",
            )
            failures += [posted] if isinstance(posted, Failure) else []
        self.consequences.run(recorded)
        if acknowledged:
            self.observe_acknowledged(snapshot, "ic_action")
        return Outcome(snapshot, problems=tuple(_later(f) for f in failures))

    def refresh(
        self, s: IncidentSnapshot, *, before: IncidentSnapshot | None = None
    ) -> list[Failure]:
        """Bring the topic, welcome message and cards in line with the stored incident.

        With `before` (the incident before this change), a topic or welcome message
        the change leaves as it was is not sent again: Slack would show the same
        thing, and every call counts against its rate limits. If Slack is
        unavailable, one outbox row (per incident) does it later.
        """
        failures = self._refresh_once(s, before=before)
        passing = [f for f in failures if is_transient(f)]
        if passing:
            with session_scope(self.engine) as session:
                if not self.outbox.waiting(session, kind=REFRESH_RETRY, incident_id=s.number):
                    self.outbox.add(
                        session,
                        kind=REFRESH_RETRY,
                        label="the topic and incident card update",
                        incident_id=s.number,
                        payload={"number": s.number},
                        error=passing[0].error,
                    )
        return failures

    def _refresh_once(
        self, s: IncidentSnapshot, *, before: IncidentSnapshot | None = None
    ) -> list[Failure]:
        if s.channel_id is None:
            return []
        same_topic = before is not None and _topic(before) == _topic(s)
        failures = [] if same_topic else self._set_topic(s)
        text, welcome = blocks.welcome_message(s, self.config)
        if before is not None and blocks.welcome_message(before, self.config) == (text, welcome):
            return failures + self._sync_cards(s)
        for message in self._messages(s.number, "welcome"):
            updated = self.slack.update(message.channel_id, message.ts, text=text, blocks=welcome)
            failures += [updated] if isinstance(updated, Failure) else []
        return failures + self._sync_cards(s)

    def _set_topic(self, s: IncidentSnapshot) -> list[Failure]:
        assert s.channel_id is not None
        topic = _topic(s)
        result = self.slack.try_call("conversations.setTopic", channel=s.channel_id, topic=topic)
        return [result] if isinstance(result, Failure) else []

    def _sync_cards(self, s: IncidentSnapshot) -> list[Failure]:
        """Post the card where it is missing, edit it in place where it exists."""
        text, card = blocks.incident_card(s, self.config, now=self.clock())
        existing = {m.channel_id: m.ts for m in self._messages(s.number, "card")}
        failures: list[Failure] = []
        for ref in self.announcement_channels(s.severity):
            channel_id = self.slack.resolve_channel(ref)
            if isinstance(channel_id, Failure):
                failures.append(channel_id)
                continue
            if channel_id in existing:
                result = self.slack.update(channel_id, existing[channel_id], text=text, blocks=card)
            else:
                result = self.slack.post(channel_id, text=text, blocks=card)
                if not isinstance(result, Failure):
                    with session_scope(self.engine) as session:
                        repo.remember_message(
                            session,
                            incident_id=s.number,
                            kind="card",
                            channel_id=channel_id,
                            ts=str(result["ts"]),
                        )
            if isinstance(result, Failure):
                where = f"announcements channel {ref}; invite the bot there"
                failures.append(Failure(result.method, result.error, where))
        return failures

    def announcement_channels(self, severity: str) -> list[str]:
        sev = self.config.severity(severity)
        extra = list(sev.announcements) if sev else []
        return list(dict.fromkeys([*self.config.channels.announcements, *extra]))

    # -- helpers -------------------------------------------------------------------
    def _load(self, session: Session, number: int, *, lock: bool = False) -> Incident:
        incident = repo.get_incident(session, number=number, lock=lock)
        if incident is None:
            raise NotFound(f"There is no incident {rules.label(number)}.")
        return incident

    def _snapshot(
        self,
        session: Session,
        incident: Incident,
        *,
        roles: Mapping[str, str] | None = None,
        update_text: str | None = None,
    ) -> IncidentSnapshot:
        """The incident as plain data; `roles`/`update_text` when the caller already has them."""
        number = int(incident.id or 0)
        if roles is None:
            roles = repo.current_roles(session, incident_id=number)
        if update_text is None:
            update_text = repo.latest_update_text(session, incident_id=number)
        return IncidentSnapshot(
            number=number,
            title=incident.title,
            description=incident.description,
            severity=incident.severity,
            status=incident.status,
            private=incident.private,
            declared_by=incident.declared_by,
            declared_at=incident.declared_at,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
            roles=_ordered_roles(roles, self.config.role_names),
            summary=incident.summary,
            resolved_at=incident.resolved_at,
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            final_status=self.config.final_status,
            last_update_at=incident.last_update_at,
            last_update_text=update_text,
        )

    def _ic(self, session: Session, number: int) -> str | None:
        return repo.current_roles(session, incident_id=number).get("incident_commander")

    def _assign(
        self, session: Session, number: int, role: str, user_id: str, by: str, at: datetime
    ) -> str | None:
        before = repo.assign_role(
            session, incident_id=number, role=role, user_id=user_id, by=by, at=at
        )
        was = f" (was <@{before}>)" if before else ""
        repo.add_entry(
            session,
            incident_id=number,
            kind="role",
            actor=by,
            at=at,
            text=f"{rules.role_label(role)}: <@{user_id}>{was}",
            data={"role": role, "user": user_id, "previous": before},
        )
        return before

    def _entry(
        self,
        session: Session,
        incident: Incident,
        kind: str,
        actor: str,
        at: datetime,
        text: str,
        **data: Any,
    ) -> None:
        repo.add_entry(
            session,
            incident_id=int(incident.id or 0),
            kind=kind,
            actor=actor,
            at=at,
            text=text,
            data=data,
        )

    def _messages(self, number: int, kind: str) -> list[Any]:
        with Session(self.engine) as session:
            return list(repo.slack_messages(session, incident_id=number, kind=kind))

    def _record_problems(self, number: int, failures: Sequence[Failure]) -> None:
        if not failures:
            return
        with session_scope(self.engine) as session:
            incident = self._load(session, number)
            incident.pending_steps = {f.method: f.error for f in failures}
            session.add(incident)
            repo.add_entry(
                session,
                incident_id=number,
                kind="slack_error",
                actor="",
                at=self.clock(),
                source="system",
                text="; ".join(f"{f.method}: {f.error}" for f in failures),
            )

    def observe_acknowledged(self, s: IncidentSnapshot, via: str) -> None:
        """Export the acknowledged milestone (PRODUCT.md §4) the moment it is reached."""
        if s.acknowledged_at is not None:
            took = (s.acknowledged_at - s.declared_at).total_seconds()
            self.metrics.time_to_acknowledge.labels(via).observe(took)


def _topic(s: IncidentSnapshot) -> str:
    return rules.topic(severity=s.severity, status=s.status, ic=s.ic)


_DOING = {"resolve": "resolve it", "update": "post an update", "severity": "change the severity"}


def _lasting(failures: Sequence[Failure]) -> list[Failure]:
    return [f for f in failures if not is_transient(f)]


def _later(failure: Failure) -> str:
    """A failure as the person reads it; passing ones are delivered later."""
    if is_transient(failure):
        return f"{failure.describe()} — Slack is unavailable; it will be done when Slack is back"
    return failure.describe()


def _setup_problems(failures: Sequence[Failure]) -> list[str]:
    """The set-up failures as the declarer reads them."""
    problems = []
    for f in failures:
        text = f.describe()
        if f.method == "conversations.create":
            text = f"Could not create the incident channel: {text}"
        if is_transient(f):
            text += " — Slack is unavailable; it will be done when Slack is back"
        problems.append(text)
    return problems


def _role_actions(wanted: Mapping[str, str | None]) -> tuple[str, ...]:
    """The permission names a role change needs (IC and Scribe have their own)."""
    names = {"incident_commander": "ic", "scribe": "scribe"}
    return tuple(dict.fromkeys(names.get(role, "role") for role, user in wanted.items() if user))


def _ordered_roles(current: Mapping[str, str], order: Sequence[str]) -> dict[str, str]:
    return {role: current[role] for role in order if role in current}
