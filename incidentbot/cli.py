"""Command-line tools: `python -m incidentbot postmortem <number>`.

Prints the blameless postmortem of an incident as Markdown on stdout, exactly
the document `/incident postmortem` uploads to Slack, so it can go into any
docs system (`… > INC-7.md`). It reads the database only: no Slack token is
needed and nothing is written, not even a schema migration.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

from incidentbot.config import DEFAULT_DATABASE_URL, normalise_database_url
from incidentbot.domain.errors import NotFound
from incidentbot.services.reports import postmortem_markdown
from incidentbot.store.db import make_engine

COMMANDS = ("postmortem",)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    load_dotenv(Path.cwd() / ".env", override=False)  # like the bot: real variables win
    raw_url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
    try:
        url = normalise_database_url(raw_url)  # same validation and driver choice as the bot
    except ValueError as error:
        print(f"DATABASE_URL: {error}", file=sys.stderr)
        return 2
    engine = make_engine(url, pool_size=1)
    try:
        markdown = postmortem_markdown(engine, args.number)
    except NotFound as error:
        print(error.message, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    # Bytes, not print(): the document is UTF-8 whatever the terminal's locale.
    sys.stdout.buffer.write(markdown.encode("utf-8"))
    sys.stdout.flush()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m incidentbot")
    commands = parser.add_subparsers(dest="command", required=True)
    pm = commands.add_parser("postmortem", help="print an incident's postmortem as Markdown")
    pm.add_argument("number", type=_number, help="the incident number (7 or INC-7)")
    return parser


def _number(text: str) -> int:
    digits = text.upper().removeprefix("INC-")
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an incident number")
    return int(digits)
