"""Start-up: load `.env`, validate settings and config, build, then serve.

Socket Mode when `SLACK_APP_TOKEN` is set, otherwise HTTP mode. Both serve
`/healthz` on `PORT`. `--playground` starts the bot with a local Slack-like
workspace instead (see `playground/server.py`). SIGTERM or SIGINT stops
gracefully within `STOP_SECONDS` (see `incidentbot.web.GracefulServer` and
`Runtime.stop`), exit code 0. Operator mistakes end in one clear message and
exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from dotenv import load_dotenv

from incidentbot.config import SetupError, load_startup
from incidentbot.logs import configure_logging
from incidentbot.runtime import Runtime, StartupError, build
from incidentbot.slack.gateway import error_code
from incidentbot.web import run_until_closed

log = logging.getLogger("incidentbot")
STOP_SECONDS = 9.0  # SIGTERM to exit; orchestrators usually kill after 10 s


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--playground" in argv:
        # Before .env is read: the playground never uses the operator's settings.
        from incidentbot.playground.server import main as playground

        return playground([arg for arg in argv if arg != "--playground"])
    load_dotenv(Path.cwd() / ".env", override=False)  # real environment variables win
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    try:
        settings, config = load_startup(os.environ, cwd=Path.cwd())
        runtime = build(settings, config)
    except (SetupError, StartupError) as error:
        print(f"incidentbot cannot start:\n{error}", file=sys.stderr)
        return 2
    return run(runtime)


def run(runtime: Runtime) -> int:
    runtime.start_background()
    server = runtime.serve()
    received: list[tuple[int, float]] = []  # (signal, when)

    def shutdown(signum: int, _frame: object) -> None:
        # Only flags: a signal handler runs between two bytecodes of the main thread,
        # which may hold locks (logging, waitress) that must not be taken here.
        received.append((signum, time.monotonic()))
        server.request_stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    handler = None
    if runtime.settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        from slack_sdk.errors import SlackApiError

        assert runtime.settings.app_token is not None  # socket_mode means it is set
        handler = SocketModeHandler(runtime.bolt, runtime.settings.app_token.get_secret_value())
        try:
            handler.connect()
        except (SlackApiError, OSError) as error:  # a refused app token, or Slack unreachable
            handler.close()
            runtime.stop()
            reason = error_code(error) if isinstance(error, SlackApiError) else repr(error)
            print(
                "incidentbot cannot start:\nSLACK_APP_TOKEN: Slack did not open a Socket Mode "
                f"connection ({reason})",
                file=sys.stderr,
            )
            return 2
        log.info("running in Socket Mode", extra={"port": runtime.settings.port})
    else:
        log.info(
            "running in HTTP mode", extra={"port": runtime.settings.port, "path": "/slack/events"}
        )
    try:
        run_until_closed(server)  # returns once a stop was asked and requests were answered
    finally:
        signum, signalled = received[0] if received else (None, time.monotonic())
        log.info("shutting down", extra={"signal": signum})
        if handler is not None:
            handler.close()  # leave the socket: Slack sends new envelopes to other connections
        # One budget from the signal on: answering open connections took part of it.
        left = STOP_SECONDS - (time.monotonic() - signalled)
        finished = runtime.stop(timeout=max(left, 1.0))
    if not finished:
        log.warning("stopped with work unfinished; the next process completes it")
    log.info("stopped")
    if not finished or _stragglers():
        # Threads still in work (a Slack call in a timer job, say) would hold the
        # interpreter open past the budget; what they had not done is in the
        # database (timers, outbox) for the next process.
        logging.shutdown()
        os._exit(0)
    return 0


def _stragglers() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]
