"""Worker processes: one asyncio (uvloop) loop each, driven by the parent over a pipe.

The parent forks every worker at the start and then steps them through phases. Messages
are tuples ``(kind, payload)``:

- parent to worker: ``("setup", None)``: open your connections. ``("go", {"deadline": d,
  "totals": t})``: the load starts; ``d`` is in ``time.monotonic()`` seconds
  (CLOCK_MONOTONIC is one clock for every process), ``t`` sums what the workers said in
  ``ready``. ``("phase", name)``: the legitimate users tag what they measure from now on.
  ``("stop", None)``: the legitimate users finish. ``("release", None)``: the parent has
  sampled the server with everything still open; close up.
- worker to parent: ``("progress", counters)`` every 0.25 s; ``("ready", info)`` after
  setup; ``("result", figures)``; ``("error", text)``.

A worker whose parent goes away (the pipe closes) cancels its work and exits, so a killed
run never leaves load behind.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from teahouse.stress.options import MAX_CONNECTS, Options
from teahouse.stress.targets import (
    Dialect,
    Identity,
    Link,
    Target,
    base36,
    dialect_for,
    join,
    log_in,
    open_link,
)

PROGRESS_EVERY = 0.25


@dataclass(frozen=True)
class Job:
    role: str
    """``load`` (a share of the scenario's connections) or ``legit`` (the measuring pair)."""
    index: int
    workers: int
    options: Options
    niced: bool


class ParentGone(Exception):
    pass


class Control:
    """The worker's end of the pipe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._got: dict[str, tuple[str, Any]] = {}
        self._waiters: dict[str, asyncio.Future[tuple[str, Any]]] = {}
        self.counters: dict[str, int] = {}
        self.phase = ""
        self.main: asyncio.Task[None] | None = None
        self._sent: dict[str, int] = {}

    def attach(self) -> None:
        asyncio.get_running_loop().add_reader(self._conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self._conn.poll():
                self._deliver(self._conn.recv())
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self._conn.fileno())
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(ParentGone())
            if self.main is not None:
                self.main.cancel()

    def _deliver(self, msg: tuple[str, Any]) -> None:
        kind = msg[0]
        if kind == "phase":
            self.phase = str(msg[1])
        waiter = self._waiters.pop(kind, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)
        else:
            self._got[kind] = msg

    async def wait(self, kind: str) -> tuple[str, Any]:
        if kind in self._got:
            return self._got.pop(kind)
        waiter: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[kind] = waiter
        return await waiter

    def send(self, kind: str, payload: Any = None) -> None:
        self._conn.send((kind, payload))

    def flush_progress(self) -> None:
        if self.counters != self._sent:
            self._sent = dict(self.counters)
            self.send("progress", self._sent)

    async def report_progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self.flush_progress()


class WorkerContext:
    """What a scenario's load code gets: its share, names, sources, and the phases."""

    def __init__(self, job: Job, control: Control) -> None:
        opts = job.options
        self.job = job
        self.options = opts
        self.control = control
        self.target = Target(opts.host, opts.port, opts.irc)
        self.dialect: Dialect = dialect_for(opts.irc)
        self.counters = control.counters
        self.rng = random.Random()
        self.gate = asyncio.Semaphore(max(1, opts.in_flight // job.workers))
        self.connects_left = MAX_CONNECTS // job.workers
        self.deadline = 0.0
        self.totals: dict[str, int] = {}
        """The sum over the workers of what they said in ``ready``."""

    # -- shares and names -------------------------------------------------------------

    def share(self, total: int) -> range:
        """This worker's part of ``total`` items, as global indices."""
        i, w = self.job.index, self.job.workers
        return range(total * i // w, total * (i + 1) // w)

    def source(self, n: int) -> str:
        sources = self.options.sources
        return sources[n % len(sources)]

    def name(self, role: str, n: int) -> str:
        """A user name or nick, at most 9 characters (ngIRCd's default limit)."""
        return f"{self.options.run_id}{role}{base36(n)}"

    def identity(self, role: str, n: int) -> Identity:
        opts = self.options
        nick = self.name(role, n)
        if opts.user is not None:
            return Identity(nick, opts.password, account=opts.user)
        if opts.irc:
            return Identity(nick)
        return Identity(nick, opts.secret, register=True)

    def room(self, base: str) -> str:
        return self.dialect.room(f"{self.options.run_id}-{base}")

    # -- counters -----------------------------------------------------------------------

    def bump(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def gauge(self, key: str, value: int) -> None:
        self.counters[key] = value

    def spend_connect(self) -> bool:
        """One new connection from this worker's budget (a hard cap of the run)."""
        if self.connects_left <= 0:
            return False
        self.connects_left -= 1
        return True

    # -- phases -------------------------------------------------------------------------

    def ready(self, info: dict[str, int] | None = None) -> None:
        """Setup is done; ``info`` is summed over the workers and comes back with ``go``."""
        self.control.flush_progress()
        self.control.send("ready", info or {})

    async def go(self) -> float:
        """Wait for the start; returns the deadline (``time.monotonic()`` seconds)."""
        _, payload = await self.control.wait("go")
        self.deadline = float(payload["deadline"])
        self.totals = dict(payload["totals"])
        return self.deadline

    async def finish(self, result: dict[str, Any]) -> None:
        """Hand the figures to the parent, then wait until it has sampled the server."""
        self.control.flush_progress()
        self.control.send("result", result)
        await self.control.wait("release")

    # -- connections ----------------------------------------------------------------------

    async def enter(
        self,
        role: str,
        n: int,
        *,
        room: str | None = None,
        source: str | None = None,
        deadline: float,
        rcvbuf: int = 0,
        link: Link | None = None,
    ) -> Link:
        """Connect, log in (or register), and join ``room`` by ``deadline``; at most
        ``--in-flight`` handshakes at once over the whole run. Raises OSError, TimeoutError
        or LoginFailed."""
        link = link or Link(self.dialect)
        async with self.gate:
            if not self.spend_connect():
                raise OSError("connection budget of the run spent")
            left = max(0.01, deadline - time.monotonic())
            await open_link(
                self.target, link, source or self.source(n), connect_timeout=left, rcvbuf=rcvbuf
            )
            try:
                await log_in(link, self.identity(role, n), deadline)
                if room is not None:
                    await join(link, room, deadline)
            except BaseException:
                link.abort()
                raise
        return link
