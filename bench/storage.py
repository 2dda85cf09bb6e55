"""Storage at scale: the queries behind `/incident list`, `timeline` and `stats`.

    python -m bench.storage [--incidents 100000] [--entries 1000000] [--open 50] [--repeat 20]

Creates a database with the real migrations, bulk-loads `--incidents`
incidents over the last two years (`--open` of them still open, the rest
resolved), one or two role assignments each, a stakeholder update for one in
five, and `--entries` timeline entries: 10,000 on one incident, 200 on
another, the rest spread evenly. Loading uses SQLAlchemy Core `insert()`
executemany in large batches, then ANALYZE. It then times the service calls the
slash commands make, each `--repeat` times (p50 and max, warm caches):

- list: `IncidentService.list_open()` (what `/incident list` renders);
- timeline 200 / timeline 10k: `TimelineService.view(n, user)`, what
  `/incident timeline` renders: the latest `VIEW_LATEST` (300) entries, the
  follow-ups and the counts of earlier and deleted entries not shown;
- postmortem 10k: `read_postmortem(engine, n)`, every entry of the timeline
  (what `/incident postmortem` reads; not one of the 50 ms goals);
- stats 30d: `ReportService.stats(30)` (counts, MTTA and MTTR by severity).

Runs on SQLite, and on PostgreSQL too when INCIDENTBOT_TEST_POSTGRES_URL is
set (in a scratch database it creates and drops). The indexes migrations
created on the tables read here are listed, so a missing one shows.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Table, insert, inspect, text
from sqlalchemy.engine import Engine

from bench.common import scratch_postgres
from incidentbot.config import Config, parse_config
from incidentbot.consequences import Consequences
from incidentbot.delivery import Outbox
from incidentbot.metrics import Metrics
from incidentbot.scheduler import Timers
from incidentbot.services.auth import Authorizer
from incidentbot.services.deps import Deps
from incidentbot.services.incidents import IncidentService
from incidentbot.services.reports import ReportService, read_postmortem
from incidentbot.services.timeline import TimelineService
from incidentbot.slack.gateway import SlackGateway, make_client
from incidentbot.store.db import make_engine, migrate
from incidentbot.store.models import Incident, RoleAssignment, StatusUpdate, TimelineEntry

GOAL_MS = 50.0
BATCH = 20_000
BIG, SMALL = 10_000, 200  # timeline entries on the two incidents whose timeline is read
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
USERS = [f"U0USER{i:03d}" for i in range(200)]
SEVERITIES = ["sev1", "sev2", "sev3", "sev3", "sev4", "sev4"]
TABLES = ("incident", "timeline_entry", "role_assignment", "status_update")


def table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def batched(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for batch in batched(rows):
            conn.execute(insert(table(model)), batch)


def load(engine: Engine, incidents: int, entries: int, open_: int) -> tuple[int, int]:
    """Fill the database; returns the numbers of the 10k- and the 200-entry incidents."""
    rng = random.Random(42)
    span = timedelta(days=730)
    open_ids = set(rng.sample(range(1, incidents + 1), open_))
    declared = {n: NOW - span + span * (n / incidents) for n in range(1, incidents + 1)}

    def incident_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, incidents + 1):
            at = declared[n]
            is_open = n in open_ids
            acked = at + timedelta(minutes=rng.randint(1, 30))
            resolved = None if is_open else at + timedelta(minutes=rng.randint(20, 600))
            yield {
                "id": n,
                "title": f"Incident {n}: checkout latency",
                "description": "",
                "severity": rng.choice(SEVERITIES),
                "status": rng.choice(["investigating", "identified"]) if is_open else "resolved",
                "private": False,
                "declared_by": rng.choice(USERS),
                "declared_at": at,
                "acknowledged_at": acked,
                "mitigated_at": resolved,
                "resolved_at": resolved,
                "summary": "" if is_open else "Rolled back.",
                "channel_id": f"C{n:09d}",
                "channel_name": f"inc-{n}-checkout-latency",
                "status_times": {"investigating": at.isoformat()},
                "pending_steps": {},
                "updated_at": resolved or acked,
            }

    def role_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, incidents + 1):
            at = declared[n]
            for role in ("incident_commander", "scribe")[: 1 + n % 2]:
                user = rng.choice(USERS)
                yield {
                    "incident_id": n,
                    "role": role,
                    "user_id": user,
                    "assigned_by": user,
                    "started_at": at,
                    "ended_at": None,
                }

    def update_rows() -> Iterator[dict[str, Any]]:
        for n in range(1, incidents + 1, 5):
            yield {
                "incident_id": n,
                "status": "investigating",
                "severity": "sev2",
                "text": "We are looking into elevated checkout errors.",
                "impact": "",
                "doing": "",
                "next_update_at": None,
                "posted_by": rng.choice(USERS),
                "posted_at": declared[n] + timedelta(minutes=15),
                "source_key": None,
            }

    big, small = incidents, incidents - 1  # the newest two
    rest = max(0, entries - BIG - SMALL)
    others = incidents - 2

    def entry_rows() -> Iterator[dict[str, Any]]:
        def entry(n: int, i: int) -> dict[str, Any]:
            at = declared[n] + timedelta(seconds=30 * i)
            return {
                "incident_id": n,
                "at": at,
                "recorded_at": at,
                "kind": "message" if i % 3 else "note",
                "actor": USERS[(n + i) % len(USERS)],
                "text": f"Entry {i}: restarted the payment workers and watched the error rate.",
                "source": "slack",
                "data": {},
                "dedup_key": f"bench:{n}:{i}",
            }

        for i in range(rest):  # spread over every other incident, ~10 each
            yield entry(1 + i % others, i // others)
        for i in range(BIG):
            yield entry(big, i)
        for i in range(SMALL):
            yield entry(small, i)

    bulk(engine, Incident, incident_rows())
    bulk(engine, RoleAssignment, role_rows())
    bulk(engine, StatusUpdate, update_rows())
    bulk(engine, TimelineEntry, entry_rows())
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT setval('incident_id_seq', (SELECT max(id) FROM incident))"))
            conn.commit()
    with engine.connect() as conn:  # fresh planner statistics, as autovacuum would gather
        conn.execute(text("ANALYZE"))
        conn.commit()
    return big, small


def indexes(engine: Engine) -> dict[str, list[str]]:
    found = inspect(engine)
    out: dict[str, list[str]] = {}
    for name in TABLES:
        cols = [",".join(c for c in ix["column_names"] if c) for ix in found.get_indexes(name)]
        uniques = [",".join(u["column_names"]) for u in found.get_unique_constraints(name)]
        out[name] = sorted(cols) + [f"unique({u})" for u in uniques]
    return out


def services(
    engine: Engine, config: Config
) -> tuple[IncidentService, ReportService, TimelineService]:
    """The services the commands use; Slack is never called by these queries."""
    gateway = SlackGateway(make_client("xoxb-bench", "http://127.0.0.1:9/api/"))
    timers = Timers(engine=engine, scheduler=BackgroundScheduler(timezone="UTC"), clock=now)
    deps = Deps(
        engine=engine,
        config=config,
        slack=gateway,
        timers=timers,
        outbox=Outbox(engine=engine, slack=gateway, clock=now),
        consequences=Consequences(timers),
        metrics=Metrics(),
        auth=Authorizer(config, gateway),
        clock=now,
    )
    incidents = IncidentService(deps)
    return (
        incidents,
        ReportService(deps, incidents=incidents),
        TimelineService(deps, incidents=incidents),
    )


def now() -> datetime:
    return NOW


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(p50 ms, max ms, last result) over `repeat` calls after one warm-up call."""
    result = fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), max(times), result


def run(url: str, incidents: int, entries: int, open_: int, repeat: int) -> dict[str, Any]:
    engine = make_engine(url)
    migrate(engine)
    began = time.perf_counter()
    big, small = load(engine, incidents, entries, open_)
    loaded = time.perf_counter() - began
    incident_service, reports, timeline = services(engine, parse_config({}, "bench"))
    results: dict[str, tuple[float, float, str]] = {}
    p50, worst, rows = timed(incident_service.list_open, repeat)
    results["list"] = (p50, worst, f"{len(rows)} open")
    for label, number in (("timeline 200", small), ("timeline 10k", big)):
        p50, worst, view = timed(lambda n=number: timeline.view(n, USERS[0]), repeat)
        results[label] = (p50, worst, f"{len(view.entries)} shown, {view.earlier} earlier")
    p50, worst, data = timed(lambda: read_postmortem(engine, big), repeat)
    results["postmortem 10k"] = (p50, worst, f"{len(data.timeline)} entries")
    p50, worst, stats = timed(lambda: reports.stats(30), repeat)
    results["stats 30d"] = (p50, worst, f"{stats.total.incidents} in window")
    found = indexes(engine)
    engine.dispose()
    return {"load_s": loaded, "results": results, "indexes": found}


def report(name: str, r: dict[str, Any]) -> None:
    for label, (p50, worst, note) in r["results"].items():
        flag = "" if p50 <= GOAL_MS else "  MISSED"
        print(f"{name:<11} {label:<14} {p50:>8.1f}ms {worst:>8.1f}ms  {note}{flag}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--indexes", action="store_true", help="list the indexes found")
    args = parser.parse_args(argv)
    workdir = tempfile.TemporaryDirectory(prefix="incidentbot-bench-")  # ~300 MB at full size
    targets = [("sqlite", f"sqlite:///{workdir.name}/bench.db")]
    server = os.environ.get("INCIDENTBOT_TEST_POSTGRES_URL")
    print(
        f"storage: {args.incidents:,} incidents ({args.open} open), "
        f"{args.entries:,} timeline entries; p50/max of {args.repeat} calls, goal "
        f"<= {GOAL_MS:.0f}ms"
    )
    print(f"{'database':<11} {'query':<14} {'p50':>10} {'max':>10}")
    with scratch_postgres(server) as pg_url:
        if pg_url:
            targets.append(("postgresql", pg_url))
        for name, url in targets:
            r = run(url, args.incidents, args.entries, args.open, args.repeat)
            report(name, r)
            print(f"{name:<11} (bulk load {r['load_s']:.0f}s)")
            if args.indexes:
                for tbl, names in r["indexes"].items():
                    print(f"{'':<11} indexes on {tbl}: {'; '.join(names)}")
    workdir.cleanup()


if __name__ == "__main__":
    main()
