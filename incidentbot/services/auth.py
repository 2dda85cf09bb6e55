"""Who may do restricted actions: the incident's IC and Scribe, and configured admins.

Admins are user IDs or user groups (`S…`, expanded through Slack and cached).
When an incident has neither an IC nor a Scribe anyone may act, otherwise a
vacant incident could never be picked up.
"""

from __future__ import annotations

from incidentbot.config import Config
from incidentbot.domain.errors import NotAllowed
from incidentbot.domain.incident import role_label
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.slack.gateway import Failure, SlackGateway


class Authorizer:
    def __init__(self, config: Config, slack: SlackGateway) -> None:
        self.config = config
        self.slack = slack

    def is_admin(self, user_id: str) -> bool:
        for admin in self.config.permissions.admins:
            if admin == user_id:
                return True
            if admin.startswith("S"):
                members = self.slack.usergroup_members(admin)
                if not isinstance(members, Failure) and user_id in members:
                    return True
        return False

    def check(self, action: str, incident: IncidentSnapshot, user_id: str) -> None:
        """Raise `NotAllowed` unless `user_id` may do `action` on `incident`."""
        if not self.config.is_restricted(action):
            return
        holders = {incident.ic, incident.scribe} - {None}
        if not holders or user_id in holders or self.is_admin(user_id):
            return
        who = " or ".join(
            f"the {role_label(r)} (<@{u}>)"
            for r, u in (("incident_commander", incident.ic), ("scribe", incident.scribe))
            if u
        )
        raise NotAllowed(
            f"Only {who} or an incidentbot admin can {_verb(action)} {incident.label}."
        )


def _verb(action: str) -> str:
    return {
        "resolve": "resolve",
        "reopen": "reopen",
        "severity": "change the severity of",
        "status": "change the status of",
        "ic": "change the Incident Commander of",
        "scribe": "change the Scribe of",
        "role": "assign roles on",
        "timeline_edit": "edit the timeline of",
        "escalate": "escalate",
        "update": "post updates for",
        "postmortem": "generate the postmortem of",
    }.get(action, action)
