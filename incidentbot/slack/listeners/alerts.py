"""Alert buttons: the triage message's, the page DMs' and the incident channel's.

Thin: ack, call the alert service, let the delivery timers update Slack.
The Declare button opens the declare modal at once (its trigger_id lives 3 s),
pre-filled from the group; the modal's submission links the group.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.alerts.rules import GroupView
from incidentbot.slack import ids
from incidentbot.slack.blocks import declare_modal
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener


def register(app: App, services: Services) -> None:
    def acknowledge_group(body: dict[str, Any], action: dict[str, Any]) -> None:
        user = body["user"]["id"]
        group = services.alerts.acknowledge(int(action["value"]), actor=user)
        services.alert_delivery.close_pages(int(group.id or 0), f"acknowledged by <@{user}>.")

    def silence(body: dict[str, Any], action: dict[str, Any]) -> None:
        group_id, _, choice = action["selected_option"]["value"].partition(":")
        services.alerts.silence(int(group_id), choice, actor=body["user"]["id"])
        services.alert_delivery.close_pages(int(group_id), f"silenced for {choice}.")

    def resolve(body: dict[str, Any], action: dict[str, Any]) -> None:
        services.alerts.resolve_by_hand(int(action["value"]), actor=body["user"]["id"])

    def monitoring(body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        status = services.config.mitigated_status
        outcome = services.incidents.change_status(
            int(action["value"]), status, actor=body["user"]["id"]
        )
        if outcome.problems:
            tell(services, body, problems_text(outcome.problems), respond)

    for action_id, work in (
        (ids.ALERT_ACK, acknowledge_group),
        (ids.ALERT_SILENCE, silence),
        (ids.ALERT_RESOLVE, resolve),
        (ids.ALERT_MONITORING, monitoring),
    ):
        app.action(action_id)(lazy_listener(services, ack=acknowledge, lazy=[work]))

    @app.action(ids.ALERT_DECLARE)
    @guarded(services)
    def declare(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        group = services.alerts.declare_form(int(action["value"]))
        if group.incident is not None:
            tell(services, body, f":information_source: Already declared: INC-{group.incident}.")
            return
        origin = (body.get("channel") or {}).get("id")
        route = services.config.alerts.route(group.route)
        view = declare_modal(
            services.config,
            declarer=body["user"]["id"],
            metadata=json.dumps({"origin": origin, "alert_group": group.id}),
            title=group.title[:2000],
        )
        _prefill(view, route.severity, _description(group))
        client.views_open(trigger_id=body["trigger_id"], view=view)


def declared_from_group(services: Services, group_id: int, number: int, actor: str) -> None:
    """The declare modal of a group was submitted: link the group to the incident."""
    services.alerts.link(group_id, number, actor=actor)


def _prefill(view: dict[str, Any], severity: str | None, text: str) -> None:
    """Pre-select the route's severity and describe the group in the declare modal."""
    for block in view["blocks"]:
        element = block.get("element", {})
        if block.get("block_id") == ids.SEVERITY and severity:
            chosen = [o for o in element.get("options", []) if o["value"] == severity.lower()]
            if chosen:
                element["initial_option"] = chosen[0]
        if block.get("block_id") == ids.DESCRIPTION and text:
            element["initial_value"] = text[:2900]


def _description(group: GroupView) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in group.group_labels.items())
    return (
        f"From alert group {group.id} (route {group.route}, source {group.source}): "
        f"{group.firing} firing. {labels}"
    ).strip()
