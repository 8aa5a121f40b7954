"""Login throttle: a growing delay after repeated failures, per IP and per account.

After ``free_attempts`` failures on a key, the next attempt must wait
``base_delay * 2 ** (failures - free_attempts)`` seconds (at most ``max_delay``). A key
forgets its failures ``forget_after`` seconds after the last one, and a success clears it.
The table holds at most ``max_keys`` entries (the oldest go first), so an attacker who
varies names cannot grow it without bound: a security limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Entry:
    failures: int
    last_failure: float
    blocked_until: float


class LoginThrottle:
    def __init__(
        self,
        *,
        free_attempts: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_keys: int = 20_000,
    ) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def retry_after(self, keys: list[str], now: float) -> float | None:
        """Seconds to wait before any of ``keys`` may try again, or None to go ahead."""
        wait = 0.0
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            if now - entry.last_failure >= self.forget_after:
                del self._entries[key]
                continue
            wait = max(wait, entry.blocked_until - now)
        return wait if wait > 0 else None

    def suspect(self, keys: list[str], now: float) -> bool:
        """True when any of ``keys`` failed recently (its work goes to the slow lane)."""
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and now - entry.last_failure < self.forget_after:
                return True
        return False

    def failure(self, keys: list[str], now: float) -> None:
        for key in keys:
            entry = self._entries.pop(key, None)
            if entry is None or now - entry.last_failure >= self.forget_after:
                entry = _Entry(0, now, now)
            entry.failures += 1
            entry.last_failure = now
            over = entry.failures - self.free_attempts
            if over >= 0:
                entry.blocked_until = now + min(self.max_delay, self.base_delay * 2.0**over)
            self._entries[key] = entry
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)

    def success(self, keys: list[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)
