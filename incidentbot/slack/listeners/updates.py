"""Stakeholder updates: the **Post update** button, the update modal, reminder snoozes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.errors import IncidentBotError
from incidentbot.slack import ids, update_blocks
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener
from incidentbot.slack.listeners.views import form_text, requiring, view_values

SNOOZE = re.compile(rf"^{re.escape(ids.SNOOZE_UPDATE)}\d+$")


def register(app: App, services: Services) -> None:
    @app.action(ids.OPEN_UPDATE)
    @guarded(services)
    def open_update(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any],
        client: WebClient,
        respond: Respond,  # a refusal goes to the person who pressed it, wherever they are
    ) -> None:
        ack()
        view = services.updates.modal_for(int(action["value"]), actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def snooze(body: dict[str, Any], action: dict[str, Any]) -> None:
        number, minutes = (int(part) for part in action["value"].split(":"))
        user_id = body["user"]["id"]
        until = services.updates.snooze(number, minutes, actor=user_id)
        text, blocks = update_blocks.snoozed_message(
            services.incidents.get(number), by=user_id, until=until
        )
        # The reminder's buttons are replaced, so nobody snoozes it twice by accident.
        channel_id, ts = body["channel"]["id"], body["container"]["message_ts"]
        services.slack.update(channel_id, ts, text=text, blocks=blocks)

    def submit(body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        text = (values.get(ids.UPDATE_STATUS) or "").strip()
        user_id = body["user"]["id"]
        minutes = int(values.get(ids.UPDATE_NEXT) or 0)
        outcome = services.updates.post(
            int(view["private_metadata"]),
            text=text,
            impact=values.get(ids.UPDATE_IMPACT) or "",
            doing=values.get(ids.UPDATE_DOING) or "",
            next_in=timedelta(minutes=minutes) if minutes else None,
            actor=user_id,
            source_key=f"view:{view['id']}",
        )
        if outcome.created and outcome.problems:
            where = {"user": {"id": user_id}, "channel": {"id": outcome.incident.channel_id}}
            tell(services, where, problems_text(outcome.problems))

    status_given = requiring(ids.UPDATE_STATUS, "Say where things stand.")

    def submit_checked(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Refusals (resolved meanwhile, no longer allowed) inside the form, keeping the text."""
        try:
            services.incidents.check_may(
                "update", int(view["private_metadata"]), body["user"]["id"]
            )
        except IncidentBotError as error:
            errors = {ids.UPDATE_STATUS: form_text(services, error.message)}
            ack(response_action="errors", errors=errors)
            return
        status_given(ack, view)

    app.action(SNOOZE)(lazy_listener(services, ack=acknowledge, lazy=[snooze]))
    app.view(ids.UPDATE_VIEW)(lazy_listener(services, ack=submit_checked, lazy=[submit]))
