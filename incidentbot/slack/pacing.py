"""Pacing of message writes per channel, so a burst of alerts never trips Slack's limit.

Slack allows about one message write per second per channel, with short
bursts. `ChannelPacer.wait(channel)` blocks the calling (background) thread
until the channel has a free slot: a token bucket per channel, refilled at
`rate` per second, holding at most `burst` tokens. It runs on wall-clock time
(`time.monotonic`), never on the bot's injectable clock: it is about Slack's
real rate limit. Slack's 429s are still honoured by the client's retry handler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ChannelPacer:
    def __init__(
        self,
        rate: float = 1.0,
        burst: int = 3,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.burst = burst
        self._now = now
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}  # channel → earliest time of its next write

    def reserve(self, channel: str) -> float:
        """Take the channel's next slot; returns how long to wait for it."""
        with self._lock:
            now = self._now()
            # The bucket is a moving "next free slot"; keeping it no further back than
            # `burst` intervals lets that many writes through at once after a quiet spell.
            floor = now - (self.burst - 1) * self.interval
            slot = max(self._next.get(channel, floor), floor)
            self._next[channel] = slot + self.interval
            return max(slot - now, 0.0)

    def wait(self, channel: str) -> float:
        delay = self.reserve(channel)
        if delay > 0:
            self._sleep(delay)
        return delay
