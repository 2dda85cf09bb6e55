"""Incident channel names, following Slack's rules.

Slack accepts lowercase letters, digits, `-` and `_`, at most 80 characters,
never empty. Titles are free text (any language, emoji, punctuation), so the
slug is derived by transliterating to ASCII where possible and dropping the
rest; the template always contains the incident number, so a name is never
empty even for a title of only punctuation.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from incidentbot.domain.text import readable

MAX_CHANNEL_NAME = 80
_INVALID = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")


def slugify(title: str) -> str:
    """Lowercase ASCII slug of a title: words joined by `-`, may be empty."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _INVALID.sub("-", ascii_text.lower().replace("_", "-"))
    return _DASHES.sub("-", slug).strip("-")


def sanitize(name: str) -> str:
    """Force any string into Slack's channel-name alphabet (may return '')."""
    name = _INVALID.sub("-", name.lower())
    return _DASHES.sub("-", name).strip("-_")[:MAX_CHANNEL_NAME].rstrip("-_")


def channel_name(
    template: str, *, number: int, title: str, severity: str, declared_at: datetime
) -> str:
    """Render the channel-name template into a valid Slack channel name.

    The slug is shortened first (at a word boundary when possible) so the
    number, which makes names unique, is never cut off.
    """
    fields = {"number": number, "severity": severity, "date": declared_at.strftime("%Y-%m-%d")}
    without_slug = sanitize(template.format(slug="", **fields))
    room = MAX_CHANNEL_NAME - len(without_slug) - 1
    slug = _shorten(slugify(readable(title)), max(room, 0))  # `@bob`, not `<@U0BOB|bob>`
    name = sanitize(template.format(slug=slug, **fields))
    return name or f"inc-{number}"


def with_suffix(name: str, attempt: int) -> str:
    """The name to try after `name_taken`: `-2`, `-3`, … kept within 80 chars."""
    suffix = f"-{attempt}"
    return name[: MAX_CHANNEL_NAME - len(suffix)].rstrip("-_") + suffix


def _shorten(slug: str, limit: int) -> str:
    if len(slug) <= limit:
        return slug
    cut = slug[:limit]
    if "-" in cut and not slug[limit:].startswith("-"):
        cut = cut.rsplit("-", 1)[0]
    return cut.strip("-")
