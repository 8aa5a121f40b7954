"""Abuse limits as small pure pieces: token buckets, per-address tables, an allowlist.

Everything here takes the time as an argument (no clock reads), so the hub and the doors
decide *when*, and tests drive time by hand.

- :func:`spend` and :func:`debt` are a token bucket kept in a single float on the caller
  (no object per connection): frames/s and bytes/s per connection.
- :class:`AddressRate` is a table of such buckets keyed by address, bounded in size: new
  connections per second, registrations per hour and stored messages per IP or account.
- :class:`Allowlist` exempts addresses and networks from the per-address limits.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """``per_second`` tokens flow in; at most ``burst`` are kept."""

    per_second: float
    burst: float

    @property
    def enabled(self) -> bool:
        return self.per_second > 0


def spend(full_at: float, now: float, cost: float, rate: Rate) -> float:
    """A token bucket kept in *one* float: when it is full again, counted in tokens of
    time (``now * per_second``; one already past: full). A connection holds one float per
    bucket instead of a token count and a stamp (thousands are idle at once).

    Spending ``cost`` at ``now`` returns the new value (spending nothing returns
    ``full_at`` itself; ``0.0`` is a full bucket); :func:`debt` says how far over the rate
    it is. Kept in tokens, not seconds, so whole costs add up exactly.
    """
    if not cost:
        return full_at
    clock = now * rate.per_second
    return (full_at if full_at > clock else clock) + cost


def debt(full_at: float, now: float, rate: Rate) -> float:
    """Seconds a :func:`spend` bucket is over its rate at ``now`` (<= 0: within it)."""
    return (full_at - now * rate.per_second - rate.burst) / rate.per_second


def forgive(full_at: float, now: float, cost: float, rate: Rate) -> float:
    """A :func:`spend` bucket with at most ``cost`` tokens spent beyond full forgiven:
    ``0.0`` (full, one float shared by every caller), else ``full_at`` unchanged."""
    return 0.0 if full_at <= now * rate.per_second + cost else full_at


def cap_send_buffer(listening: socket.socket, size: int) -> None:
    """Bound the kernel's send buffer of every connection a listening socket accepts
    (``size`` 0: leave the default). Accepted sockets inherit it: no call per connection.

    A security limit: without it Linux grows a socket's send buffer to megabytes for a
    peer that does not read, memory that the output high-water mark never sees.
    """
    if size <= 0:
        return
    with contextlib.suppress(OSError):
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


class AddressRate:
    """Token buckets per address, with at most ``max_keys`` addresses remembered.

    A security limit on its own memory: an attacker with many addresses evicts the oldest
    entries, which only ever makes the limit kinder to *old* addresses, never unbounded.
    """

    def __init__(self, rate: Rate, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, float] = OrderedDict()
        """Address -> its bucket (:func:`spend`), least recently used first."""

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, now: float, cost: float = 1.0) -> float | None:
        """Spend ``cost`` for ``key``; None when allowed, else seconds until it would be."""
        if not self.rate.enabled:
            return None
        full_at = self._buckets.pop(key, 0.0)
        spent = spend(full_at, now, cost, self.rate)
        owed = debt(spent, now, self.rate)
        if owed > 0:
            self._buckets[key] = full_at  # refused: nothing spent
            return owed
        self._buckets[key] = spent
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return None


class Allowlist:
    """Addresses and networks (``"127.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``)."""

    MEMO = 4096
    """Answers remembered: parsing an address costs more than the rest of an accept, and a
    flood comes from few addresses. Bounded; forgotten all at once when full."""

    def __init__(self, entries: list[str]) -> None:
        self._networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
        self._memo: dict[str, bool] = {}

    def __contains__(self, ip: str) -> bool:
        if not self._networks:
            return False
        known = self._memo.get(ip)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        found = any(address in network for network in self._networks)
        if len(self._memo) >= self.MEMO:
            self._memo.clear()
        self._memo[ip] = found
        return found
