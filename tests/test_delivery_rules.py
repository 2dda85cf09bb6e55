"""Fast table tests for the outbox's rules: back-off, pacing, and the late notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incidentbot.config import ConfigError, load_settings
from incidentbot.delivery import RetryPolicy, late_summary
from incidentbot.slack.gateway import Failure, Pacer, is_transient
from incidentbot.store.models import SlackOutbox

ENV = {"SLACK_BOT_TOKEN": "xoxb-1-test", "SLACK_SIGNING_SECRET": "s3cret-value"}


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (1, 1.0),  # the first retry comes soon
        (2, 2.0),
        (5, 16.0),
        (7, 60.0),  # capped at the ceiling...
        (50, 60.0),  # ...however long the outage lasts
    ],
)
def test_backoff_grows_to_the_ceiling(failures: int, expected: float) -> None:
    assert RetryPolicy(first=1.0, ceiling=60.0).backoff(failures) == expected


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        ("service_unavailable", True),  # 503
        ("fatal_error", True),  # 500
        ("http_502", True),
        ("ratelimited", True),
        ("connection_error", True),
        ("channel_not_found", False),  # will not pass by itself: reported instead
        ("not_in_channel", False),
        ("invalid_blocks", False),
    ],
)
def test_which_failures_pass(error: str, transient: bool) -> None:
    assert is_transient(Failure("chat.postMessage", error)) is transient


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_allows_a_burst_then_spreads_calls_at_the_tier_rate() -> None:
    t = FakeTime()
    pacer = Pacer(scale=1.0, burst_seconds=60.0, headroom=1.0, clock=t.clock, sleep=t.sleep)
    waits = [pacer.wait("conversations.create") for _ in range(22)]  # Tier 2: 20 a minute
    assert waits[:20] == [0.0] * 20
    assert waits[20:] == pytest.approx([3.0, 3.0])  # then one every 3 s


def test_pacer_keeps_posts_per_channel_apart() -> None:
    t = FakeTime()
    pacer = Pacer(scale=1.0, burst_seconds=1.0, headroom=1.0, clock=t.clock, sleep=t.sleep)
    assert pacer.wait("chat.postMessage", "C1") == 0.0
    assert pacer.wait("chat.postMessage", "C2") == 0.0  # another channel: its own bucket
    assert pacer.wait("chat.postMessage", "C1") == pytest.approx(1.0)


def row(status: str, late: float, label: str, note: str = "") -> SlackOutbox:
    created = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return SlackOutbox(
        kind="post",
        status=status,
        created_at=created,
        finished_at=created + timedelta(seconds=late),
        payload={"label": label},
        note=note,
    )


def test_late_summary_lists_what_arrived_late_and_what_was_not_sent() -> None:
    text = late_summary(
        7,
        [
            row("delivered", 95, "the incident channel set-up"),
            row("delivered", 0.2, "the paging notice"),  # only queued behind: left out
            row("skipped", 30, "the page to <@U1>", "acknowledged by <@U2>"),
        ],
    )
    assert text is not None
    lines = text.splitlines()
    assert "INC-7" in lines[0]
    assert lines[1:] == [
        "• the incident channel set-up: delivered 1m 35s late",
        "• the page to <@U1>: not sent (acknowledged by <@U2>)",
    ]
    assert late_summary(7, [row("delivered", 0.1, "x")]) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("30s", 30.0), ("5m", 300.0), (" 2m ", 120.0)],
)
def test_retry_ceiling_from_the_environment(value: str, seconds: float, tmp_path: Path) -> None:
    settings = load_settings({**ENV, "INCIDENTBOT_SLACK_RETRY_MAX": value}, cwd=tmp_path)
    assert settings.slack_retry_max == seconds


@pytest.mark.parametrize("value", ["0s", "soon", "-5m"])
def test_bad_retry_ceiling_is_named_with_the_expected_form(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({**ENV, "INCIDENTBOT_SLACK_RETRY_MAX": value}, cwd=tmp_path)
    assert "INCIDENTBOT_SLACK_RETRY_MAX" in str(error.value)
    assert 'at least 1s like "30s"' in str(error.value)
