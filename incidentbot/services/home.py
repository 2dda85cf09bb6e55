"""The App Home tab, and who may see a private incident's details.

`Visibility` answers "is this person a member of that private incident?" for
`/incident list` and the Home tab: the declarer and role holders are members
without asking Slack; anyone else is looked up with `conversations.members`,
cached briefly because Home is opened often. When Slack cannot answer, the
details stay hidden (fail closed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from sqlmodel import Session

from incidentbot.domain.home import HomeData, PageLine
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.slack import home_blocks
from incidentbot.slack.gateway import Failure, SlackGateway
from incidentbot.store import escalations, repo

MEMBERS_CACHE_SECONDS = 60.0
RECENTLY_RESOLVED = timedelta(days=7)
RESOLVED_SHOWN = 10


class Visibility:
    """Membership of private incident channels, cached for `MEMBERS_CACHE_SECONDS`."""

    def __init__(self, slack: SlackGateway) -> None:
        self.slack = slack
        self._lock = threading.Lock()
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def can_see(self, s: IncidentSnapshot, user_id: str) -> bool:
        if not s.private or user_id == s.declared_by or user_id in s.roles.values():
            return True
        return s.channel_id is not None and user_id in self._channel_members(s.channel_id)

    def redacted(self, s: IncidentSnapshot) -> IncidentSnapshot:
        """What a non-member may know of a private incident (as its card shows)."""
        return replace(s, title=":lock: private incident", description="", channel_id=None)

    def _channel_members(self, channel_id: str) -> frozenset[str]:
        with self._lock:
            cached = self._members.get(channel_id)
        if cached and time.monotonic() - cached[0] < MEMBERS_CACHE_SECONDS:
            return cached[1]
        members: set[str] = set()
        cursor = None
        while True:
            page = self.slack.try_call(
                "conversations.members", channel=channel_id, limit=1000, cursor=cursor
            )
            if isinstance(page, Failure):
                return frozenset()  # not cached: the next look may succeed
            members.update(str(m) for m in page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        with self._lock:
            self._members[channel_id] = (time.monotonic(), frozenset(members))
        return frozenset(members)


class HomeService:
    def __init__(self, deps: Deps, *, incidents: IncidentService) -> None:
        self.engine = deps.engine
        self.config = deps.config
        self.slack = deps.slack
        self.clock = deps.clock
        self.incidents = incidents
        self.visibility = Visibility(deps.slack)

    def for_viewer(
        self, incidents: Sequence[IncidentSnapshot], user_id: str
    ) -> list[IncidentSnapshot]:
        """Incidents as `user_id` may see them: private ones redacted for non-members."""
        see = self.visibility
        return [s if see.can_see(s, user_id) else see.redacted(s) for s in incidents]

    def data_for(self, user_id: str) -> HomeData:
        open_ = self.incidents.list_open()
        return HomeData(
            open=[(s, self.visibility.can_see(s, user_id)) for s in open_],
            roles=[(s, role) for s in open_ for role, who in s.roles.items() if who == user_id],
            pages=self._pages(user_id),
            resolved=[(s, self.visibility.can_see(s, user_id)) for s in self._recently_resolved()],
        )

    def publish(self, user_id: str) -> Failure | None:
        """Render and publish the Home tab of `user_id`."""
        view = home_blocks.home_view(self.data_for(user_id), self.config, now=self.clock())
        result = self.slack.try_call("views.publish", user_id=user_id, view=view)
        return result if isinstance(result, Failure) else None

    def _recently_resolved(self) -> list[IncidentSnapshot]:
        since = self.clock() - RECENTLY_RESOLVED
        with Session(self.engine) as session:
            numbers = repo.resolved_since(
                session, since=since, final_status=self.config.final_status, limit=RESOLVED_SHOWN
            )
        return [self.incidents.get(n) for n in numbers]

    def _pages(self, user_id: str) -> list[PageLine]:
        """Pages of running escalations addressed to `user_id` (directly or as delivered)."""
        with Session(self.engine) as session:
            rows = escalations.open_pages(session, limit=200)
        return [
            PageLine(
                number=int(incident.id or 0),
                path=escalation.path,
                level=page.level,
                paged_at=page.sent_at or page.created_at,
                channel_id=incident.channel_id,
            )
            for page, escalation, incident in rows
            if page.target == user_id
            or any(d.get("user") == user_id for d in page.deliveries or [])
        ]
