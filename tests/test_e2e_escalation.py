"""End-to-end escalation: paging, timeouts, repeat, exhaustion, acknowledgement,
escalate-now, specialist paths, rotations, cancellation, bad input.

Time is a `FakeClock`: timers are due when `due_at <= clock()`, and the test
fires them with `runtime.timers.run_due()` — exactly what the scheduler's poll
does in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import Bot, FakeClock, page_dms, poll_until

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "severities": [
        {"name": "sev1", "description": "Critical", "escalation": "primary"},
        {"name": "sev2", "description": "Major"},
        {"name": "sev3", "description": "Minor"},
    ],
    "escalation": {
        "primary": {
            "repeat": 1,
            "levels": [
                {"targets": ["schedule:backend-oncall"], "timeout": "5m"},
                {"targets": ["U0CAROL"], "timeout": "10m"},
                {"targets": ["dave@example.com"], "timeout": "15m"},
            ],
        },
        "database": {"levels": [{"targets": ["S0DBTEAM"], "timeout": "10m"}]},
        "flaky": {
            "levels": [
                {"targets": ["U0CAROL", "nobody@example.com", "S0NOPE"], "timeout": "5m"},
            ]
        },
    },
    "schedules": {
        "backend-oncall": {
            "users": ["U0BOB", "U0ALICE"],
            "rotation": "1w",
            "start": "2026-11-23T09:00:00Z",
        }
    },
}


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    b = make_bot(CONFIG)
    b.standin.add_usergroup("S0DBTEAM", "dbteam", ["U0DAVE", "U0ALICE"])
    return b


def pages(bot: Bot, user: str) -> list[Any]:
    return page_dms(bot.standin, user)


def channel_of(bot: Bot, number: int = 1) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def notices(bot: Bot, number: int = 1) -> list[str]:
    return [m.text for m in bot.standin.messages(channel_of(bot, number))]


def advance(bot: Bot, **delta: float) -> None:
    bot.clock.advance(**delta)
    bot.runtime.timers.run_due()


def test_declare_pages_first_level_automatically(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    [dm] = pages(bot, "U0BOB")  # on call this week
    assert "INC-1" in dm.text and "SEV1" in dm.text
    shown = str(dm.blocks)
    assert "Checkout down" in shown and "<@U0ERIN>" in shown and channel_of(bot) in shown
    actions = [e["action_id"] for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["escalation.ack", "escalation.join"]
    assert any("Paged <@U0BOB> — level 1/3 of `primary`" in t for t in notices(bot))
    assert any("Next level" in t for t in notices(bot))
    kinds = [e.kind for e in bot.timeline(1)]
    assert "escalation" in kinds and "page" in kinds
    assert pages(bot, "U0CAROL") == []


def test_no_paging_for_severity_without_path(bot: Bot) -> None:
    bot.command("declare sev2 Slow search", user="U0ERIN")
    assert bot.standin.dm_messages("U0BOB") == []


def test_timeouts_walk_the_levels_then_repeat_then_exhaust(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    advance(bot, minutes=4)
    assert pages(bot, "U0CAROL") == []  # not yet
    advance(bot, minutes=1)
    assert len(pages(bot, "U0CAROL")) == 1
    advance(bot, minutes=10)
    assert len(pages(bot, "U0DAVE")) == 1  # email looked up
    advance(bot, minutes=15)
    assert len(pages(bot, "U0BOB")) == 2  # round 2 starts again at level 1
    assert any("round 2/2" in t for t in notices(bot))
    advance(bot, minutes=5)
    advance(bot, minutes=10)
    assert len(pages(bot, "U0DAVE")) == 2
    advance(bot, minutes=15)
    assert any("exhausted" in t for t in notices(bot))
    assert any("exhausted" in (m.text or "") for m in bot.standin.dm_messages("U0ERIN"))  # the IC
    advance(bot, hours=5)
    assert len(pages(bot, "U0BOB")) == 2 and len(pages(bot, "U0DAVE")) == 2  # nothing more
    kinds = [e.kind for e in bot.timeline(1)]
    assert kinds.count("page") == 6 and kinds.count("timeout") == 6 and "exhausted" in kinds


def test_acknowledge_button_stops_escalation(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    [dm] = pages(bot, "U0BOB")
    bot.clock.advance(minutes=2)
    bot.action("escalation.ack", user="U0BOB", channel=dm.channel, message_ts=dm.ts)
    inc = bot.incident(1)
    assert inc.acknowledged_at == bot.clock.now  # the MTTA milestone
    assert "U0BOB" in bot.standin.channel(channel_of(bot)).members
    edited = bot.standin.find_message(dm.channel, dm.ts)
    assert "Acknowledged by <@U0BOB>" in str(edited.blocks)
    assert not [b for b in edited.blocks if b["type"] == "actions"]
    assert ("ack", "U0BOB") in [(e.kind, e.actor) for e in bot.timeline(1)]
    advance(bot, hours=2)
    assert pages(bot, "U0CAROL") == []

    # A second click (a stale client still showing the button) changes nothing.
    bot.action("escalation.ack", user="U0ALICE", value="1", channel=dm.channel, message_ts=dm.ts)
    assert "Already acknowledged by <@U0BOB>" in bot.replies()[-1]
    assert [e.kind for e in bot.timeline(1)].count("ack") == 1


def test_ack_command_in_channel(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("ack", user="U0ERIN", channel=channel_of(bot))
    assert any("acknowledged" in t for t in notices(bot))
    advance(bot, hours=1)
    assert pages(bot, "U0CAROL") == []
    bot.command("ack", user="U0ERIN", channel=channel_of(bot))
    assert "Nothing is paging for INC-1" in bot.replies()[-1]


def test_escalate_now_pages_next_level_once(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("escalate", user="U0ERIN", channel=channel_of(bot))
    assert len(pages(bot, "U0CAROL")) == 1
    advance(bot, minutes=5)  # the first level's timeout must not page level 2 again
    assert len(pages(bot, "U0CAROL")) == 1
    assert pages(bot, "U0DAVE") == []
    advance(bot, minutes=5)  # level 2's timeout counts from when it was paged
    assert len(pages(bot, "U0DAVE")) == 1


def test_specialist_path_pages_a_user_group(bot: Bot) -> None:
    bot.command("declare sev2 Replication lag", user="U0ERIN")
    bot.command("escalate database", user="U0ERIN", channel=channel_of(bot))
    assert len(pages(bot, "U0DAVE")) == 1 and len(pages(bot, "U0ALICE")) == 1
    assert bot.standin.mass_mentions() == []  # the group is paged by DM, never @-mentioned


def test_several_paths_run_at_once(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("escalate database", user="U0ERIN", channel=channel_of(bot))
    bot.command("escalate database", user="U0ERIN", channel=channel_of(bot))
    assert "already paging" in bot.replies()[-1]
    assert len(pages(bot, "U0DAVE")) == 1
    bot.command("ack", user="U0ERIN", channel=channel_of(bot))
    advance(bot, hours=1)
    assert pages(bot, "U0CAROL") == [] and len(pages(bot, "U0DAVE")) == 1


def test_rotation_resolves_at_the_moment_of_paging(make_bot: Callable[..., Bot]) -> None:
    later = FakeClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # the next week's shift
    bot = make_bot(CONFIG, clock=later)
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    assert len(pages(bot, "U0ALICE")) == 1
    assert pages(bot, "U0BOB") == []


def test_resolve_cancels_every_escalation(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    bot.command("escalate database", user="U0ERIN", channel=channel_of(bot))
    bot.command("resolve False alarm", user="U0ERIN", channel=channel_of(bot))
    advance(bot, hours=3)
    assert pages(bot, "U0CAROL") == []
    [dm] = pages(bot, "U0BOB")
    assert "No action needed" in str(bot.standin.find_message(dm.channel, dm.ts).blocks)
    # Clicked on a client that had not yet shown the edit:
    bot.action("escalation.ack", user="U0BOB", value="1", channel=dm.channel, message_ts=dm.ts)
    assert "already resolved" in bot.replies()[-1]


def test_raising_severity_starts_its_path(bot: Bot) -> None:
    bot.command("declare sev2 Slow checkout", user="U0ERIN")
    assert pages(bot, "U0BOB") == []
    bot.command("sev sev1", user="U0ERIN", channel=channel_of(bot))
    assert len(pages(bot, "U0BOB")) == 1


def test_escalate_picker_when_nothing_runs(bot: Bot) -> None:
    bot.command("declare sev2 Replication lag", user="U0ERIN")
    bot.command("escalate", user="U0ERIN", channel=channel_of(bot))
    view = bot.standin.views_for("U0ERIN")[-1]
    assert view["callback_id"] == "escalation.pick"
    shown = str(view["blocks"])
    assert (
        "primary" in shown and "database" in shown and "<@U0BOB> (on call: backend-oncall)" in shown
    )
    bot.submit(view["id"], {"path": "database"}, user="U0ERIN")
    assert len(pages(bot, "U0DAVE")) == 1


def test_join_channel_button(bot: Bot) -> None:
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    [dm] = pages(bot, "U0BOB")
    bot.action("escalation.join", user="U0BOB", channel=dm.channel, message_ts=dm.ts)
    assert "U0BOB" in bot.standin.channel(channel_of(bot)).members


def test_unknown_path_lists_configured_ones(bot: Bot) -> None:
    bot.command("declare sev2 Something", user="U0ERIN")
    bot.command("escalate nosuchpath", user="U0ERIN", channel=channel_of(bot))
    assert (
        "Unknown escalation path `nosuchpath`. Paths: `primary`, `database`, `flaky`"
        in bot.replies()[-1]
    )
    assert bot.standin.dm_messages("U0BOB") == []


def test_unreachable_targets_do_not_stop_the_level(bot: Bot) -> None:
    bot.command("declare sev2 Something", user="U0ERIN")
    bot.command("escalate flaky", user="U0ERIN", channel=channel_of(bot))
    assert len(pages(bot, "U0CAROL")) == 1
    told = "\n".join(notices(bot))
    assert "Could not reach" in told and "nobody@example.com" in told and "users_not_found" in told
    assert "S0NOPE" in told and "no_such_subteam" in told


def test_page_survives_slack_failure_and_is_sent_later(bot: Bot) -> None:
    """A DM Slack cannot take even after the client's retries is reported, kept, and sent
    once Slack takes it again (the outbox retries it); the escalation carries on meanwhile."""
    bot.standin.fail(
        "chat.postMessage", status=500, times=20, when=lambda a: a.get("channel") == "U0BOB"
    )
    bot.command("declare sev1 Checkout down", user="U0ERIN")
    assert pages(bot, "U0BOB") == []
    assert any("Could not reach" in t and "U0BOB" in t for t in notices(bot))
    advance(bot, minutes=5)
    assert len(pages(bot, "U0CAROL")) == 1  # the escalation carries on
    bot.standin.clear_faults()
    bot.runtime.outbox.kick()
    poll_until(lambda: len(pages(bot, "U0BOB")) == 1, what="the page sent once Slack is back")
