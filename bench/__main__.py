"""Every benchmark, one table: `python -m bench` (see README → Benchmarks).

    python -m bench [--duration 30] [--clients 20] [--declares 200]
                    [--incidents 100000] [--entries 1000000] [--pending 10000]

Runs, in order: ack latency (`bench.ack`), declare (`bench.declare`), storage
at scale (`bench.storage`), timers (`bench.timers`) and idle memory
(`bench.memory`), then prints one row per figure with its goal. Storage and
timers also run on PostgreSQL when INCIDENTBOT_TEST_POSTGRES_URL is set (in
scratch databases created and dropped here). Each benchmark is also runnable
alone, with more detail: `python -m bench.<name> --help`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass

from bench import ack, declare, memory, storage, timers
from bench.common import scratch_postgres


@dataclass(frozen=True)
class Row:
    benchmark: str
    figure: str
    value: str
    goal: str = ""
    met: bool | None = None


def ms(value: float) -> str:
    return f"{value:.1f} ms"


def ack_rows(duration: float, clients: int) -> list[Row]:
    r = ack.run(duration, clients)
    floor, bot = r["floor"]["all"], r["bot"]["all"]
    name = f"ack ({clients} clients)"
    rows = [
        Row(name, "floor p50 / p99", f"{ms(floor.p50_ms)} / {ms(floor.p99_ms)}"),
        Row(name, "floor throughput", f"{floor.rps:.0f} req/s"),
    ]
    for kind in ack.KINDS:
        b = r["bot"][kind]
        rows.append(Row(name, f"bot p50 / p99: {kind}", f"{ms(b.p50_ms)} / {ms(b.p99_ms)}"))
    ratio = bot.p99_ms / floor.p99_ms
    errors = bot.errors + floor.errors
    rows += [
        Row(name, "bot p99 (all)", ms(bot.p99_ms), "<= 50 ms", bot.p99_ms <= ack.GOAL_P99_MS),
        Row(name, "bot p99 / floor p99", f"{ratio:.2f}x", "<= 1.5x", ratio <= ack.GOAL_RATIO),
        Row(name, "bot throughput", f"{bot.rps:.0f} req/s"),
        Row(name, "non-200 answers", str(errors), "0", errors == 0),
    ]
    return rows


def declare_rows(declares: int) -> list[Row]:
    r = declare.run(declares)
    name = f"declare (x{declares})"
    return [
        Row(name, "p50", ms(r.p50_ms), "<= 150 ms", r.p50_ms <= declare.GOAL_P50_MS),
        Row(name, "p99", ms(r.p99_ms)),
        Row(
            name,
            "Web API calls / declare (max)",
            f"{r.calls_mean:.1f} ({r.calls_max})",
            "<= 8",
            r.calls_max <= declare.GOAL_CALLS,
        ),
    ]


def storage_rows(name: str, url: str, incidents: int, entries: int) -> list[Row]:
    r = storage.run(url, incidents, entries, 50, 20)
    rows = []
    for figure, (p50, _worst, note) in r["results"].items():
        goal = "" if figure.startswith("postmortem") else "<= 50 ms"  # not a goal of the issue
        met = p50 <= storage.GOAL_MS if goal else None
        rows.append(Row(f"storage {name}", f"{figure} p50 ({note})", ms(p50), goal, met))
    return rows


def timer_rows(name: str, url: str, pending: int) -> list[Row]:
    r = timers.run(url, pending, min(1000, pending // 10 or 1), 10.0)
    return [
        Row(f"timers {name}", f"lateness p50 / p99 ({pending} pending)", _pair(r)),
        Row(
            f"timers {name}", f"re-arm after restart ({r['rearmed']:.0f})", ms(r["rearm_s"] * 1000)
        ),
    ]


def _pair(r: dict[str, float]) -> str:
    return f"{ms(r['p50_ms'])} / {ms(r['p99_ms'])}"


def memory_rows() -> list[Row]:
    r = memory.run(5.0)
    return [
        Row(
            "memory",
            "idle RSS (python app.py)",
            f"{r['rss_mb']:.1f} MB",
            "<= 120 MB",
            r["rss_mb"] <= memory.GOAL_MB,
        ),
        Row("memory", "start-up to /healthz", f"{r['start_s']:.1f} s"),
    ]


def print_table(rows: list[Row]) -> None:
    widths = [
        max(len(getattr(r, f)) for r in rows) for f in ("benchmark", "figure", "value", "goal")
    ]
    heads = ("benchmark", "figure", "value", "goal")
    widths = [max(w, len(h)) for w, h in zip(widths, heads, strict=True)]
    line = " | ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + " | met"
    print(line)
    print("-" * len(line))
    for r in rows:
        cells = (r.benchmark, r.figure, r.value, r.goal)
        met = "" if r.met is None else ("yes" if r.met else "NO")
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + f" | {met}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="ack: seconds per server")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--declares", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10_000)
    args = parser.parse_args(argv)
    began = time.monotonic()
    rows = ack_rows(args.duration, args.clients)
    rows += declare_rows(args.declares)
    server = os.environ.get("INCIDENTBOT_TEST_POSTGRES_URL")
    for kind, rows_for in (("storage", storage_rows), ("timers", timer_rows)):
        size = (args.incidents, args.entries) if kind == "storage" else (args.pending,)
        workdir = tempfile.TemporaryDirectory(prefix="incidentbot-bench-")
        targets = [("sqlite", f"sqlite:///{workdir.name}/bench.db")]
        with scratch_postgres(server) as pg_url, workdir:
            if pg_url:
                targets.append(("postgresql", pg_url))
            for name, url in targets:
                rows += rows_for(name, url, *size)  # type: ignore[operator]
    rows += memory_rows()
    print_table(rows)
    print(f"(python -m bench took {time.monotonic() - began:.0f}s on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
