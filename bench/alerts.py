"""Alerts in: ingest throughput, a storm, and Slack acks while the storm runs.

    python -m bench.alerts [--duration 10] [--senders 8] [--skip-postgres]

1. Ingest: `--senders` concurrent senders POST Alertmanager bodies of 100
   alerts (whole groups, as Alertmanager sends them: mostly repeats, one body
   in five a new set of alerts) to `POST /alerts/<source>` for `--duration`
   seconds: alerts/s accepted and p50/p99 response time, on SQLite and (when
   INCIDENTBOT_TEST_POSTGRES_URL is set) PostgreSQL.
2. Storm: 10,000 alerts in 200 groups (50 each), 20 % of the groups flapping,
   every group resent whole 5 times (Alertmanager's repeat). The route pages.
   Counted from Slack (the stand-in) and the database: top-level messages,
   pages per group per level, Slack 429s (the stand-in enforces Slack's
   per-channel limit: 1 write/s sustained, bursts of 5), notifications ÷ alerts,
   and the bot process's peak RSS.
3. Ack p99 of slash commands (the requests of `bench.ack`) with and without
   the storm running at the same time.

The bot, the load generators and the Slack stand-in each run in their own
process (own GIL), as in production. `BENCH_RSS_TRACE=<file>` makes the bot
write its RSS once a second there (where memory goes).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import resource
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from bench.ack import drive as drive_acks
from bench.ack import quiet_production_logging, request_bodies
from bench.common import SIGNING_SECRET, percentile, scratch_postgres, start_bot
from incidentbot.playground.client import SlackSender
from incidentbot.playground.standin import SlackStandIn
from incidentbot.store.models import AlertEvent

TOKEN = "bench-alerts-token"
TOKEN_ENV = "ALERTS_TOKEN_BENCH"
ALERTS_CHANNEL = "C0BENCHALERTS"

CONFIG: dict[str, Any] = {
    "channels": {"announcements": ["#incidents"]},
    "escalation": {"oncall": {"levels": [{"targets": ["U0BOB"], "timeout": "1h"}]}},
    "alerts": {
        "channel": "#bench-alerts",
        "group_wait": "2s",
        "digest_every": "5m",
        "flap_threshold": 4,
        "flap_window": "30m",
        "max_new_groups_per_minute": 10,
        "sources": [{"name": "prom", "kind": "alertmanager", "token_env": TOKEN_ENV}],
        "routes": [
            {
                "name": "storm",
                "match": {"bench": "storm"},
                "action": "page",
                "escalation": "oncall",
                "group_by": ["alertname"],
            }
        ],
    },
}
GOALS = {"sqlite": 1000.0, "postgresql": 2000.0}
GOAL_P99_MS = 100.0


# -- bodies ---------------------------------------------------------------------------------
def alert(labels: dict[str, str], status: str = "firing") -> dict[str, Any]:
    fp = hashlib.sha1(json.dumps(sorted(labels.items())).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{labels['alertname']} on {labels.get('instance', '')}"},
        "startsAt": "2026-11-27T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fp,
    }


def body(alerts: list[dict[str, Any]], name: str) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "status": "firing",
            "receiver": "incidentbot",
            "groupLabels": {"alertname": name},
            "commonLabels": {"alertname": name},
            "alerts": alerts,
            "truncatedAlerts": 0,
        }
    ).encode()


# -- load generators (run in child processes) -------------------------------------------------
def _post(conn: http.client.HTTPConnection, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    conn.request("POST", path, body=data, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, json.loads(payload or b"{}")


def drive_ingest(
    url: str, senders: int, duration: float, rate: float | None = None
) -> list[tuple[float, int, int]]:
    """`senders` threads POSTing 100-alert bodies: (seconds, status, accepted) per request.

    Without `rate`, back to back (closed loop: the most the bot sustains). With
    `rate` (bodies per second, all senders together), each sender sends on a
    fixed schedule (open loop) and a response time counts from when the body
    was due, so time spent queueing behind a slow answer is not hidden.
    """
    parts = urllib.parse.urlsplit(url)
    out: list[list[tuple[float, int, int]]] = [[] for _ in range(senders)]
    start = time.monotonic()
    stop_at = start + duration
    every = senders / rate if rate else 0.0

    def sender(index: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        bodies: dict[tuple[int, int], bytes] = {}
        n = 0
        while time.monotonic() < stop_at:
            due = start + (n + index / senders) * every
            if every and due > time.monotonic():
                time.sleep(due - time.monotonic())
            # Each of 20 groups is resent whole in turn (repeats); every fifth time round
            # a group gets a new set of alerts, so one body in five is new alerts.
            group, epoch = n % 20, n // 100
            data = bodies.get((group, epoch))
            if data is None:  # built once: the generator must not eat the bot's CPU
                name = f"Ingest{index}-{group}"
                alerts = [
                    alert({"alertname": name, "instance": f"i{k}-{epoch}", "bench": "ingest"})
                    for k in range(100)
                ]
                data = bodies[(group, epoch)] = body(alerts, name)
            late = max(0.0, time.monotonic() - due) if every else 0.0
            began = time.perf_counter() - late
            try:
                status, answer = _post(conn, parts.path, data)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                status, answer = 0, {}
            out[index].append((time.perf_counter() - began, status, int(answer.get("accepted", 0))))
            n += 1
        conn.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for per in out for s in per]


def drive_storm(
    url: str, groups: int = 200, per_group: int = 50, rounds: int = 5, interval: float = 3.0
) -> dict[str, int]:
    """Alertmanager-style storm: every group resent whole each round; 20 % flap."""
    parts = urllib.parse.urlsplit(url)
    flapping = set(range(0, groups, 5))  # every fifth group: 20 %
    sent, errors = 0, 0
    lock = threading.Lock()

    def group_body(g: int, rnd: int) -> bytes:
        name = f"Storm{g}"
        alerts = []
        for k in range(per_group):
            status = "firing"
            if g in flapping and rnd % 2 == 1 and k % 2 == 0:
                status = "resolved"
            alerts.append(alert({"alertname": name, "instance": f"i{k}", "bench": "storm"}, status))
        return body(alerts, name)

    for rnd in range(rounds):
        began = time.monotonic()
        todo = list(range(groups))

        def worker(todo: list[int] = todo, rnd: int = rnd) -> None:
            nonlocal sent, errors
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            while True:
                with lock:
                    if not todo:
                        break
                    g = todo.pop()
                status, answer = _post(conn, parts.path, group_body(g, rnd))
                with lock:
                    sent += int(answer.get("accepted", 0))
                    errors += status != 202
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    return {"alerts_sent": sent, "errors": errors, "distinct": groups * per_group}


# -- the bot in its own process -----------------------------------------------------------------
def serve_bot(api_url: str, db_url: str, conn: Connection) -> None:
    quiet_production_logging()
    os.environ[TOKEN_ENV] = TOKEN
    bot = start_bot(api_url, db_url, CONFIG)
    trace = os.environ.get("BENCH_RSS_TRACE")
    if trace:  # where memory goes: the RSS once a second

        def sample() -> None:
            with open(trace, "w") as out:
                while True:
                    with open("/proc/self/statm") as statm:
                        rss = int(statm.read().split()[1]) * 4096 / 2**20
                    out.write(f"{time.monotonic():.0f} {rss:.0f}\n")
                    out.flush()
                    time.sleep(1)

        threading.Thread(target=sample, daemon=True).start()
    conn.send(bot.url)
    conn.recv()  # "stop"
    bot.runtime.wait_idle(timeout=60)
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # peak RSS, MB
    bot.stop()


@contextmanager
def bot_process(api_url: str, db_url: str) -> Iterator[tuple[str, Connection]]:
    ctx = get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=serve_bot, args=(api_url, db_url, theirs), daemon=True)
    process.start()
    try:
        if not ours.poll(120):
            raise RuntimeError("the bot did not start")
        yield ours.recv(), ours
    finally:
        process.join(timeout=90)
        if process.is_alive():
            process.terminate()


def stop_bot(conn: Connection) -> float:
    conn.send("stop")
    return float(conn.recv()) if conn.poll(120) else float("nan")


class SlackRateLimit:
    """Slack's per-channel message limit, enforced by the stand-in: 1/s sustained, burst 5."""

    def __init__(self, rate: float = 1.0, burst: int = 5) -> None:
        self.rate, self.burst = rate, burst
        self.tokens: dict[str, tuple[float, float]] = {}
        self.limited = 0
        self.lock = threading.Lock()

    def __call__(self, args: dict[str, Any]) -> bool:
        channel = str(args.get("channel", ""))
        with self.lock:
            now = time.monotonic()
            tokens, at = self.tokens.get(channel, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1:
                self.tokens[channel] = (tokens, now)
                self.limited += 1
                return True  # this call gets a 429
            self.tokens[channel] = (tokens - 1, now)
            return False


def new_standin() -> tuple[SlackStandIn, SlackRateLimit]:
    standin = SlackStandIn()
    standin.response_url_max_uses = 10**9
    standin.add_channel("bench-alerts", channel_id=ALERTS_CHANNEL, members=["U0ALICE"])
    limit = SlackRateLimit()
    for method in ("chat.postMessage", "chat.update"):
        standin.fail(method, status=429, retry_after=1, times=10**12, when=limit)
    return standin, limit


# -- the three benchmarks ---------------------------------------------------------------------
@dataclass(frozen=True)
class IngestResult:
    database: str
    alerts_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def ingest(
    db_url: str, database: str, senders: int, duration: float, rate: float | None = None
) -> IngestResult:
    standin, _ = new_standin()
    try:
        with bot_process(standin.api_url, db_url) as (url, conn):
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                job = pool.submit(drive_ingest, f"{url}/alerts/prom", senders, duration, rate)
                results = job.result()
            stop_bot(conn)
    finally:
        standin.stop()
    times = [s * 1000 for s, status, _ in results if status == 202]
    accepted = sum(n for _, status, n in results if status == 202)
    return IngestResult(
        database,
        accepted / duration,
        percentile(times, 50),
        percentile(times, 99),
        len(results),
        sum(1 for _, status, _ in results if status != 202),
    )


def prepare_acks(standin: SlackStandIn, db_url: str) -> dict[str, bytes]:
    os.environ[TOKEN_ENV] = TOKEN
    bot = start_bot(standin.api_url, db_url, CONFIG)
    try:
        sender = SlackSender(f"{bot.url}/slack/events", SIGNING_SECRET, standin)
        for i in range(3):
            sender.command(f"declare sev2 Benchmark incident {i}", user="U0ALICE")
        assert bot.runtime.wait_idle(timeout=30)
        incident = bot.runtime.services.incidents.list_open()[0]
        assert incident.channel_id is not None
        from incidentbot.slack import ids

        sender.block_action(ids.TAKE_SCRIBE, user="U0ERIN", channel=incident.channel_id)
        assert bot.runtime.wait_idle(timeout=30)
        return request_bodies(sender, incident.channel_id, scribe="U0ERIN")
    finally:
        bot.stop()


def storm() -> dict[str, Any]:
    """The storm on its own bot: what Slack saw, the noise, and the bot's peak RSS."""
    standin, limit = new_standin()
    db_url = f"sqlite:///{tempfile.mkdtemp()}/storm.db"
    try:
        with bot_process(standin.api_url, db_url) as (url, conn):
            with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                sent = pool.submit(drive_storm, f"{url}/alerts/prom").result()
            time.sleep(8)  # group_wait, pacing and edits settle
            rss = stop_bot(conn)
        messages = standin.messages(ALERTS_CHANNEL, include_threads=False)
        pages = [m for m in standin.dm_messages("U0BOB") if "You are paged" in (m.text or "")]
        return {
            **sent,
            **storm_counts(db_url),
            "top_level": len(messages),
            "page_dms": len(pages),
            "slack_429": limit.limited,
            "rss_mb": rss,
        }
    finally:
        standin.stop()


def acks_during_storm(duration: float) -> dict[str, float]:
    """Slash-command ack p99 on one bot: first alone, then while the storm runs."""
    standin, _ = new_standin()
    db_url = f"sqlite:///{tempfile.mkdtemp()}/acks.db"
    try:
        bodies = prepare_acks(standin, db_url)
        with bot_process(standin.api_url, db_url) as (url, conn):
            with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
                quiet = pool.submit(drive_acks, f"{url}/slack/events", bodies, 8, duration, 1.0)
                baseline = [s[1] * 1000 for s in quiet.result()]
                acks = pool.submit(drive_acks, f"{url}/slack/events", bodies, 8, duration, 1.0)
                alerts = pool.submit(drive_storm, f"{url}/alerts/prom")
                during = [s[1] * 1000 for s in acks.result()]
                alerts.result()
            stop_bot(conn)
        return {"quiet": percentile(baseline, 99), "storm": percentile(during, 99)}
    finally:
        standin.stop()


def storm_counts(db_url: str) -> dict[str, Any]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        notified = session.execute(
            select(func.sum(AlertEvent.count)).where(
                AlertEvent.kind == "notified", AlertEvent.route == "storm"
            )
        ).scalar_one()
        per_group = session.execute(
            select(AlertEvent.group_id, func.count())
            .where(AlertEvent.kind == "notified", AlertEvent.reason == "page")
            .group_by(AlertEvent.group_id)
        ).all()
    engine.dispose()
    return {
        "notifications": int(notified or 0),
        "max_pages_per_group": max((n for _, n in per_group), default=0),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, bool | None]] = []
    databases = [("sqlite", f"sqlite:///{tempfile.mkdtemp()}/ingest.db")]
    pg = None if args.skip_postgres else os.environ.get("INCIDENTBOT_TEST_POSTGRES_URL")
    with scratch_postgres(pg) as pg_url:
        if pg_url:
            databases.append(("postgresql", pg_url))
        for name, url in databases:
            goal = GOALS[name]
            top = ingest(url, name, args.senders, args.duration)
            paced = ingest(url, name, args.senders, args.duration, rate=goal / 100)
            errors = top.errors + paced.errors
            rows += [
                (
                    f"ingest {name}: alerts/s back to back",
                    f"{top.alerts_per_s:.0f}",
                    f">= {goal:.0f}",
                    top.alerts_per_s >= goal,
                ),
                (
                    f"ingest {name}: p50 / p99 back to back",
                    f"{top.p50_ms:.1f} / {top.p99_ms:.1f} ms",
                    "",
                    None,
                ),
                (
                    f"ingest {name}: p50 / p99 at {goal:.0f} alerts/s",
                    f"{paced.p50_ms:.1f} / {paced.p99_ms:.1f} ms",
                    f"p99 <= {GOAL_P99_MS:.0f} ms",
                    paced.p99_ms <= GOAL_P99_MS,
                ),
                (f"ingest {name}: non-202 answers", str(errors), "0", errors == 0),
            ]
    s = storm()
    acks = acks_during_storm(args.duration)
    ratio = s["notifications"] / s["distinct"]
    ack_ratio = acks["storm"] / acks["quiet"]
    rows += [
        ("storm: alerts sent (distinct)", f"{s['alerts_sent']} ({s['distinct']})", "", None),
        ("storm: top-level messages", str(s["top_level"]), "<= 200", s["top_level"] <= 200),
        (
            "storm: max pages per group per level",
            str(s["max_pages_per_group"]),
            "<= 1",
            s["max_pages_per_group"] <= 1,
        ),
        ("storm: Slack 429s", str(s["slack_429"]), "0", s["slack_429"] == 0),
        (
            "storm: notifications / alerts",
            f"{s['notifications']} / {s['distinct']} = {ratio:.4f}",
            "<= 0.05",
            ratio <= 0.05,
        ),
        ("storm: bot peak RSS", f"{s['rss_mb']:.0f} MB", "<= 200 MB", s["rss_mb"] <= 200),
        (
            "acks: p99 quiet / during storm",
            f"{acks['quiet']:.1f} / {acks['storm']:.1f} ms = {ack_ratio:.2f}x",
            "<= 1.5x",
            ack_ratio <= 1.5,
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':<32} {'goal':<14} met")
    for figure, value, goal, met in rows:
        flag = "" if met is None else ("yes" if met else "NO")
        print(f"{figure:<{width}}  {value:<32} {goal:<14} {flag}")


if __name__ == "__main__":
    main()
