"""The one set of shared dependencies every service is built from.

`runtime.build` creates a `Deps` once and hands the same instance to every
service, so a service never reaches into another for its engine, clock or
Slack gateway. A service that needs another service's use cases (escalation
reads incidents) takes that service as a separate constructor argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from incidentbot.clock import Clock, utcnow
from incidentbot.config import Config
from incidentbot.consequences import Consequences
from incidentbot.delivery import Outbox
from incidentbot.metrics import Metrics
from incidentbot.scheduler import Timers
from incidentbot.services.auth import Authorizer
from incidentbot.slack.gateway import SlackGateway


@dataclass(frozen=True, slots=True)
class Deps:
    engine: Engine
    config: Config
    slack: SlackGateway  # the Web API gateway (retries, pacing, limits)
    timers: Timers  # durable timers: reminders, escalation timeouts
    outbox: Outbox  # Slack steps Slack could not take yet, retried until it does
    consequences: Consequences  # durable consequences of a change (see consequences.py)
    metrics: Metrics
    auth: Authorizer  # who may do restricted actions
    clock: Clock = utcnow
