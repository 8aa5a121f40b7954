"""``deadpeer``: D connections log in, join a room, and go silent without closing.

The ``--count`` peers open from the ``--sources`` range, log in, join rooms of
``--room-size`` peers each (not the measuring pair's room), and answer pings until the
load starts. At ``go`` each sends one
last line (a ping) and from then on sends nothing, not even answers to the server's pings,
while still reading: the server closing the socket is how the tool sees the peer freed.
(This is silence at the protocol level; the kernel still acknowledges what the server
writes.) The run ends when every peer is freed or at ``--duration``.

A peer sees its close only after reading what the server sent before it. In one room of
thousands (``--room-size 0``) every departure goes to every remaining member, N^2 lines, so
the tool's own reading delays what it measures; rooms of 50 keep that small. Use
``--room-size 0`` for the mass outage of one big room, and read the live user's stall.

Figures: peers, freed, not freed, the time from a peer's last line to its close
(p50/p99/max), the share freed within the server's heartbeat timeout + 1 s (the timeout is
read from the native ``welcome``, or given with ``--expect-timeout``), and the reasons the
server gave. The worst stall a live user saw meanwhile is the measuring pair's ``load``
maximum round trip, repeated here as ``worst_stall_ms``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram, add_counts, merge_all
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import close_all, enter_all


def _ignore(block: bytes) -> None:
    pass


class DeadPeer(Scenario):
    name = "deadpeer"

    def bars(self, opts: Options) -> list[Bar]:
        return [
            Bar("connected", "peers logged in and joined", opts.count),
            Bar("freed", "freed by the server", opts.count),
        ]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        size = opts.room_size

        def room_of(n: int) -> str:
            return ctx.room(f"dead{n // size}" if size else "dead")

        links, failures = await enter_all(ctx, "d", ctx.share(opts.count), room=room_of)
        peers = list(links.values())
        for link in peers:
            link.go_fast(_ignore)
        timeouts = [link.server_timeout for link in peers if link.server_timeout]
        ctx.ready({"peers": len(peers)})
        deadline = await ctx.go()
        silent_since = time.monotonic_ns()
        for link in peers:
            link.send(ctx.dialect.ping(1))
            link.answer_pings = False
        while time.monotonic() < deadline:
            freed = sum(1 for link in peers if link.closed)
            ctx.gauge("freed", freed)
            if freed == len(peers):
                break
            await asyncio.sleep(0.1)
        after = Histogram()
        reasons: dict[str, int] = {}
        for link in peers:
            if link.closed:
                after.add(link.closed_ns - silent_since)
                reasons[link.close_reason] = reasons.get(link.close_reason, 0) + 1
        await ctx.finish(
            {
                "peers": len(peers),
                "failures": failures,
                "freed_after": after,
                "freed_ns": [link.closed_ns - silent_since for link in peers if link.closed],
                "reasons": reasons,
                "server_timeout": max(timeouts, default=0.0),
            }
        )
        close_all(peers)

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        failures: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in results:
            add_counts(failures, r["failures"])
            add_counts(reasons, r["reasons"])
        peers = sum(r["peers"] for r in results)
        freed_ns = [ns for r in results for ns in r["freed_ns"]]
        timeout = opts.expect_timeout or max((r["server_timeout"] for r in results), default=0.0)
        out: dict[str, Any] = {
            "peers": peers,
            "room_size": opts.room_size or peers,
            "setup_failures": failures,
            "freed": len(freed_ns),
            "not_freed": peers - len(freed_ns),
            "freed_after": merge_all([r["freed_after"] for r in results]).summary("s"),
            "close_reasons": reasons,
        }
        if timeout:
            within = sum(1 for ns in freed_ns if ns <= (timeout + 1.0) * 1e9)
            out["server_timeout_s"] = timeout
            out["freed_within_timeout_plus_1s"] = within
            out["freed_within_timeout_plus_1s_pct"] = round(100 * within / peers, 1) if peers else 0
        return out

    def finalize(self, report: dict[str, Any]) -> None:
        legit = report.get("legit") or {}
        load = legit.get("rtt", {}).get("load", {})
        report["results"]["worst_stall_ms"] = load.get("max_ms")


SCENARIO = DeadPeer()
