"""The playground's seeded workspace and configuration.

Responsible for: the people of a real incident (declarer, on-call, secondary,
manager, stakeholder), a user group, `#general` and `#incidents`, the guided
first message, and the bot configuration the playground runs with: sev1 and
sev2 page an escalation path whose levels time out after about 30 seconds, so
paging and escalation can be watched live.

The configuration is built here explicitly; the playground never reads `.env`,
`incidentbot.toml` or the environment's Slack and database settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidentbot.config import Config, ConfigError, parse_config
from incidentbot.playground.standin import GENERAL_ID, SlackStandIn

GUIDE_USER = "USLACKBOT"
ONCALL_GROUP = "S0ONCALL"
ALERT_SOURCE = "demo"  # POST /alerts/demo
ALERT_TOKEN_ENV = "INCIDENTBOT_PLAYGROUND_ALERTS_TOKEN"
LEVEL_TIMEOUT = "30s"

# From manifest.yml (a test keeps them equal): the message shortcuts offered on every
# message, (name, callback_id), and the events Slack sends the bot.
MESSAGE_SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Add to incident timeline", "timeline.log_message"),
)
BOT_EVENTS: frozenset[str] = frozenset({"app_home_opened", "reaction_added"})
MESSAGES_TAB_READ_ONLY = True


@dataclass(frozen=True)
class Person:
    id: str
    handle: str
    real_name: str
    role: str


PEOPLE: tuple[Person, ...] = (
    Person("U0ALICE", "alice", "Alice Chen", "declarer, backend engineer"),
    Person("U0BOB", "bob", "Bob Okafor", "on-call engineer"),
    Person("U0CAROL", "carol", "Carol Diaz", "secondary on-call"),
    Person("U0DAVE", "dave", "Dave Kim", "engineering manager"),
    Person("U0ERIN", "erin", "Erin Novak", "stakeholder, support lead"),
)

GUIDE = """\
*Welcome to the incidentbot playground* :wave: Nothing here talks to real Slack: \
this workspace plays Slack's part and the real bot answers.
1. Type `/incident declare sev2 Checkout is failing` below, or just `/incident declare` \
for the form.
2. Open the new `#inc-…` channel and press *Take IC*.
3. Switch *Viewing as* to Bob Okafor (on call): his page arrives as a direct message \
from incidentbot. Acknowledge it, or wait 30 s and watch it escalate to Carol, then Dave.
4. Hover any message and choose *Add to incident timeline*.
5. `/incident status monitoring`, `/incident resolve`, then `/incident postmortem`.
`/incident help` lists everything. The *incidentbot* app in the sidebar has a Home tab."""

ALERTS_GUIDE = """
6. *Fire sample alert* (top right) sends a monitoring alert to `POST /alerts/demo`: its \
triage message appears in `#incidents`, with *Acknowledge* and *Declare incident*."""


def populate(standin: SlackStandIn, *, alerts: bool = False) -> None:
    """Give the stand-in's seeded users their names and roles; add the group and the guide."""
    for person in PEOPLE:
        standin.add_user(
            person.id,
            person.handle,
            email=f"{person.handle}@example.com",
            real_name=person.real_name,
        )
    standin.add_user(GUIDE_USER, "slackbot", is_bot=True, real_name="Playground guide")
    standin.add_usergroup(ONCALL_GROUP, "oncall", ["U0BOB", "U0CAROL"], name="On-call")
    standin.add_message(GENERAL_ID, GUIDE + (ALERTS_GUIDE if alerts else ""), user=GUIDE_USER)


def config_data(*, alerts: bool) -> dict[str, Any]:
    """The playground's incidentbot.toml, as the dict TOML would parse to."""
    data: dict[str, Any] = {
        "default_severity": "sev3",
        "channels": {"announcements": ["#incidents"]},
        "severities": [
            {
                "name": "sev1",
                "description": "Critical: customer-facing outage or data loss",
                "escalation": "primary",
                "update_every": "10m",
            },
            {
                "name": "sev2",
                "description": "Major: significant degradation for many customers",
                "escalation": "primary",
            },
            {"name": "sev3", "description": "Minor: limited impact, workaround exists"},
            {"name": "sev4", "description": "Low: no customer impact"},
        ],
        "escalation": {
            "primary": {
                "levels": [
                    {"targets": ["U0BOB"], "timeout": LEVEL_TIMEOUT},
                    {"targets": ["U0CAROL"], "timeout": LEVEL_TIMEOUT},
                    {"targets": ["U0DAVE"], "timeout": LEVEL_TIMEOUT},
                ]
            },
            "oncall": {"levels": [{"targets": [ONCALL_GROUP], "timeout": LEVEL_TIMEOUT}]},
        },
        "permissions": {"admins": ["U0DAVE"]},
    }
    if alerts:
        data["alerts"] = {
            "channel": "#incidents",
            "group_wait": "1s",
            "sources": [{"name": ALERT_SOURCE, "kind": "generic", "token_env": ALERT_TOKEN_ENV}],
        }
    return data


def config() -> tuple[Config, bool]:
    """The parsed configuration, and whether it has alert ingestion.

    Alert ingestion (PRODUCT.md §9) is configured only when this version of the
    bot knows the ``[alerts]`` table; otherwise the playground runs without it.
    """
    try:
        return parse_config(config_data(alerts=True), "playground"), True
    except ConfigError:
        return parse_config(config_data(alerts=False), "playground"), False


def sample_alert(counter: int) -> dict[str, Any]:
    """A generic-kind alert body (PRODUCT.md §9) for the "Fire sample alert" control."""
    return {
        "status": "firing",
        "dedup_key": f"playground-checkout-errors-{counter}",
        "title": "Checkout error rate above 5%",
        "severity": "critical",
        "labels": {"service": "checkout", "env": "production", "alertname": "CheckoutErrors"},
        "description": "5xx ratio on /api/checkout is 7.3% over the last 5 minutes.",
    }
