"""Buttons on the welcome message: take IC, take Scribe, resolve."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.incident import check_open
from incidentbot.slack import blocks, ids
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener


def register(app: App, services: Services) -> None:
    def take_ic(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        _take(services, body, action, respond, "incident_commander")

    def take_scribe(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        _take(services, body, action, respond, "scribe")

    app.action(ids.TAKE_IC)(lazy_listener(services, ack=acknowledge, lazy=[take_ic]))
    app.action(ids.TAKE_SCRIBE)(lazy_listener(services, ack=acknowledge, lazy=[take_scribe]))

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
