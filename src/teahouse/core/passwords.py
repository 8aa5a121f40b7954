"""Password hashing with argon2id, off the event loop, in bounded, fair queues.

Hashing is slow on purpose, so it runs in worker threads (argon2 releases the GIL) and
never on the event loop. The queue itself lives on the event loop (no locks): a job goes
to a worker only when one is free, so until then it can still be dropped. Two lanes keep a
login flood from delaying real users:

- the *trusted* lane, one thread of its own, is for logins to an account from an address
  it logged in from before: a flood of guesses from elsewhere never stands in front of it;
- the *open* lane, ``workers - 1`` threads (at least one), takes everything else. Its
  waiting jobs are served one address at a time in turn (fair queuing), addresses without
  recent failures before *suspect* ones, and one address holds at most ``per_source``
  jobs; so a few hundred guessers share the lane with everyone else instead of filling it.

Each lane holds at most ``queue_limit`` jobs running or waiting; past that a request is
told ``throttled`` at once instead of queueing CPU work. A job is dropped, never hashed,
when the connection that asked for it has gone (``wanted`` says so): when it is asked
for, when it comes up, and whenever a lane is full. Hashing threads run at a lower
priority than the event loop (the open lane lowest), and each computes a hash in one thread
(argon2-cffi would start one a lane), so hashing only takes CPU the loop does not need.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from teahouse.core.argon2id import hash_password, verify_password
from teahouse.errors import Throttled

_T = TypeVar("_T")
Wanted = Callable[[], bool]

TRUSTED_NICENESS = 10
"""Nice value of the trusted lane's thread."""
OPEN_NICENESS = 19
"""Nice value of the open lane's threads: the lowest there is."""


class Gone(Throttled):
    """A queued hash was dropped: the connection that asked for it has closed."""


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost. The defaults are RFC 9106's second recommended profile."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


def _yield_cpu(niceness: int) -> None:
    """Run this hashing thread at a lower priority than the event loop: hashing never
    takes the CPU the loop needs to serve everyone. Linux sets priority per thread."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class _Job(Generic[_T]):
    """One hash or check: waiting in a lane, running in a worker, or done."""

    __slots__ = ("args", "fn", "future", "source", "suspect", "wanted")

    def __init__(
        self,
        fn: Callable[..., _T],
        args: tuple[str, ...],
        source: str,
        suspect: bool,
        wanted: Wanted | None,
        future: asyncio.Future[_T],
    ) -> None:
        self.fn = fn
        self.args = args
        self.source = source
        self.suspect = suspect
        self.wanted = wanted
        self.future = future

    def alive(self) -> bool:
        """Does anyone still wait for this job?"""
        return not self.future.done() and (self.wanted is None or self.wanted())

    def run(self) -> _T:
        """In the worker: the last look before the CPU is spent."""
        if self.wanted is not None and not self.wanted():
            raise Gone()
        return self.fn(*self.args)


class _Lane:
    """Threads and a fair queue: per source (address) a FIFO, the sources served in turn."""

    def __init__(self, name: str, threads: int, niceness: int, limit: int, per_source: int) -> None:
        self.threads = threads
        self.limit = limit
        self.per_source = per_source
        self.pool = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix=f"argon2-{name}",
            initializer=_yield_cpu,
            initargs=(niceness,),
        )
        # Sources waiting, in turn order: those without recent failures, then suspect ones.
        self._rings: tuple[OrderedDict[str, deque[_Job[object]]], ...] = (
            OrderedDict(),
            OrderedDict(),
        )
        self.running = 0
        self.waiting = 0
        self.dropped = 0  # jobs dropped unhashed: their connection had gone
        self.by_source: dict[str, int] = {}  # jobs running or waiting, per source

    @property
    def size(self) -> int:
        return self.running + self.waiting

    def add(self, job: _Job[object]) -> None:
        ring = self._rings[job.suspect]
        queue = ring.get(job.source)
        if queue is None:
            ring[job.source] = queue = deque()
        queue.append(job)
        self.waiting += 1
        self.by_source[job.source] = self.by_source.get(job.source, 0) + 1

    def release(self, source: str) -> None:
        left = self.by_source[source] - 1
        if left:
            self.by_source[source] = left
        else:
            del self.by_source[source]

    def next_job(self) -> _Job[object] | None:
        """The next job to run, taking turns between sources; None when none waits."""
        for ring in self._rings:
            if ring:
                source, queue = next(iter(ring.items()))
                job = queue.popleft()
                if queue:
                    ring.move_to_end(source)
                else:
                    del ring[source]
                self.waiting -= 1
                return job
        return None

    def purge(self) -> None:
        """Drop every waiting job nobody waits for any more (its connection has gone)."""
        for ring in self._rings:
            for source in list(ring):
                kept: deque[_Job[object]] = deque()
                for job in ring[source]:
                    if job.alive():
                        kept.append(job)
                        continue
                    self.waiting -= 1
                    self.release(job.source)
                    self.dropped += 1
                    if not job.future.done():
                        job.future.set_exception(Gone())
                if kept:
                    ring[source] = kept
                else:
                    del ring[source]


class PasswordHasher:
    def __init__(
        self,
        params: HashParams,
        *,
        workers: int = 2,
        queue_limit: int = 16,
        per_source: int = 2,
    ) -> None:
        self._params = params
        self.queue_limit = queue_limit
        self._trusted = _Lane("trusted", 1, TRUSTED_NICENESS, queue_limit, queue_limit)
        self._open = _Lane("open", max(1, workers - 1), OPEN_NICENESS, queue_limit, per_source)
        self._pump_due = False
        # Verifying against this when the account does not exist costs the same time as a
        # real check, so timing does not tell an attacker which names exist.
        self._dummy = self.hash_now("teahouse-dummy-password")

    def hash_now(self, password: str) -> str:
        """Hash on the calling thread (workers; the command line; never the event loop).
        Every lane of the hash is computed in this one thread (see :mod:`.argon2id`)."""
        p = self._params
        return hash_password(
            password, time_cost=p.time_cost, memory_kib=p.memory_kib, parallelism=p.parallelism
        )

    def verify_now(self, password_hash: str, password: str) -> bool:
        """Check on the calling thread; a malformed hash matches nothing."""
        return verify_password(password_hash, password)

    @property
    def in_flight(self) -> int:
        """Hash jobs running or waiting, both lanes."""
        return self._trusted.size + self._open.size

    @property
    def dropped(self) -> int:
        """Jobs dropped unhashed because the connection that asked had gone."""
        return self._trusted.dropped + self._open.dropped

    async def hash(
        self,
        password: str,
        *,
        source: str = "",
        trusted: bool = False,
        suspect: bool = False,
        wanted: Wanted | None = None,
    ) -> str:
        """Hash ``password`` in a worker. Raises :class:`Gone` when ``wanted`` says, before
        the job starts, that nobody waits for it any more; :class:`Throttled` when the
        lane, or ``source``'s share of it, is full."""
        return await self._run(trusted, source, suspect, wanted, self.hash_now, password)

    async def verify(
        self,
        password_hash: str | None,
        password: str,
        *,
        source: str = "",
        trusted: bool = False,
        suspect: bool = False,
        wanted: Wanted | None = None,
    ) -> bool:
        """True when ``password`` matches; with no hash, burns the same time and says False.

        ``source`` is the asking address (the open lane's turns and shares go by it;
        empty for the operator's own commands, which no share limits),
        ``trusted`` picks the trusted lane, ``suspect`` puts the job behind those of
        addresses without recent failures. ``wanted`` is asked before the job is queued,
        when it comes up, and when the lane is full: a check for a connection that has gone
        costs no hash (raises :class:`Gone`).
        """
        if password_hash is None:
            await self._run(
                trusted, source, suspect, wanted, self.verify_now, self._dummy, password + "\x00"
            )
            return False
        return await self._run(
            trusted, source, suspect, wanted, self.verify_now, password_hash, password
        )

    async def _run(
        self,
        trusted: bool,
        source: str,
        suspect: bool,
        wanted: Wanted | None,
        fn: Callable[..., _T],
        *args: str,
    ) -> _T:
        lane = self._trusted if trusted else self._open
        if wanted is not None and not wanted():
            lane.dropped += 1
            raise Gone()
        capped = bool(source)  # no source: the operator's own commands, not a client
        if lane.size >= lane.limit or (capped and lane.by_source.get(source, 0) >= lane.per_source):
            lane.purge()
        if lane.size >= lane.limit:
            raise Throttled("the server is busy checking passwords; try again", retry_after=1.0)
        if capped and lane.by_source.get(source, 0) >= lane.per_source:
            raise Throttled(
                "too many password checks from your address at once; try again", retry_after=1.0
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        job = _Job(fn, args, source, suspect, wanted, future)
        lane.add(job)  # type: ignore[arg-type]  # the lane holds jobs of any result type
        self._schedule_pump(loop)
        return await future

    def _schedule_pump(self, loop: asyncio.AbstractEventLoop) -> None:
        # On the next loop step, not now: a connection that sent its login and closed at
        # once is seen closed by then (its close is already queued behind this step), and
        # its job is dropped instead of hashed.
        if not self._pump_due:
            self._pump_due = True
            loop.call_soon(self._pump, loop)

    def _pump(self, loop: asyncio.AbstractEventLoop) -> None:
        self._pump_due = False
        for lane in (self._trusted, self._open):
            while lane.running < lane.threads:
                job = lane.next_job()
                if job is None:
                    break
                if not job.alive():
                    lane.release(job.source)
                    lane.dropped += 1
                    if not job.future.done():
                        job.future.set_exception(Gone())
                    continue
                lane.running += 1
                try:
                    done = lane.pool.submit(job.run)
                except RuntimeError:  # the pool is shut down: the server is stopping
                    lane.running -= 1
                    lane.release(job.source)
                    job.future.set_exception(Gone())
                    continue
                done.add_done_callback(functools.partial(self._back, loop, lane, job))

    def _back(
        self,
        loop: asyncio.AbstractEventLoop,
        lane: _Lane,
        job: _Job[object],
        done: Future[object],
    ) -> None:
        """In the worker: hand the result to the loop (gone already if the server stopped)."""
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._finished, loop, lane, job, done)

    def _finished(
        self,
        loop: asyncio.AbstractEventLoop,
        lane: _Lane,
        job: _Job[object],
        done: Future[object],
    ) -> None:
        lane.running -= 1
        lane.release(job.source)
        if not job.future.done():
            exc = done.exception()
            if isinstance(exc, Gone):
                lane.dropped += 1
            if exc is not None:
                job.future.set_exception(exc)
            else:
                job.future.set_result(done.result())
        self._schedule_pump(loop)

    def close(self) -> None:
        self._trusted.pool.shutdown(wait=False, cancel_futures=True)
        self._open.pool.shutdown(wait=False, cancel_futures=True)
