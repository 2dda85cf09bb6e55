"""Bolt middleware applied to every request before any listener sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.response import BoltResponse

# NUL can arrive in any text a person types; PostgreSQL text columns reject it,
# and it is never meaningful in an incident. Other control characters are kept
# (newlines and tabs matter).
_NUL = "\x00"


def register(app: App) -> None:
    @app.middleware
    def drop_nul_characters(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        scrub(body)
        return next()


def scrub(value: Any) -> Any:
    """Remove NUL characters from every string in a payload, in place; returns it."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = item.replace(_NUL, "") if isinstance(item, str) else scrub(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = item.replace(_NUL, "") if isinstance(item, str) else scrub(item)
    return value
