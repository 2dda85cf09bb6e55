"""Making user text safe to show in Slack, and keeping it within Slack's limits.

Slack parses `<…>` as control sequences (`<!channel>`, `<@U123>`, links) and
`& < >` must be escaped as HTML entities for text to be shown literally. Every
piece of user-supplied text goes through `escape` before it reaches Slack, so a
title like `<!channel> db down` is displayed as typed and never notifies anyone.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# Characters that start mrkdwn formatting. A zero-width space in front of them
# keeps them from pairing up with a neighbour, so `*bold*` stays literal.
_MRKDWN_FORMATTING = re.compile(r"([*_~`>])")
_ZWSP = "\u200b"


def escape(text: str) -> str:
    """Escape `& < >` so Slack shows the text literally and parses no mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_literal(text: str) -> str:
    """Escape text for a mrkdwn field so neither mentions nor formatting apply."""
    return _MRKDWN_FORMATTING.sub(_ZWSP + r"\1", escape(text))


def truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def escaped_within(text: str, limit: int) -> str:
    """Escape text and keep the escaped result within `limit` characters.

    Escaping lengthens text (`<` becomes `&lt;`), so the cut happens on the
    original and never leaves half an entity behind.
    """
    out = escape(text)
    if len(out) <= limit:
        return out
    cut = limit - 1
    while cut > 0 and len(escape(text[:cut])) > limit - 1:
        cut -= 1
    return escape(text[:cut]) + ELLIPSIS


def one_line(text: str) -> str:
    """Collapse all white space (newlines included) into single spaces."""
    return " ".join(text.split())


def chunk_lines(lines: list[str], limit: int) -> list[str]:
    """Join lines into chunks of at most `limit` characters each.

    A single line longer than the limit is split hard, so no chunk ever exceeds
    it: Slack rejects a section over 3,000 characters outright.
    """
    chunks: list[str] = []
    current = ""
    for line in lines:
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks
