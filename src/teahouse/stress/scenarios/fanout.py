"""``fanout``: C members in a room, S senders, M messages each.

Members and senders are separate connections, spread over the workers, all in one fresh
room. Every sender says ``fx:<sender>:<seq>:<sent at, ns>`` M times, as fast as the server
takes them with at most ``--window`` lines unanswered (see
:class:`~teahouse.stress.scenarios.common.Pacer`). Each member counts the messages it
receives, with one regular expression per block of lines; latency is the receipt time
minus the time embedded in the text (one monotonic clock for every process).

Figures: deliveries (should be C * S * M), lost (what members did not get by the end),
out of order or repeated, members the server dropped, deliveries per second from the first
send to the last receipt, latency p50/p99/max; the runner adds the server's CPU
microseconds per delivery. Everyone here stands for people: no worker is niced.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from teahouse.stress.context import WorkerContext
from teahouse.stress.measure import Histogram, add_counts, merge_all
from teahouse.stress.options import Options
from teahouse.stress.scenario import Bar, Scenario
from teahouse.stress.scenarios.common import (
    Pacer,
    close_all,
    close_reasons,
    enter_all,
    seconds_left,
)
from teahouse.stress.targets import Link, become_oper

FX_RE = re.compile(rb"fx:(\d+):(\d+):(\d+)")
IDLE_STOP = 5.0
"""Members stop waiting when nothing new arrived in this worker for that long."""


class Receipts:
    """This worker's members: counts, order, and one shared latency histogram."""

    def __init__(self, senders: int) -> None:
        self.senders = senders
        self.latency = Histogram()
        self.deliveries = 0
        self.disorder = 0
        self.last_ns = 0
        self.expected = 0
        self.complete = 0
        self.members: list[Member] = []
        self.done = asyncio.Event()


class Member:
    __slots__ = ("count", "last_seq", "link", "receipts")

    def __init__(self, receipts: Receipts, link: Link) -> None:
        self.receipts = receipts
        self.link = link
        self.count = 0
        self.last_seq: dict[bytes, int] = {}
        link.go_fast(self.on_block)

    def on_block(self, block: bytes) -> None:
        found = FX_RE.findall(block)
        if not found:
            return
        now = time.monotonic_ns()
        r = self.receipts
        add = r.latency.add
        last_seq = self.last_seq
        for sender, seq_text, sent_at in found:
            add(now - int(sent_at))
            seq = int(seq_text)
            if seq <= last_seq.get(sender, -1):
                r.disorder += 1
            last_seq[sender] = seq
        n = len(found)
        self.count += n
        r.deliveries += n
        r.last_ns = now
        if r.expected and self.count >= r.expected and self.count - n < r.expected:
            r.complete += 1
            if r.complete == len(r.members):
                r.done.set()


class Fanout(Scenario):
    name = "fanout"
    niced = False
    legit = False

    def bars(self, opts: Options) -> list[Bar]:
        return [
            Bar("connected", "members and senders in the room", opts.members + opts.senders),
            Bar("deliveries", "deliveries", opts.members * opts.senders * opts.messages),
        ]

    async def load(self, ctx: WorkerContext) -> None:
        opts = ctx.options
        room = ctx.room("fanout")
        members, member_failures = await enter_all(ctx, "m", ctx.share(opts.members), room=room)
        senders, sender_failures = await enter_all(ctx, "s", ctx.share(opts.senders), room=room)
        member_links, sender_links = list(members.values()), list(senders.values())
        opered = 0
        if opts.oper and opts.irc:
            for n, link in senders.items():
                opered += await become_oper(link, opts.oper, ctx.name("s", n), time.monotonic() + 5)
        receipts = Receipts(opts.senders)
        receipts.members = [Member(receipts, link) for link in member_links]
        ctx.ready({"members": len(member_links), "senders": len(sender_links)})
        deadline = await ctx.go()
        senders_total = ctx.totals.get("senders", 0)
        receipts.expected = senders_total * opts.messages
        if not receipts.members or receipts.expected == 0:
            receipts.done.set()
        pad = " " + "x" * (opts.size - 1) if opts.size > 1 else ""
        first_send: list[int] = []
        sent = [0]
        pacers: list[Pacer] = []

        async def sender(index: int, link: Link) -> None:
            pacer = Pacer(link, opts.window)
            pacers.append(pacer)
            link.go_fast(pacer.on_block)
            first_send.append(time.monotonic_ns())
            for seq in range(opts.messages):
                if link.closed or time.monotonic() >= deadline:
                    return
                text = f"fx:{index}:{seq}:{time.monotonic_ns()}{pad}"
                sent[0] += 1
                await pacer.send(ctx.dialect.say(room, text))
            await pacer.flush()

        async def counting() -> None:
            while not receipts.done.is_set():
                ctx.gauge("deliveries", receipts.deliveries)
                ctx.gauge("sent", sent[0])
                await asyncio.sleep(0.2)

        async def receiving() -> None:
            last_seen, last_change = -1, time.monotonic()
            while not receipts.done.is_set():
                if receipts.deliveries != last_seen:
                    last_seen, last_change = receipts.deliveries, time.monotonic()
                elif time.monotonic() - last_change > IDLE_STOP:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(receipts.done.wait(), 0.5)

        counter = asyncio.create_task(counting())
        sending = [asyncio.create_task(sender(n, link)) for n, link in senders.items()]
        try:
            async with asyncio.timeout(seconds_left(deadline)):
                await receiving()
            # A worker without members (or whose members are done) lets its own senders
            # finish: other workers' members are still counting their lines.
            async with asyncio.timeout(min(IDLE_STOP, seconds_left(deadline))):
                await asyncio.gather(*sending)
        except TimeoutError:
            pass
        counter.cancel()
        for task in sending:
            task.cancel()
        await asyncio.gather(counter, *sending, return_exceptions=True)
        ctx.gauge("deliveries", receipts.deliveries)
        lost = sum(max(0, receipts.expected - m.count) for m in receipts.members)
        result: dict[str, Any] = {
            "members": len(member_links),
            "senders": len(sender_links),
            "setup_failures": {**member_failures, **sender_failures},
            "sent": sent[0],
            "expected": receipts.expected * len(receipts.members),
            "deliveries": receipts.deliveries,
            "lost": lost,
            "out_of_order": receipts.disorder,
            "members_dropped": sum(1 for m in receipts.members if m.link.closed),
            "senders_dropped": sum(1 for link in sender_links if link.closed),
            "drop_reasons": close_reasons(member_links + sender_links),
            "senders_rate_limited": sum(p.rate_limited for p in pacers),
            "latency": receipts.latency,
            "first_send_ns": min(first_send) if first_send else 0,
            "last_receipt_ns": receipts.last_ns,
            "opered": opered,
        }
        await ctx.finish(result)
        close_all(member_links + sender_links)

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        total = {
            key: sum(r[key] for r in results)
            for key in (
                "members",
                "senders",
                "sent",
                "expected",
                "deliveries",
                "lost",
                "out_of_order",
                "members_dropped",
                "senders_dropped",
                "opered",
                "senders_rate_limited",
            )
        }
        failures: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for r in results:
            add_counts(failures, r["setup_failures"])
            add_counts(reasons, r["drop_reasons"])
        starts = [r["first_send_ns"] for r in results if r["first_send_ns"]]
        ends = [r["last_receipt_ns"] for r in results if r["last_receipt_ns"]]
        span = (max(ends) - min(starts)) / 1e9 if starts and ends else 0.0
        latency = merge_all([r["latency"] for r in results])
        return {
            "members": total["members"],
            "senders": total["senders"],
            "messages_each": opts.messages,
            "messages_sent": total["sent"],
            "expected": total["expected"],
            "deliveries": total["deliveries"],
            "lost": total["lost"],
            "out_of_order": total["out_of_order"],
            "members_dropped": total["members_dropped"],
            "senders_dropped": total["senders_dropped"],
            "drop_reasons": reasons,
            "senders_rate_limited": total["senders_rate_limited"],
            "opered": total["opered"],
            "setup_failures": failures,
            "span_s": round(span, 3),
            "deliveries_per_s": round(total["deliveries"] / span) if span > 0 else 0,
            "latency": latency.summary("ms"),
            "served": total["lost"] == 0
            and total["members_dropped"] == 0
            and total["expected"] > 0
            and total["members"] == opts.members
            and total["senders"] == opts.senders,
        }

    def finalize(self, report: dict[str, Any]) -> None:
        results, server = report["results"], report.get("server")
        if server and server.get("cpu_load_s") is not None and results["deliveries"]:
            cpu_us = server["cpu_load_s"] * 1e6 / results["deliveries"]
            results["server_cpu_us_per_delivery"] = round(cpu_us, 3)


SCENARIO = Fanout()
