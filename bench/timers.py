"""Timer benchmark: lateness with 10,000 pending timers, and re-arm time after a restart.

    python -m bench.timers [--pending 10000] [--due 1000] [--window 10]

Stores `--pending` timers, of which `--due` come due spread over the next
`--window` seconds (the rest an hour later, like escalations waiting on their
timeouts), starts the real `Timers` + APScheduler, and measures how late each
due timer fired (fire time minus due time, p50/p99/max). Then it builds a fresh
`Timers` over the same database — a restart — and times `start()`, which
re-arms every pending timer. Runs on SQLite, and on PostgreSQL too when
INCIDENTBOT_TEST_POSTGRES_URL is set (in a scratch database it creates and drops).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bench.common import scratch_postgres
from incidentbot.clock import utcnow
from incidentbot.scheduler import Timers
from incidentbot.store.db import make_engine, migrate, session_scope
from incidentbot.store.models import Timer


def bench_timer(key: str, due_at: datetime) -> Timer:
    return Timer(kind="bench", key=key, due_at=due_at, created_at=utcnow())


def run(url: str, pending: int, due: int, window: float) -> dict[str, float]:
    engine = make_engine(url)
    migrate(engine)
    lateness: list[float] = []
    lock = threading.Lock()

    def handler(_session, timer):  # records how late it fired
        late = (utcnow() - timer.due_at).total_seconds()
        with lock:
            lateness.append(late)

    scheduler = BackgroundScheduler(timezone="UTC")
    timers = Timers(engine=engine, scheduler=scheduler, clock=utcnow)
    timers.register("bench", handler)
    # The far-off timers first, in bulk (insert speed is not what is measured here).
    with session_scope(engine) as session:
        later = utcnow() + timedelta(hours=1)
        session.add_all(bench_timer(f"later:{i}", later) for i in range(pending - due))
    start = utcnow() + timedelta(seconds=2)
    with session_scope(engine) as session:
        session.add_all(
            bench_timer(f"due:{i}", start + timedelta(seconds=window * i / due)) for i in range(due)
        )
    timers.start()
    scheduler.start()
    deadline = time.monotonic() + window + 30
    while len(lateness) < due and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.shutdown(wait=True)
    timers.shutdown()

    restarted = Timers(engine=engine, scheduler=BackgroundScheduler(timezone="UTC"), clock=utcnow)
    restarted.register("bench", handler)
    began = time.perf_counter()
    armed = restarted.start()
    rearm = time.perf_counter() - began
    engine.dispose()
    ordered = sorted(lateness)
    return {
        "fired": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "max_ms": ordered[-1] * 1000,
        "rearmed": armed,
        "rearm_s": rearm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    targets = [("sqlite", f"sqlite:///{tempfile.mkdtemp()}/bench.db")]
    server = os.environ.get("INCIDENTBOT_TEST_POSTGRES_URL")
    print(f"{args.pending} pending timers, {args.due} due over {args.window:.0f}s")
    columns = ("fired", "p50 late", "p99 late", "max late", "re-arm")
    print(f"{'database':<11} " + " ".join(f"{c:>9}" for c in columns))
    with scratch_postgres(server) as pg_url:
        if pg_url:
            targets.append(("postgresql", pg_url))
        for name, url in targets:
            report(name, run(url, args.pending, args.due, args.window))


def report(name: str, r: dict[str, float]) -> None:
    print(
        f"{name:<11} {r['fired']:>6.0f} {r['p50_ms']:>7.1f}ms {r['p99_ms']:>7.1f}ms "
        f"{r['max_ms']:>7.1f}ms {r['rearm_s'] * 1000:>7.1f}ms ({r['rearmed']:.0f} pending)"
    )


if __name__ == "__main__":
    main()
