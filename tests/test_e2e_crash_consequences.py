"""A change's consequences survive the process dying right after the change committed.

Each test runs the real bot (`python app.py`) as a subprocess on the real
clock, makes the Slack stand-in hold the first Web API call the use case makes
after its transaction committed, kills the bot with SIGKILL while that call
waits, releases it, and restarts the bot. The consequences recorded with the
change (escalation start or cancel, reminders) are then carried out exactly
once by the restarted bot, within `consequences.GRACE` of the change.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from incidentbot.consequences import GRACE
from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn
from incidentbot.store.models import Escalation, Incident, Timer
from tests.conftest import SIGNING_SECRET, page_dms
from tests.test_e2e_replicas_restart import AppProcess, free_port, wait_for

TOML = """
[channels]
announcements = ["#incidents"]

[[severities]]
name = "sev1"
description = "Critical"
escalation = "primary"
update_every = "2s"

[[severities]]
name = "sev2"
description = "Major"

[escalation.primary]
[[escalation.primary.levels]]
targets = ["U0BOB"]
timeout = "{t1}"
[[escalation.primary.levels]]
targets = ["U0CAROL"]
timeout = "1h"
"""

# The restarted bot carries out what the dead one recorded once GRACE has passed.
AFTER_RESTART = GRACE.total_seconds() + 20


class Crash:
    """One bot process, its database and the stand-in, for a kill-and-restart story."""

    def __init__(self, standin: SlackStandIn, db_url: str, tmp_path: Path, t1: str) -> None:
        (tmp_path / "incidentbot.toml").write_text(TOML.format(t1=t1))
        env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.api_url,
            "PORT": str(free_port()),
            "DATABASE_URL": db_url,
        }
        self.standin = standin
        self.app = AppProcess(env, tmp_path)
        self.engine: Engine = create_engine(db_url)
        self.sender: SlackSender | None = None

    def start(self) -> None:
        self.app.start()
        self.sender = SlackSender(f"{self.app.url}/slack/events", SIGNING_SECRET, self.standin)

    def command(self, text: str, *, channel: str = "C0GENERAL") -> None:
        assert self.sender is not None
        assert self.sender.command(text, user="U0ERIN", channel=channel).status == 200

    def kill_while_held(self, method: str, text: str, *, channel: str = "C0GENERAL") -> None:
        """Send `text`; kill -9 the bot while Slack holds its call to `method`; release it."""
        held = self.standin.hold(method)
        self.command(text, channel=channel)
        assert held.wait_arrived(20), f"the bot never called {method}"
        self.app.kill()
        held.release()

    def incident(self) -> Incident:
        found = self.maybe_incident()
        assert found is not None
        return found

    def maybe_incident(self) -> Incident | None:
        with Session(self.engine) as session:
            return session.exec(select(Incident)).first()

    def channel(self) -> str:
        """The incident channel, once the bot has stored it."""
        wait_for(
            lambda: (found := self.maybe_incident()) is not None and found.channel_id is not None,
            20,
            "the incident channel",
        )
        channel_id = self.incident().channel_id or ""
        # The declare's own Slack steps finish after the channel is stored: wait for its topic,
        # so a later hold on conversations.setTopic catches the next change, not the declare.
        wait_for(
            lambda: bool((found := self.standin.channel(channel_id)) and found.topic),
            20,
            "the incident channel's topic",
        )
        return channel_id

    def timers(self, kind: str) -> list[Timer]:
        with Session(self.engine) as session:
            return list(session.exec(select(Timer).where(Timer.kind == kind)).all())

    def escalations(self) -> list[Escalation]:
        with Session(self.engine) as session:
            return list(session.exec(select(Escalation).order_by(col(Escalation.id))).all())

    def close(self) -> None:
        self.app.kill()
        self.engine.dispose()


@pytest.fixture
def crash(standin: SlackStandIn, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Crash]]:
    made: list[Crash] = []

    def make(t1: str = "1h") -> Crash:
        made.append(Crash(standin, db_url, tmp_path, t1))
        return made[-1]

    yield make
    for c in made:
        c.close()


def paged(standin: SlackStandIn, user: str) -> int:
    return len(page_dms(standin, user))


def pending(timers: list[Timer]) -> list[Timer]:
    return [t for t in timers if t.fired_at is None]


def fired(timers: list[Timer]) -> list[Timer]:
    return [t for t in timers if t.outcome == "fired"]


def test_killed_before_slack_created_the_channel_still_pages_and_reminds(
    crash: Callable[..., Crash], standin: SlackStandIn
) -> None:
    bot = crash()
    bot.start()
    bot.kill_while_held("conversations.create", "declare sev1 Payments down")

    # What the dead process committed: the incident and its consequences, nothing done yet.
    assert bot.incident().channel_id is None
    handlers = {t.payload["handler"] for t in pending(bot.timers("consequence"))}
    assert handlers == {"escalation.start_on_declare", "updates.arm_on_declare"}
    assert paged(standin, "U0BOB") == 0

    bot.start()
    wait_for(lambda: paged(standin, "U0BOB") == 1, AFTER_RESTART, "the level-1 page")
    # Reminders run: the first came due (every 2 s) and armed the next one.
    wait_for(lambda: len(fired(bot.timers("update_reminder"))) >= 1, 15, "a reminder to fire")
    assert pending(bot.timers("update_reminder")), "the next reminder is armed"
    assert len(bot.timers("roles_watch")) == 1
    wait_for(lambda: not pending(bot.timers("consequence")), 15, "every consequence done")
    time.sleep(2.5)  # a poll or two later: still paged once, one escalation
    assert paged(standin, "U0BOB") == 1
    assert [e.path for e in bot.escalations()] == ["primary"]


def test_killed_after_a_severity_raise_committed_still_pages_once(
    crash: Callable[..., Crash], standin: SlackStandIn
) -> None:
    bot = crash()
    bot.start()
    bot.command("declare sev2 Slow checkout")
    channel = bot.channel()
    bot.kill_while_held("conversations.setTopic", "severity sev1", channel=channel)
    assert bot.incident().severity == "sev1"
    # Normally nobody is paged yet. On a heavily loaded machine the consequence's own due time
    # (GRACE after the commit) can pass before the held Slack call is reached, and the sweep
    # pages first: what must hold either way is that the page goes out exactly once.
    assert paged(standin, "U0BOB") <= 1

    bot.start()
    wait_for(lambda: paged(standin, "U0BOB") == 1, AFTER_RESTART, "the level-1 page")
    # The raise re-timed the reminder to sev1's 2 s: it fires and posts in the channel.
    wait_for(
        lambda: any("no stakeholder update" in (m.text or "") for m in standin.messages(channel)),
        15,
        "a reminder in the incident channel",
    )
    time.sleep(2.5)
    assert paged(standin, "U0BOB") == 1
    assert [e.path for e in bot.escalations()] == ["primary"]


# "1h": the resolve's consequence calls the escalation off after the restart.
# "4s": level 1 also times out while the bot is down; at restart that timeout
#       must cancel (the incident is resolved) instead of paging level 2.
@pytest.mark.parametrize("t1", ["1h", "4s"])
def test_killed_after_a_resolve_committed_still_cancels_the_escalation(
    crash: Callable[..., Crash], standin: SlackStandIn, t1: str
) -> None:
    bot = crash(t1)
    bot.start()
    bot.command("declare sev1 Payments down")
    wait_for(lambda: paged(standin, "U0BOB") == 1, 20, "the level-1 page")
    channel = bot.channel()
    bot.kill_while_held("conversations.setTopic", "resolve Rolled back", channel=channel)
    assert bot.incident().status == "resolved"
    assert [e.state for e in bot.escalations()] == ["running"]
    time.sleep(4.5)  # with t1=4s, level 1 is overdue now

    bot.start()
    wait_for(
        lambda: [e.state for e in bot.escalations()] == ["cancelled"],
        AFTER_RESTART,
        "the escalation to be called off",
    )
    wait_for(
        lambda: any("No action needed" in (m.text or "") for m in page_dms(standin, "U0BOB")),
        15,
        "the page DM to say so",
    )
    wait_for(lambda: not pending(bot.timers("consequence")), AFTER_RESTART, "the consequences")
    assert not pending(bot.timers("update_reminder")), "reminders stop with the resolve"
    # The closing update is posted after its consequence committed: wait for it.
    wait_for(
        lambda: any("is resolved" in t for t in standin.all_texts(channel)),
        15,
        "the closing update",
    )
    # Which one called it off: the resolve's consequence cancelled the level's timer,
    # or the overdue level fired first (restart is before the consequence's GRACE).
    [level_1] = bot.timers("escalation")
    assert level_1.outcome == {"1h": "cancelled", "4s": "fired"}[t1]
    time.sleep(2.5)
    assert paged(standin, "U0CAROL") == 0
    assert paged(standin, "U0BOB") == 1
