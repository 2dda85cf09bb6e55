"""Idle memory: resident set size of `python app.py` after start-up.

    python -m bench.memory [--settle 5]

Starts the bot exactly as operators do (`python app.py`, HTTP mode, the
repository's `incidentbot.toml`, SQLite in a temp dir, `SLACK_API_URL`
pointing at the Slack stand-in on 127.0.0.1), waits until `GET /healthz`
answers 200, waits `--settle` more seconds, and reads VmRSS (and the peak,
VmHWM) from `/proc/<pid>/status`. Then stops it with SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from incidentbot.playground.standin import SlackStandIn

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid`, in MB (MiB)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - began
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def run(settle: float) -> dict[str, float]:
    standin = SlackStandIn()
    workdir = tempfile.mkdtemp()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INCIDENTBOT_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-bench-token",
        SLACK_SIGNING_SECRET="bench-signing-secret",
        SLACK_API_URL=standin.api_url,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{workdir}/incidentbot.db",
        INCIDENTBOT_CONFIG=str(ROOT / "incidentbot.toml"),
        LOG_LEVEL="WARNING",
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = wait_healthy(f"http://127.0.0.1:{port}/healthz", process, timeout=60)
        time.sleep(settle)
        memory = status_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        standin.stop()
    return {"start_s": started, "rss_mb": memory["VmRSS"], "peak_mb": memory["VmHWM"]}


def report(r: dict[str, float], settle: float) -> None:
    print(f"memory: python app.py (HTTP mode, SQLite), {settle:.0f}s after /healthz")
    print(f"{'start-up':>9} {'idle RSS':>10} {'peak RSS':>10}")
    print(f"{r['start_s']:>8.1f}s {r['rss_mb']:>8.1f}MB {r['peak_mb']:>8.1f}MB")
    ok = r["rss_mb"] <= GOAL_MB
    print(f"goal idle RSS <= {GOAL_MB:.0f}MB: {'met' if ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--settle", type=float, default=5.0, help="seconds to wait after start")
    args = parser.parse_args(argv)
    report(run(args.settle), args.settle)


if __name__ == "__main__":
    main()
