"""How listeners run: `lazy_listener` (ack function on Bolt's pool, lazy functions on
ours) and what Slack and the person get when either side fails."""

from __future__ import annotations

import re
from typing import Any

import pytest
from slack_bolt import Ack

from incidentbot.slack import ids
from incidentbot.slack.listeners.errors import UNEXPECTED, acknowledge, lazy_listener
from tests.conftest import Bot


def test_a_lazy_function_that_fails_after_the_ack_is_reported_to_the_person(bot: Bot) -> None:
    incident = bot.declare("Checkout is failing", user="U0ALICE")
    # A button value nobody could have sent: the lazy part fails on it, after the ack.
    reply = bot.action(ids.TAKE_IC, user="U0BOB", value="not-a-number", channel=incident.channel_id)
    assert reply.status == 200  # the ack stands: Slack never sees a timeout
    assert any(text.startswith(UNEXPECTED[:20]) for text in bot.replies("U0BOB"))
    assert bot.incident(1).status == incident.status  # nothing changed


def test_a_lazy_function_that_refuses_tells_the_person_why(bot: Bot) -> None:
    incident = bot.declare("Checkout is failing", user="U0ALICE")
    reply = bot.action(ids.TAKE_IC, user="U0BOB", value="99", channel=incident.channel_id)
    assert reply.status == 200
    assert ":warning: There is no incident INC-99." in bot.replies("U0BOB")


def test_an_ack_that_answers_ends_the_request(bot: Bot) -> None:
    reply = bot.command("severity", user="U0BOB")  # incomplete: answered in the ack
    assert reply.status == 200
    assert ":warning:" in reply.body
    assert bot.replies() == []  # no lazy work ran to say anything more
    assert bot.incidents() == []


def _lazy(body: dict[str, Any]) -> None:
    return None


def _acking_lazily(ack: Ack, body: dict[str, Any]) -> None:
    ack()


def _unknown_argument(body: dict[str, Any], say: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("ack", "lazy", "message"),
    [
        # A lazy function runs after the ack: it has none to call.
        (acknowledge, [_acking_lazily], "cannot ack()"),
        # Only the arguments lazy_listener passes on may be named.
        (acknowledge, [_unknown_argument], "cannot inject ['say']"),
        (_unknown_argument, [_lazy], "cannot inject ['say']"),
    ],
)
def test_lazy_listener_refuses_functions_it_cannot_call(
    ack: Any, lazy: list[Any], message: str
) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        lazy_listener(None, ack=ack, lazy=lazy)  # type: ignore[arg-type]
