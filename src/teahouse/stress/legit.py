"""The legitimate users: a pair that chats and measures, and a login prober.

Two connections, A and B, connect from ``--legit-source`` (never from the attack sources,
so per-address limits aimed at the attackers do not hit them), log in, join a room of their
own, and take turns saying ``rt:<seq>:<sent at, ns>``: each sends one line every
``--rtt-interval`` seconds (IRC servers fakelag a person who sends more than one line a
second). The other one's receipt gives the round trip through the server, A -> server -> B,
on one clock (both live in this process). Every figure is tagged with the phase the parent
announced when the line was sent: ``baseline`` (before any load), ``load_setup`` (while the
load connections open) or ``load``.

With ``--login-interval`` (on by default for ``loginflood``), a third connection logs in
every that many seconds, as A does on a second device, and the time from connect to
``authed`` (IRC: ``001``) is measured; it then quits.

"Served" means: neither A nor B was disconnected, every line sent under load arrived (within
:data:`LOST_AFTER` seconds), at least one did, and every probe login succeeded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram
from teahouse.stress.options import StressError
from teahouse.stress.targets import Link, LoginFailed, join, log_in, open_link

RT_RE = re.compile(rb"rt:(\d+):(\d+)")
LOST_AFTER = 5.0
"""Seconds after ``stop`` that a line still in flight may take before it counts as lost."""


class Pair:
    def __init__(self, ctx: WorkerContext, links: list[Link], room: str) -> None:
        self.ctx = ctx
        self.links = links
        self.room = room
        self.in_flight: dict[int, tuple[str, int]] = {}
        self.latency: dict[str, Histogram] = {}
        self.sent: dict[str, int] = {}
        self.received: dict[str, int] = {}
        self.stopping = False
        self.seq = 0
        for side, link in enumerate(links):
            link.go_fast(self._receiver(side))

    def _receiver(self, side: int) -> Callable[[bytes], None]:
        def on_block(block: bytes) -> None:
            now = time.monotonic_ns()
            for seq_text, _ in RT_RE.findall(block):
                seq = int(seq_text)
                if seq % 2 == side:
                    continue  # our own line coming back (the native protocol echoes it)
                entry = self.in_flight.pop(seq, None)
                if entry is None:
                    continue
                phase, sent_at = entry
                self.latency.setdefault(phase, Histogram()).add(now - sent_at)
                self.received[phase] = self.received.get(phase, 0) + 1
                self.ctx.bump("legit_received")

        return on_block

    async def run(self) -> None:
        interval = self.ctx.options.rtt_interval / 2
        while not self.stopping:
            self.say()
            await asyncio.sleep(interval)

    def say(self) -> None:
        """The next line, from A and B in turn, tagged with the current phase."""
        seq = self.seq
        self.seq += 1
        link = self.links[seq % 2]
        if link.closed:
            return
        phase = self.ctx.control.phase or "pre"
        now = time.monotonic_ns()
        self.in_flight[seq] = (phase, now)
        self.sent[phase] = self.sent.get(phase, 0) + 1
        link.send(self.ctx.dialect.say(self.room, f"rt:{seq}:{now}"))

    async def drain(self) -> None:
        deadline = time.monotonic() + LOST_AFTER
        while self.in_flight and time.monotonic() < deadline:
            if all(link.closed for link in self.links):
                break
            await asyncio.sleep(0.05)

    def figures(self) -> dict[str, Any]:
        lost: dict[str, int] = {}
        for phase, _ in self.in_flight.values():
            lost[phase] = lost.get(phase, 0) + 1
        out: dict[str, Any] = {}
        for phase in sorted(set(self.sent) | set(self.received)):
            if phase == "pre":
                continue  # between login and the first phase the parent announced
            out[phase] = {
                "sent": self.sent.get(phase, 0),
                "received": self.received.get(phase, 0),
                "lost": lost.get(phase, 0),
                **self.latency.get(phase, Histogram()).summary("ms"),
            }
        return out


class Prober:
    """Logs in on a fresh connection every ``--login-interval`` seconds."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.times: dict[str, Histogram] = {}
        self.failures: dict[str, int] = {}
        self.unfinished_ms: float | None = None
        """How long the login still waiting when the run ended had waited (not a failure:
        it may have started a moment before)."""
        self.stopping = False

    async def run(self) -> None:
        ctx = self.ctx
        n = 0
        while not self.stopping:
            started = time.monotonic()
            phase = ctx.control.phase or "pre"
            ident = ctx.identity("a", 0) if not ctx.options.irc else ctx.identity("p", n)
            ident = dataclasses.replace(ident, register=False)
            link = Link(ctx.dialect)
            try:
                await open_link(ctx.target, link, ctx.options.legit_source, connect_timeout=30)
                await log_in(link, ident, time.monotonic() + 30)
            except asyncio.CancelledError:
                # The run ended while this login still waited (a login told `throttled`
                # waits and tries again): reported, so a login that never ends is seen.
                self.unfinished_ms = round((time.monotonic() - started) * 1000, 1)
                link.abort()
                raise
            except (OSError, TimeoutError, LoginFailed) as exc:
                code = exc.code if isinstance(exc, LoginFailed) else type(exc).__name__
                self.failures[code] = self.failures.get(code, 0) + 1
            else:
                self.times.setdefault(phase, Histogram()).add(
                    time.monotonic_ns() - link.connected_ns
                )
                ctx.bump("legit_logins")
                link.send(ctx.dialect.quit())
            link.close()
            n += 1
            await asyncio.sleep(max(0.0, ctx.options.login_interval - (time.monotonic() - started)))

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            phase: hist.summary("ms")
            for phase, hist in sorted(self.times.items())
            if phase != "pre"
        }
        out["failures"] = dict(self.failures)
        if self.unfinished_ms is not None:
            out["unfinished_after_ms"] = self.unfinished_ms
        return out


async def run_legit(ctx: WorkerContext) -> None:
    """The legit worker: set up, report ready, measure until ``stop``, report."""
    opts = ctx.options
    room = ctx.room("legit")
    links: list[Link] = []
    logins = Histogram()
    try:
        for side in ("a", "b"):
            link = Link(ctx.dialect)
            deadline = time.monotonic() + opts.setup_timeout
            await open_link(ctx.target, link, opts.legit_source, connect_timeout=30)
            await log_in(link, ctx.identity(side, 0), deadline)
            logins.add(time.monotonic_ns() - link.connected_ns)
            await join(link, room, deadline)
            links.append(link)
    except (OSError, TimeoutError) as exc:
        raise StressError(f"the measuring pair could not connect: {exc!r}") from None
    except LoginFailed as exc:
        raise StressError(f"the measuring pair could not log in or join: {exc.code}") from None
    pair = Pair(ctx, links, room)
    prober = Prober(ctx) if opts.login_interval > 0 else None
    ctx.ready()
    tasks = [asyncio.create_task(pair.run())]
    if prober is not None:
        tasks.append(asyncio.create_task(prober.run()))
    await ctx.control.wait("stop")
    pair.stopping = True
    # One last line while the load still holds its connections, so even a load phase
    # shorter than --rtt-interval has a figure.
    pair.say()
    if prober is not None:
        prober.stopping = True
    await pair.drain()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors: dict[str, int] = {}
    for link in links:
        for code, n in link.errors.items():
            errors[code] = errors.get(code, 0) + n
    phases = pair.figures()
    disconnects = {
        side: link.close_reason for side, link in zip("ab", links, strict=True) if link.closed
    }
    load = phases.get("load", {})
    result: dict[str, Any] = {
        "logins": logins.summary("ms"),
        "rtt": phases,
        "disconnects": disconnects,
        "errors": errors,
    }
    served = not disconnects and load.get("received", 0) > 0 and load.get("lost", 1) == 0
    if prober is not None:
        result["login_probes"] = prober.figures()
        served = served and not prober.failures
    result["served"] = served
    ctx.control.flush_progress()
    ctx.control.send("result", result)
    for link in links:
        link.send(ctx.dialect.quit())
        link.close()
    await asyncio.sleep(0.05)
