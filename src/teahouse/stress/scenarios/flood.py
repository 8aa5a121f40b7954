"""``flood``: A connections send chunks of random bytes as fast as they can.

Half the attackers send raw random bytes (a newline every 256 bytes on average: many bad
lines), half send random bytes with every newline taken out (one endless line). Each
writes ``--chunk`` bytes at a time whenever its transport takes more, and reconnects at
once when the server drops it, until the deadline. They connect from the ``--sources``
range, at nice 10.

Figures: connections opened, dropped by the server (and the reason it gave: the fatal
error's code, an IRC ``ERROR``, or ``reset``/``eof``), connect failures, MiB sent, how long
a connection lived and how many bytes it got in before the server dropped it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram, add_counts, merge_all
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import failure_name, seconds_left
from teahouse.stress.targets import Link, open_link

POOL_CHUNKS = 8


def _ignore(block: bytes) -> None:
    pass


class Flood(Scenario):
    name = "flood"

    def bars(self, opts: Options) -> list[Bar]:
        return [Bar("connects", "attacker connections"), Bar("dropped", "dropped by the server")]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        raw = os.urandom(opts.chunk * POOL_CHUNKS)
        pools = (raw, raw.replace(b"\n", b"N").replace(b"\r", b"R"))
        reasons: dict[str, int] = {}
        failures: dict[str, int] = {}
        lifetime = Histogram()
        bytes_in = Histogram()
        totals = {"connects": 0, "dropped": 0, "bytes": 0, "open_at_end": 0}
        ctx.ready()
        deadline = await ctx.go()

        async def attacker(n: int) -> None:
            pool = pools[n % 2]
            offset = (n * 7919) % POOL_CHUNKS
            while time.monotonic() < deadline and ctx.spend_connect():
                link = Link(ctx.dialect, keep_events=False)
                link.go_fast(_ignore)
                try:
                    await open_link(
                        ctx.target, link, ctx.source(n + totals["connects"]), connect_timeout=5.0
                    )
                except (OSError, TimeoutError) as exc:
                    name = failure_name(exc)
                    failures[name] = failures.get(name, 0) + 1
                    await asyncio.sleep(0.05)
                    continue
                totals["connects"] += 1
                ctx.bump("connects")
                while not link.closed and time.monotonic() < deadline:
                    offset = (offset + 1) % POOL_CHUNKS
                    link.send(pool[offset * opts.chunk : (offset + 1) * opts.chunk])
                    if link.paused:
                        try:
                            async with asyncio.timeout(seconds_left(deadline)):
                                await link.drain()
                        except TimeoutError:
                            break
                    else:
                        await asyncio.sleep(0)
                totals["bytes"] += link.bytes_out
                if link.closed:
                    totals["dropped"] += 1
                    ctx.bump("dropped")
                    reasons[link.close_reason] = reasons.get(link.close_reason, 0) + 1
                    lifetime.add(link.closed_ns - link.connected_ns)
                    bytes_in.add(link.bytes_out)
                else:
                    totals["open_at_end"] += 1
                    link.abort()

        await asyncio.gather(*(attacker(n) for n in ctx.share(opts.count)))
        await ctx.finish(
            {
                **totals,
                "reasons": reasons,
                "connect_failures": failures,
                "lifetime": lifetime,
                "bytes_before_drop": bytes_in,
            }
        )

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        failures: dict[str, int] = {}
        for r in results:
            add_counts(reasons, r["reasons"])
            add_counts(failures, r["connect_failures"])
        sent = sum(r["bytes"] for r in results)
        bytes_in = merge_all([r["bytes_before_drop"] for r in results])
        return {
            "attackers": opts.count,
            "chunk": opts.chunk,
            "connects": sum(r["connects"] for r in results),
            "dropped": sum(r["dropped"] for r in results),
            "open_at_end": sum(r["open_at_end"] for r in results),
            "drop_reasons": reasons,
            "connect_failures": failures,
            "mib_written": round(sent / (1 << 20), 1),
            "mib_written_per_s": round(sent / (1 << 20) / opts.duration, 1),
            "lifetime": merge_all([r["lifetime"] for r in results]).summary("ms"),
            "kib_written_before_drop": {
                "p50": round(bytes_in.quantile(0.5) / 1024, 1),
                "max": round(bytes_in.max / 1024, 1),
            },
        }


SCENARIO = Flood()
