"""Time and timers, passed in: the hub and the doors read a :class:`Clock` and schedule on it,
so tests drive time by hand (trio's ``MockClock`` idea) instead of sleeping.

A :class:`Clock` tells the time; a :class:`Scheduler` runs callbacks later. In the server
both are the event loop (:class:`LoopScheduler`); in tests one :class:`FakeClock` is both,
and :meth:`FakeClock.advance` runs every callback that falls due, in order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for timeouts and rates."""

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch; for timestamps users see and stored expiries."""

    def stamp(self) -> float:
        """:meth:`monotonic` to within :data:`STAMP_GRAIN`, never behind it, for what a
        connection keeps (when it came, when it last spoke): callers within one grain share
        one float, so thousands of idle connections keep no float each (24 bytes). Never
        behind: a timeout counted from a stamp ends late by at most a grain, never early."""


class Handle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_soon(self, fn: Callable[[], None]) -> object:
        """Run ``fn`` once everything that is ready now has run (end of this loop round)."""

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        """Run ``fn`` after ``delay`` seconds, unless the handle is cancelled first."""


STAMP_GRAIN = 0.05
"""Seconds a :meth:`Clock.stamp` may be ahead of :meth:`Clock.monotonic`: far below every
timeout it is compared with (heartbeats, logins), above the time a loop round takes to read
a few hundred connections."""


class SystemClock:
    """The real clocks."""

    __slots__ = ("_stamp",)

    def __init__(self) -> None:
        self._stamp = 0.0

    def monotonic(self) -> float:
        return time.monotonic()

    def stamp(self) -> float:
        now = time.monotonic()
        if now <= self._stamp:
            return self._stamp
        self._stamp = stamp = now + STAMP_GRAIN
        return stamp

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000


class LoopScheduler:
    """The running event loop as a :class:`Scheduler`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def call_soon(self, fn: Callable[[], None]) -> object:
        return self._loop.call_soon(fn)

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        return self._loop.call_later(delay, fn)


class InlineScheduler:
    """Runs ``call_soon`` callbacks at once; for one-shot offline use (the command line)."""

    def call_soon(self, fn: Callable[[], None]) -> object:
        fn()
        return None

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        raise RuntimeError("no timers without an event loop")


class _FakeHandle:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock and scheduler that move only when told to: for tests.

    ``call_soon`` callbacks wait for :meth:`run_soon` (or any :meth:`advance`); timers run
    when :meth:`advance` passes their due time, in due order, with the clock set to it.
    """

    def __init__(self, start: float = 1000.0, wall_ms: int = 1_800_000_000_000) -> None:
        self._now = start
        self._wall0 = wall_ms
        self._start = start
        self._soon: list[Callable[[], None]] = []
        self._timers: list[tuple[float, int, _FakeHandle, Callable[[], None]]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def stamp(self) -> float:
        return self._now  # exact: tests read what they set

    def wall_ms(self) -> int:
        return self._wall0 + int((self._now - self._start) * 1000)

    def call_soon(self, fn: Callable[[], None]) -> object:
        self._soon.append(fn)
        return None

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        handle = _FakeHandle()
        heapq.heappush(self._timers, (self._now + max(0.0, delay), next(self._seq), handle, fn))
        return handle

    def run_soon(self) -> int:
        """Run the ``call_soon`` callbacks (and those they schedule); how many ran."""
        ran = 0
        while self._soon:
            self._soon.pop(0)()
            ran += 1
        return ran

    def advance(self, seconds: float) -> None:
        """Move time forward, running soon-callbacks and every timer that falls due."""
        self.run_soon()
        end = self._now + seconds
        while self._timers and self._timers[0][0] <= end:
            due, _, handle, fn = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            if not handle.cancelled:
                fn()
            self.run_soon()
        self._now = end

    @property
    def timers_pending(self) -> int:
        return sum(1 for _, _, handle, _ in self._timers if not handle.cancelled)
