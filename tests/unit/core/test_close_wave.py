"""A mass timeout (a wave of dead peers) is closed in slices that each cost the loop little:
the members who stay hear every departure, the condemned are written none, every dead
session is closed, and the collector is kept off the old heap while the wave lasts."""

from __future__ import annotations

import gc

import pytest

from teahouse.core import housekeeping
from teahouse.core.clock import FakeClock
from teahouse.core.outbox import WRITES_PER_ROUND, Outbox
from teahouse.core.session import Session

from ..hubkit import FakeOutlet, HubKit, MakeKit, outlet
from .test_sweep_deadlines import run_sweeps


def smallest_slices(
    monkeypatch: pytest.MonkeyPatch, close_batch: int = 4, deliveries: int = 16
) -> None:
    """Every slice ends at its first look at the clock: the wave in as many slices as it
    can be cut into, whatever the machine's speed."""
    monkeypatch.setattr(housekeeping, "SWEEP_SLICE", -1.0)
    monkeypatch.setattr(housekeeping, "CLOSE_BATCH", close_batch)
    monkeypatch.setattr(housekeeping, "CLOSES_PER_SLICE", 8)
    monkeypatch.setattr(housekeeping, "DELIVERIES_PER_SLICE", deliveries)


def rooms_of_dead_peers(kit: HubKit, rooms: int, size: int) -> tuple[list[Session], list[Session]]:
    """``rooms`` rooms of ``size`` peers that will go silent, and one live member in each.
    The peers join the rooms in turn, so those dropped first are from every room."""
    dead: list[Session] = []
    live: list[Session] = []
    for i in range(size):
        for r in range(rooms):
            peer = kit.guest(f"dead{r}x{i}", ip=f"10.1.{r}.{i}")
            kit.join(peer, f"room{r}")
            dead.append(peer)
    for r in range(rooms):
        member = kit.guest(f"alive{r}", ip=f"10.2.0.{r}")
        kit.join(member, f"room{r}")
        live.append(member)
    kit.clock.run_soon()
    return dead, live


def left_events(session: Session) -> list[tuple[str, str]]:
    """(room, who) of every ``left`` presence ``session`` was written."""
    return [(e[1], e[2]) for e in outlet(session).events("presence") if e[3] == "left"]


@pytest.mark.parametrize("batch", [4, 1000])
async def test_live_members_hear_every_departure_and_the_condemned_are_written_none(
    make_kit: MakeKit, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    # Taken out of their rooms and told a few at a time; or all of those checked so far
    # at once, while the checks of the others due by now go on in later slices.
    smallest_slices(monkeypatch, close_batch=batch, deliveries=batch)
    kit = make_kit(interval=20.0, timeout=30.0, max_connections=5000)
    dead, live = rooms_of_dead_peers(kit, rooms=24, size=10)
    for peer in dead:
        outlet(peer).clear()  # what they were told while joining
    kit.clock.advance(0.25)  # their deadline between two sweeps: the drop timer's
    run_sweeps(kit, 29.0)
    for member in live:
        kit.hub.received(member, 1)
    run_sweeps(kit, 1.0 + housekeeping.DUE_STEP)
    kit.clock.run_soon()

    assert all(peer.closed for peer in dead), "every dead peer is closed"
    assert all(not member.closed for member in live)
    for r, member in enumerate(live):
        expected = sorted((f"room{r}", f"dead{r}x{i}") for i in range(10))
        assert sorted(left_events(member)) == expected, "each departure told once, to the living"
    for peer in dead:
        assert left_events(peer) == [], "no departure is written to a peer condemned with it"
    assert kit.hub.registry.sessions.keys() == {m.id for m in live}
    assert kit.hub.housekeeping.janitor(len(live)).repaired == 0


async def test_a_peer_condemned_later_in_the_wave_still_hears_those_gone_before(
    make_kit: MakeKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alive when the first went, it is told; condemned itself, it is told nothing more.
    smallest_slices(monkeypatch)
    kit = make_kit(interval=20.0, timeout=30.0)
    first = kit.guest("first", ip="10.1.0.1")
    later = kit.guest("later", ip="10.1.0.2")
    member = kit.guest("member", ip="10.1.0.3")
    for s in (first, later, member):
        kit.join(s, "lobby")
    kit.clock.run_soon()
    kit.clock.advance(0.5)
    kit.hub.received(later, 1)
    kit.hub.received(member, 1)
    run_sweeps(kit, 29.8)
    assert first.closed and not later.closed
    kit.hub.received(member, 1)
    run_sweeps(kit, 0.5 + housekeeping.DUE_STEP)
    kit.clock.run_soon()
    assert first.closed and later.closed and not member.closed
    assert left_events(later) == [("lobby", "first")]
    assert left_events(first) == []
    assert sorted(left_events(member)) == [("lobby", "first"), ("lobby", "later")]


async def test_the_heap_is_frozen_for_a_wave_and_thawed_after_it(
    make_kit: MakeKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze"))
    kit = make_kit(interval=20.0, timeout=30.0, max_connections=5000)
    few, _ = rooms_of_dead_peers(kit, rooms=1, size=housekeeping.WAVE // 2)
    run_sweeps(kit, 30.0 + housekeeping.DUE_STEP)
    kit.clock.run_soon()
    assert all(peer.closed for peer in few)
    assert calls == [], "a few timeouts are no wave"
    many, _ = rooms_of_dead_peers(kit, rooms=2, size=housekeeping.WAVE)
    run_sweeps(kit, 30.0 + housekeeping.DUE_STEP)
    kit.clock.run_soon()
    assert all(peer.closed for peer in many)
    assert calls == ["freeze", "unfreeze"]


async def test_the_heartbeat_scan_pings_a_bounded_number_per_slice(make_kit: MakeKit) -> None:
    kit = make_kit(interval=20.0, timeout=30.0, max_connections=5000)
    count = 3 * housekeeping.PINGS_PER_SLICE + 10
    peers = [kit.guest(f"p{i}", ip=f"10.1.{i // 250}.{i % 250}") for i in range(count)]
    kit.clock.run_soon()
    kit.clock.advance(20.5)
    kit.hub.housekeeping.sweep()  # its first slice, the rest waits for the next rounds

    def pinged() -> int:
        return sum(1 for p in peers if outlet(p).events("ping"))

    assert pinged() == housekeeping.PINGS_PER_SLICE
    kit.clock.run_soon()
    assert pinged() == count


def test_a_round_writes_a_bounded_number_of_outlets_and_the_rest_next() -> None:
    class NoStore:
        def commit(self, done: object) -> None:
            done(None)  # type: ignore[operator]

    clock = FakeClock()
    outbox = Outbox(NoStore(), clock, clock)  # type: ignore[arg-type]
    outlets = [FakeOutlet() for _ in range(WRITES_PER_ROUND + 10)]
    for o in outlets:
        o.write(b"x")
        outbox.want_flush(o)
    outbox.flush()
    assert [o.flushes for o in outlets] == [1] * WRITES_PER_ROUND + [0] * 10
    clock.run_soon()
    assert all(o.flushes == 1 and o.sent == [b"x"] for o in outlets)
