"""Slack's 3-second window: the ack never waits for the work a request causes."""

from __future__ import annotations

from tests.conftest import Bot


def test_ack_returns_before_slow_slack_work(bot: Bot) -> None:
    bot.standin.latency = 0.5  # every Web API call now takes half a second
    reply = bot.sender.command("declare Slow Slack", user="U0ALICE")
    assert reply.status == 200
    # Declaring makes several Web API calls; none had finished when Slack got its ack.
    created = [c for c in bot.standin.calls_to("conversations.create") if c.status == 200]
    assert created == []
    bot.wait()
    assert bot.incidents()[0].channel_id is not None  # and the work did complete


def test_queued_work_does_not_hold_up_acks(bot: Bot) -> None:
    bot.standin.latency = 0.3
    replies = [
        bot.sender.command(f"note {i}", user="U0ALICE", channel="C0GENERAL") for i in range(3)
    ]
    replies += [bot.sender.command(f"declare Storm {i}", user="U0ALICE") for i in range(12)]
    # Twelve declares of ~2 s of Slack calls each are queued behind four workers,
    # yet every request was acknowledged (no Bolt ack timeout, no 404).
    assert [r.status for r in replies] == [200] * 15
    bot.wait()
    assert len(bot.incidents()) == 12
