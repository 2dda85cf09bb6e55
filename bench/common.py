"""Helpers shared by the benchmarks."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, make_url, text

from incidentbot.config import Settings, parse_config
from incidentbot.runtime import Runtime, build
from incidentbot.slack.gateway import Pacer
from incidentbot.web import run_until_closed


@contextmanager
def scratch_postgres(server_url: str | None) -> Iterator[str | None]:
    """A fresh database on `server_url`'s server for one benchmark run, dropped afterwards."""
    if not server_url:
        yield None
        return
    name = f"incidentbot_bench_{os.getpid()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SIGNING_SECRET = "bench-signing-secret"
BENCH_CONFIG: dict[str, Any] = {"channels": {"announcements": ["#incidents"]}}


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * pct / 100))
    return ordered[rank - 1]


@dataclass
class RunningBot:
    """The real bot (as `tests/conftest.py` starts it), served by waitress on 127.0.0.1."""

    runtime: Runtime
    url: str
    thread: threading.Thread

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def stop(self) -> None:
        self.runtime.stop()
        self.thread.join(timeout=5)


def start_bot(
    api_url: str,
    db_url: str,
    config: dict[str, Any] | None = None,
    *,
    background: bool = True,
    pacer: Pacer | None = None,
) -> RunningBot:
    """Build and serve the bot against the Slack stand-in at `api_url`."""
    settings = Settings(
        bot_token="xoxb-bench-token",
        signing_secret=SIGNING_SECRET,
        app_token=None,
        api_url=api_url,
        port=0,
        database_url=db_url,
        config_path=None,
    )
    runtime = build(settings, parse_config(config or BENCH_CONFIG, "bench"), pacer=pacer)
    if background:
        runtime.start_background()
    server = runtime.serve(host="127.0.0.1", port=0)
    thread = threading.Thread(target=run_until_closed, args=(server,), daemon=True)
    thread.start()
    return RunningBot(runtime, f"http://127.0.0.1:{server.effective_port}", thread)
