"""The one error handler: our own errors become a short private message, the rest
are logged with their traceback and the person is told something went wrong.

Listeners are wrapped by `guarded` (which also hands post-ack work to the work
pool, see its docstring). Why errors are caught there too: with Bolt's sync App in HTTP mode
(`process_before_response=False`), a listener that raises *after* `ack()` makes
Bolt's thread runner overwrite the stored ack with `None`. When that happens
before the request thread has picked the ack up, the request waits out the
3-second ack timeout and Slack gets a 404 ("Unhandled request") instead of the
200 it was promised. `guarded` catches the exception inside the listener, so
the ack stands, and hands it to the same `report` that `app.error` uses.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator
from typing import Any

from slack_bolt import App
from sqlalchemy.exc import DBAPIError

from incidentbot.domain.commands import CommandError
from incidentbot.domain.errors import IncidentBotError
from incidentbot.slack.listeners.context import Services, tell

log = logging.getLogger(__name__)

CONNECTION_LOST = (
    ":warning: The database connection was lost while saving this, so that step was not "
    "saved (nothing is half-written). Please try again in a moment."
)
UNEXPECTED = (
    ":boom: Something went wrong on our side and it has been logged. "
    "Check the incident channel before retrying: part of what you asked may have happened."
)


def report(services: Services, error: Exception, body: dict[str, Any], respond: Any = None) -> None:
    """Tell the person what went wrong; log the traceback of anything unexpected."""
    if isinstance(error, CommandError | IncidentBotError):
        tell(services, body, f":warning: {error}", respond)
        return
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        log.error("database connection lost", exc_info=error)
        tell(services, body, CONNECTION_LOST, respond)
        return
    log.error("listener failed", exc_info=error)
    tell(services, body, UNEXPECTED, respond)


def guarded(services: Services) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a listener: report its errors without undoing its ack, and move the
    work it does after acking to the work pool.

    A listener marks the end of its ack path with a bare `yield` right after
    `ack()`: the lines before run on Bolt's listener pool, the lines after run
    on `services.work`. Slack's acknowledgements therefore never wait behind
    slow work, however much of it is queued (a listener without `yield` runs
    entirely on Bolt's pool).
    """

    def decorate(listener: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(listener)  # Bolt injects arguments by the wrapped signature
        def run(**kwargs: Any) -> None:
            try:
                steps = listener(**kwargs)
                if not inspect.isgenerator(steps):
                    return
                next(steps, None)  # up to and including ack()
            except Exception as error:
                _fail(services, error, kwargs)
                return
            services.work.submit(_finish, services, steps, kwargs)

        return run

    return decorate


def _finish(services: Services, steps: Generator[Any, Any, Any], kwargs: dict[str, Any]) -> None:
    services.gate.step_aside()
    try:
        next(steps, None)
    except Exception as error:
        _fail(services, error, kwargs)


def _fail(services: Services, error: Exception, kwargs: dict[str, Any]) -> None:
    ack = kwargs.get("ack")
    if ack is not None and ack.response is None:
        ack()  # never leave Slack waiting, whatever failed
    report(services, error, kwargs.get("body") or {}, kwargs.get("respond"))


def register(app: App, services: Services) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        report(services, error, body, respond)
