"""Buttons on the welcome message: take IC, take Scribe, resolve."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.incident import check_open
from incidentbot.slack import blocks, ids
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import guarded


def register(app: App, services: Services) -> None:
    @app.action(ids.TAKE_IC)
    @guarded(services)
    def take_ic(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        _take(services, body, action, respond, "incident_commander")

    @app.action(ids.TAKE_SCRIBE)
    @guarded(services)
    def take_scribe(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        _take(services, body, action, respond, "scribe")

    @app.action(ids.OPEN_RESOLVE)
    @guarded(services)
    def open_resolve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        snapshot = services.incidents.get(int(action["value"]))
        check_open(snapshot.status, services.config.statuses, "resolve it")
        client.views_open(trigger_id=body["trigger_id"], view=blocks.resolve_modal(snapshot))


def _take(
    services: Services, body: dict[str, Any], action: dict[str, Any], respond: Respond, role: str
) -> None:
    user_id = body["user"]["id"]
    outcome = services.incidents.assign_role(int(action["value"]), role, user_id, actor=user_id)
    if outcome.problems:
        tell(services, body, problems_text(outcome.problems), respond)
