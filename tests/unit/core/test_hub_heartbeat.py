"""Housekeeping.sweep on a fake clock: pings, heartbeat, login and slowloris timeouts."""

from __future__ import annotations

import pytest

from teahouse.core.session import Session
from teahouse.errors import TooManyConnections

from ..hubkit import HubKit, MakeKit, outlet

# Defaults: heartbeat interval 20 s, timeout 60 s, login_timeout 10 s.


def sweep_at(kit: HubKit, seconds: float) -> None:
    kit.clock.advance(seconds)
    kit.hub.housekeeping.sweep()


def pings(session: Session) -> list[int]:
    return [e[1] for e in outlet(session).events("ping")]


async def test_sweep_sends_nothing_to_a_peer_heard_from_within_interval(kit: HubKit) -> None:
    alice = await kit.login("alice")
    outlet(alice).clear()
    sweep_at(kit, 19.9)
    assert outlet(alice).events() == []


async def test_sweep_pings_after_interval_of_silence(kit: HubKit) -> None:
    alice = await kit.login("alice")
    sweep_at(kit, 20.0)
    assert len(pings(alice)) == 1
    assert alice.last_ping == kit.clock.monotonic()


async def test_sweep_pings_once_per_interval_while_silent(kit: HubKit) -> None:
    alice = await kit.login("alice")
    sweep_at(kit, 20.0)
    for _ in range(10):
        sweep_at(kit, 1.0)
    assert len(pings(alice)) == 1
    sweep_at(kit, 10.0)  # 40 s of silence
    assert len(pings(alice)) == 2
    assert pings(alice)[0] != pings(alice)[1]


async def test_traffic_postpones_the_ping(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.clock.advance(15.0)
    kit.hub.received(alice, 10)
    received_at = kit.clock.monotonic()
    sweep_at(kit, 15.0)
    assert pings(alice) == []
    assert alice.last_received == received_at
    assert kit.hub.stats.bytes_in == 10


async def test_sweep_closes_with_heartbeat_timeout_after_timeout(kit: HubKit) -> None:
    alice = await kit.login("alice")
    for _ in range(59):
        sweep_at(kit, 1.0)
    assert not alice.closed
    sweep_at(kit, 1.0)
    assert alice.closed
    assert outlet(alice).events()[-1] == ("error", "heartbeat_timeout", True)
    assert outlet(alice).closes == [False]
    assert kit.hub.stats.closed["timeout"] == 1
    assert alice.id not in kit.hub.sessions


async def test_pong_with_the_ping_t_measures_rtt(kit: HubKit) -> None:
    alice = await kit.login("alice")
    sweep_at(kit, 20.0)
    [t] = pings(alice)
    kit.clock.advance(0.25)
    assert not kit.hub.pong(alice, t + 1)
    assert alice.rtt_ms is None
    assert kit.hub.pong(alice, t)
    assert alice.rtt_ms == 250
    kit.clock.advance(0.25)
    assert not kit.hub.pong(alice, t)  # the same answer again measures nothing
    assert alice.rtt_ms == 250


async def test_an_answered_ping_is_sent_again_after_the_next_silence(kit: HubKit) -> None:
    alice = await kit.login("alice")
    sweep_at(kit, 20.0)
    [t] = pings(alice)
    kit.hub.received(alice, 10)
    assert kit.hub.pong(alice, t)
    sweep_at(kit, 19.0)
    assert pings(alice) == [t]
    sweep_at(kit, 1.0)
    assert len(pings(alice)) == 2
    assert not alice.closed


async def test_an_unauthenticated_connection_is_closed_at_login_timeout(kit: HubKit) -> None:
    session = kit.connect()
    sweep_at(kit, 5.0)
    kit.hub.received(session, 3)  # traffic does not postpone the login deadline
    sweep_at(kit, 4.9)
    assert not session.closed
    sweep_at(kit, 0.1)
    assert session.closed
    assert outlet(session).events() == [("error", "timeout", True)]
    assert kit.hub.stats.closed["login_timeout"] == 1
    assert kit.hub.sessions == {}
    assert kit.hub.registry.ip_counts == {}


async def test_the_login_timeout_does_not_apply_once_authenticated(kit: HubKit) -> None:
    alice = await kit.login("alice")
    for _ in range(12):
        sweep_at(kit, 5.0)
        kit.hub.received(alice, 1)
    assert not alice.closed
    assert outlet(alice).events("error") == []


async def test_sweeping_every_sweep_period_closes_a_dead_peer_within_timeout_plus_1s(
    make_kit: MakeKit,
) -> None:
    for interval, timeout in [(20.0, 60.0), (1.0, 3.0), (0.3, 0.9)]:
        kit = make_kit(interval=interval, timeout=timeout)
        alice = await kit.login("alice")
        start = kit.clock.monotonic()
        period = kit.hub.housekeeping.policy.sweep_period
        while not alice.closed:
            sweep_at(kit, period)
            assert kit.clock.monotonic() - start <= timeout + 1.0
        assert kit.clock.monotonic() - start >= timeout


# -- slowloris: an unfinished line has a deadline ------------------------------------------


async def test_an_unfinished_line_is_cut_at_partial_line_timeout(make_kit: MakeKit) -> None:
    kit = make_kit(partial_line_timeout=15.0)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(bob, "lobby")
    outlet(alice).clear()
    bob.partial_since = kit.clock.monotonic()  # what a door sets on an unterminated line
    for _ in range(14):
        kit.clock.advance(1.0)
        kit.hub.received(bob, 1)  # trickling bytes do not postpone the deadline
        kit.hub.housekeeping.sweep()
    assert not bob.closed
    sweep_at(kit, 1.01)
    assert bob.closed
    assert outlet(bob).events()[-1] == ("error", "timeout", True)
    assert kit.hub.stats.closed["slowloris"] == 1
    assert outlet(alice).events() == [("presence", "lobby", "bob", "left", "slowloris")]


async def test_a_finished_line_stops_the_slowloris_clock(make_kit: MakeKit) -> None:
    kit = make_kit(partial_line_timeout=15.0)
    alice = await kit.login("alice")
    alice.partial_since = kit.clock.monotonic()
    kit.clock.advance(10.0)
    alice.partial_since = None
    kit.hub.received(alice, 1)
    sweep_at(kit, 10.0)
    assert not alice.closed


# -- the memory guard ------------------------------------------------------------------------

MIB = 1024 * 1024


async def test_the_memory_guard_sheds_the_biggest_backlogs_and_refuses_newcomers(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(max_rss_mb=100)
    house = kit.hub.housekeeping
    readers = [await kit.login(f"user{i}", ip=f"10.0.1.{i}") for i in range(3)]
    outlet(readers[0]).unsent = 200_000
    outlet(readers[1]).unsent = 100_000  # over the victim mark, but not the biggest
    assert house.check_memory(89 * MIB) == 0
    assert not house.shedding
    assert house.check_memory(95 * MIB) == 0  # between 90 % and the limit: no change
    assert house.check_memory(100 * MIB) == 1
    assert house.shedding
    assert readers[0].closed and not readers[1].closed and not readers[2].closed
    assert outlet(readers[0]).closes == [True]  # aborted: its backlog is dropped
    assert kit.hub.stats.closed["memory_guard"] == 1
    with pytest.raises(TooManyConnections) as info:
        kit.hub.admit("10.0.2.1")
    assert "memory" in info.value.message
    assert house.check_memory(89 * MIB) == 0
    assert not house.shedding
    kit.hub.admit("10.0.2.1")


async def test_the_memory_guard_leaves_readers_without_a_backlog_alone(make_kit: MakeKit) -> None:
    kit = make_kit(max_rss_mb=100)
    reader = await kit.login("reader")
    assert kit.hub.housekeeping.check_memory(200 * MIB) == 0
    assert not reader.closed


async def test_idle_is_never_negative_though_a_stamp_may_lead(kit: HubKit) -> None:
    alice = await kit.login("alice")
    alice.last_received = kit.clock.monotonic() + 0.04  # a stamp up to a grain ahead
    assert alice.idle(kit.clock.monotonic()) == 0.0
    kit.clock.advance(2.0)
    assert alice.idle(kit.clock.monotonic()) == pytest.approx(1.96)
