"""Password hashing with argon2id, off the event loop, in a bounded pool.

Hashing is slow on purpose, so it runs in worker threads (argon2 releases the GIL) and
never on the event loop. Two lanes keep a login flood from delaying real users:

- *suspect* jobs (from an address or name with recent failed logins) share
  ``workers - 1`` threads and at most ``queue_limit`` waiting jobs; past that they are
  told ``throttled`` at once instead of queueing CPU work;
- *clean* jobs (no recent failure) have a thread of their own and a queue of their own,
  so a flood of wrong passwords never stands in front of someone typing the right one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2

from teahouse.errors import Throttled

_T = TypeVar("_T")
Wanted = Callable[[], bool]


class Gone(Throttled):
    """A queued hash was dropped: the connection that asked for it has closed."""


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost. The defaults are RFC 9106's second recommended profile."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


def _yield_cpu(niceness: int) -> None:
    """Run this hashing thread (and the threads argon2 starts from it) at a lower priority
    than the event loop: hashing never takes the CPU the loop needs to serve everyone, and
    a flood's suspect lane yields to the clean one. Linux sets priority per thread."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class PasswordHasher:
    def __init__(self, params: HashParams, *, workers: int = 2, queue_limit: int = 16) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self._clean_pool = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="argon2-clean", initializer=_yield_cpu, initargs=(5,)
        )
        self._suspect_pool = ThreadPoolExecutor(
            max_workers=max(1, workers - 1),
            thread_name_prefix="argon2-suspect",
            initializer=_yield_cpu,
            initargs=(15,),
        )
        self.queue_limit = queue_limit
        self._in_flight = {True: 0, False: 0}
        # Verifying against this when the account does not exist costs the same time as a
        # real check, so timing does not tell an attacker which names exist.
        self._dummy = self._hasher.hash("teahouse-dummy-password")

    def hash_now(self, password: str) -> str:
        """Hash on the calling thread (for the command line, never on the event loop)."""
        return self._hasher.hash(password)

    def verify_now(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    @property
    def in_flight(self) -> int:
        """Hash jobs running or waiting, both lanes."""
        return self._in_flight[True] + self._in_flight[False]

    async def hash(
        self, password: str, *, suspect: bool = False, wanted: Wanted | None = None
    ) -> str:
        """Hash ``password`` in a worker. Raises :class:`Gone` when ``wanted`` says, as the
        job comes up, that nobody waits for it any more."""
        return await self._run(suspect, wanted, self.hash_now, password)

    async def verify(
        self,
        password_hash: str | None,
        password: str,
        *,
        suspect: bool = False,
        wanted: Wanted | None = None,
    ) -> bool:
        """True when ``password`` matches; with no hash, burns the same time and says False.

        ``wanted`` is asked in the worker just before the hash starts: a check for a
        connection that has gone since it queued costs nothing (raises :class:`Gone`).
        """
        if password_hash is None:
            await self._run(suspect, wanted, self.verify_now, self._dummy, password + "\x00")
            return False
        return await self._run(suspect, wanted, self.verify_now, password_hash, password)

    async def _run(
        self, suspect: bool, wanted: Wanted | None, fn: Callable[..., _T], *args: str
    ) -> _T:
        if self._in_flight[suspect] >= self.queue_limit:
            raise Throttled("the server is busy checking passwords; try again", retry_after=1.0)
        self._in_flight[suspect] += 1
        pool = self._suspect_pool if suspect else self._clean_pool

        def job() -> _T:
            if wanted is not None and not wanted():
                raise Gone()
            return fn(*args)

        try:
            return await asyncio.get_running_loop().run_in_executor(pool, job)
        finally:
            self._in_flight[suspect] -= 1

    def close(self) -> None:
        self._clean_pool.shutdown(wait=False, cancel_futures=True)
        self._suspect_pool.shutdown(wait=False, cancel_futures=True)
