"""Slack outages end to end: nothing is lost, nothing arrives twice, the backlog drains
in order within Slack's rate limits, and /healthz and /metrics tell the truth meanwhile.

The stand-in answers every Web API method 503 during `standin.outage()`. Outage
length as the bot sees it is moved on the test clock; the real wait is only the
bot's retry back-off, compressed to half a second by the test settings.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from incidentbot.slack.gateway import Pacer
from incidentbot.store.models import Page, SlackOutbox
from tests.conftest import Bot, page_dms, poll_until

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "severities": [
        {"name": "sev1", "description": "Critical", "escalation": "primary"},
        {"name": "sev2", "description": "Major"},
    ],
    "escalation": {
        "primary": {
            "levels": [
                {"targets": ["U0BOB"], "timeout": "5m"},
                {"targets": ["U0CAROL"], "timeout": "10m"},
            ],
        },
    },
}


def get_json(bot: Bot, path: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(bot.url + path, timeout=10) as reply:
        return reply.status, json.loads(reply.read())


def get_text(bot: Bot, path: str) -> str:
    with urllib.request.urlopen(bot.url + path, timeout=10) as reply:
        return str(reply.read().decode())


def pages_for(bot: Bot, user: str, number: int) -> list[Any]:
    return [m for m in page_dms(bot.standin, user) if f"INC-{number}" in (m.text or "")]


def outbox_rows(bot: Bot) -> list[SlackOutbox]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(SlackOutbox).order_by(SlackOutbox.id)).all())


def backlog(bot: Bot) -> int:
    return bot.runtime.outbox.backlog().count


def channel_messages(bot: Bot, number: int) -> list[str]:
    return [m.text or "" for m in bot.standin.messages(bot.incident(number).channel_id or "")]


def test_outage_delivers_channel_card_and_due_page_once_but_not_the_acknowledged_page(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(CONFIG)
    bot.declare("Checkout down", user="U0ERIN", severity="sev1")  # INC-1: Bob paged
    bot.declare("Search slow", user="U0ERIN", severity="sev1")  # INC-2: Bob paged
    assert len(pages_for(bot, "U0BOB", 1)) == 1 and len(pages_for(bot, "U0BOB", 2)) == 1
    search_channel = bot.incident(2).channel_id

    bot.standin.outage()  # every Web API method answers 503 until it ends
    bot.clock.advance(minutes=5, seconds=3)
    bot.runtime.timers.run_due()  # both incidents' level 2 (Carol) comes due in the outage
    bot.declare("Payments failing", user="U0ALICE", severity="sev2")  # INC-3, in the dark
    assert bot.incident(3).channel_id is None
    bot.command("ack", user="U0BOB", channel=search_channel)  # INC-2 acknowledged meanwhile

    status, health = get_json(bot, "/healthz")
    assert status == 200 and health["slack"] == "degraded" and health["database"] == "ok"
    assert health["slack_backlog"] >= 3
    bot.clock.advance(seconds=17)  # a 20-second outage as far as the bot can tell
    status, health = get_json(bot, "/healthz")
    assert health["slack_oldest_undelivered_seconds"] >= 17
    metrics = get_text(bot, "/metrics")
    assert f"incidentbot_slack_backlog {float(health['slack_backlog'])}" in metrics
    assert "incidentbot_slack_backlog_oldest_seconds" in metrics
    assert pages_for(bot, "U0CAROL", 1) == []

    bot.standin.end_outage()
    poll_until(lambda: backlog(bot) == 0, timeout=90, what="the backlog to drain")
    bot.wait()

    # INC-3 got its channel, welcome message and card exactly once.
    inc3 = bot.incident(3)
    channel = bot.standin.channel(inc3.channel_id or "")
    assert channel is not None and channel.name == "inc-3-payments-failing"
    assert channel.pins and channel.topic.startswith("SEV2")
    created = [c for c in bot.standin.calls_to("conversations.create") if c.response.get("ok")]
    assert len(created) == 3, [c.args for c in created]
    cards = [m for m in bot.standin.messages("C0INCIDENTS") if "INC-3" in str(m.blocks)]
    assert len(cards) == 1, [m.text for m in cards]
    # INC-1's level 2 reached Carol once; INC-2's did not (acknowledged meanwhile), and says why.
    assert len(pages_for(bot, "U0CAROL", 1)) == 1
    assert pages_for(bot, "U0CAROL", 2) == []
    with Session(bot.runtime.engine) as session:
        skipped = session.exec(select(Page).where(Page.incident_id == 2, Page.level == 1)).one()
    assert skipped.status == "cancelled" and "acknowledged by <@U0BOB>" in (skipped.note or "")
    # The channel and the declarer are told what arrived late, and by how much.
    poll_until(lambda: any("arrived late" in t for t in channel_messages(bot, 1)))
    late = [t for t in channel_messages(bot, 1) if "arrived late" in t]
    # Carol's page was due 3 s into the 20-second outage.
    assert len(late) == 1 and "<@U0CAROL>" in late[0] and "delivered 17s late" in late[0], late
    poll_until(
        lambda: any("arrived late" in (m.text or "") for m in bot.standin.dm_messages("U0ALICE"))
    )
    told = [m.text or "" for m in bot.standin.dm_messages("U0ALICE")]
    assert any("INC-3" in t and "arrived late" in t for t in told)
    assert any("INC-3" in t and "set-up" in t for t in told)
    rows = [(r.kind, r.status, r.note, r.last_error) for r in outbox_rows(bot)]
    assert all(status in ("delivered", "skipped") for _k, status, _n, _e in rows), rows
    status, health = get_json(bot, "/healthz")
    assert health["slack"] == "ok" and health["slack_backlog"] == 0


def test_long_outage_drains_in_order_within_rate_limits(make_bot: Callable[..., Bot]) -> None:
    # Slack's limits and the bot's pacing, both compressed 10x (one-second bursts).
    fast = make_bot(CONFIG, pacer=Pacer(scale=10, burst_seconds=1))
    fast.declare("Long outage", user="U0ALICE", severity="sev2")
    fast.standin.enforce_rate_limits(scale=10, burst_seconds=1)
    fast.standin.outage()
    channel = fast.incident(1).channel_id or ""
    for n in range(1, 31):
        fast.command(f"note step {n}", user="U0ALICE", channel=channel)
    fast.clock.advance(minutes=5)
    _, health = get_json(fast, "/healthz")
    assert health["slack"] == "degraded" and health["slack_backlog"] == 30
    assert health["slack_oldest_undelivered_seconds"] >= 300
    fast.standin.end_outage()
    poll_until(lambda: backlog(fast) == 0, what="the backlog to drain")
    notes = [t for t in channel_messages(fast, 1) if "step " in t]
    numbers = [int(t.rsplit("step ", 1)[1].split()[0]) for t in notes]
    assert numbers == list(range(1, 31))  # each once, in the order they were written
    assert fast.standin.rate_limited == []  # paced: never tripped Slack's limits
    poll_until(
        lambda: any("arrived late" in t for t in channel_messages(fast, 1)),
        what="the late-delivery notice",
    )


def test_backlog_survives_a_restart_and_replicas_deliver_each_step_once(
    make_bot: Callable[..., Bot],
) -> None:
    first = make_bot(CONFIG)
    first.declare("Replicated", user="U0ALICE", severity="sev2")
    channel = first.incident(1).channel_id or ""
    first.standin.outage()
    for n in range(1, 11):
        first.command(f"note replica step {n}", user="U0ALICE", channel=channel)
    first.stop()  # the process ends during the outage; its backlog is in the database
    second, third = make_bot(CONFIG), make_bot(CONFIG)  # two replicas, one database
    assert backlog(second) == 10
    second.standin.end_outage()
    for replica in (second, third):
        replica.runtime.outbox.kick()
    poll_until(lambda: backlog(second) == 0, what="the backlog to drain")
    notes = [t for t in channel_messages(second, 1) if "replica step " in t]
    numbers = [int(t.rsplit("step ", 1)[1].split()[0]) for t in notes]
    assert numbers == list(range(1, 11))  # once each, in order, whichever replica sent it
    assert all(r.status == "delivered" for r in outbox_rows(second) if r.kind == "post")
