"""Errors a person can act on. Each carries a short message safe to show in Slack.

    IncidentBotError            anything we tell the user instead of doing it
      ├── NotAnIncidentChannel  incident-scoped command outside an incident channel
      ├── NotAllowed            a restricted action by someone without the role
      ├── InvalidChange         a change that makes no sense in the current state
      ├── NotFound              a referenced incident or entry does not exist
      └── ConnectionLost        the database connection died mid-transaction (rolled back)

`incidentbot.domain.commands.CommandError` (bad command text) is separate: it
is raised before anything is looked up.
"""

from __future__ import annotations


class IncidentBotError(Exception):
    """Base for errors whose message is shown to the person who caused them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAnIncidentChannel(IncidentBotError):
    pass


class NotAllowed(IncidentBotError):
    pass


class InvalidChange(IncidentBotError):
    pass


class NotFound(IncidentBotError):
    pass


class ConnectionLost(IncidentBotError):
    """The database connection died under a transaction, which the database rolled
    back as a whole: nothing of it was saved, and trying again is safe."""

    def __init__(self) -> None:
        super().__init__(
            "The database connection was lost while saving this, so it was not saved "
            "(nothing is half-written). Please try again in a moment."
        )
