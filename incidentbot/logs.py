"""Structured logs: one line per event, `key=value` pairs from the log record's extras.

Tokens never reach a log line: the formatter masks anything that looks like a
Slack token or signing secret, whatever field it hides in.

APScheduler's routine INFO lines (`Running job "Timers._wake"` every two
seconds, `Job … executed successfully`, `Added job …`) are logged at DEBUG: at
INFO they were half of all log lines. Its warnings and errors stay as they are.
"""

from __future__ import annotations

import logging
import re
import sys

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_SECRET = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")
# Loggers APScheduler 3.x writes its per-run chatter to (a filter on a logger does
# not see its children's records, so each is named).
SCHEDULER_LOGGERS = (
    "apscheduler.scheduler",
    "apscheduler.executors.default",
    "apscheduler.jobstores.default",
)


class DemoteToDebug(logging.Filter):
    """Turn INFO records into DEBUG ones, shown only when the root logger is at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        fields = " ".join(f"{k}={_quote(v)}" for k, v in extras.items())
        line = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            line += " " + fields
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return _SECRET.sub("[redacted]", line)


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging._nameToLevel else "INFO")
    for name in SCHEDULER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DemoteToDebug) for f in logger.filters):
            logger.addFilter(DemoteToDebug())
