"""Who may do restricted actions: the incident's IC and Scribe, and configured admins.

Admins are user IDs or user groups (`S…`, expanded through Slack and cached).
When an incident has neither an IC nor a Scribe who is a real, active person,
anyone may act: otherwise a vacant incident (or one whose IC left the company)
could never be picked up.

Roles go only to people who exist (PRODUCT.md §8): `role_holder_problem` asks
Slack (`users.info`, cached) and refuses unknown IDs, deactivated accounts and
bots. When Slack cannot answer (an outage) the assignment goes ahead: a
response must never stall on the check.
"""

from __future__ import annotations

from collections.abc import Iterable

from incidentbot.config import Config
from incidentbot.domain.errors import InvalidChange, NotAllowed
from incidentbot.domain.incident import role_label
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import escape
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
        if all(self.role_holder_problem(h) for h in holders if h):
            return  # nobody who holds a role can act: never lock the incident
        who = " or ".join(
            f"the {role_label(r)} (<@{u}>)"
            for r, u in (("incident_commander", incident.ic), ("scribe", incident.scribe))
            if u
        )
        raise NotAllowed(
            f"Only {who} or an incidentbot admin can {_verb(action)} {incident.label}."
        )

    def role_holder_problem(self, user_id: str) -> str | None:
        """Why `user_id` cannot hold a role (unknown, deactivated, a bot), or None."""
        found = self.slack.person(user_id)
        if isinstance(found, Failure):
            if found.error == "user_not_found":
                return (
                    f"`{escape(user_id)}` is not a person in this workspace (Slack: "
                    "`user_not_found`). Type @ and pick them from the list."
                )
            return None  # Slack could not answer: do not stall the response on it
        if found.deleted:
            return f"*{escape(found.name)}* has a deactivated Slack account and cannot take a role."
        if found.is_bot:
            return f"*{escape(found.name)}* is a bot; roles are for people."
        return None

    def check_people(self, user_ids: Iterable[str | None]) -> None:
        """Raise `InvalidChange` naming the first of `user_ids` who cannot hold a role."""
        for user_id in dict.fromkeys(u for u in user_ids if u):
            if problem := self.role_holder_problem(user_id):
                raise InvalidChange(problem)


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
