"""``loginflood``: many connections guess passwords while legitimate users log in and chat.

Each of the ``--count`` attackers connects from the ``--sources`` range and tries random
passwords (for random user names, or ``--attack-user``), one attempt at a time: it sends
the next guess as soon as the previous one is answered, ignoring ``retry_after`` as an
attacker would. Native connections keep guessing on the same connection until the server
closes it; IRC allows one ``PASS`` per connection, so IRC attackers reconnect each time.

Meanwhile the measuring pair chats, and the login prober (``--login-interval``, 1 s by
default here) logs in a legitimate user: the report shows how long a real login took under
the flood, and the pair's round trips next to their unloaded baseline.

Figures: attempts, attempts per second, the answers by code, connections and drops.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import add_counts
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import failure_name, seconds_left
from teahouse.stress.scenarios.storm import attack_identity
from teahouse.stress.targets import CLOSED, READY, Link, open_link


class LoginFlood(Scenario):
    name = "loginflood"

    def bars(self, opts: Options) -> list[Bar]:
        return [Bar("attempts", "password guesses"), Bar("connects", "attacker connections")]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        answers: dict[str, int] = {}
        failures: dict[str, int] = {}
        totals = {"attempts": 0, "connects": 0, "dropped": 0}
        ctx.ready()
        deadline = await ctx.go()
        started = time.monotonic()

        async def guess(link: Link, n: int, first: bool) -> str:
            ident = attack_identity(ctx, n)
            data = ctx.dialect.login(ident) if first else ctx.dialect.retry_login(ident)
            link.send(data)
            totals["attempts"] += 1
            ctx.bump("attempts")
            try:
                async with asyncio.timeout(max(0.01, seconds_left(deadline))):
                    event = await link.expect(frozenset({READY}))
            except TimeoutError:
                return "no answer"
            if event.kind == READY:
                return "success"
            if event.kind == CLOSED:
                return "closed"
            return event.code

        async def attacker(n: int) -> None:
            k = 0
            while time.monotonic() < deadline and ctx.spend_connect():
                link = Link(ctx.dialect)
                try:
                    await open_link(
                        ctx.target, link, ctx.source(n + k * opts.count), connect_timeout=5
                    )
                except (OSError, TimeoutError) as exc:
                    name = failure_name(exc)
                    failures[name] = failures.get(name, 0) + 1
                    await asyncio.sleep(0.05)
                    continue
                finally:
                    k += 1
                totals["connects"] += 1
                ctx.bump("connects")
                first = True
                while not link.closed and time.monotonic() < deadline:
                    answer = await guess(link, n, first)
                    first = False
                    answers[answer] = answers.get(answer, 0) + 1
                    if opts.irc or answer in ("success", "no answer"):
                        break
                if link.closed:
                    totals["dropped"] += 1
                link.close()

        await asyncio.gather(*(attacker(n) for n in ctx.share(opts.count)))
        elapsed = time.monotonic() - started
        await ctx.finish({**totals, "elapsed": elapsed, "answers": answers, "failures": failures})

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        answers: dict[str, int] = {}
        failures: dict[str, int] = {}
        for r in results:
            add_counts(answers, r["answers"])
            add_counts(failures, r["failures"])
        attempts = sum(r["attempts"] for r in results)
        elapsed = max((r["elapsed"] for r in results), default=0.0)
        return {
            "attackers": opts.count,
            "attempts": attempts,
            "attempts_per_s": round(attempts / elapsed, 1) if elapsed else 0.0,
            "answers": answers,
            "connects": sum(r["connects"] for r in results),
            "dropped": sum(r["dropped"] for r in results),
            "connect_failures": failures,
        }


SCENARIO = LoginFlood()
