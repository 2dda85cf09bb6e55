"""Block Kit builders: how long rendering the bot's largest views takes.

    python -m bench.views [--repeat 200]

Each row builds one view from fixed domain values `--repeat` times and prints
the median CPU time per build (process time, so other work on the machine
does not inflate it): the incident card and welcome message, a timeline
of 300 entries (what `/incident timeline` shows at most), the Home tab with 60
open incidents, and a status update long enough to span several messages.
Pure CPU work, no Slack and no database: it shows what the builders cost on
the ack path (modals) and after it (messages).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from incidentbot.config import parse_config
from incidentbot.domain.home import HomeData, PageLine
from incidentbot.domain.snapshot import IncidentSnapshot, UpdateSnapshot
from incidentbot.domain.timeline import EntryView, FollowUpView, TimelineView
from incidentbot.slack import blocks, home_blocks, timeline_blocks, update_blocks

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONFIG = parse_config({"channels": {"announcements": ["#incidents"]}}, "bench")


def _incident(number: int) -> IncidentSnapshot:
    return IncidentSnapshot(
        number=number,
        title=f"Checkout fails for card payments in region {number} <!channel> & more",
        description="Customers see HTTP 500 on /pay. " * 20,
        severity="sev1",
        status="investigating",
        private=False,
        declared_by="U0ALICE",
        declared_at=NOW - timedelta(hours=2),
        channel_id=f"C{number:08d}",
        channel_name=f"inc-{number}",
        roles={"incident_commander": "U0BOB", "scribe": "U0CAROL"},
        last_update_at=NOW - timedelta(minutes=20),
        last_update_text="Rolled back the deploy; error rate falling.",
    )


def _timeline(s: IncidentSnapshot) -> TimelineView:
    entries = [
        EntryView(
            id=i,
            kind="message" if i % 3 else "note",
            actor="U0BOB",
            text=f"Entry {i}: looked at <https://grafana.example/d/{i}|dashboard> & logs " * 3,
            at=s.declared_at + timedelta(seconds=20 * i),
            data={"author": "U0CAROL", "permalink": "https://acme.slack.com/archives/C1/p1"},
        )
        for i in range(300)
    ]
    follow_ups = [FollowUpView(f"Follow-up {i}", "U0BOB", owner="U0CAROL") for i in range(20)]
    return TimelineView(s, entries, follow_ups, viewer="U0BOB", can_edit_all=True)


def _home() -> HomeData:
    open_ = [(_incident(n), n % 4 != 0) for n in range(1, 61)]
    pages = [PageLine(n, "primary", 0, NOW, f"C{n:08d}") for n in range(1, 6)]
    return HomeData(open=open_, roles=[(open_[0][0], "incident_commander")], pages=pages)


def _update(s: IncidentSnapshot) -> UpdateSnapshot:
    return UpdateSnapshot(
        number=s.number,
        status=s.status,
        severity=s.severity,
        text="We are rolling back. " * 900,
        impact="Card payments fail in EU. " * 100,
        doing="Watching the error rate. " * 100,
        next_update_at=NOW + timedelta(minutes=30),
        posted_by="U0BOB",
        posted_at=NOW,
    )


def cases() -> dict[str, Callable[[], Any]]:
    s = _incident(1)
    timeline, home, update = _timeline(s), _home(), _update(s)
    return {
        "incident card": lambda: blocks.incident_card(s, CONFIG, now=NOW),
        "welcome message": lambda: blocks.welcome_message(s, CONFIG),
        "declare modal": lambda: blocks.declare_modal(CONFIG, declarer="U0BOB", metadata="{}"),
        "timeline, 300 entries": lambda: timeline_blocks.timeline_messages(timeline),
        "Home tab, 60 incidents": lambda: home_blocks.home_view(home, CONFIG, now=NOW),
        "status update, 20k chars": lambda: update_blocks.update_messages(s, CONFIG, update),
    }


def run(repeat: int) -> dict[str, float]:
    """Median CPU milliseconds per build, by view."""
    out: dict[str, float] = {}
    for name, build in cases().items():
        build()  # warm up
        samples = []
        for _ in range(repeat):
            started = time.process_time()
            build()
            samples.append((time.process_time() - started) * 1000)
        out[name] = statistics.median(samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="builds per view")
    args = parser.parse_args()
    print(f"{'view':<28} {'median CPU per build':>22}")
    for name, ms in run(args.repeat).items():
        print(f"{name:<28} {ms:>19.3f} ms")


if __name__ == "__main__":
    main()
