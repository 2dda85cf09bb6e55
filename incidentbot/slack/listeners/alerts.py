"""Alert buttons (triage message, page DMs, incident channel) and `/incident alerts`.

Thin: ack, call the alert service, let the delivery timers update Slack.
The Declare button opens the declare modal at once (its trigger_id lives 3 s),
pre-filled from the group; the modal's submission links the group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.alerts.delivery import view_of
from incidentbot.domain.errors import NotAnIncidentChannel
from incidentbot.slack import alert_blocks, ids
from incidentbot.slack.blocks import declare_modal
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import guarded
from incidentbot.store.db import session_scope

if TYPE_CHECKING:
    from incidentbot.slack.listeners.commands import Invocation


def register(app: App, services: Services) -> None:
    @app.action(ids.ALERT_ACK)
    @guarded(services)
    def acknowledge(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        user = body["user"]["id"]
        group = services.alerts.acknowledge(int(action["value"]), actor=user)
        services.alert_delivery.close_pages(int(group.id or 0), f"acknowledged by <@{user}>.")

    @app.action(ids.ALERT_SILENCE)
    @guarded(services)
    def silence(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> Iterator[None]:
        ack()
        yield
        group_id, _, choice = action["selected_option"]["value"].partition(":")
        services.alerts.silence(int(group_id), choice, actor=body["user"]["id"])
        services.alert_delivery.close_pages(int(group_id), f"silenced for {choice}.")

    @app.action(ids.ALERT_RESOLVE)
    @guarded(services)
    def resolve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> Iterator[None]:
        ack()
        yield
        services.alerts.resolve_by_hand(int(action["value"]), actor=body["user"]["id"])

    @app.action(ids.ALERT_DECLARE)
    @guarded(services)
    def declare(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        group = services.alerts.group(int(action["value"]))
        if group.incident_id is not None:
            tell(services, body, f":information_source: Already declared: INC-{group.incident_id}.")
            return
        origin = (body.get("channel") or {}).get("id")
        route = services.config.alerts.route(group.route)
        view = declare_modal(
            services.config,
            declarer=body["user"]["id"],
            metadata=json.dumps({"origin": origin, "alert_group": group.id}),
            title=group.title[:2000],
        )
        _prefill(view, services, route.severity, _description(services, int(group.id or 0)))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(ids.ALERT_MONITORING)
    @guarded(services)
    def monitoring(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> Iterator[None]:
        ack()
        yield
        status = services.config.mitigated_status
        outcome = services.incidents.change_status(
            int(action["value"]), status, actor=body["user"]["id"]
        )
        if outcome.problems:
            tell(services, body, problems_text(outcome.problems), respond)


def declared_from_group(services: Services, group_id: int, number: int, actor: str) -> None:
    """The declare modal of a group was submitted: link the group to the incident."""
    services.alerts.link(group_id, number, actor=actor)


def list_groups(services: Services, call: Invocation) -> None:
    """`/incident alerts [report [days]]`."""
    now = services.incidents.clock()
    if call.command.extra.get("report"):
        days = int(call.command.extra["days"])
        text, blocks = alert_blocks.report(services.alerts.report(days), days)
    else:
        try:
            number: int | None = services.incidents.number_for_channel(call.channel_id)
        except NotAnIncidentChannel:
            number = None
        groups = services.alerts.firing_groups(incident=number)
        with session_scope(services.alerts.engine) as session:
            views = [view_of(session, g) for g in groups[:200]]
        heading = f"Alert groups linked to INC-{number}" if number else "Firing alert groups"
        text, blocks = alert_blocks.group_list(views, now=now, heading=heading)
    call.respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)


def _prefill(view: dict[str, Any], services: Services, severity: str | None, text: str) -> None:
    """Pre-select the route's severity and describe the group in the declare modal."""
    for block in view["blocks"]:
        element = block.get("element", {})
        if block.get("block_id") == ids.SEVERITY and severity:
            chosen = [o for o in element.get("options", []) if o["value"] == severity.lower()]
            if chosen:
                element["initial_option"] = chosen[0]
        if block.get("block_id") == ids.DESCRIPTION and text:
            element["initial_value"] = text[:2900]


def _description(services: Services, group_id: int) -> str:
    with session_scope(services.alerts.engine) as session:
        from incidentbot.store.models import AlertGroup

        g = session.get(AlertGroup, group_id)
        assert g is not None
        view = view_of(session, g)
    labels = ", ".join(f"{k}={v}" for k, v in view.group_labels.items())
    return (
        f"From alert group {view.id} (route {view.route}, source {view.source}): "
        f"{view.firing} firing. {labels}"
    ).strip()
