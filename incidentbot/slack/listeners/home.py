"""The App Home tab: published when opened; its **Declare incident** button."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from incidentbot.slack import blocks, ids
from incidentbot.slack.listeners.context import Services
from incidentbot.slack.listeners.errors import acknowledge, guarded, lazy_listener


def register(app: App, services: Services) -> None:
    def publish_home(event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":  # the Messages tab needs nothing from us
            services.home.publish(event["user"])

    app.event("app_home_opened")(lazy_listener(services, ack=acknowledge, lazy=[publish_home]))

    @app.action(ids.HOME_DECLARE)
    @guarded(services)
    def declare(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user_id = body["user"]["id"]
        # No origin channel: the declare confirmation arrives as a DM.
        view = blocks.declare_modal(
            services.config, declarer=user_id, metadata=json.dumps({"origin": None})
        )
        client.views_open(trigger_id=body["trigger_id"], view=view)
