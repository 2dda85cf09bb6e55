"""The one definition of time the bot uses.

Everything that needs "now" takes a `Clock` (a callable returning an aware UTC
datetime) instead of calling `datetime.now`, so tests and benchmarks can move
time instead of sleeping. `utcnow` is the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
