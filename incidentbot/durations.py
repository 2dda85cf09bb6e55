"""Human-friendly durations: parse ``"1h30m"`` into a ``timedelta`` and back.

Operators write durations in ``incidentbot.toml`` (escalation timeouts, update
reminders, rotation lengths) and people read them in Slack ("next level in
5m"). Both directions live here so the two formats stay in step.

Pure module: nothing from the rest of the project is imported.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

# Largest unit first: the order a parsed string must follow and the order
# format_duration prints in.
_UNITS: tuple[tuple[str, int], ...] = (
    ("w", 7 * 24 * 3600),
    ("d", 24 * 3600),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
)

# "1h30m", "1h 30m" (what format_duration prints), " 5m ". ASCII digits only:
# \d would also accept other scripts' digits, which nobody means here.
_DURATION_RE = re.compile(
    r"\s*" + r"\s*".join(rf"(?:(?P<{unit}>[0-9]+){unit})?" for unit, _ in _UNITS) + r"\s*"
)

_SYNTAX_MESSAGE = 'expected a duration like "90s", "5m", "1h"'


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` or ``"1w"``.

    Units are ``w``, ``d``, ``h``, ``m`` and ``s`` with whole-number amounts,
    combined largest first. Raises ``ValueError`` with a short message when the
    text is not a duration or is not longer than zero.
    """
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    # The regex also matches the empty string (every part is optional).
    if match is None or not any(match.groupdict().values()):
        raise ValueError(_SYNTAX_MESSAGE)
    seconds = sum(int(match[unit] or 0) * size for unit, size in _UNITS)
    if seconds == 0:
        raise ValueError("duration must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError("duration is too long") from None


def format_duration(td: timedelta) -> str:
    """Format a duration compactly with at most two units: ``"1h 5m"``, ``"45s"``.

    The largest non-zero unit is shown with the next smaller one when that is
    non-zero; anything smaller is dropped (``1h 0m 5s`` → ``"1h"``). Zero is
    ``"0s"``; negative durations get a leading ``-``.
    """
    if td < timedelta(0):
        return "-" + format_duration(-td)
    # days/seconds are exact integers; total_seconds() is a float and would
    # round very long durations. Sub-second parts are dropped.
    seconds = td.days * 24 * 3600 + td.seconds
    parts: list[str] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if parts:
            # The unit right after the largest one: shown if non-zero, then stop.
            if amount:
                parts.append(f"{amount}{unit}")
            break
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0s"
