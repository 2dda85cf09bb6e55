"""Ack latency over HTTP: the bot next to a bare Bolt app that only acks (the floor).

    python -m bench.ack [--duration 30] [--clients 20]

Two servers are measured one after the other in the same run, with the same
waitress settings (`incidentbot.web.make_server`, 16 threads), the same WSGI
front (`WebApp`), the same signing-secret verification and the same logging
(the production key=value formatter, written to /dev/null):

- floor: a bare Bolt `App` whose listeners only call `ack()`;
- bot: the real bot from `incidentbot.runtime.build`, on SQLite, talking to a
  zero-latency Slack stand-in, with a few open incidents.

The requests are cheap to ack but real: `/incident help`, `/incident list`, a
bad command (answered in the ack itself) and a "Take Scribe" click on an
existing incident's welcome message (by its Scribe: a no-change that is
reported to the clicker). `--clients` threads, each with its own persistent
`http.client` connection, send them round-robin back to back for `--duration`
seconds (after a short warm-up). The load generator runs in a separate process
so it does not share the servers' GIL; bodies are built once, and only the
signature (which covers a timestamp) is recomputed per request. Latency is the
time from sending a request to reading the whole response.
"""

from __future__ import annotations

import argparse
import http.client
import inspect
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bench.common import SIGNING_SECRET, percentile, start_bot
from incidentbot.logs import configure_logging
from incidentbot.playground.client import SlackSender, slack_signature
from incidentbot.playground.standin import SlackStandIn
from incidentbot.slack import ids
from incidentbot.web import WebApp, make_server, run_until_closed

KINDS = ("help", "list", "bad command", "click")
GOAL_P99_MS = 50.0
GOAL_RATIO = 1.5


@dataclass(frozen=True)
class Sample:
    kind: str
    seconds: float
    status: int


def quiet_production_logging() -> None:
    """Log like `python app.py` does (INFO, key=value lines), but into /dev/null."""
    configure_logging("INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


# -------------------------------------------------------------------- the load generator


def drive(
    url: str, bodies: dict[str, bytes], clients: int, duration: float, warmup: float
) -> list[tuple[str, float, int]]:
    """Run in a child process: `clients` threads POSTing `bodies` round-robin."""
    parts = urllib.parse.urlsplit(url)
    host, port, path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    kinds = list(bodies)
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration
    results: list[list[tuple[str, float, int]]] = [[] for _ in range(clients)]

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        out = results[index]
        n = index  # clients start at different kinds
        while True:
            now = time.monotonic()
            if now >= stop_at:
                break
            kind = kinds[n % len(kinds)]
            n += 1
            body = bodies[kind]
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": slack_signature(SIGNING_SECRET, ts, body),
            }
            began = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=10)
                status = 0
            took = time.perf_counter() - began
            if now >= measure_from:
                out.append((kind, took, status))
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for per_client in results for s in per_client]


def load(url: str, bodies: dict[str, bytes], clients: int, duration: float) -> list[Sample]:
    warmup = min(3.0, max(0.5, duration / 10))
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        raw = pool.submit(drive, url, bodies, clients, duration, warmup).result()
    return [Sample(*s) for s in raw]


# -------------------------------------------------------------------- the two servers


def serve(app: WebApp) -> tuple[Any, threading.Thread, str]:
    server = make_server(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=run_until_closed, args=(server,), daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.effective_port}/slack/events"


def floor_front(bolt: App) -> WebApp:
    """The bot's WSGI front (metrics and request log included) around `bolt`."""
    if "metrics" in inspect.signature(WebApp).parameters:
        from incidentbot.metrics import Metrics

        return WebApp(bolt, _ok, Metrics())
    return WebApp(bolt, _ok)  # type: ignore[call-arg]  # before /metrics existed


def floor_app(api_url: str) -> App:
    """A bare Bolt app that only acks what the bot handles."""
    client = WebClient(token="xoxb-bench-token", base_url=api_url)
    app = App(client=client, signing_secret=SIGNING_SECRET, token_verification_enabled=False)

    def only_ack(ack: Ack) -> None:
        ack()

    app.command("/incident")(only_ack)
    app.action(re.compile(".*"))(only_ack)
    return app


def request_bodies(sender: SlackSender, channel_id: str, scribe: str) -> dict[str, bytes]:
    def form(fields: dict[str, str]) -> bytes:
        return urllib.parse.urlencode(fields).encode()

    click = sender.block_action_payload(ids.TAKE_SCRIBE, user=scribe, channel=channel_id)
    return {
        "help": form(sender.command_fields("help", user="U0BOB")),
        "list": form(sender.command_fields("list", user="U0CAROL")),
        "bad command": form(sender.command_fields("frobnicate now", user="U0DAVE")),
        "click": form({"payload": json.dumps(click)}),
    }


@dataclass(frozen=True)
class Summary:
    count: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def summarize(samples: list[Sample], duration: float) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for kind in (*KINDS, "all"):
        chosen = [s for s in samples if kind in ("all", s.kind)]
        times = [s.seconds * 1000 for s in chosen]
        out[kind] = Summary(
            count=len(chosen),
            errors=sum(1 for s in chosen if s.status != 200),
            rps=len(chosen) / duration,
            p50_ms=percentile(times, 50),
            p99_ms=percentile(times, 99),
        )
    return out


def prepare(standin: SlackStandIn, db_url: str, kinds: tuple[str, ...]) -> dict[str, bytes]:
    """Declare a few incidents, give one a Scribe, and build the request bodies."""
    bot = start_bot(standin.api_url, db_url)
    try:
        sender = SlackSender(bot.events_url, SIGNING_SECRET, standin)
        for i in range(5):  # a few open incidents for /incident list
            sender.command(f"declare sev2 Benchmark incident {i}", user="U0ALICE")
        assert bot.runtime.wait_idle(timeout=30)
        incident = bot.runtime.services.incidents.list_open()[0]
        assert incident.channel_id is not None
        sender.block_action(ids.TAKE_SCRIBE, user="U0ERIN", channel=incident.channel_id)
        assert bot.runtime.wait_idle(timeout=30)
        every = request_bodies(sender, incident.channel_id, scribe="U0ERIN")
    finally:
        bot.stop()
    return {kind: every[kind] for kind in kinds}


def serve_floor(api_url: str, _db_url: str, conn: Connection) -> None:
    """Child process: the bare Bolt app, until told to stop."""
    quiet_production_logging()
    server, thread, url = serve(floor_front(floor_app(api_url)))
    conn.send(url)
    conn.recv()
    server.close()
    thread.join(timeout=5)


def serve_bot(api_url: str, db_url: str, conn: Connection) -> None:
    """Child process: the real bot, until told to stop (then its listeners finish)."""
    quiet_production_logging()
    bot = start_bot(api_url, db_url)
    conn.send(bot.events_url)
    conn.recv()
    bot.runtime.wait_idle(timeout=60)
    bot.stop()


@contextmanager
def server_process(
    target: Callable[[str, str, Connection], None], api_url: str, db_url: str
) -> Iterator[str]:
    """Run `target` in its own process (its own GIL, like production); yield its URL."""
    ctx = get_context("spawn")
    ours, theirs = ctx.Pipe()
    process = ctx.Process(target=target, args=(api_url, db_url, theirs), daemon=True)
    process.start()
    try:
        if not ours.poll(120):
            raise RuntimeError(f"{target.__name__} did not start")
        yield ours.recv()
    finally:
        if process.is_alive():
            ours.send("stop")
        process.join(timeout=90)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def run(
    duration: float, clients: int, kinds: tuple[str, ...] = KINDS
) -> dict[str, dict[str, Summary]]:
    """{"floor": {kind: Summary}, "bot": {kind: Summary}}.

    The Slack stand-in lives in this process; the floor, the bot and the load
    generator each run in a process of their own.
    """
    standin = SlackStandIn()
    standin.response_url_max_uses = 10**9  # the same request bodies are sent again and again
    db_url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    try:
        bodies = prepare(standin, db_url, kinds)
        results = {}
        for name, target in (("floor", serve_floor), ("bot", serve_bot)):
            with server_process(target, standin.api_url, db_url) as url:
                results[name] = summarize(load(url, bodies, clients, duration), duration)
        return results
    finally:
        standin.stop()


def _ok() -> tuple[bool, dict[str, Any]]:
    return True, {"status": "ok"}


def report(
    results: dict[str, dict[str, Summary]],
    duration: float,
    clients: int,
    kinds: tuple[str, ...] = KINDS,
) -> None:
    print(f"ack latency: {clients} clients, {duration:.0f}s per server, HTTP keep-alive")
    print(
        f"{'request':<12} {'floor p50':>9} {'floor p99':>9} {'bot p50':>9} {'bot p99':>9} "
        f"{'p99 ratio':>9} {'bot req/s':>9} {'errors':>6}"
    )
    floor, bot = results["floor"], results["bot"]
    for kind in (*kinds, "all"):
        f, b = floor[kind], bot[kind]
        ratio = b.p99_ms / f.p99_ms if f.p99_ms else float("nan")
        print(
            f"{kind:<12} {f.p50_ms:>7.1f}ms {f.p99_ms:>7.1f}ms {b.p50_ms:>7.1f}ms "
            f"{b.p99_ms:>7.1f}ms {ratio:>8.2f}x {b.rps:>9.0f} {b.errors + f.errors:>6}"
        )
    total = bot["all"]
    ratio = total.p99_ms / floor["all"].p99_ms
    ok = total.p99_ms <= GOAL_P99_MS and ratio <= GOAL_RATIO
    print(
        f"goal p99 <= {GOAL_P99_MS:.0f}ms and <= {GOAL_RATIO}x floor: "
        f"{'met' if ok else 'MISSED'} (floor {floor['all'].rps:.0f} req/s)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per server")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--only", choices=KINDS, action="append", help="send only these requests (repeatable)"
    )
    args = parser.parse_args(argv)
    kinds = tuple(args.only or KINDS)
    report(run(args.duration, args.clients, kinds), args.duration, args.clients, kinds)


if __name__ == "__main__":
    main()
