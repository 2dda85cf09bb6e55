"""How listeners run, and the one error handler.

Two thread pools (see `incidentbot.workers`): Bolt's listener pool runs each
listener up to its `ack()`; our work pool runs what may wait. A listener whose
work may wait is a `lazy_listener`: an ack function and lazy functions, as in
Bolt's lazy listeners (`ack=…, lazy=[…]`), but with the lazy part on our work
pool, so a backlog of slow work never delays Slack's acknowledgements. A
listener that must finish within Slack's 3 seconds (it opens a modal) is
`guarded` and runs on Bolt's pool alone.

Errors: our own become a short private message, the rest are logged with
their traceback and the person is told something went wrong. Why listeners
catch them instead of leaving them to `app.error`: with Bolt's sync App in HTTP mode
(`process_before_response=False`), a listener that raises *after* `ack()` makes
Bolt's thread runner overwrite the stored ack with `None`. When that happens
before the request thread has picked the ack up, the request waits out the
3-second ack timeout and Slack gets a 404 ("Unhandled request") instead of the
200 it was promised. `guarded` and `lazy_listener` catch the exception inside
the listener, so the ack stands, and hand it to the same `report` that
`app.error` uses.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.commands import CommandError
from incidentbot.domain.errors import IncidentBotError
from incidentbot.slack.listeners.context import Services, tell

log = logging.getLogger(__name__)

# The listener arguments `lazy_listener` passes on (a subset of what Bolt can inject).
_INJECTED = frozenset(
    {"ack", "body", "payload", "action", "view", "command", "event", "respond", "client"}
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
    log.error("listener failed", exc_info=error)
    tell(services, body, UNEXPECTED, respond)


def guarded(services: Services) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a listener that does all its work on Bolt's listener pool (it opens
    a modal, whose `trigger_id` is valid for 3 seconds only): report its errors
    without undoing its ack. Work that may wait goes in a `lazy_listener`."""

    def decorate(listener: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(listener)  # Bolt injects arguments by the wrapped signature
        def run(**kwargs: Any) -> None:
            try:
                listener(**kwargs)
            except Exception as error:
                _fail(services, error, kwargs)

        return run

    return decorate


def acknowledge(ack: Ack) -> None:
    """The ack function of a listener with nothing to check before acknowledging."""
    ack()


def lazy_listener(
    services: Services, *, ack: Callable[..., None], lazy: Sequence[Callable[..., None]]
) -> Callable[..., None]:
    """A listener in the shape of Bolt's lazy listeners, with the lazy part on our work pool.

    `app.view(X)(lazy_listener(services, ack=check, lazy=[save]))` reads as Bolt's own
    `app.view(X)(ack=check, lazy=[save])`: `check` runs on Bolt's listener pool
    and must call `ack()` within 3 seconds; then each of `lazy` runs on
    `services.work` with the listener arguments it names (never `ack`). Unlike
    Bolt's lazy listeners, which share Bolt's executor, a backlog of slow work
    never delays an acknowledgement. An ack that answers the request (an error
    text, `response_action="errors"` for a modal) ends it: nothing runs lazily.
    Errors on either side are reported to the person (`report`).
    """
    check = ack
    check_args = _arg_names(check)
    work = [(fn, _arg_names(fn)) for fn in lazy]
    for fn, names in work:
        if "ack" in names:
            raise TypeError(f"{fn.__name__}: a lazy function runs after the ack; it cannot ack()")

    def run(  # every argument a listener of ours may ask Bolt for
        ack: Ack,
        body: dict[str, Any],
        payload: dict[str, Any],
        action: dict[str, Any] | None,
        view: dict[str, Any] | None,
        command: dict[str, Any] | None,
        event: dict[str, Any] | None,
        respond: Respond | None,
        client: WebClient,
    ) -> None:
        kwargs = {
            "ack": ack,
            "body": body,
            "payload": payload,
            "action": action,
            "view": view,
            "command": command,
            "event": event,
            "respond": respond,
            "client": client,
        }
        try:
            check(**_pick(kwargs, check_args))
        except Exception as error:
            _fail(services, error, kwargs)
            return
        if not _plain_ack(ack):
            return
        for fn, names in work:
            services.work.submit(_run_lazily, services, fn, _pick(kwargs, names), kwargs)

    run.__name__ = run.__qualname__ = check.__name__  # how Bolt names it in its logs
    return run


def _arg_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    names = tuple(inspect.signature(fn).parameters)
    unknown = set(names) - _INJECTED
    if unknown:
        raise TypeError(f"{fn.__name__}: lazy_listener cannot inject {sorted(unknown)}")
    return names


def _pick(kwargs: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: kwargs[name] for name in names}


def _plain_ack(ack: Ack) -> bool:
    """Acknowledged with a bare `ack()`: Bolt answers Slack with an empty 200."""
    return ack.response is not None and ack.response.status == 200 and not ack.response.body


def _run_lazily(
    services: Services, fn: Callable[..., None], args: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    services.gate.step_aside()
    try:
        fn(**args)
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
