"""Pieces several scenarios share: opening many connections, and paced sending."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable

from teahouse.stress.context import WorkerContext
from teahouse.stress.targets import Link, LoginFailed


def failure_name(exc: BaseException) -> str:
    if isinstance(exc, LoginFailed):
        return exc.code
    return type(exc).__name__


async def enter_all(
    ctx: WorkerContext,
    role: str,
    indices: Iterable[int],
    *,
    room: str | Callable[[int], str] | None = None,
    counter: str = "connected",
    rcvbuf: int = 0,
) -> tuple[dict[int, Link], dict[str, int]]:
    """Connect, log in and join for every index, ``--in-flight`` at a time, within
    ``--setup-timeout``. ``room`` is one room for all, or a function of the index. Returns
    the links that made it by index, and the failures by reason."""
    links: dict[int, Link] = {}
    failures: dict[str, int] = {}
    timeout = ctx.options.setup_timeout
    deadline = time.monotonic() + timeout

    async def one(n: int) -> None:
        try:
            where = room(n) if callable(room) else room
            link = await ctx.enter(role, n, room=where, deadline=deadline, rcvbuf=rcvbuf)
        except (OSError, TimeoutError, LoginFailed) as exc:
            name = failure_name(exc)
            failures[name] = failures.get(name, 0) + 1
            ctx.bump("failed")
            return
        links[n] = link
        ctx.bump(counter)

    tasks = [asyncio.create_task(one(n)) for n in indices]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            failures["setup_timeout"] = failures.get("setup_timeout", 0) + len(pending)
            await asyncio.gather(*pending, return_exceptions=True)
    return links, failures


RATE_LIMITED_RE = re.compile(rb'"code":"rate_limited"[^\n]*?"retry_after":([0-9.]+)')


class Pacer:
    """Sends lines with at most ``window`` of them unanswered by the server.

    After every ``batch`` lines it sends a ping with a growing token; the server answers
    pings in order, after the lines before them, so a pong for token k means k * batch lines
    were handled. Feed received blocks to :meth:`on_block` (the sender's fast handler).
    A native ``rate_limited`` error is obeyed: the sender waits its ``retry_after``, as a
    well-behaved client does (the senders stand for people).
    """

    def __init__(self, link: Link, window: int, batch: int = 20) -> None:
        self.link = link
        self.window = max(1, window)
        self.batch = max(1, min(batch, self.window))
        self.lines = 0
        self.token = 0
        self.acked = 0
        self.rate_limited = 0
        self._hold_until = 0.0
        self._waiter: asyncio.Future[None] | None = None

    def on_block(self, block: bytes) -> None:
        if b"rate_limited" in block:
            for retry in RATE_LIMITED_RE.findall(block):
                self.rate_limited += 1
                self._hold_until = max(self._hold_until, time.monotonic() + float(retry))
        pong_re = self.link.dialect.pong_re
        if b"ong" not in block and b"ONG" not in block:
            return
        for token in pong_re.findall(block):
            self.acked = max(self.acked, int(token))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_acked(self, target: int) -> None:
        while self.acked < target and not self.link.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, 1.0)
            except TimeoutError:
                pass
            finally:
                self._waiter = None

    async def send(self, data: bytes) -> None:
        link = self.link
        hold = self._hold_until - time.monotonic()
        if hold > 0:
            await asyncio.sleep(hold)
        link.send(data)
        self.lines += 1
        if self.lines % self.batch == 0:
            self.token += 1
            link.send(link.dialect.ping(self.token))
            most = self.window // self.batch
            if self.token - self.acked >= max(1, most):
                await self._wait_acked(self.token - max(1, most) + 1)
        if link.paused:
            await link.drain()

    async def flush(self) -> None:
        """Wait until the server has handled every line sent so far."""
        self.token += 1
        self.link.send(self.link.dialect.ping(self.token))
        await self._wait_acked(self.token)


def close_reasons(links: Iterable[Link]) -> dict[str, int]:
    """Why the server closed those of ``links`` that it closed, counted."""
    out: dict[str, int] = {}
    for link in links:
        if link.closed:
            out[link.close_reason] = out.get(link.close_reason, 0) + 1
    return out


def seconds_left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def close_all(links: Iterable[Link]) -> None:
    for link in links:
        link.abort() if link.paused else link.close()
