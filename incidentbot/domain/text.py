"""User text: the one input boundary from Slack, and the one way it is shown again.

Text is stored **as the person typed it** (PRODUCT.md §8): `Cache & DB <prod>` is
stored as those characters, never as Slack's `Cache &amp; DB &lt;prod&gt;`. Only
three kinds of Slack token are kept inside stored text, because they stand for
something a person picked rather than typed:

- person mentions `<@U123>` / `<@U123|bob>` (Slack turns a typed `@bob` into one),
- channel mentions `<#C123>` / `<#C123|general>`,
- web links `<https://…>` / `<https://…|label>` (and `mailto:`).

Input boundary (every piece of Slack text goes through one of these, once):

- `from_slack` — text Slack encoded: slash-command text (`should_escape: true`)
  and message text from events and shortcuts. Entities are un-escaped once,
  the three kinds above are kept, broadcast mentions (`<!channel>`, `<!here>`,
  `<!everyone>`, `<!subteam^…>`) become plain words (`@channel`) so they can
  never notify anyone, and date tokens become their fallback text.
- modal values arrive exactly as typed and are stored as they are.

Output (escape once, at the edge):

- `show` / `show_within` — mrkdwn: `& < >` escaped, the kept tokens left
  intact so mentions and links work. Anything else in angle brackets, such as
  a literal `<!channel>` typed in a modal, is shown literally.
- `readable` — no Slack markup at all: mentions as `@name`/`#name`, links as
  their label or address. For plain_text fields, topics, channel names,
  error messages that quote the person, and documents read outside Slack.
- `escape` — strict: every `& < >` escaped (names, config values).

One ambiguity is accepted: someone who types Slack's own markup `<@U123>`
literally gets the mention it spells (Slack's API would render it the same).
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# A kept token: person or channel mention, or a web/mailto link.
_KEPT = re.compile(
    r"<(?:[@][UW][A-Z0-9]+|#[CG][A-Z0-9]+)(?:\|[^<>|]*)?>"
    r"|<(?:https?://|mailto:)[^\s<>|]+(?:\|[^<>]*)?>",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"<([^<>]*)>")
_MENTION = re.compile(r"^([@#])([UWCG][A-Z0-9]+)(?:\|([^<>|]*))?$")
_LINK = re.compile(r"^((?:https?://|mailto:)[^\s<>|]+)(?:\|(.*))?$", re.IGNORECASE)
_BROADCASTS = ("channel", "here", "everyone")

# Characters that start mrkdwn formatting. A zero-width space in front of them
# keeps them from pairing up with a neighbour, so `*bold*` stays literal.
_MRKDWN_FORMATTING = re.compile(r"([*_~`>])")
_ZWSP = "\u200b"


# -- input --------------------------------------------------------------------------
def unescape(text: str) -> str:
    """Undo Slack's HTML escaping once (`&amp;` last, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def from_slack(text: str) -> str:
    """Slack-encoded text (slash commands, messages) as the person typed it."""
    out, last = [], 0
    for match in _TOKEN.finditer(text):
        out.append(unescape(text[last : match.start()]))
        out.append(_token_from_slack(match.group(1)))
        last = match.end()
    out.append(unescape(text[last:]))
    return "".join(out)


def _token_from_slack(inner: str) -> str:
    if _MENTION.match(inner) or _LINK.match(inner):
        # `&amp;` only: an un-escaped `<` or `>` would end the token early.
        return f"<{inner.replace('&amp;', '&')}>"
    if inner.startswith("!"):  # <!here>, <!subteam^S1|@sre>, <!date^…|fallback>
        body, _, caption = inner[1:].partition("|")
        special, _, arg = body.partition("^")
        if special in _BROADCASTS:
            return f"@{special}"
        if special == "subteam":
            return unescape(caption) if caption else f"@{arg}"
        return unescape(caption or special)
    return unescape(f"<{inner}>")  # not Slack markup: keep what was sent


def broadcast_free(text: str) -> str:
    """Text with Slack's broadcast tokens replaced by plain words (`@channel`)."""
    return _TOKEN.sub(
        lambda m: _token_from_slack(m.group(1)) if m.group(1).startswith("!") else m.group(0),
        text,
    )


# -- output -------------------------------------------------------------------------
def escape(text: str) -> str:
    """Escape every `& < >` so Slack shows the text literally and parses no markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def show(text: str) -> str:
    """Stored text as mrkdwn: literal, except that mentions and links stay live."""
    out, last = [], 0
    for match in _KEPT.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(_token_safe(match.group(0)))
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


def _token_safe(token: str) -> str:
    """A kept token with its address and label escaped (both may hold `&`)."""
    target, bar, label = token[1:-1].partition("|")
    return f"<{escape(target)}{bar}{escape(label)}>"


def show_within(text: str, limit: int) -> str:
    """`show`, kept within `limit` characters; the cut never splits a token or an entity."""
    out = show(text)
    if len(out) <= limit:
        return out
    cut = cut_outside_token(text, limit - 1)
    while cut > 0 and len(show(text[:cut])) > limit - 1:
        cut = cut_outside_token(text, cut - 1)
    return show(text[:cut]) + ELLIPSIS


def cut_outside_token(text: str, cut: int) -> int:
    """Move `cut` back to the start of a kept token it would fall inside (0 when the
    text starts with that token)."""
    for match in _KEPT.finditer(text, max(cut - 600, 0), min(cut + 600, len(text))):
        if match.start() < cut < match.end():
            return match.start()
    return max(cut, 0)


def readable(text: str) -> str:
    """Stored text with no Slack markup: `@bob`, `#general`, a link's label or address."""
    return _KEPT.sub(lambda m: _readable_token(m.group(0)[1:-1]), text)


def _readable_token(inner: str) -> str:
    mention = _MENTION.match(inner)
    if mention:
        sigil, ident, name = mention.groups()
        return f"{sigil}{(name or '').lstrip('@#') or ident}"
    target, _, label = inner.partition("|")
    return label or target


def plain_within(text: str, limit: int) -> str:
    """Stored text for a plain_text field: readable, escaped, within `limit`."""
    return escaped_within(readable(text), limit)


def mentioned_users(text: str) -> list[str]:
    """The user IDs mentioned in stored text, in order, once each."""
    found = (_MENTION.match(m.group(0)[1:-1]) for m in _KEPT.finditer(text))
    return list(dict.fromkeys(m.group(2) for m in found if m and m.group(1) == "@"))


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
