"""``slowloris``: connections that send a never-finished line, one byte at a time.

Each of the ``--count`` connections opens from the ``--sources`` range, sends the start of
a line (native: ``{"type":"login","user":"slowloris","password":"``; IRC: ``USER
slowloris 0 * :``) and then one more random letter every ``--byte-interval`` seconds,
never a newline. With ``--after-login`` it logs in first and dribbles a ``say`` (IRC:
``PRIVMSG``) instead, to test the partial-line deadline rather than the login deadline.
When the server drops it, it reconnects at once, until the deadline.

Figures: connections opened, dropped by the server and why, how long the server let one
live (p50/max), how many bytes it had sent, and the most held open at once.
"""

from __future__ import annotations

import asyncio
import string
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram, add_counts, merge_all
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import failure_name, seconds_left
from teahouse.stress.targets import Link, LoginFailed, log_in, open_link


def _ignore(block: bytes) -> None:
    pass


class Slowloris(Scenario):
    name = "slowloris"

    def bars(self, opts: Options) -> list[Bar]:
        return [Bar("open", "held open now", opts.count), Bar("dropped", "dropped by the server")]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        lifetime = Histogram()
        sent = Histogram()
        reasons: dict[str, int] = {}
        failures: dict[str, int] = {}
        totals = {"connects": 0, "dropped": 0, "open": 0, "peak_open": 0}
        prefix = ctx.dialect.partial_prefix(opts.after_login)
        letters = string.ascii_letters.encode()
        ctx.ready()
        deadline = await ctx.go()

        async def dribbler(n: int) -> None:
            k = 0
            while time.monotonic() < deadline and ctx.spend_connect():
                link = Link(ctx.dialect)
                try:
                    await open_link(
                        ctx.target, link, ctx.source(n + k * opts.count), connect_timeout=5
                    )
                    if opts.after_login:
                        ident = ctx.identity("w", n + k * opts.count)
                        await log_in(link, ident, deadline)
                except (OSError, TimeoutError, LoginFailed) as exc:
                    name = failure_name(exc)
                    failures[name] = failures.get(name, 0) + 1
                    link.abort()
                    await asyncio.sleep(0.1)
                    continue
                finally:
                    k += 1
                link.go_fast(_ignore)
                totals["connects"] += 1
                totals["open"] += 1
                totals["peak_open"] = max(totals["peak_open"], totals["open"])
                ctx.gauge("open", totals["open"])
                start_bytes = link.bytes_out
                link.send(prefix)
                while not link.closed and time.monotonic() < deadline:
                    await asyncio.sleep(min(opts.byte_interval, seconds_left(deadline)))
                    link.send(bytes((ctx.rng.choice(letters),)))
                totals["open"] -= 1
                ctx.gauge("open", totals["open"])
                if link.closed:
                    totals["dropped"] += 1
                    ctx.bump("dropped")
                    reasons[link.close_reason] = reasons.get(link.close_reason, 0) + 1
                    lifetime.add(link.closed_ns - link.connected_ns)
                    sent.add(link.bytes_out - start_bytes)
                else:
                    link.abort()

        await asyncio.gather(*(dribbler(n) for n in ctx.share(opts.count)))
        await ctx.finish(
            {
                "connects": totals["connects"],
                "dropped": totals["dropped"],
                "peak_open": totals["peak_open"],
                "reasons": reasons,
                "failures": failures,
                "lifetime": lifetime,
                "bytes": sent,
            }
        )

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        reasons: dict[str, int] = {}
        failures: dict[str, int] = {}
        for r in results:
            add_counts(reasons, r["reasons"])
            add_counts(failures, r["failures"])
        sent = merge_all([r["bytes"] for r in results])
        return {
            "connections": opts.count,
            "after_login": opts.after_login,
            "byte_interval_s": opts.byte_interval,
            "connects": sum(r["connects"] for r in results),
            "dropped": sum(r["dropped"] for r in results),
            "drop_reasons": reasons,
            "connect_failures": failures,
            "peak_open": sum(r["peak_open"] for r in results),
            "lifetime": merge_all([r["lifetime"] for r in results]).summary("s"),
            "bytes_sent_before_drop": {"p50": sent.quantile(0.5), "max": sent.max},
        }


SCENARIO = Slowloris()
