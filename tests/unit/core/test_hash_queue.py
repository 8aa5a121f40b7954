"""The password hash queue: jobs of closed connections are never hashed, the open lane
takes addresses in turn and caps each one, and the trusted lane is never behind it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from teahouse.core.passwords import Gone, HashParams, PasswordHasher
from teahouse.errors import Throttled


class Counting:
    """``verify_now`` stand-in: records what it checks; the check of ``blocker`` can be
    held until :attr:`release` is set."""

    def __init__(self, hold_first: bool = False) -> None:
        self.checked: list[str] = []
        self.release = threading.Event()
        self.started = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, password_hash: str, password: str) -> bool:
        self.checked.append(password)
        if password == "blocker":
            self.started.set()
            self.release.wait(10)
        return True


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    hasher = PasswordHasher(HashParams(1, 1024, 1), workers=2, queue_limit=3, per_source=2)
    yield hasher
    hasher.close()


async def busy(hasher: PasswordHasher, check: Counting) -> asyncio.Task[bool]:
    """Occupy the open lane's one worker with a check that waits for ``check.release``."""
    task = asyncio.create_task(hasher.verify("h", "blocker", source="10.9.9.9"))
    await asyncio.to_thread(check.started.wait, 10)
    return task


async def test_a_login_whose_connection_has_gone_is_never_hashed(
    hasher: PasswordHasher,
) -> None:
    check = Counting()
    hasher.verify_now = check  # type: ignore[method-assign]
    with pytest.raises(Gone):
        await hasher.verify("h", "late", source="10.0.0.1", wanted=lambda: False)
    # Closed after asking but before the job came up (the close was already queued).
    closed = False
    job = asyncio.create_task(
        hasher.verify("h", "quick", source="10.0.0.1", wanted=lambda: not closed)
    )
    await asyncio.sleep(0)
    closed = True
    with pytest.raises(Gone):
        await job
    assert check.checked == []
    assert hasher.dropped == 2
    assert hasher.in_flight == 0


async def test_a_queued_job_is_dropped_when_its_connection_closes(
    hasher: PasswordHasher,
) -> None:
    check = Counting(hold_first=True)
    hasher.verify_now = check  # type: ignore[method-assign]
    blocker = await busy(hasher, check)
    closed = False
    waiting = asyncio.create_task(
        hasher.verify("h", "waits", source="10.0.0.2", wanted=lambda: not closed)
    )
    await asyncio.sleep(0.01)
    closed = True
    check.release.set()
    assert await blocker
    with pytest.raises(Gone):
        await waiting
    assert check.checked == ["blocker"], "the closed connection's check never ran"
    assert hasher.in_flight == 0


async def test_a_full_lane_makes_room_by_dropping_jobs_of_closed_connections(
    hasher: PasswordHasher,
) -> None:
    check = Counting(hold_first=True)
    hasher.verify_now = check  # type: ignore[method-assign]
    blocker = await busy(hasher, check)
    closed = False
    stale = [
        asyncio.create_task(
            hasher.verify("h", f"stale{i}", source=f"10.0.1.{i}", wanted=lambda: not closed)
        )
        for i in range(2)
    ]
    await asyncio.sleep(0.01)
    with pytest.raises(Throttled):
        await hasher.verify("h", "refused", source="10.0.2.1")  # full: 1 running, 2 waiting
    closed = True
    live = asyncio.create_task(hasher.verify("h", "live", source="10.0.2.1"))
    await asyncio.sleep(0.01)
    check.release.set()
    assert await blocker and await live
    for task in stale:
        with pytest.raises(Gone):
            await task
    assert check.checked == ["blocker", "live"]


async def test_the_open_lane_serves_addresses_in_turn_and_caps_each(
    hasher: PasswordHasher,
) -> None:
    hasher = PasswordHasher(HashParams(1, 1024, 1), workers=2, queue_limit=8, per_source=2)
    try:
        check = Counting(hold_first=True)
        hasher.verify_now = check  # type: ignore[method-assign]
        blocker = await busy(hasher, check)
        flood = [
            asyncio.create_task(hasher.verify("h", f"flood{i}", source="10.0.3.1"))
            for i in range(2)
        ]
        await asyncio.sleep(0)
        with pytest.raises(Throttled):
            await hasher.verify("h", "flood2", source="10.0.3.1")  # a third from one address
        person = asyncio.create_task(hasher.verify("h", "person", source="10.0.4.1"))
        await asyncio.sleep(0.01)
        check.release.set()
        await asyncio.gather(blocker, person, *flood)
        assert check.checked == ["blocker", "flood0", "person", "flood1"]
    finally:
        hasher.close()


async def test_the_trusted_lane_is_never_behind_the_open_one(hasher: PasswordHasher) -> None:
    check = Counting(hold_first=True)
    hasher.verify_now = check  # type: ignore[method-assign]
    blocker = await busy(hasher, check)
    queued = [
        asyncio.create_task(hasher.verify("h", f"guess{i}", source=f"10.0.5.{i}")) for i in range(2)
    ]
    await asyncio.sleep(0.01)
    with pytest.raises(Throttled):
        await hasher.verify("h", "guess9", source="10.0.5.9")
    # The open lane is held and full; a trusted check finishes all the same.
    assert await asyncio.wait_for(
        hasher.verify("h", "alice", source="10.0.6.1", trusted=True), timeout=10
    )
    assert not blocker.done()
    check.release.set()
    await asyncio.gather(blocker, *queued)
    assert check.checked[:2] == ["blocker", "alice"]
