"""Timeline capture: the message shortcut, the reaction, the ⋯ menu of timeline
entries and the follow-up form. (`/incident timeline | followup | postmortem |
stats` live with every other subcommand in `commands.py`.)

Interactive listeners ack first; the reaction listener is an Events API
listener, which Bolt acknowledges by itself. Slack may deliver an event again
(`X-Slack-Retry-Num`); the timeline service records a message once whatever
the number of deliveries.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain.outcome import Outcome
from incidentbot.domain.timeline import LoggedMessage
from incidentbot.slack import ids
from incidentbot.slack import timeline_blocks as tb
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener
from incidentbot.slack.listeners.views import requiring, view_values

ENTRY_MENU = re.compile(rf"^{re.escape(ids.ENTRY_MENU)}\d+$")


def register(app: App, services: Services) -> None:
    @app.message_shortcut(ids.LOG_MESSAGE)
    @guarded(services)
    def log_message(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        message = LoggedMessage.from_api(body["channel"]["id"], body["message"])
        number = services.timeline.incident_for_channel(message.channel_id)
        if number is None:  # not an incident channel: ask which incident
            incidents = services.timeline.open_incidents_to_log_into()
            view = tb.pick_incident_modal(incidents, message)
            client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        result = services.timeline.log_message(
            number, message, actor=body["user"]["id"], source="shortcut"
        )
        tell(services, body, tb.logged_text(result.incident, duplicate=result.duplicate), respond)

    def log_message_into(body: dict[str, Any], view: dict[str, Any]) -> None:
        message = LoggedMessage.from_metadata(view["private_metadata"])
        user_id = body["user"]["id"]
        number = int(view_values(view)[ids.PICK_INCIDENT])
        result = services.timeline.log_message(number, message, actor=user_id, source="shortcut")
        where = {"user": {"id": user_id}, "channel": {"id": message.channel_id}}
        tell(services, where, tb.logged_text(result.incident, duplicate=result.duplicate))

    app.view(ids.LOG_MESSAGE_VIEW)(
        lazy_listener(services, ack=acknowledge, lazy=[log_message_into])
    )

    def reaction_added(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        result = services.timeline.capture_reaction(
            reaction=str(event.get("reaction") or ""),
            item_type=str(item.get("type") or ""),
            channel_id=str(item.get("channel") or ""),
            ts=str(item.get("ts") or ""),
            user=str(event.get("user") or ""),
            item_user=event.get("item_user"),
        )
        if result is not None and not result.duplicate and not result.value:
            # No ✅ on the message (e.g. a Slack error): say it privately instead.
            services.slack.ephemeral(
                item["channel"],
                event["user"],
                tb.logged_text(result.incident, duplicate=result.duplicate),
            )

    # Bolt acknowledges events by itself; the capture (Slack calls) runs on the work pool.
    app.event("reaction_added")(lazy_listener(services, ack=acknowledge, lazy=[reaction_added]))

    @app.action(ENTRY_MENU)
    @guarded(services)
    def entry_menu(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        verb, _, entry_id = action["selected_option"]["value"].partition(":")
        snapshot, entry = services.timeline.entry_for_change(int(entry_id), body["user"]["id"])
        modal = tb.edit_entry_modal if verb == "edit" else tb.delete_entry_modal
        client.views_open(trigger_id=body["trigger_id"], view=modal(snapshot, entry))

    def edit_entry(body: dict[str, Any], view: dict[str, Any]) -> None:
        text = (view_values(view).get(ids.ENTRY_TEXT) or "").strip()
        user_id = body["user"]["id"]
        changed = services.timeline.edit_entry(int(view["private_metadata"]), text, actor=user_id)
        _report(services, user_id, changed)

    def delete_entry(body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = body["user"]["id"]
        changed = services.timeline.delete_entry(int(view["private_metadata"]), actor=user_id)
        _report(services, user_id, changed)

    text_given = requiring(ids.ENTRY_TEXT, "Give the entry some text.")
    app.view(ids.EDIT_ENTRY_VIEW)(lazy_listener(services, ack=text_given, lazy=[edit_entry]))
    app.view(ids.DELETE_ENTRY_VIEW)(lazy_listener(services, ack=acknowledge, lazy=[delete_entry]))

    @app.action(ids.OPEN_FOLLOW_UP)
    @guarded(services)
    def open_follow_up(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        snapshot = services.incidents.get(int(action["value"]))
        client.views_open(trigger_id=body["trigger_id"], view=tb.follow_up_modal(snapshot))

    def add_follow_up(body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        text = (values.get(ids.FOLLOW_UP_TEXT) or "").strip()
        user_id = body["user"]["id"]
        changed = services.timeline.add_follow_up(
            int(view["private_metadata"]),
            text,
            actor=user_id,
            owner=values.get(ids.FOLLOW_UP_OWNER),
            source_key=f"view:{view['id']}",  # a double submission records it once
        )
        _report(services, user_id, changed)

    follow_up_given = requiring(ids.FOLLOW_UP_TEXT, "Say what should be done.")
    app.view(ids.FOLLOW_UP_VIEW)(lazy_listener(services, ack=follow_up_given, lazy=[add_follow_up]))


def _report(services: Services, user_id: str, changed: Outcome[None]) -> None:
    if changed.problems:
        body = {"user": {"id": user_id}, "channel": {"id": changed.incident.channel_id}}
        tell(services, body, problems_text(changed.problems))
