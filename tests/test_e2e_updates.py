"""End-to-end: stakeholder updates, severity audiences, update reminders, the roles
watcher, private cards and the closing update, through signed requests.

Timers are driven by the fake clock: advance `bot.clock`, then `run_due()`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from incidentbot.store.models import RoleAssignment, StatusUpdate
from tests.conftest import Bot, FakeClock

CARDS = "C0INCIDENTS"
EXEC = "C0EXEC"
HOSTILE = "<!channel> <!here> <!subteam^S1|@oncall> @channel *bold* & <https://evil|click>"

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "default_severity": "sev3",
    "severities": [
        {
            "name": "sev1",
            "description": "Critical",
            "update_every": "15m",
            "announcements": ["#executives"],
        },
        {"name": "sev2", "description": "Major", "update_every": "30m"},
        {"name": "sev3", "description": "Minor"},
    ],
}


# -- helpers ------------------------------------------------------------------------
def start(make_bot: Callable[..., Bot], **kwargs: Any) -> Bot:
    bot = make_bot(CONFIG, **kwargs)
    if bot.standin.channel(EXEC) is None:
        bot.standin.add_channel("executives", channel_id=EXEC, members=["U0DAVE"])
    return bot


def channel_of(bot: Bot, number: int) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def card(bot: Bot, channel_id: str, number: int) -> Any:
    cards = [
        m
        for m in bot.standin.messages(channel_id)
        if not m.is_reply and f"INC-{number}:" in str(m.blocks)
    ]
    assert len(cards) == 1, f"expected one card for INC-{number} in {channel_id}"
    return cards[0]


def replies_under(bot: Bot, channel_id: str, number: int) -> list[str]:
    parent = card(bot, channel_id, number)
    return [str(m.blocks) for m in bot.standin.thread(channel_id, parent.ts) if m.is_reply]


def texts(bot: Bot, channel_id: str) -> list[str]:
    return [f"{m.text} {m.blocks}" for m in bot.standin.messages(channel_id)]


def reminders(bot: Bot, number: int) -> list[Any]:
    return [
        m
        for m in bot.standin.messages(channel_of(bot, number))
        if "no stakeholder update" in m.text
    ]


def updates(bot: Bot) -> list[StatusUpdate]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(StatusUpdate).order_by(col(StatusUpdate.id))).all())


def tick(bot: Bot, **delta: float) -> int:
    bot.clock.advance(**delta)
    return bot.runtime.timers.run_due()


def update_view(bot: Bot, user: str) -> dict[str, Any]:
    views = [v for v in bot.standin.views_for(user) if v["callback_id"] == "incident.update"]
    assert views, "no update modal was opened"
    return views[-1]


def initial(view: dict[str, Any], block_id: str) -> Any:
    element = next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"]
    return element.get("initial_value") or (element.get("initial_option") or {}).get("value")


# -- updates --------------------------------------------------------------------------
def test_update_posted_in_channel_and_threaded_under_each_card(
    make_bot: Callable[..., Bot],
) -> None:
    bot = start(make_bot)
    bot.declare("Payments down", severity="sev1")
    channel = channel_of(bot, 1)

    reply = bot.command("update Rolled back the deploy; errors falling", channel=channel)
    assert reply.status == 200

    [posted] = [t for t in texts(bot, channel) if "Status update on INC-1" in t]
    assert "Rolled back the deploy" in posted and "U0ALICE" in posted and "SEV1" in posted
    assert "investigating" in posted
    for where in (CARDS, EXEC):  # sev1 also announces to #executives
        [threaded] = replies_under(bot, where, 1)
        assert "Rolled back the deploy" in threaded
        shown = str(card(bot, where, 1).blocks)
        assert "Latest update" in shown and "Rolled back the deploy" in shown
    [row] = updates(bot)
    assert (row.text, row.posted_by, row.severity) == (
        "Rolled back the deploy; errors falling",
        "U0ALICE",
        "sev1",
    )
    assert bot.incident(1).last_update_at == bot.clock()
    assert [e.kind for e in bot.timeline(1)][-1] == "update"


def test_raising_severity_adds_the_card_to_the_extra_audience(
    make_bot: Callable[..., Bot],
) -> None:
    bot = start(make_bot)
    bot.declare("Search slow", severity="sev3")
    channel = channel_of(bot, 1)
    assert bot.standin.messages(EXEC) == []

    bot.command("sev sev1", channel=channel)
    assert "Search slow" in str(card(bot, EXEC, 1).blocks)

    # Stakeholders are told in the card's thread why it changed, then get the update.
    bot.command("update Now affecting checkout", channel=channel)
    for where in (CARDS, EXEC):
        severity, update = replies_under(bot, where, 1)
        assert "severity changed by <@U0ALICE>: *sev3* → :red_circle: SEV1" in severity
        assert "Now affecting checkout" in update


def test_update_modal_prefilled_from_last_update_and_double_submit_counts_once(
    make_bot: Callable[..., Bot],
) -> None:
    bot = start(make_bot)
    bot.declare("Login errors", severity="sev2")
    channel = channel_of(bot, 1)

    bot.command("update", channel=channel)  # no text: the modal
    first = update_view(bot, "U0ALICE")
    assert initial(first, "update_next") == "30"  # sev2's update_every
    inputs = {
        "update_status": "Identified a bad certificate",
        "update_impact": "EU users cannot log in",
        "update_doing": "Rotating the certificate",
        "update_next": "60",
    }
    for _ in range(2):  # Slack retries / a double click
        assert bot.submit(first["id"], inputs).status == 200
    assert len(updates(bot)) == 1
    assert [e.kind for e in bot.timeline(1)].count("update") == 1
    [row] = updates(bot)
    assert (row.impact, row.doing) == ("EU users cannot log in", "Rotating the certificate")
    assert row.next_update_at is not None
    assert row.next_update_at - row.posted_at == timedelta(minutes=60)
    posted = [t for t in texts(bot, channel) if "Status update on INC-1" in t]
    assert len(posted) == 1 and "EU users cannot log in" in posted[0]

    # The welcome message's button opens the same modal, pre-filled from that update.
    bot.action("incident.open_update", channel=channel)
    second = update_view(bot, "U0ALICE")
    assert second["id"] != first["id"]
    assert initial(second, "update_status") == "Identified a bad certificate"
    assert initial(second, "update_impact") == "EU users cannot log in"
    assert initial(second, "update_doing") == "Rotating the certificate"
    assert initial(second, "update_next") == "60"

    reply = bot.submit(second["id"], {"update_status": "  "})
    assert reply.json == {
        "response_action": "errors",
        "errors": {"update_status": "Say where things stand."},
    }


def test_update_outside_an_incident_channel_gets_usage(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.command("update all good", channel="C0GENERAL")
    assert "not an incident channel" in bot.replies()[-1]
    assert "Usage: `/incident update [text]`" in bot.replies()[-1]
    assert updates(bot) == []


def test_long_and_hostile_update_is_split_within_limits(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.declare("Big one", severity="sev1")
    channel = channel_of(bot, 1)
    long_text = (HOSTILE + " ") * 400 + "THE-END"  # ~30,000 characters, escaping lengthens it

    bot.command(f"update {long_text}", channel=channel)

    assert bot.standin.internal_errors == []
    assert updates(bot)[0].text == long_text.strip()  # stored whole
    posted = [m for m in bot.standin.messages(channel) if "Status update on INC-1" in m.text]
    assert len(posted) > 1  # split over several messages, each accepted by Slack
    assert all(len(m.blocks or []) <= 50 for m in posted)
    assert "THE-END" in str(posted[-1].blocks)
    assert len(replies_under(bot, CARDS, 1)) == len(posted)
    assert bot.standin.mass_mentions() == []
    assert not any("failed" in r for r in bot.replies())


def test_announcement_channel_the_bot_is_not_in(make_bot: Callable[..., Bot]) -> None:
    config = {**CONFIG, "channels": {"announcements": ["#incidents", "#public-news", "#secret"]}}
    bot = make_bot(config)
    bot.standin.add_channel("public-news", channel_id="C0NEWS", bot_member=False)
    bot.standin.add_channel("secret", channel_id="G0SECRET", is_private=True, bot_member=False)

    bot.declare("Queue backlog", severity="sev2")
    channel = channel_of(bot, 1)
    assert "UBOT" in bot.standin.channel("C0NEWS").members  # joined the public channel
    assert card(bot, "C0NEWS", 1)

    bot.command("update Draining the queue", channel=channel)
    assert len(replies_under(bot, "C0NEWS", 1)) == 1
    assert any("Draining the queue" in t for t in texts(bot, channel))  # carried on
    assert len(updates(bot)) == 1
    # The private channel's card could not be posted: the IC was told, nothing lost.
    assert any("channel_not_found" in r for r in bot.replies("U0ALICE"))


# -- reminders ------------------------------------------------------------------------
def test_reminder_fires_after_update_every_without_an_update(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.declare("Slow API", severity="sev2")
    tick(bot, minutes=29)
    assert reminders(bot, 1) == []

    tick(bot, minutes=2)
    [reminder] = reminders(bot, 1)
    assert "<@U0ALICE>" in reminder.text  # the IC is mentioned
    actions = [
        e["action_id"] for b in reminder.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == [
        "incident.open_update",
        "update.snooze.15",
        "update.snooze.30",
        "update.snooze.60",
    ]
    # Its Post update button opens the update modal.
    bot.action("incident.open_update", channel=channel_of(bot, 1), message_ts=reminder.ts)
    assert update_view(bot, "U0ALICE")["title"]["text"] == "Update INC-1"


def test_no_reminder_after_an_update(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.declare("Slow API", severity="sev2")
    tick(bot, minutes=20)
    bot.command("update Found the slow query", channel=channel_of(bot, 1))

    tick(bot, minutes=15)  # 35 minutes after declare, 15 after the update
    assert reminders(bot, 1) == []
    tick(bot, minutes=16)  # 31 minutes after the update
    assert len(reminders(bot, 1)) == 1


def test_snooze_postpones_the_reminder(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.declare("Slow API", severity="sev2")
    channel = channel_of(bot, 1)
    tick(bot, minutes=31)
    [reminder] = reminders(bot, 1)

    bot.action("update.snooze.60", channel=channel, message_ts=reminder.ts)
    snoozed = bot.standin.find_message(channel, reminder.ts)
    assert (
        snoozed is not None and "snoozed" in snoozed.text and "actions" not in str(snoozed.blocks)
    )

    tick(bot, minutes=45)  # the usual 30-minute repeat would have fired by now
    assert reminders(bot, 1) == []
    tick(bot, minutes=16)
    assert len(reminders(bot, 1)) == 1


def test_resolve_stops_reminders_and_posts_the_closing_update(
    make_bot: Callable[..., Bot],
) -> None:
    bot = start(make_bot)
    bot.declare("Slow API", severity="sev2")
    channel = channel_of(bot, 1)
    bot.command("update Investigating", channel=channel)
    bot.clock.advance(hours=1, minutes=5)

    bot.command("resolve Index added", channel=channel)

    # One resolution message in the incident channel: the closing update, also under the card.
    [closing] = [t for t in texts(bot, channel) if "resolved" in t and "Index added" in t]
    assert "INC-1 is resolved" in closing and "1h 5m" in closing and "by <@U0ALICE>" in closing
    threaded = replies_under(bot, CARDS, 1)
    assert len(threaded) == 2 and "INC-1 is resolved" in threaded[-1] and "1h 5m" in threaded[-1]
    assert "resolved" in str(card(bot, CARDS, 1).blocks)
    tick(bot, hours=3)
    assert reminders(bot, 1) == []


def test_reminders_survive_a_restart(make_bot: Callable[..., Bot], db_url: str) -> None:
    clock = FakeClock()
    first = start(make_bot, clock=clock)
    first.declare("Slow API", severity="sev2")
    first.stop()

    clock.advance(minutes=31)  # came due while the bot was down
    second = start(make_bot, clock=clock)
    second.runtime.timers.run_due()
    second.wait()
    assert len(reminders(second, 1)) == 1
    tick(second, minutes=1)
    assert len(reminders(second, 1)) == 1  # once, and the next one is 30 minutes away
    tick(second, minutes=30)
    assert len(reminders(second, 1)) == 2


def test_roles_watcher_reminds_the_channel_once_when_nobody_is_ic(
    make_bot: Callable[..., Bot],
) -> None:
    bot = start(make_bot)
    bot.declare("Nobody home", severity="sev3")
    bot.declare("Well staffed", severity="sev3")
    # No command leaves an incident without IC yet; end the assignment as a future
    # "unassign" (or a data fix) would.
    with Session(bot.runtime.engine) as session:
        held = session.exec(
            select(RoleAssignment).where(
                RoleAssignment.incident_id == 1, RoleAssignment.role == "incident_commander"
            )
        ).one()
        held.ended_at = bot.clock()
        session.add(held)
        session.commit()

    tick(bot, minutes=4)
    assert not any("Nobody has been" in t for t in texts(bot, channel_of(bot, 1)))
    tick(bot, minutes=2)
    tick(bot, minutes=30)
    warned = [t for t in texts(bot, channel_of(bot, 1)) if "Nobody has been" in t]
    assert len(warned) == 1 and "incident.take_ic" in warned[0]
    assert not any("Nobody has been" in t for t in texts(bot, channel_of(bot, 2)))


# -- private incidents ----------------------------------------------------------------
def test_private_card_reveals_no_title_or_updates(make_bot: Callable[..., Bot]) -> None:
    bot = start(make_bot)
    bot.command("", user="U0BOB")
    [view] = bot.standin.views_for("U0BOB")
    bot.submit(
        view["id"],
        {"title": "Acquisition leak", "severity": "sev1", "private": ["private"]},
        user="U0BOB",
    )
    channel = channel_of(bot, 1)
    assert bot.standin.channel(channel).is_private

    bot.command("update Legal is involved", channel=channel, user="U0BOB")
    bot.command("resolve Contained", channel=channel, user="U0BOB")

    for where in (CARDS, EXEC):
        shown = f"{card(bot, where, 1).text} {card(bot, where, 1).blocks}"
        assert "a private incident was declared" in shown
        assert "SEV1" in shown and "U0BOB" in shown
        for secret in ("Acquisition", "leak", "Legal", "Contained"):
            assert secret not in shown
            assert not any(secret in t for t in texts(bot, where))
        assert replies_under(bot, where, 1) == []
    assert any("Legal is involved" in t for t in texts(bot, channel))  # members still see it
