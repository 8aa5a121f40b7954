"""``idle``: N logged-in connections that only answer the server's pings.

The ``--count`` connections open from the ``--sources`` range, ``--in-flight`` handshakes
at a time, and log in (native: ``--register`` or ``--user``; IRC: ``NICK``/``USER``, with
``PASS`` when ``--user`` is given). Then, for ``--duration`` seconds, they do nothing but
answer pings, without a task or a timer each. At the end the tool counts the connections
the server still holds open; the runner samples the server's RSS with all of them open
(``end``) and divides the growth over ``before`` by the connections held.

Figures: connected, setup failures by reason, setup time and rate, alive at the end, and
those the server dropped during the hold, by the reason it gave.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import add_counts
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import close_all, enter_all, seconds_left


def _ignore(block: bytes) -> None:
    pass


class Idle(Scenario):
    name = "idle"

    def bars(self, opts: Options) -> list[Bar]:
        return [Bar("connected", "connections logged in", opts.count), Bar("alive", "alive")]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        started = time.monotonic()
        links, failures = await enter_all(ctx, "i", ctx.share(opts.count))
        setup_s = time.monotonic() - started
        held = list(links.values())
        for link in held:
            link.go_fast(_ignore)  # pings are still answered; nothing else is kept
        ctx.ready({"connected": len(held)})
        deadline = await ctx.go()
        while time.monotonic() < deadline:
            ctx.gauge("alive", sum(1 for link in held if not link.closed))
            await asyncio.sleep(min(0.5, seconds_left(deadline)))
        dropped: dict[str, int] = {}
        for link in held:
            if link.closed:
                dropped[link.close_reason] = dropped.get(link.close_reason, 0) + 1
        alive = sum(1 for link in held if not link.closed)
        ctx.gauge("alive", alive)
        await ctx.finish(
            {
                "connected": len(held),
                "alive": alive,
                "failures": failures,
                "dropped": dropped,
                "setup_s": setup_s,
            }
        )
        close_all(held)

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        failures: dict[str, int] = {}
        dropped: dict[str, int] = {}
        for r in results:
            add_counts(failures, r["failures"])
            add_counts(dropped, r["dropped"])
        connected = sum(r["connected"] for r in results)
        setup_s = max((r["setup_s"] for r in results), default=0.0)
        return {
            "target": opts.count,
            "connected": connected,
            "setup_failures": failures,
            "setup_s": round(setup_s, 2),
            "connects_per_s": round(connected / setup_s, 1) if setup_s else 0.0,
            "hold_s": opts.duration,
            "alive_at_end": sum(r["alive"] for r in results),
            "dropped_during_hold": dropped,
        }

    def finalize(self, report: dict[str, Any]) -> None:
        results, server = report["results"], report.get("server")
        if not server or "end" not in server or "before" not in server:
            return
        held = results["alive_at_end"]
        growth = server["end"]["rss_kib"] - server["before"]["rss_kib"]
        results["server_rss_growth_kib"] = growth
        results["server_kib_per_connection"] = round(growth / held, 2) if held else None
        results["server_fds_held"] = server["end"]["fds"] - server["before"]["fds"]


SCENARIO = Idle()
