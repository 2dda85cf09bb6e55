"""`/incident oncall [schedule]`: who is on call now and next, from Slack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Bot

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "escalation": {
        "primary": {
            "levels": [
                {"targets": ["schedule:backend-oncall", "S0LEADS"], "timeout": "5m"},
                {"targets": ["U0DAVE"], "timeout": "5m"},
            ]
        },
        "database": {"levels": [{"targets": ["dba@example.com"], "timeout": "5m"}]},
    },
    "schedules": {
        "backend-oncall": {  # the test clock is Friday 2026-11-27 09:00 UTC
            "users": ["U0BOB", "U0ALICE"],
            "rotation": "1w",
            "start": "2026-11-23T09:00:00Z",
        },
        "frontend": {
            "users": ["U0CAROL", "U0ERIN"],
            "rotation": "1d",
            "start": "2026-11-27T00:00:00Z",
        },
    },
}


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot(CONFIG)


def test_oncall_lists_every_schedule_and_each_paths_first_level(bot: Bot) -> None:
    bot.command("oncall", user="U0ERIN")
    [reply] = bot.replies()
    assert "`backend-oncall`: <@U0BOB> until <!date^1796029200^" in reply  # Mon 30 Nov 09:00
    assert "then <@U0ALICE>" in reply
    assert "`frontend`: <@U0CAROL> until <!date^1795824000^" in reply  # Sat 28 Nov 00:00
    assert "then <@U0ERIN>" in reply
    assert "`primary`: <@U0BOB> (`backend-oncall`), user group `S0LEADS`" in reply
    assert "`database`: dba@example.com" in reply
    assert "<!subteam" not in reply  # naming a group here must not notify it


def test_oncall_for_one_schedule(bot: Bot) -> None:
    bot.command("oncall FRONTEND", user="U0ERIN")
    [reply] = bot.replies()
    assert "`frontend`: <@U0CAROL>" in reply
    assert "backend-oncall" not in reply and "primary" not in reply


def test_oncall_with_an_unknown_schedule_says_which_exist(bot: Bot) -> None:
    bot.command("oncall <!channel>", user="U0ERIN")
    [reply] = bot.replies()
    assert "Unknown schedule `&lt;!channel&gt;`" in reply
    assert "`backend-oncall`, `frontend`" in reply
    assert "/incident oncall [schedule]" in reply


def test_help_lists_oncall(bot: Bot) -> None:
    bot.command("help", user="U0ERIN")
    assert "/incident oncall [schedule]" in bot.replies()[0]
