"""`/metrics` in Prometheus format and one structured log line per request, with
no token or secret ever logged."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Callable

import pytest

from incidentbot.logs import KeyValueFormatter
from tests.conftest import Bot


def scrape(bot: Bot) -> str:
    with urllib.request.urlopen(f"{bot.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def test_metrics_count_incidents_pages_acks_and_slack_errors(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(
        {
            "channels": {"announcements": ["#incidents"]},
            "severities": [{"name": "sev1", "escalation": "oncall"}, {"name": "sev2"}],
            "escalation": {"oncall": {"levels": [{"targets": ["U0BOB"], "timeout": "5m"}]}},
        }
    )
    bot.command("declare sev1 Metrics please", user="U0ALICE")
    bot.command("declare sev2 Another", user="U0ALICE")
    channel = bot.incident(1).channel_id
    bot.command("ack", user="U0ALICE", channel=channel)
    bot.standin.fail("conversations.setTopic", error="not_in_channel")
    bot.command("status identified", user="U0ALICE", channel=channel)
    bot.command("resolve done", user="U0ALICE", channel=bot.incident(2).channel_id)

    text = scrape(bot)
    assert 'incidentbot_incidents_declared_total{severity="sev1"} 1.0' in text
    assert 'incidentbot_incidents_declared_total{severity="sev2"} 1.0' in text
    assert 'incidentbot_open_incidents{severity="sev1"} 1.0' in text
    assert 'severity="sev2"' not in text.split("incidentbot_open_incidents")[-1]  # resolved
    assert "incidentbot_pages_sent_total 1.0" in text
    assert "incidentbot_acknowledgements_total 1.0" in text
    labels = 'error="not_in_channel",method="conversations.setTopic"'
    assert f"incidentbot_slack_api_errors_total{{{labels}}} 1.0" in text
    assert 'incidentbot_http_request_seconds_count{path="/slack/events",status="200"}' in text


def test_one_log_line_per_request_without_secrets(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot.command("help", user="U0ALICE")
    lines = [
        r for r in caplog.records if r.name == "incidentbot.web" and r.getMessage() == "request"
    ]
    assert len(lines) == 1
    assert lines[0].path == "/slack/events" and lines[0].status == "200"  # type: ignore[attr-defined]
    assert isinstance(lines[0].ms, float)  # type: ignore[attr-defined]
    formatted = "\n".join(KeyValueFormatter().format(r) for r in caplog.records)
    assert "xoxb-" not in formatted and "test-signing-secret" not in formatted


def test_formatter_masks_tokens_wherever_they_appear() -> None:
    record = logging.makeLogRecord(
        {"msg": "calling with xoxb-123-456-abc", "levelname": "INFO", "token": "xapp-1-A-2"}
    )
    line = KeyValueFormatter().format(record)
    assert "xoxb-123" not in line and "xapp-1" not in line and "[redacted]" in line


def test_healthz_is_503_when_the_database_is_unreachable(bot: Bot) -> None:
    import json
    import urllib.error

    from incidentbot.store.db import make_engine

    working = bot.runtime.engine
    bot.runtime.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{bot.url}/healthz")
        assert failed.value.code == 503
        details = json.loads(failed.value.read())
        assert details["database"] == "unreachable" and details["status"] == "degraded"
    finally:
        bot.runtime.engine.dispose()
        bot.runtime.engine = working
