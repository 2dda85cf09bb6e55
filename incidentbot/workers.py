"""Thread pools that count the work in flight, so shutdown (and tests) can wait for it.

The bot has two: Bolt's listener pool, which runs each listener up to its
`ack()`, and the work pool, which runs what a listener does after acking (the
lazy functions of `incidentbot.slack.listeners.errors.lazy_listener`). Keeping them apart means a
backlog of slow work never delays Slack's acknowledgements.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any


class TrackingExecutor(ThreadPoolExecutor):
    def __init__(self, max_workers: int, *, name: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=name)
        self._pending = 0
        self._idle = threading.Condition()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        with self._idle:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    @property
    def busy(self) -> bool:
        with self._idle:
            return self._pending > 0

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or running."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)


def wait_all_idle(*pools: TrackingExecutor, timeout: float = 20.0) -> bool:
    """Wait until every pool is idle at once (work in one may submit to another)."""
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while not deadline.is_set():
            for pool in pools:
                pool.wait_idle(timeout=timeout)
            if not any(pool.busy for pool in pools):
                return True
        return False
    finally:
        timer.cancel()


class AckGate:
    """Lets background work step aside while Slack requests are being acknowledged.

    Python threads share one interpreter lock, so CPU-bound work after acking
    slows every acknowledgement down. The web layer marks each Slack request
    while it is in flight; a work item waits (briefly, bounded) until none is
    before it starts. Under a storm acks stay fast and work queues; when quiet,
    work never waits.
    """

    def __init__(self, max_wait: float = 0.2) -> None:
        self.max_wait = max_wait
        self._acking = 0
        self._quiet = threading.Condition()

    @contextmanager
    def acking(self) -> Iterator[None]:
        with self._quiet:
            self._acking += 1
        try:
            yield
        finally:
            with self._quiet:
                self._acking -= 1
                if self._acking == 0:
                    self._quiet.notify_all()

    def step_aside(self) -> None:
        """Wait until no acknowledgement is in flight, at most `max_wait` seconds."""
        with self._quiet:
            self._quiet.wait_for(lambda: self._acking == 0, timeout=self.max_wait)
