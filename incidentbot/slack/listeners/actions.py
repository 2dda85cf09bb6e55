"""Buttons on the welcome message: take IC, take Scribe, resolve; and the one-click
hand-over request that Take IC/Scribe posts when the person may not take it."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.incident import role_label
from incidentbot.slack import blocks, ids
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener


def register(app: App, services: Services) -> None:
    def take_ic(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        _take(services, body, action, respond, "incident_commander")

    def take_scribe(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        _take(services, body, action, respond, "scribe")

    def hand_over(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        number, role, to = action["value"].split(":", 2)
        user_id = body["user"]["id"]
        outcome = services.incidents.hand_over(int(number), role, to, actor=user_id)
        # The request is answered: its button goes, so nobody presses it again.
        text, done = blocks.handover_done(role, to=to, by=user_id)
        services.slack.update(body["channel"]["id"], body["message"]["ts"], text=text, blocks=done)
        if outcome.problems:
            tell(services, body, problems_text(outcome.problems), respond)

    app.action(ids.TAKE_IC)(lazy_listener(services, ack=acknowledge, lazy=[take_ic]))
    app.action(ids.TAKE_SCRIBE)(lazy_listener(services, ack=acknowledge, lazy=[take_scribe]))
    app.action(ids.HAND_OVER)(lazy_listener(services, ack=acknowledge, lazy=[hand_over]))

    @app.action(ids.OPEN_RESOLVE)
    @guarded(services)
    def open_resolve(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,  # a refusal goes to the person who pressed it, wherever they are
    ) -> None:
        ack()
        # Refused before the form opens, so nobody writes a summary only to lose it.
        snapshot = services.incidents.check_may("resolve", int(action["value"]), body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=blocks.resolve_modal(snapshot))


def _take(
    services: Services, body: dict[str, Any], action: dict[str, Any], respond: Respond, role: str
) -> None:
    user_id = body["user"]["id"]
    taken = services.incidents.take_role(int(action["value"]), role, user_id)
    if isinstance(taken, str):
        told = (
            f":raising_hand: Only the Incident Commander, the Scribe or an admin can reassign "
            f"the {role_label(role)}, so I asked <@{taken}> in the channel to hand it over "
            "to you (one click)."
        )
        tell(services, body, told, respond)
    elif taken.problems:
        tell(services, body, problems_text(taken.problems), respond)
