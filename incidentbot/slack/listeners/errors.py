"""The one error handler: our own errors become a short private message, the rest
are logged with their traceback and the person is told something went wrong.

Why listeners are also wrapped by `guarded`: with Bolt's sync App in HTTP mode
(`process_before_response=False`), a listener that raises *after* `ack()` makes
Bolt's thread runner overwrite the stored ack with `None`. When that happens
before the request thread has picked the ack up, the request waits out the
3-second ack timeout and Slack gets a 404 ("Unhandled request") instead of the
200 it was promised. `guarded` catches the exception inside the listener, so
the ack stands, and hands it to the same `report` that `app.error` uses.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from incidentbot.domain.commands import CommandError
from incidentbot.domain.errors import IncidentBotError
from incidentbot.slack.listeners.context import Services, tell

log = logging.getLogger(__name__)

UNEXPECTED = (
    ":boom: Something went wrong on our side and it has been logged. "
    "Check the incident channel before retrying: part of what you asked may have happened."
)


def report(services: Services, error: Exception, body: dict[str, Any], respond: Any = None) -> None:
    """Tell the person what went wrong; log the traceback of anything unexpected."""
    if isinstance(error, CommandError | IncidentBotError):
        tell(services, body, f":warning: {error}", respond)
        return
    log.error("listener failed", exc_info=error)
    tell(services, body, UNEXPECTED, respond)


def guarded(services: Services) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a listener so its errors are reported without undoing its ack."""

    def decorate(listener: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(listener)  # Bolt injects arguments by the wrapped signature
        def run(**kwargs: Any) -> Any:
            try:
                return listener(**kwargs)
            except Exception as error:
                ack = kwargs.get("ack")
                if ack is not None and ack.response is None:
                    ack()  # never leave Slack waiting, whatever failed
                report(services, error, kwargs.get("body") or {}, kwargs.get("respond"))
                return None

        return run

    return decorate


def register(app: App, services: Services) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        report(services, error, body, respond)
