"""``storm``: K attackers connect, send a login with a random-symbol password, and close.

Each of the ``--count`` attackers loops until the deadline: connect from the next
``--sources`` address, send a login (native: ``hello`` + ``login`` of a random user name,
or ``--attack-user``; IRC: ``PASS`` + ``NICK`` + ``USER``) with 16 random symbols as the
password, and close at once, the way the tutorial's attack did. With ``--await-reply``
an attacker waits for the server's answer first (at most 5 s) and counts it.

Figures: cycles, cycles per second, connect failures, and the answers when awaited. The
runner's ``after`` sample (``--settle`` seconds after the end) shows whether the server's
file descriptors and memory came back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram, add_counts, merge_all
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import failure_name
from teahouse.stress.targets import READY, Identity, Link, open_link, random_password

REPLY_TIMEOUT = 5.0


def attack_identity(ctx: WorkerContext, n: int) -> Identity:
    """A random name (or ``--attack-user``) and a random-symbol password."""
    password = random_password(ctx.rng)
    user = ctx.options.attack_user
    if ctx.options.irc:
        return Identity(ctx.name("z", ctx.rng.randrange(36**4)), password)
    return Identity(user or ctx.name("z", ctx.rng.randrange(36**4)), password)


class Storm(Scenario):
    name = "storm"

    def bars(self, opts: Options) -> list[Bar]:
        return [Bar("cycles", "connect / password / close cycles")]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        replies: dict[str, int] = {}
        failures: dict[str, int] = {}
        cycles = [0]
        connect_time = Histogram()
        ctx.ready()
        deadline = await ctx.go()
        started = time.monotonic()

        async def attacker(n: int) -> None:
            k = 0
            while time.monotonic() < deadline and ctx.spend_connect():
                link = Link(ctx.dialect, keep_events=opts.await_reply)
                began = time.monotonic_ns()
                try:
                    await open_link(
                        ctx.target, link, ctx.source(n + k * opts.count), connect_timeout=5
                    )
                except (OSError, TimeoutError) as exc:
                    name = failure_name(exc)
                    failures[name] = failures.get(name, 0) + 1
                    await asyncio.sleep(0.01)
                    continue
                finally:
                    k += 1
                connect_time.add(time.monotonic_ns() - began)
                link.send(ctx.dialect.login(attack_identity(ctx, n)))
                if opts.await_reply:
                    try:
                        async with asyncio.timeout(REPLY_TIMEOUT):
                            event = await link.expect(frozenset({READY}))
                        answer = event.kind if event.kind == READY else event.code or event.kind
                    except TimeoutError:
                        answer = "no answer"
                    replies[answer] = replies.get(answer, 0) + 1
                link.close()
                cycles[0] += 1
                ctx.bump("cycles")

        await asyncio.gather(*(attacker(n) for n in ctx.share(opts.count)))
        elapsed = time.monotonic() - started
        await ctx.finish(
            {
                "cycles": cycles[0],
                "elapsed": elapsed,
                "replies": replies,
                "failures": failures,
                "connect_time": connect_time,
            }
        )

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        cycles = sum(r["cycles"] for r in results)
        elapsed = max((r["elapsed"] for r in results), default=0.0)
        replies: dict[str, int] = {}
        failures: dict[str, int] = {}
        for r in results:
            add_counts(replies, r["replies"])
            add_counts(failures, r["failures"])
        out: dict[str, Any] = {
            "attackers": opts.count,
            "cycles": cycles,
            "cycles_per_s": round(cycles / elapsed, 1) if elapsed else 0.0,
            "connect_failures": failures,
            "connect_time": merge_all([r["connect_time"] for r in results]).summary("ms"),
        }
        if opts.await_reply:
            out["replies"] = replies
        return out


SCENARIO = Storm()
