"""``slowreader``: a member that never reads, in a busy room.

In a fresh room: one slow member, whose socket has a small receive buffer and who stops
reading right after joining, and ``--senders`` senders (default 1) who say
``sr:<seq>:<padding to --size>`` as fast as the server takes it (at most ``--window``
lines unanswered). The senders watch for the slow member leaving (native ``presence`` left,
IRC ``QUIT``/``PART``); at that moment, or at ``--duration``, sending stops. The slow member
then reads again to confirm that the server closed it.

Figures: dropped or not, after how many seconds and how many bytes of room traffic, the
reason the server gave; the runner's samples give the server's RSS growth, to compare with
its output high-water mark. Worker 0 does all of this; the senders stand for people and are
not niced.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import (
    Pacer,
    close_all,
    close_reasons,
    enter_all,
    seconds_left,
)
from teahouse.stress.targets import Event, Link, become_oper

SLOW_RCVBUF = 4096
CONFIRM = 3.0
"""Seconds the slow member reads, after sending stops, to see the server's close."""


def _ignore(block: bytes) -> None:
    pass


class SlowReader(Scenario):
    name = "slowreader"
    niced = False

    def bars(self, opts: Options) -> list[Bar]:
        return [
            Bar("lines", "lines said in the busy room"),
            Bar("dropped", "slow member dropped", 1),
        ]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        if ctx.job.index != 0:
            ctx.ready()
            await ctx.go()
            await ctx.finish({})
            return
        room = ctx.room("busy")
        slow, failures = await enter_all(ctx, "x", [0], room=room, rcvbuf=SLOW_RCVBUF)
        senders, sender_failures = await enter_all(ctx, "s", range(opts.senders), room=room)
        failures.update(sender_failures)
        if not slow or not senders:
            ctx.ready()
            await ctx.go()
            await ctx.finish({"setup_failures": failures})
            close_all([*slow.values(), *senders.values()])
            return
        reader = slow[0]
        slow_nick = opts.user if opts.user is not None and not opts.irc else ctx.name("x", 0)
        if opts.oper and opts.irc:
            for n, link in senders.items():
                await become_oper(link, opts.oper, ctx.name("s", n), time.monotonic() + 5)
        departed: list[Event] = []
        departed_at = [0.0]
        gone = asyncio.Event()

        def on_left(event: Event) -> None:
            if event.who.lower() == slow_nick.lower() and not gone.is_set():
                departed.append(event)
                departed_at[0] = time.monotonic()
                gone.set()

        pad = "x" * max(0, opts.size - 12)
        line_bytes = [0]
        lines = [0]
        pacers: list[Pacer] = []
        ctx.ready()
        deadline = await ctx.go()
        assert reader.transport is not None
        reader.transport.pause_reading()
        started = time.monotonic()

        async def sender(link: Link) -> None:
            pacer = Pacer(link, opts.window)
            pacers.append(pacer)
            link.on_left = on_left
            link.go_fast(pacer.on_block)
            seq = 0
            while not gone.is_set() and not link.closed and time.monotonic() < deadline:
                data = ctx.dialect.say(room, f"sr:{seq}:{pad}")
                line_bytes[0] += len(data)
                lines[0] += 1
                await pacer.send(data)
                ctx.gauge("lines", lines[0])
                seq += 1

        tasks = [asyncio.create_task(sender(link)) for link in senders.values()]
        try:
            async with asyncio.timeout(seconds_left(deadline) + 0.1):
                await gone.wait()
        except TimeoutError:
            pass
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        reader.go_fast(_ignore)
        reader.transport.resume_reading()
        confirm_until = time.monotonic() + CONFIRM
        while not reader.closed and time.monotonic() < confirm_until:
            await asyncio.sleep(0.05)
        dropped = gone.is_set() or reader.closed
        ctx.gauge("dropped", int(dropped))
        result: dict[str, Any] = {
            "setup_failures": failures,
            "dropped": dropped,
            "seen_leaving": gone.is_set(),
            "closed": reader.closed,
            "reason": departed[0].code if departed else reader.close_reason,
            "dropped_after_s": round(departed_at[0] - started, 3) if departed else None,
            "lines": lines[0],
            "bytes_said": line_bytes[0],
            "senders_dropped": close_reasons(senders.values()),
            "senders_rate_limited": sum(p.rate_limited for p in pacers),
        }
        await ctx.finish(result)
        close_all([reader, *senders.values()])

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        first = results[0] if results else {}
        out: dict[str, Any] = {"senders": opts.senders, "line_size": opts.size}
        out.update(first)
        said = out.pop("bytes_said", None)
        if said is not None:
            out["kib_said"] = round(said / 1024, 1)
        return out

    def finalize(self, report: dict[str, Any]) -> None:
        server = report.get("server")
        if server and "rss_growth_kib" in server:
            report["results"]["server_rss_growth_kib"] = server["rss_growth_kib"]


SCENARIO = SlowReader()
