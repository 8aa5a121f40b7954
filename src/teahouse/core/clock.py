"""Time, passed in: the hub reads a :class:`Clock` so tests can drive time by hand."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for timeouts and rates."""

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch; for timestamps users see and stored expiries."""


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that moves only when told to (``advance``): for tests."""

    def __init__(self, start: float = 1000.0, wall_ms: int = 1_800_000_000_000) -> None:
        self._now = start
        self._wall0 = wall_ms
        self._start = start

    def monotonic(self) -> float:
        return self._now

    def wall_ms(self) -> int:
        return self._wall0 + int((self._now - self._start) * 1000)

    def advance(self, seconds: float) -> None:
        self._now += seconds
