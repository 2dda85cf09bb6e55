"""Slack failures part-way through: the incident and its timeline are never lost,
every step that can complete does, and the person is told exactly what failed."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from incidentbot.store.models import Timer
from tests.conftest import Bot, poll_until


def test_rate_limited_create_is_retried(bot: Bot) -> None:
    bot.standin.fail("conversations.create", status=429, retry_after=1)
    bot.command("declare Rate limited", user="U0ALICE")
    inc = bot.incidents()[0]
    assert inc.channel_id is not None
    assert len(bot.standin.calls_to("conversations.create")) == 2  # one 429, then success
    assert not any("failed" in r for r in bot.replies())


def test_server_errors_on_post_are_retried(bot: Bot) -> None:
    bot.standin.fail("chat.postMessage", status=500, times=2)
    bot.command("declare Flaky posts", user="U0ALICE")
    channel = bot.standin.channel(bot.incidents()[0].channel_id or "")
    assert channel is not None and channel.pins  # the welcome message made it on the third try
    assert not any("failed" in r for r in bot.replies())


def test_invite_failure_is_reported_and_the_rest_completes(bot: Bot) -> None:
    bot.standin.fail("conversations.invite", error="user_not_found")
    bot.command("declare Missing person", user="U0ALICE")
    inc = bot.incidents()[0]
    channel = bot.standin.channel(inc.channel_id or "")
    assert channel is not None
    assert channel.topic.startswith("SEV3") and channel.pins  # later steps still ran
    assert any("INC-1" in str(m.blocks) for m in bot.standin.messages("C0INCIDENTS"))
    reply = "\n".join(bot.replies("U0ALICE"))
    assert "conversations.invite" in reply and "user_not_found" in reply
    assert [e.kind for e in bot.timeline(1)][:2] == ["declared", "role"]


def test_channel_creation_outage_keeps_the_incident(bot: Bot) -> None:
    bot.standin.fail("conversations.create", status=500, times=1_000)
    bot.command("declare Slack is down too", user="U0ALICE")
    [inc] = bot.incidents()
    assert inc.title == "Slack is down too" and inc.channel_id is None
    reply = "\n".join(bot.replies("U0ALICE"))
    assert "Could not create the incident channel" in reply and "INC-1" in reply
    assert "when Slack is back" in reply
    assert "slack_error" in [e.kind for e in bot.timeline(1)]
    bot.standin.clear_faults()  # Slack is back: the outbox finishes the set-up
    poll_until(lambda: bot.incident(1).channel_id is not None)


def test_card_in_private_channel_without_the_bot(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot({"channels": {"announcements": ["#incidents", "C0PRIV"]}})
    bot.standin.add_channel(
        "private-stakeholders", channel_id="C0PRIV", is_private=True, bot_member=False
    )
    bot.command("declare Card trouble", user="U0ALICE")
    assert bot.incidents()[0].channel_id is not None
    assert any("INC-1" in str(m.blocks) for m in bot.standin.messages("C0INCIDENTS"))
    reply = "\n".join(bot.replies("U0ALICE"))
    assert "`chat.postMessage` failed: `channel_not_found` (announcements channel C0PRIV" in reply


def test_public_announcements_channel_is_joined(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot({"channels": {"announcements": ["#status"]}})
    bot.standin.add_channel("status", channel_id="C0STATUS", bot_member=False)
    bot.command("declare Joins first", user="U0ALICE")
    assert "UBOT" in bot.standin.channel("C0STATUS").members
    assert any("INC-1" in str(m.blocks) for m in bot.standin.messages("C0STATUS"))


def leave_half_declared(bot: Bot, title: str) -> None:
    """The database as `kill -9` leaves it right after declare's first commit:
    the incident, its timeline and its set-up timer are stored; Slack knows nothing."""
    from datetime import timedelta

    from incidentbot.store import repo
    from incidentbot.store.db import session_scope
    from incidentbot.store.models import Incident, Timer

    now = bot.clock()
    with session_scope(bot.runtime.engine) as session:
        incident = Incident(
            title=title,
            severity="sev2",
            status="investigating",
            declared_by="U0ALICE",
            declared_at=now,
            updated_at=now,
            status_times={"investigating": now.isoformat()},
        )
        session.add(incident)
        session.flush()
        number = int(incident.id or 0)
        repo.add_entry(
            session, incident_id=number, kind="declared", actor="U0ALICE", at=now, text=title
        )
        repo.assign_role(
            session,
            incident_id=number,
            role="incident_commander",
            user_id="U0ALICE",
            by="U0ALICE",
            at=now,
        )
        session.add(
            Timer(
                kind="declare_setup",
                key=f"setup:{number}:1",
                incident_id=number,
                due_at=now + timedelta(minutes=2),
                payload={"attempt": 1},
                created_at=now,
            )
        )


def test_declare_interrupted_before_slack_is_finished_after_restart(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot()
    leave_half_declared(bot, "Crashed while declaring")
    bot.stop()
    restarted = make_bot()
    restarted.clock.advance(minutes=3)
    restarted.runtime.timers.run_due()
    restarted.wait()
    inc = restarted.incident(1)
    channel = restarted.standin.channel(inc.channel_id or "")
    assert channel is not None and channel.name == "inc-1-crashed-while-declaring"
    assert channel.pins and channel.topic.startswith("SEV2")
    assert any("INC-1" in str(m.blocks) for m in restarted.standin.messages("C0INCIDENTS"))
    told = [m.text for m in restarted.standin.dm_messages("U0ALICE")]
    assert any("INC-1" in t and "restarted" in t for t in told)
    restarted.clock.advance(minutes=10)
    restarted.runtime.timers.run_due()  # the retry timer was cancelled: nothing happens twice
    assert len(restarted.standin.calls_to("conversations.create")) == 1


def test_channel_created_before_the_crash_is_adopted(bot: Bot) -> None:
    leave_half_declared(bot, "Half done")
    # created by the bot just before it died, its ID never stored
    made = bot.standin.add_channel("inc-1-half-done", creator="UBOT")
    bot.clock.advance(minutes=3)
    bot.runtime.timers.run_due()
    assert bot.incident(1).channel_id == made
    assert bot.standin.channel_by_name("inc-1-half-done-2") is None


def test_completed_declare_leaves_no_recovery_work(bot: Bot) -> None:
    bot.command("declare All good", user="U0ALICE")
    bot.clock.advance(hours=1)
    bot.runtime.timers.run_due()
    assert len(bot.standin.calls_to("conversations.create")) == 1
    with Session(bot.runtime.engine) as session:
        setup = session.exec(select(Timer).where(Timer.kind == "declare_setup")).all()
    assert [t.outcome for t in setup] == ["cancelled"]


def test_rate_limit_with_a_long_retry_after_fails_fast_and_is_reported(bot: Bot) -> None:
    bot.standin.fail("conversations.setTopic", status=429, retry_after=600)
    bot.command("declare Long wait", user="U0ALICE")  # answered without a 10-minute sleep
    assert "`conversations.setTopic` failed: `ratelimited`" in "\n".join(bot.replies("U0ALICE"))
    channel_id = bot.incidents()[0].channel_id
    assert channel_id is not None
    # Rate limits pass: the outbox sets the topic later, once.
    poll_until(lambda: bot.standin.channel(channel_id).topic.startswith("SEV3"))
    ok = [c for c in bot.standin.calls_to("conversations.setTopic") if c.response.get("ok")]
    assert len(ok) == 1
