"""How a person reads Slack text: the test suite's reading of what the stand-in holds."""

from __future__ import annotations

import re

from incidentbot.playground.standin import SlackStandIn

_TOKEN = re.compile(r"<([@#!])([^<>|]*)(?:\|([^<>]*))?>")


def shown(standin: SlackStandIn, text: str) -> str:
    """What a person reads: mentions as @name/#name, dates as their fallback, entities
    decoded once, the zero-width spaces that keep formatting literal gone."""

    def token(m: re.Match[str]) -> str:
        sigil, target, label = m.groups()
        if sigil == "@":
            person = standin.users.get(target)
            return f"@{label or (person.name if person else target)}"
        if sigil == "#":
            channel = standin.channel(target)
            return f"#{label or (channel.name if channel else target)}"
        return label or f"@{target}"  # <!date^…|fallback>; broadcasts never get here

    out = _TOKEN.sub(token, text)
    return out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").replace("\u200b", "")
