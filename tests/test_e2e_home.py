"""End-to-end: the App Home tab and who sees a private incident's details (Home, `list`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from incidentbot.store.models import Escalation, Page
from tests.conftest import Bot


def open_home(bot: Bot, user: str, tab: str = "home") -> str:
    """Open the app's Home tab as `user`; returns everything the tab shows."""
    reply = bot.sender.event({"type": "app_home_opened", "user": user, "channel": "D0", "tab": tab})
    assert reply.status == 200
    bot.wait()
    view = bot.standin.home_views.get(user)
    return str(view["blocks"]) if view else ""


def declare_private(bot: Bot, title: str, *, user: str = "U0BOB") -> None:
    bot.command("", user=user)
    view = [v for v in bot.standin.views_for(user) if v["callback_id"] == "incident.declare"][-1]
    bot.submit(view["id"], {"title": title, "severity": "sev1", "private": ["private"]}, user=user)


def channel_of(bot: Bot, number: int) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def add_page(bot: Bot, number: int, user: str, *, state: str = "running") -> None:
    """A page as the escalation engine stores it (that engine is tested on its own)."""
    now = bot.clock()
    with Session(bot.runtime.engine) as session:
        escalation = Escalation(
            incident_id=number, path="primary", state=state, started_by="U0ALICE", started_at=now
        )
        session.add(escalation)
        session.flush()
        session.add(
            Page(
                escalation_id=int(escalation.id or 0),
                incident_id=number,
                cycle=0,
                level=0,
                target="schedule:backend-oncall",
                status="sent",
                deliveries=[{"user": user, "channel": "D0PAGE", "ts": "1.000001"}],
                created_at=now,
                sent_at=now,
            )
        )
        session.commit()


def test_home_for_a_responder(bot: Bot) -> None:
    bot.declare("Checkout is failing", severity="sev2")
    bot.declare("Old incident", severity="sev3")
    bot.command("update Rolled back", channel=channel_of(bot, 1))
    bot.command("resolve Fixed", channel=channel_of(bot, 2))
    bot.clock.advance(minutes=25)
    add_page(bot, 1, "U0ALICE")

    shown = open_home(bot, "U0ALICE")

    assert "Open incidents (1)" in shown
    for detail in ("INC-1", "Checkout is failing", "SEV2", "investigating", "<@U0ALICE>"):
        assert detail in shown, detail
    assert f"<#{channel_of(bot, 1)}>" in shown
    assert "last update 25m ago" in shown
    assert "Incident Commander of *INC-1*" in shown  # the viewer's roles
    assert "Your pending pages" in shown and "level 1 of `primary`" in shown
    assert "Recently resolved" in shown and "Old incident" in shown
    assert "home.declare" in shown

    # The Declare incident button opens the usual declare modal.
    bot.action("home.declare", view=bot.standin.home_views["U0ALICE"]["id"], user="U0ALICE")
    [modal] = [v for v in bot.standin.views_for("U0ALICE") if v["type"] == "modal"]
    assert modal["callback_id"] == "incident.declare"


def test_home_shows_only_running_escalation_pages_of_the_viewer(bot: Bot) -> None:
    bot.declare("Disk full")
    add_page(bot, 1, "U0CAROL", state="acknowledged")
    add_page(bot, 1, "U0DAVE")
    assert "No pages waiting for you" in open_home(bot, "U0CAROL")
    assert "level 1 of `primary`" in open_home(bot, "U0DAVE")
    assert "You hold no role" in open_home(bot, "U0DAVE")


def test_messages_tab_publishes_nothing(bot: Bot) -> None:
    assert open_home(bot, "U0ALICE", tab="messages") == ""


def test_private_incident_details_only_for_members(bot: Bot) -> None:
    declare_private(bot, "Acquisition leak")
    channel = channel_of(bot, 1)
    bot.standin.add_member(channel, "U0DAVE")  # invited by hand: a member without a role

    outsider = open_home(bot, "U0CAROL")
    assert "INC-1" in outsider and "private incident" in outsider and "<@U0BOB>" in outsider
    assert "Acquisition" not in outsider and channel not in outsider

    member = open_home(bot, "U0BOB")
    assert "Acquisition leak" in member and channel in member

    # A member of the channel without a role sees it too (asked of Slack, then cached).
    assert "Acquisition leak" in open_home(bot, "U0DAVE")
    assert len(bot.standin.calls_to("conversations.members")) == 1

    bot.command("list", user="U0CAROL")
    assert "Acquisition" not in bot.replies()[-1]
    listed = [r for r in bot.standin.responses.values() if r]
    carol = str(listed[-1])
    assert "INC-1" in carol and "private incident" in carol and "Acquisition" not in carol
    bot.command("list", user="U0BOB")
    assert "Acquisition leak" in str([r for r in bot.standin.responses.values() if r][-1])

    # Recently resolved keeps the same rule.
    bot.command("resolve Contained", channel=channel, user="U0BOB")
    assert "Acquisition" not in open_home(bot, "U0CAROL")
    assert "Acquisition leak" in open_home(bot, "U0BOB")


def test_home_lists_many_incidents_within_limits(bot: Bot) -> None:
    hostile = "<!channel> <!subteam^S1|@oncall> *x* " * 20
    for number in range(30):
        bot.declare(f"{hostile} {number}")
    shown: Any = open_home(bot, "U0ALICE")
    assert "Open incidents (30)" in shown
    assert bot.standin.internal_errors == []
    assert bot.standin.mass_mentions() == []
