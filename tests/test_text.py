"""The text boundary (pure): Slack's encoding in, text as typed stored, shown once.

`from_slack` is the only way Slack-encoded text (slash commands, messages) gets
in; `show` (mrkdwn), `readable` (plain text, names, documents) and `escape` the
ways it gets out. Each case says what a person typed or saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from incidentbot.domain import naming
from incidentbot.domain.text import (
    escape,
    from_slack,
    mentioned_users,
    plain_within,
    readable,
    show,
    show_within,
)
from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn

_NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LONG = "é" * 1500 + " & " + "<b>" * 600  # 3,000+ characters, with escapes throughout


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        # every escape Slack makes, un-escaped exactly once
        ("Cache &amp; DB &lt;prod&gt; down", "Cache & DB <prod> down"),
        ("&amp;lt; is how you write &lt;", "&lt; is how you write <"),  # typed an entity
        ("&amp;amp;", "&amp;"),
        ("a &gt; b &amp;&amp; c", "a > b && c"),
        # person and channel mentions: kept as the real mention
        ("talked to <@U0BOB|bob>", "talked to <@U0BOB|bob>"),
        ("<@U0BOB> is on it", "<@U0BOB> is on it"),
        ("<@W0ENTERPRISE|ent>", "<@W0ENTERPRISE|ent>"),
        ("see <#C0OPS|ops>", "see <#C0OPS|ops>"),
        ("see <#C0OPS>", "see <#C0OPS>"),
        # links: kept, their `&amp;` un-escaped like the rest
        ("<https://x.example/?a=1&amp;b=2|a &amp; b>", "<https://x.example/?a=1&b=2|a & b>"),
        ("<mailto:sre@example.com|mail us>", "<mailto:sre@example.com|mail us>"),
        # broadcast mentions: plain words that notify nobody
        ("<!channel> db down", "@channel db down"),
        ("<!here> <!here|here> <!everyone>", "@here @here @everyone"),
        ("<!subteam^S0SRE|@sre> look", "@sre look"),
        ("<!subteam^S0SRE> look", "@S0SRE look"),
        ("<!date^1392734382^{date_num}|2014-02-18>", "2014-02-18"),
        # emoji and other text: untouched
        (":fire: 🔥 naïve 日本語", ":fire: 🔥 naïve 日本語"),
        ("", ""),
        ("*bold* _it_ `code`", "*bold* _it_ `code`"),
    ],
)
def test_from_slack(sent: str, stored: str) -> None:
    assert from_slack(sent) == stored


@pytest.mark.parametrize(
    ("stored", "mrkdwn", "plain"),
    [
        ("Cache & DB <prod> down", "Cache &amp; DB &lt;prod&gt; down", "Cache & DB <prod> down"),
        ("talked to <@U0BOB|bob>", "talked to <@U0BOB|bob>", "talked to @bob"),
        ("<@U0BOB> is on it", "<@U0BOB> is on it", "@U0BOB is on it"),
        ("in <#C0OPS|ops>", "in <#C0OPS|ops>", "in #ops"),
        (
            "<https://x.example/?a=1&b=2|a & b>",
            "<https://x.example/?a=1&amp;b=2|a &amp; b>",
            "a & b",
        ),
        # typed in a modal: shown literally, never a broadcast
        ("<!channel> now", "&lt;!channel&gt; now", "<!channel> now"),
        ("<!subteam^S1|@sre>", "&lt;!subteam^S1|@sre&gt;", "<!subteam^S1|@sre>"),
        ("<javascript:x|y>", "&lt;javascript:x|y&gt;", "<javascript:x|y>"),
        ("&amp;", "&amp;amp;", "&amp;"),
        (":fire: 🔥", ":fire: 🔥", ":fire: 🔥"),
    ],
)
def test_show_and_readable(stored: str, mrkdwn: str, plain: str) -> None:
    assert show(stored) == mrkdwn
    assert readable(stored) == plain


@pytest.mark.parametrize(
    ("typed", "limit", "shown"),
    [
        ("abc <@U0BOB|bob>", 10, "abc …"),  # never half a mention
        ("abc && x", 10, "abc &amp;…"),  # never half an entity
        ("<@U0BOB> fixed it", 2000, "<@U0BOB> fixed it"),
    ],
)
def test_show_within(typed: str, limit: int, shown: str) -> None:
    assert show_within(typed, limit) == shown
    assert len(show_within(typed, limit)) <= limit


def test_long_text_stays_within_slack_limits_and_round_trips() -> None:
    assert len(LONG) > 3000
    assert from_slack(escape(LONG)) == LONG
    assert len(show_within(LONG, 3000)) <= 3000
    assert len(plain_within(LONG, 3000)) <= 3000
    assert show(LONG) == escape(LONG)  # nothing in it is a mention


def test_mentioned_users() -> None:
    stored = "<@U0BOB|bob> and <@U0CAROL> and <@U0BOB> in <#C0OPS|ops>"
    assert mentioned_users(stored) == ["U0BOB", "U0CAROL"]


def test_channel_names_come_from_the_title_as_typed() -> None:
    title = from_slack("Cache &amp; DB &lt;primary&gt; down for <@U0BOB|bob>")
    name = naming.channel_name(
        "inc-{number}-{slug}", number=2, title=title, severity="sev1", declared_at=_NOW
    )
    assert name == "inc-2-cache-db-primary-down-for-bob"


@pytest.fixture(scope="module")
def sender() -> Iterator[SlackSender]:
    standin = SlackStandIn()
    yield SlackSender("http://127.0.0.1:9/slack/events", "secret", standin)
    standin.stop()


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("Cache & DB <prod> down", "Cache &amp; DB &lt;prod&gt; down"),
        ("note talked to @bob", "note talked to <@U0BOB|bob>"),
        ("ic @bob @carol", "ic <@U0BOB|bob> <@U0CAROL|carol>"),
        ("see #incidents", "see <#C0INCIDENTS|incidents>"),
        ("@channel @here", "<!channel> <!here>"),
        ("ic @nobody", "ic @nobody"),  # a name Slack does not know stays plain text
        ("mail bob@example.com", "mail bob@example.com"),  # not a mention
    ],
)
def test_the_sender_encodes_like_slack(sender: SlackSender, typed: str, sent: str) -> None:
    assert sender.slack_encoded(typed) == sent
