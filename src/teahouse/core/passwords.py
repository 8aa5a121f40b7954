"""Password hashing with argon2id, off the event loop, in a bounded pool.

Hashing is slow on purpose, so it runs in a few worker threads (argon2 releases the GIL)
and never on the event loop. A security limit: at most ``queue_limit`` hash jobs wait at
once; past that a login is told ``throttled`` straight away instead of queueing CPU work,
so a login flood cannot stall chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2

from teahouse.errors import Throttled

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost. The defaults are RFC 9106's second recommended profile."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4


class PasswordHasher:
    def __init__(self, params: HashParams, *, workers: int = 2, queue_limit: int = 64) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self.queue_limit = queue_limit
        self.in_flight = 0
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

    async def hash(self, password: str) -> str:
        return await self._run(self.hash_now, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash, burns the same time and says False."""
        if password_hash is None:
            await self._run(self.verify_now, self._dummy, password + "\x00")
            return False
        return await self._run(self.verify_now, password_hash, password)

    async def _run(self, fn: Callable[..., _T], *args: str) -> _T:
        if self.in_flight >= self.queue_limit:
            raise Throttled("the server is busy checking passwords; try again", retry_after=1.0)
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.in_flight -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
