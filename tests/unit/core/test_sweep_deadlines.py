"""The heartbeat sweep drops a silent session at its deadline, not a sweep period late,
and closes many condemned at once in slices."""

from __future__ import annotations

from teahouse.core.housekeeping import DUE_STEP
from teahouse.core.session import Session

from ..hubkit import HubKit, MakeKit, outlet


def run_sweeps(kit: HubKit, seconds: float) -> None:
    """Advance the fake clock with the sweep on its shared timer, as the server runs it."""
    period = kit.hub.housekeeping.policy.sweep_period
    end = kit.clock.monotonic() + seconds
    while kit.clock.monotonic() + period <= end:
        kit.clock.advance(period)
        kit.hub.housekeeping.sweep()
    kit.clock.advance(end - kit.clock.monotonic())


def closed_at(kit: HubKit, session: Session, limit: float, first_sweep: float) -> float:
    """Sweep until ``session`` is closed (at most ``limit`` seconds); when it closed, in
    seconds after it was last heard from. The sweeps keep the phase they started with."""
    period = kit.hub.housekeeping.policy.sweep_period
    start = session.last_received
    step = DUE_STEP / 5
    next_sweep = first_sweep
    while not session.closed and kit.clock.monotonic() - start < limit:
        kit.clock.advance(step)
        if kit.clock.monotonic() >= next_sweep:
            kit.hub.housekeeping.sweep()
            next_sweep += period
    assert session.closed
    return kit.clock.monotonic() - start


async def test_a_silent_session_is_dropped_at_interval_plus_timeout_within_a_tick(
    make_kit: MakeKit,
) -> None:
    # The bench's heartbeat: a ping after 20 s, the drop 10 s later (30 s of silence).
    kit = make_kit(interval=20.0, timeout=30.0)
    first_sweep = kit.clock.monotonic() + kit.hub.housekeeping.policy.sweep_period
    alice = kit.guest("alice")
    kit.clock.advance(0.37)  # last heard out of step with the sweep's timer
    kit.hub.received(alice, 1)
    took = closed_at(kit, alice, 40.0, first_sweep)
    assert 30.0 <= took <= 30.0 + DUE_STEP, "dropped at its deadline, not at a sweep"


async def test_a_session_that_speaks_before_its_deadline_stays(make_kit: MakeKit) -> None:
    kit = make_kit(interval=20.0, timeout=30.0)
    alice = kit.guest("alice")
    run_sweeps(kit, 29.9)  # on the drop list: its deadline is before the next sweep
    kit.hub.received(alice, 1)
    run_sweeps(kit, 1.0)
    assert not alice.closed


async def test_many_dead_peers_are_closed_in_slices_and_all_go(make_kit: MakeKit) -> None:
    kit = make_kit(interval=20.0, timeout=30.0, max_connections=5000)
    peers = [kit.guest(f"dead{i}", ip=f"10.1.{i // 250}.{i % 250}") for i in range(1200)]
    for i, peer in enumerate(peers):
        kit.hub.rooms.join(peer, f"room{i // 50}")
    live = kit.guest("alive", ip="10.2.0.1")
    kit.hub.rooms.join(live, "room0")
    run_sweeps(kit, 29.0)
    kit.hub.received(live, 1)
    run_sweeps(kit, 1.0 + DUE_STEP)
    while kit.clock.run_soon():
        pass
    assert all(peer.closed for peer in peers)
    assert not live.closed
    left = [e for e in outlet(live).events("presence") if e[3] == "left"]
    assert sorted(e[2] for e in left) == sorted(f"dead{i}" for i in range(50)), "each told once"
    assert all(e[1] == "room0" and e[4] == "timeout" for e in left)
    assert kit.hub.registry.sessions.keys() == {live.id}
    assert kit.hub.housekeeping.janitor(1).repaired == 0
