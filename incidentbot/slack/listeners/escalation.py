"""Escalation buttons and the path picker: Acknowledge and Join channel in the
page DM, Escalate on the welcome message, and the picker's submission."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.errors import InvalidChange
from incidentbot.slack import escalation_blocks, ids
from incidentbot.slack.listeners.context import Services, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener
from incidentbot.slack.listeners.views import requiring, view_values


def register(app: App, services: Services) -> None:
    def acknowledge_page(body: dict[str, Any], action: dict[str, Any]) -> None:
        escalation_id = int(action["value"])
        number = services.escalations.number_for(escalation_id)
        actor = body["user"]["id"]
        services.escalations.acknowledge(number, actor=actor, escalation_id=escalation_id)

    def join(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        incident = services.incidents.get(int(action["value"]))
        if incident.channel_id:
            services.slack.invite(incident.channel_id, [body["user"]["id"]])
            tell(services, body, f"You are in <#{incident.channel_id}>.", respond)

    app.action(ids.ACK_PAGE)(lazy_listener(services, ack=acknowledge, lazy=[acknowledge_page]))
    app.action(ids.JOIN_CHANNEL)(lazy_listener(services, ack=acknowledge, lazy=[join]))

    @app.action(ids.ESCALATE)
    @guarded(services)
    def escalate(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        escalate_or_pick(
            services, int(action["value"]), body["user"]["id"], body["trigger_id"], client
        )

    def start_picked(body: dict[str, Any], view: dict[str, Any]) -> None:
        number, actor = int(view["private_metadata"]), body["user"]["id"]
        services.escalations.start(number, view_values(view)[ids.PATH], actor=actor)

    app.view(ids.ESCALATE_VIEW)(
        lazy_listener(
            services, ack=requiring(ids.PATH, "Pick a path to page."), lazy=[start_picked]
        )
    )


def escalate_or_pick(
    services: Services, number: int, actor: str, trigger_id: str, client: WebClient
) -> None:
    """`/incident escalate` and the Escalate button: page the next level of every
    running escalation now, or, when none runs, open the path picker."""
    if services.escalations.escalate_now(number, actor=actor):
        return
    if not services.config.escalation:
        raise InvalidChange(
            "No escalation paths are configured: add `[escalation.<name>]` to incidentbot.toml."
        )
    incident = services.incidents.get(number)
    picker = escalation_blocks.picker_modal(
        services.config, number=number, label=incident.label, now=services.clock()
    )
    client.views_open(trigger_id=trigger_id, view=picker)
