"""Start-up: load `.env`, validate settings and config, build, then serve.

Socket Mode when `SLACK_APP_TOKEN` is set, otherwise HTTP mode. Both serve
`/healthz` on `PORT`. `--playground` starts the bot with a local Slack-like
workspace instead (see `playground/server.py`). Operator mistakes end in one clear message and exit
code 2, never a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from dotenv import load_dotenv

from incidentbot.config import SetupError, load_startup
from incidentbot.logs import configure_logging
from incidentbot.runtime import Runtime, StartupError, build
from incidentbot.slack.gateway import error_code
from incidentbot.web import run_until_closed

log = logging.getLogger("incidentbot")


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
    stop = threading.Event()

    def shutdown(signum: int, _frame: object) -> None:
        log.info("shutting down", extra={"signal": signum})
        stop.set()
        server.close()

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
        run_until_closed(server)
    finally:
        if handler is not None:
            handler.close()  # leave the socket first: Slack sends new envelopes elsewhere
        runtime.stop()
    return 0
