"""Reports from stored data: the blameless postmortem and incident metrics.

`read_postmortem` turns the database rows of one incident into the plain
`PostmortemData` the pure renderer takes. It needs only an engine, so the
command line (`python -m incidentbot postmortem <n>`) uses it without Slack,
and prints exactly what `/incident postmortem` uploads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from incidentbot.domain import metrics, postmortem
from incidentbot.domain.errors import NotFound
from incidentbot.domain.incident import label
from incidentbot.services.incidents import IncidentService
from incidentbot.slack.gateway import Failure
from incidentbot.store import repo
from incidentbot.store.models import Escalation, Incident, Page, TimelineEntry


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What `/incident postmortem` did: the document, and any Slack step that failed."""

    number: int
    markdown: str
    draft: bool
    problems: tuple[str, ...] = ()


def read_postmortem(engine: Engine, number: int) -> postmortem.PostmortemData:
    """Everything the postmortem shows about incident `number`, as plain data."""
    with Session(engine) as session:
        incident = repo.get_incident(session, number=number)
        if incident is None:
            raise NotFound(f"There is no incident {label(number)}.")
        return postmortem.PostmortemData(
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
            timeline=tuple(_item(e) for e in repo.timeline(session, incident_id=number)),
            escalations=_escalations(session, number),
            follow_ups=tuple(
                postmortem.FollowUpItem(
                    f.text, f.created_by, f.created_at, f.owner, f.done_at is not None
                )
                for f in repo.follow_ups(session, incident_id=number)
            ),
        )


def _item(entry: TimelineEntry) -> postmortem.TimelineItem:
    data = entry.data or {}
    return postmortem.TimelineItem(
        at=entry.at,
        kind=entry.kind,
        actor=entry.actor,
        text=entry.text,
        author=data.get("author") if entry.kind == "message" else None,
        permalink=data.get("permalink"),
        files=tuple((str(name), str(link)) for name, link in data.get("files") or []),
        edited=entry.edited_at is not None,
    )


def _escalations(session: Session, number: int) -> tuple[postmortem.EscalationItem, ...]:
    runs = session.exec(
        select(Escalation)
        .where(Escalation.incident_id == number)
        .order_by(col(Escalation.started_at), col(Escalation.id))
    ).all()
    out = []
    for run in runs:
        pages = session.exec(
            select(Page)
            .where(Page.escalation_id == run.id)
            .order_by(col(Page.cycle), col(Page.level), col(Page.id))
        ).all()
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
    def __init__(self, *, incidents: IncidentService) -> None:
        self.incidents = incidents
        self.engine = incidents.engine
        self.config = incidents.config
        self.slack = incidents.slack
        self.clock = incidents.clock

    def upload_postmortem(self, number: int, *, actor: str) -> Uploaded:
        """Render the postmortem and upload it to the incident channel (files v2 flow)."""
        snapshot = self.incidents.get(number)
        self.incidents.auth.check("postmortem", snapshot, actor)
        data = read_postmortem(self.engine, number)
        markdown = postmortem.render(data)
        if not snapshot.channel_id:
            return Uploaded(number, markdown, data.draft, ("The incident has no channel.",))
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
        return Uploaded(number, markdown, data.draft, problems)

    def stats(self, days: int) -> metrics.Stats:
        now = self.clock()
        since = now - timedelta(days=days)
        with Session(self.engine) as session:
            rows = session.exec(
                select(Incident).where(
                    or_(
                        col(Incident.declared_at) >= since,
                        Incident.status != self.config.final_status,
                    )
                )
            ).all()
            times = [
                metrics.IncidentTimes(
                    number=int(i.id or 0),
                    severity=i.severity,
                    declared_at=i.declared_at,
                    acknowledged_at=i.acknowledged_at,
                    resolved_at=i.resolved_at,
                )
                for i in rows
            ]
        return metrics.compute_stats(
            times, now=now, days=days, severities=self.config.severity_names
        )
