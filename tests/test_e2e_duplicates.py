"""End-to-end: Slack's retries and people's double clicks never record anything twice.

Slack redelivers an event it thinks timed out (same `event_id`, header
`X-Slack-Retry-Num`), and people double-click buttons and double-submit modals.
Each request is acked at once and handled on a worker thread, so the two copies
really run side by side; here they are sent from two threads released together.
Each test checks one thing was recorded — in the database and in what Slack
received — on SQLite and on PostgreSQL (the `db_url` fixture), including across
two bots sharing one database (replicas behind a load balancer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlmodel import Session, col, select

from incidentbot.playground.client import Reply
from incidentbot.slack import ids
from incidentbot.store.models import RoleAssignment, StatusUpdate
from tests.conftest import Bot


def together(*sends: Callable[[], Reply]) -> list[Reply]:
    """Send requests from separate threads at the same moment; their replies in order."""
    gate = threading.Barrier(len(sends))

    def send(fn: Callable[[], Reply]) -> Reply:
        gate.wait()
        return fn()

    with ThreadPoolExecutor(len(sends)) as pool:
        return list(pool.map(send, sends))


def settle(*bots: Bot) -> None:
    for bot in bots:
        bot.wait()


def channel_of(bot: Bot, number: int) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def entries(bot: Bot, number: int, kind: str) -> list[Any]:
    return [e for e in bot.timeline(number) if e.kind == kind]


def posts_in(bot: Bot, channel: str, needle: str) -> list[str]:
    return [m.text for m in bot.standin.messages(channel) if needle in (m.text or "")]


def active_roles(bot: Bot, number: int, role: str) -> list[str]:
    with Session(bot.runtime.engine) as session:
        stmt = select(RoleAssignment).where(
            RoleAssignment.incident_id == number,
            RoleAssignment.role == role,
            col(RoleAssignment.ended_at).is_(None),
        )
        return [a.user_id for a in session.exec(stmt).all()]


def open_modal(bot: Bot, command: str, *, user: str, channel: str = "C0GENERAL") -> str:
    """Run `/incident <command>` that opens a modal; the id of the modal."""
    bot.command(command, user=user, channel=channel)
    return str(bot.standin.views_for(user)[-1]["id"])


# -- Events API redelivery ------------------------------------------------------------
def test_redelivered_reaction_logs_the_message_once(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot()
    bot.declare("Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    posted = bot.standin.add_message(channel, "db-3 is at 100%", user="U0DAVE")
    event = {
        "type": "reaction_added",
        "user": "U0BOB",
        "reaction": "pushpin",  # the default `[timeline] reaction`
        "item_user": "U0DAVE",
        "item": {"type": "message", "channel": channel, "ts": posted.ts},
    }

    # The first delivery and Slack's retry of it arrive while the first is still handled.
    replies = together(
        lambda: bot.sender.event(event, event_id="Ev0DUP1"),
        lambda: bot.sender.event(event, event_id="Ev0DUP1", retry_num=1),
    )
    bot.wait()
    assert [r.status for r in replies] == [200, 200]

    [entry] = entries(bot, 1, "message")
    assert (entry.text, entry.data["author"]) == ("db-3 is at 100%", "U0DAVE")
    assert len(bot.standin.calls_to("reactions.add")) == 1
    assert bot.standin.find_message(channel, posted.ts).reactions == {"white_check_mark": ["UBOT"]}


def test_redelivery_to_another_replica_logs_once(make_bot: Callable[..., Bot], db_url: str) -> None:
    first, second = make_bot(), make_bot()
    first.declare("Disk full", user="U0ALICE")
    channel = channel_of(first, 1)
    posted = first.standin.add_message(channel, "db-3 is at 100%", user="U0DAVE")
    event = {
        "type": "reaction_added",
        "user": "U0BOB",
        "reaction": "pushpin",
        "item_user": "U0DAVE",
        "item": {"type": "message", "channel": channel, "ts": posted.ts},
    }

    replies = together(
        lambda: first.sender.event(event, event_id="Ev0DUP2"),
        lambda: second.sender.event(event, event_id="Ev0DUP2", retry_num=1),
        lambda: second.sender.event(event, event_id="Ev0DUP2", retry_num=2),
    )
    settle(first, second)

    assert [r.status for r in replies] == [200, 200, 200]
    assert len(entries(first, 1, "message")) == 1
    assert len(first.standin.calls_to("reactions.add")) == 1


# -- double-clicked buttons -----------------------------------------------------------
def test_double_clicked_take_scribe_and_take_ic_record_one_change(bot: Bot) -> None:
    bot.declare("Queue backlog", user="U0ALICE")
    channel = channel_of(bot, 1)
    welcome = bot.standin.find_message(channel, bot.standin.channel(channel).pins[0])
    assert welcome is not None

    def click(action_id: str) -> Callable[[], Reply]:
        return lambda: bot.sender.block_action(
            action_id, user="U0BOB", value="1", channel=channel, message_ts=welcome.ts
        )

    # Bob takes the vacant Scribe role with a double click...
    replies = together(click(ids.TAKE_SCRIBE), click(ids.TAKE_SCRIBE))
    bot.wait()
    assert [r.status for r in replies] == [200, 200]
    assert active_roles(bot, 1, "scribe") == ["U0BOB"]
    assert len([e for e in entries(bot, 1, "role") if e.data["role"] == "scribe"]) == 1
    assert len(posts_in(bot, channel, "made <@U0BOB> Scribe")) == 1

    # ...then, as Scribe, takes over as Incident Commander with another double click.
    replies = together(click(ids.TAKE_IC), click(ids.TAKE_IC))
    bot.wait()
    assert [r.status for r in replies] == [200, 200]
    assert active_roles(bot, 1, "incident_commander") == ["U0BOB"]
    ic_changes = [e for e in entries(bot, 1, "role") if e.data["role"] == "incident_commander"]
    assert [e.data["user"] for e in ic_changes] == ["U0ALICE", "U0BOB"]  # declare, then Bob
    assert len(posts_in(bot, channel, "made <@U0BOB> Incident Commander")) == 1
    assert bot.standin.channel(channel).topic.endswith("IC: <@U0BOB>")


# -- double-submitted modals ------------------------------------------------------------
def test_double_submitted_declare_modal_creates_one_incident(bot: Bot) -> None:
    view_id = open_modal(bot, "", user="U0BOB")
    inputs = {ids.TITLE: "Payments down", ids.SEVERITY: "sev2"}

    replies = together(
        lambda: bot.sender.submit_view(view_id, inputs, user="U0BOB"),
        lambda: bot.sender.submit_view(view_id, inputs, user="U0BOB"),
    )
    bot.wait()

    assert [r.status for r in replies] == [200, 200]
    [incident] = bot.incidents()
    assert incident.title == "Payments down"
    assert len(entries(bot, 1, "declared")) == 1
    assert len(bot.standin.calls_to("conversations.create")) == 1
    cards = [m for m in bot.standin.messages("C0INCIDENTS") if "INC-" in (m.text or "")]
    assert len(cards) == 1
    declared = [t for t in bot.replies("U0BOB") if "Declared *INC-1*" in t]
    assert len(declared) == 1  # the person is told once


def test_double_submitted_resolve_modal_records_one_resolution(bot: Bot) -> None:
    bot.declare("Queue backlog", user="U0ALICE")
    channel = channel_of(bot, 1)
    view_id = open_modal(bot, "resolve", user="U0ALICE", channel=channel)
    inputs = {ids.SUMMARY: "Scaled the consumers"}

    replies = together(
        lambda: bot.sender.submit_view(view_id, inputs, user="U0ALICE"),
        lambda: bot.sender.submit_view(view_id, inputs, user="U0ALICE"),
    )
    bot.wait()

    assert [r.status for r in replies] == [200, 200]
    incident = bot.incident(1)
    assert (incident.status, incident.summary) == ("resolved", "Scaled the consumers")
    assert len(entries(bot, 1, "resolved")) == 1
    # One resolution message: the closing update (who, how long, the summary).
    assert len(posts_in(bot, channel, "INC-1 is resolved")) == 1


def test_double_submitted_update_modal_posts_one_update(bot: Bot) -> None:
    bot.declare("Queue backlog", user="U0ALICE")
    channel = channel_of(bot, 1)
    view_id = open_modal(bot, "update", user="U0ALICE", channel=channel)
    inputs = {ids.UPDATE_STATUS: "Consumers scaled; backlog draining", ids.UPDATE_NEXT: "30"}

    replies = together(
        lambda: bot.sender.submit_view(view_id, inputs, user="U0ALICE"),
        lambda: bot.sender.submit_view(view_id, inputs, user="U0ALICE"),
    )
    bot.wait()

    assert [r.status for r in replies] == [200, 200]
    with Session(bot.runtime.engine) as session:
        updates = session.exec(select(StatusUpdate)).all()
    assert [u.text for u in updates] == ["Consumers scaled; backlog draining"]
    assert len(entries(bot, 1, "update")) == 1
    assert len(posts_in(bot, channel, "Status update on INC-1")) == 1


# -- replicas ---------------------------------------------------------------------------
def test_same_view_submission_to_two_replicas_creates_one_incident(
    make_bot: Callable[..., Bot], db_url: str
) -> None:
    first, second = make_bot(), make_bot()
    view_id = open_modal(first, "", user="U0BOB")
    inputs = {ids.TITLE: "Shared database", ids.SEVERITY: "sev1"}

    replies = together(
        lambda: first.sender.submit_view(view_id, inputs, user="U0BOB"),
        lambda: second.sender.submit_view(view_id, inputs, user="U0BOB"),
    )
    settle(first, second)

    assert [r.status for r in replies] == [200, 200]
    assert [i.title for i in first.incidents()] == ["Shared database"]
    assert len(first.standin.calls_to("conversations.create")) == 1


def test_concurrent_declares_on_two_replicas_get_unique_numbers(
    make_bot: Callable[..., Bot], db_url: str
) -> None:
    bots = [make_bot(), make_bot()]
    users = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"]

    def declare(i: int) -> Callable[[], Reply]:
        bot = bots[i % 2]
        return lambda: bot.sender.command(f"declare Outage {i}", user=users[i % len(users)])

    replies = together(*(declare(i) for i in range(10)))
    settle(*bots)

    assert [r.status for r in replies] == [200] * 10
    incidents = bots[0].incidents()
    numbers = [i.id for i in incidents]
    assert sorted(i.title for i in incidents) == sorted(f"Outage {i}" for i in range(10))
    assert len(set(numbers)) == 10  # never the same number twice (gaps are fine)
    channels = [i.channel_id for i in incidents]
    assert None not in channels and len(set(channels)) == 10
    names = {bots[0].standin.channel(c).name for c in channels if c}
    assert all(f"inc-{n}-" in " ".join(names) for n in numbers)
