"""Reports from stored data: the blameless postmortem and incident metrics.

`read_postmortem` turns the database rows of one incident into the plain
`PostmortemData` the pure renderer takes. It needs only an engine, so the
command line (`python -m incidentbot postmortem <n>`) uses it without Slack,
and prints exactly what `/incident postmortem` uploads.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from incidentbot.domain import postmortem
from incidentbot.domain.errors import NotFound
from incidentbot.domain.incident import label
from incidentbot.domain.outcome import Outcome
from incidentbot.domain.stats import Elapsed, Stats, window_stats
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.slack.gateway import Failure
from incidentbot.store import repo, reports
from incidentbot.store.db import session_scope

NAME_TTL = timedelta(days=7)  # people rename themselves; a week-old name is still right


def read_postmortem(engine: Engine, number: int) -> postmortem.PostmortemData:
    """Everything the postmortem shows about incident `number`, as plain data, with the
    display names already cached (`ReportService.remember_names` looks up the rest)."""
    with Session(engine) as session:
        incident = repo.get_incident(session, number=number)
        if incident is None:
            raise NotFound(f"There is no incident {label(number)}.")
        data = postmortem.PostmortemData(
            number=number,
            title=incident.title,
            severity=incident.severity,
            status=incident.status,
            declared_by=incident.declared_by,
            declared_at=incident.declared_at,
            description=incident.description,
            summary=incident.summary,
            channel_name=incident.channel_name,
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            resolved_at=incident.resolved_at,
            roles=tuple(
                postmortem.RoleSpan(r.role, r.user_id, r.started_at, r.ended_at)
                for r in repo.role_history(session, incident_id=number)
            ),
            timeline=_timeline(session, number),
            escalations=_escalations(session, number),
            follow_ups=tuple(
                postmortem.FollowUpItem(
                    f.text, f.created_by, f.created_at, f.owner, f.done_at is not None
                )
                for f in repo.follow_ups(session, incident_id=number)
            ),
        )
        cached = repo.person_names(session, user_ids=sorted(data.people()))
        return replace(data, names={uid: row.name for uid, row in cached.items()})


def _timeline(session: Session, number: int) -> tuple[postmortem.TimelineItem, ...]:
    return tuple(_item(*row) for row in reports.timeline_rows(session, incident_id=number))


def _item(
    at: datetime, kind: str, actor: str, text: str, data: dict[str, Any] | None, edited: Any
) -> postmortem.TimelineItem:
    data = data or {}
    return postmortem.TimelineItem(
        at=at,
        kind=kind,
        actor=actor,
        text=text,
        author=data.get("author") if kind == "message" else None,
        author_name=data.get("author_name") if kind == "message" else None,
        permalink=data.get("permalink"),
        files=tuple((str(name), str(link)) for name, link in data.get("files") or []),
        edited=bool(edited),
    )


def _escalations(session: Session, number: int) -> tuple[postmortem.EscalationItem, ...]:
    out = []
    for run, pages in reports.escalations_with_pages(session, incident_id=number):
        out.append(
            postmortem.EscalationItem(
                path=run.path,
                state=run.state,
                started_by=run.started_by,
                started_at=run.started_at,
                acknowledged_by=run.acknowledged_by,
                acknowledged_at=run.acknowledged_at,
                pages=tuple(
                    postmortem.PageItem(p.level, p.target, p.status, p.sent_at, p.cycle)
                    for p in pages
                ),
            )
        )
    return tuple(out)


def postmortem_markdown(engine: Engine, number: int) -> str:
    return postmortem.render(read_postmortem(engine, number))


def filename(number: int, *, draft: bool) -> str:
    return f"{label(number)}-postmortem{'-DRAFT' if draft else ''}.md"


class ReportService:
    def __init__(self, deps: Deps, *, incidents: IncidentService) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.slack = deps.slack
        self.clock = deps.clock
        self.auth = deps.auth
        self.incidents = incidents

    def upload_postmortem(self, number: int, *, actor: str) -> Outcome[str]:
        """Render the postmortem and upload it to the incident channel (files v2 flow)."""
        snapshot = self.incidents.get(number)
        self.auth.check("postmortem", snapshot, actor)
        self.remember_names(read_postmortem(self.engine, number))
        data = read_postmortem(self.engine, number)
        markdown = postmortem.render(data)
        if not snapshot.channel_id:
            return Outcome(snapshot, markdown, problems=("The incident has no channel.",))
        draft = " (DRAFT: the incident is still open)" if data.draft else ""
        result = self.slack.try_call(
            "files_upload_v2",
            channel=snapshot.channel_id,
            content=markdown,
            filename=filename(number, draft=data.draft),
            title=f"Postmortem of {snapshot.label}{draft}",
            initial_comment=(
                f":page_facing_up: <@{actor}> generated the blameless postmortem of "
                f"{snapshot.label}{draft}. Fill in the prompts, then copy it to your docs."
            ),
        )
        problems = (result.describe(),) if isinstance(result, Failure) else ()
        return Outcome(snapshot, markdown, problems=problems)  # the postmortem's Markdown

    def remember_names(self, data: postmortem.PostmortemData) -> None:
        """Look up, once, the display names of the people the document names.

        A name is refreshed after `NAME_TTL`; one Slack cannot give (a deleted
        account without a name, an outage) stays an ID in the document.
        """
        now = self.clock()
        with Session(self.engine) as session:
            cached = repo.person_names(session, user_ids=sorted(data.people()))
        stale = [
            uid
            for uid in sorted(data.people())
            if uid not in cached or now - cached[uid].looked_up_at > NAME_TTL
        ]
        found = {uid: name for uid in stale if (name := self.slack.display_name(uid))}
        if not found:
            return
        with session_scope(self.engine) as session:
            for uid, name in found.items():
                repo.save_person_name(session, user_id=uid, name=name, at=now)

    def stats(self, days: int) -> Stats:
        """Counts, MTTA and MTTR of the incidents declared in the last `days`.

        The database does the date arithmetic (`store.reports.elapsed_in_window`);
        Python only averages floats.
        """
        now = self.clock()
        rows, open_before = reports.elapsed_in_window(
            self.engine,
            since=now - timedelta(days=days),
            until=now,
            final_status=self.config.final_status,
        )
        window = [
            Elapsed(severity, bool(is_open), to_ack, to_resolve)
            for severity, is_open, to_ack, to_resolve in rows
        ]
        open_now = sum(1 for i in window if i.open) + open_before
        return window_stats(
            window,
            now=now,
            days=days,
            severities=self.config.severity_names,
            open_now=open_now,
        )
