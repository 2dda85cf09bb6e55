"""Bolt listeners: thin adapters from Slack payloads to service calls.

Each module has a `register(app, services)`; `register_all` wires them all
plus the one error handler.
"""

from __future__ import annotations

from slack_bolt import App

from incidentbot.slack.listeners import (
    actions,
    alerts,
    commands,
    errors,
    escalation,
    home,
    middleware,
    timeline,
    updates,
    views,
)
from incidentbot.slack.listeners.context import Services


def register_all(app: App, services: Services) -> None:
    errors.register(app, services)
    middleware.register(app)
    commands.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    escalation.register(app, services)
    updates.register(app, services)
    home.register(app, services)
    timeline.register(app, services)
    alerts.register(app, services)
