"""Escalation buttons and the path picker: Acknowledge and Join channel in the
page DM, Escalate on the welcome message, and the picker's submission."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.errors import InvalidChange
from incidentbot.slack import escalation_blocks, ids
from incidentbot.slack.listeners.context import Services, tell
from incidentbot.slack.listeners.errors import guarded


def register(app: App, services: Services) -> None:
    @app.action(ids.ACK_PAGE)
    @guarded(services)
    def acknowledge(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        escalation_id = int(action["value"])
        number = services.escalations.number_for(escalation_id)
        actor = body["user"]["id"]
        services.escalations.acknowledge(number, actor=actor, escalation_id=escalation_id)

    @app.action(ids.JOIN_CHANNEL)
    @guarded(services)
    def join(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        incident = services.incidents.get(int(action["value"]))
        if incident.channel_id:
            services.slack.invite(incident.channel_id, [body["user"]["id"]])
            tell(services, body, f"You are in <#{incident.channel_id}>.", respond)

    @app.action(ids.ESCALATE)
    @guarded(services)
    def escalate(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        escalate_or_pick(
            services, int(action["value"]), body["user"]["id"], body["trigger_id"], client
        )

    @app.view(ids.ESCALATE_VIEW)
    @guarded(services)
    def pick(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> Iterator[None]:
        chosen = view["state"]["values"][ids.PATH][ids.PATH].get("selected_option")
        if not chosen:
            ack(response_action="errors", errors={ids.PATH: "Pick a path to page."})
            return
        ack()
        yield  # acked: the rest runs on the work pool
        number, actor = int(view["private_metadata"]), body["user"]["id"]
        services.escalations.start(number, chosen["value"], actor=actor)


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
