"""The App Home tab: published when opened; its **Declare incident** button."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from incidentbot.slack import blocks, ids
from incidentbot.slack.listeners.context import Services
from incidentbot.slack.listeners.errors import guarded


def register(app: App, services: Services) -> None:
    @app.event("app_home_opened")
    @guarded(services)
    def home_opened(ack: Ack, event: dict[str, Any]) -> Iterator[None]:
        ack()
        yield  # acked: the rest runs on the work pool
        if event.get("tab", "home") == "home":  # the Messages tab needs nothing from us
            services.home.publish(event["user"])

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
