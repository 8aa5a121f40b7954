"""Figures: a mergeable latency histogram, and what ``/proc`` says about the server.

:class:`Histogram` keeps durations in nanoseconds in log-spaced buckets (at most 1.6 %
wide, so a percentile is within 0.8 % of the truth) and merges across worker processes by
adding counts; its minimum and maximum are exact. Millions of deliveries cost a few
hundred buckets, not millions of floats.

:class:`ServerWatch` samples ``/proc/PID/status`` (VmRSS), ``/proc/PID/fd`` (open files)
and ``/proc/PID/stat`` (utime + stime) of the server under test, keeps the peaks, and
named marks (``before``, ``go``, ``end``, ``after``). Besides the peak of the whole run it
keeps the peak of the load phase alone (``go`` to ``end``): the measuring pair's own logins
(an argon2 hash holds 64 MiB for a moment) happen before ``go`` and are not the load's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_MANTISSA = 7
"""Bits kept of each value: buckets are 1/64 to 1/128 of their value wide."""


def _key(value: int) -> int:
    bits = value.bit_length()
    if bits <= _MANTISSA:
        return value
    shift = bits - _MANTISSA
    return (shift << _MANTISSA) | (value >> shift)


def _middle(key: int) -> int:
    shift, mantissa = key >> _MANTISSA, key & ((1 << _MANTISSA) - 1)
    if shift == 0:
        return mantissa
    return (mantissa << shift) + (1 << (shift - 1))


class Histogram:
    """Durations in nanoseconds; ``add`` is a few integer operations."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def add(self, ns: int) -> None:
        ns = max(ns, 0)
        key = _key(ns)
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.count == 0 or ns < self.min:
            self.min = ns
        self.max = max(self.max, ns)
        self.count += 1
        self.total += ns

    def merge(self, other: Histogram) -> Histogram:
        """Add ``other``'s counts into this one; returns self."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        if other.count:
            self.min = other.min if self.count == 0 else min(self.min, other.min)
            self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total
        return self

    def quantile(self, q: float) -> int:
        """The value at quantile ``q`` (0..1) in nanoseconds; 0 when empty."""
        if not self.count:
            return 0
        rank = max(1, min(self.count, int(q * self.count + 0.999999)))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return max(self.min, min(self.max, _middle(key)))
        return self.max

    def summary(self, unit: str = "ms") -> dict[str, float | int]:
        """count, p50, p99, max, min and mean in ``unit`` (``ms`` or ``s``)."""
        scale = 1e6 if unit == "ms" else 1e9
        if not self.count:
            return {"count": 0}
        return {
            "count": self.count,
            f"p50_{unit}": round(self.quantile(0.50) / scale, 3),
            f"p99_{unit}": round(self.quantile(0.99) / scale, 3),
            f"max_{unit}": round(self.max / scale, 3),
            f"min_{unit}": round(self.min / scale, 3),
            f"mean_{unit}": round(self.total / self.count / scale, 3),
        }


def merge_all(histograms: list[Histogram]) -> Histogram:
    out = Histogram()
    for h in histograms:
        out.merge(h)
    return out


def add_counts(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for key, n in more.items():
        into[key] = into.get(key, 0) + n
    return into


# -- the kernel's TCP counters ------------------------------------------------------------

TCP_COUNTERS = (
    "ListenOverflows",
    "ListenDrops",
    "TCPSynRetrans",
    "TCPAbortOnData",
    "TCPTimeWaitOverflow",
)
"""Machine-wide ``TcpExt`` counters that show a server too slow to accept (its listen queue
overflowing: clients then wait a second for a SYN retransmit) and connections reset."""


def read_tcp_counters() -> dict[str, int]:
    """The :data:`TCP_COUNTERS` now, from ``/proc/net/netstat`` (empty when unreadable)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if not names.startswith("TcpExt:"):
            continue
        table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
        for name in TCP_COUNTERS:
            if name in table:
                out[name] = int(table[name])
    return out


def counter_deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if name in before}


# -- the server's process ----------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True, slots=True)
class ProcSample:
    rss_kib: int
    fds: int
    """Open files, -1 when /proc/PID/fd cannot be read (another user's process)."""
    cpu_s: float
    """utime + stime since the process started."""

    def public(self) -> dict[str, float | int]:
        return {"rss_kib": self.rss_kib, "fds": self.fds, "cpu_s": round(self.cpu_s, 3)}


def read_proc(pid: int) -> ProcSample | None:
    """One sample of ``pid``, or None when the process is gone."""
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat.rpartition(")")[2].split()
    if len(fields) > 1 and fields[0] == "Z":
        return None  # a zombie: the server has exited
    cpu = (int(fields[11]) + int(fields[12])) / _TICK
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except PermissionError:
        fds = -1
    except FileNotFoundError:
        return None
    return ProcSample(rss, fds, cpu)


class ServerWatch:
    """The server process under test, sampled by :meth:`poll` (every 0.2 s by the runner)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.marks: dict[str, ProcSample] = {}
        self.peak_rss = 0
        self.peak_fds = 0
        self.load_peak_rss = 0
        self.load_peak_fds = 0
        self._in_load = False
        self.samples = 0
        self.last: ProcSample | None = None
        self.gone_at: float | None = None
        self._started = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.gone_at is None

    def poll(self) -> ProcSample | None:
        if self.gone_at is not None:
            return None
        sample = read_proc(self.pid)
        if sample is None:
            self.gone_at = time.monotonic()
            return None
        self.samples += 1
        self.last = sample
        self.peak_rss = max(self.peak_rss, sample.rss_kib)
        self.peak_fds = max(self.peak_fds, sample.fds)
        if self._in_load:
            self.load_peak_rss = max(self.load_peak_rss, sample.rss_kib)
            self.load_peak_fds = max(self.load_peak_fds, sample.fds)
        return sample

    def mark(self, name: str) -> ProcSample | None:
        if name == "go":
            self._in_load = True
        sample = self.poll()
        if name == "end":
            self._in_load = False
        if sample is not None:
            self.marks[name] = sample
        return sample

    def cpu_between(self, first: str, last: str) -> float | None:
        a, b = self.marks.get(first), self.marks.get(last)
        if a is None or b is None:
            return None
        return round(b.cpu_s - a.cpu_s, 3)

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {"pid": self.pid, "alive": self.alive}
        if self.gone_at is not None:
            out["gone_after_s"] = round(self.gone_at - self._started, 2)
        for name in ("before", "end", "after"):
            sample = self.marks.get(name)
            if sample is not None:
                out[name] = sample.public()
        out["peak"] = {"rss_kib": self.peak_rss, "fds": self.peak_fds}
        if "go" in self.marks:
            out["load_peak"] = {"rss_kib": self.load_peak_rss, "fds": self.load_peak_fds}
        out["cpu_s"] = self.cpu_between("before", "after") or self.cpu_between("before", "end")
        out["cpu_load_s"] = self.cpu_between("go", "end")
        before = self.marks.get("before")
        if before is not None:
            out["rss_growth_kib"] = self.peak_rss - before.rss_kib
            after = self.marks.get("after")
            if after is not None:
                out["fds_after_minus_before"] = after.fds - before.fds
                out["rss_after_minus_before_kib"] = after.rss_kib - before.rss_kib
        out["samples"] = self.samples
        return out
