"""close_session on every path releases everything at once; the janitor repairs leaks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from teahouse.core.hub import Hub
from teahouse.core.session import Session, SessionState
from teahouse.errors import ServerShutdown, SlowConsumer, TooManyConnections

from ..hubkit import ENCODER, FakeOutlet, HubKit, outlet

ALICE_IP = "10.0.0.1"
BOB_IP = "10.0.0.2"


async def two_in_lobby(kit: HubKit) -> tuple[Session, Session]:
    alice = await kit.login("alice", ip=ALICE_IP)
    bob = await kit.login("Bob", ip=BOB_IP)
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.join(bob, "lobby", None, None)
    kit.hub.join(bob, "tea", None, None)
    outlet(alice).clear()
    outlet(bob).clear()
    return alice, bob


def assert_released(hub: Hub, session: Session, abort: bool = False) -> None:
    assert session.state is SessionState.CLOSED
    assert session.id not in hub.sessions
    assert session.rooms == set()
    for room in hub.rooms.values():
        assert session not in room.sessions
        assert session.key not in room.users
    for peers in hub.users.values():
        assert session not in peers
    assert session.key not in hub.users
    assert session.ip not in hub.ip_counts
    assert outlet(session).closes == [abort]
    assert outlet(session).after_close == []


def eof(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.hub.close_session(bob, "disconnected")


def heartbeat(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.clock.advance(60.0)
    kit.hub.received(alice, 1)
    kit.hub.sweep()


def kick(kit: HubKit, bob: Session, alice: Session) -> None:
    assert kit.hub.kick("BOB", "flooding") == 1


def ban_user(kit: HubKit, bob: Session, alice: Session) -> None:
    assert kit.hub.ban("user", "bob", None, "spam", "op") == 1


def ban_ip(kit: HubKit, bob: Session, alice: Session) -> None:
    assert kit.hub.ban("ip", BOB_IP, None, "spam", "op") == 1


def quit_(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.hub.quit(bob, 5)


def slow_consumer(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.hub.close_session(bob, "slow_consumer", SlowConsumer(), abort=True)


PATHS: list[tuple[Callable[[HubKit, Session, Session], None], str, tuple[object, ...] | None]] = [
    (eof, "disconnected", None),
    (heartbeat, "timeout", ("error", "heartbeat_timeout", True, None)),
    (kick, "kicked", ("error", "kicked", True, None)),
    (ban_user, "banned", ("error", "banned", True, None)),
    (ban_ip, "banned", ("error", "banned", True, None)),
    (quit_, "quit", ("bye", 5)),
    (slow_consumer, "slow_consumer", None),
]


@pytest.mark.parametrize(
    ("close", "reason", "last_event"), PATHS, ids=lambda v: getattr(v, "__name__", None)
)
async def test_every_close_path_releases_everything_and_tells_the_room(
    kit: HubKit,
    close: Callable[[HubKit, Session, Session], None],
    reason: str,
    last_event: tuple[object, ...] | None,
) -> None:
    alice, bob = await two_in_lobby(kit)
    close(kit, bob, alice)
    hub = kit.hub
    assert_released(hub, bob, abort=close is slow_consumer)
    assert hub.stats.closed[reason] == 1
    # Others see presence left with the reason; rooms nobody is in are dropped.
    assert outlet(alice).events() == [("presence", "lobby", "Bob", "left", reason)]
    assert set(hub.rooms) == {"lobby"}
    assert hub.rooms["lobby"].member_names() == ["alice"]
    assert set(hub.users) == {"alice"}
    assert hub.ip_counts == {ALICE_IP: 1}
    bob_events = outlet(bob).events()
    if last_event is None:
        assert bob_events == []
    else:
        assert bob_events[-1] == last_event


async def test_shutdown_all_closes_everyone_with_server_shutdown(kit: HubKit) -> None:
    alice, bob = await two_in_lobby(kit)
    pending = kit.connect("10.0.0.3")
    kit.hub.shutdown_all(ServerShutdown())
    hub = kit.hub
    for session in (alice, bob, pending):
        assert_released(hub, session)
        assert outlet(session).events()[-1] == ("error", "server_shutdown", True, None)
    assert hub.sessions == {}
    assert hub.users == {}
    assert hub.rooms == {}
    assert hub.ip_counts == {}
    assert hub.stats.closed["shutdown"] == 3
    with pytest.raises(TooManyConnections):
        hub.admit("10.0.0.9")


async def test_close_session_is_idempotent(kit: HubKit) -> None:
    alice, bob = await two_in_lobby(kit)
    bob2 = await kit.login("bob", ip=BOB_IP)
    kit.hub.join(bob2, "lobby", None, None)
    outlet(alice).clear()
    for _ in range(3):
        kit.hub.close_session(bob, "disconnected")
    hub = kit.hub
    assert hub.stats.closed["disconnected"] == 1
    assert outlet(bob).closes == [False]
    assert hub.ip_counts == {ALICE_IP: 1, BOB_IP: 1}
    assert hub.users["bob"] == {bob2}
    # Bob is still in the lobby through his second connection: no presence yet.
    assert outlet(alice).events() == []
    assert hub.rooms["lobby"].member_names() == ["alice", "Bob"]
    kit.hub.close_session(bob2, "quit")
    assert outlet(alice).events() == [("presence", "lobby", "Bob", "left", "quit")]
    assert hub.ip_counts == {ALICE_IP: 1}


async def test_closing_an_unauthenticated_session_releases_it(kit: HubKit) -> None:
    session = kit.connect("10.0.0.7")
    assert kit.hub.ip_counts == {"10.0.0.7": 1}
    kit.hub.close_session(session, "disconnected")
    assert kit.hub.sessions == {}
    assert kit.hub.ip_counts == {}
    assert outlet(session).closes == [False]


async def test_close_session_commits_the_store_before_closing_the_transport(kit: HubKit) -> None:
    _, bob = await two_in_lobby(kit)
    kit.hub.say(bob, "lobby", "last words", None, None)
    seen: list[bool] = []
    outlet(bob).close_transport = lambda abort: seen.append(  # type: ignore[method-assign]
        kit.store._db.in_transaction
    )
    kit.hub.close_session(bob, "disconnected")
    assert seen == [False]


# -- the janitor --------------------------------------------------------------------------


async def test_janitor_finds_nothing_to_repair_in_a_clean_hub(kit: HubKit) -> None:
    await two_in_lobby(kit)
    report = kit.hub.janitor(transports_open=2)
    assert report.repaired == 0
    assert report.sessions == 2
    assert report.authenticated == 2
    assert report.rooms == 2
    assert kit.hub.stats.janitor_repairs == 0


async def test_janitor_releases_a_session_whose_transport_is_gone(kit: HubKit) -> None:
    alice, bob = await two_in_lobby(kit)
    outlet(bob).open = False  # the transport died and nobody told the hub
    report = kit.hub.janitor(transports_open=1)
    assert report.repaired == 1
    assert kit.hub.stats.janitor_repairs == 1
    assert kit.hub.stats.closed["leak"] == 1
    assert report.sessions == 1
    assert_released(kit.hub, bob)
    assert outlet(alice).events() == [("presence", "lobby", "Bob", "left", "leak")]
    assert kit.hub.janitor(transports_open=1).repaired == 0
    assert kit.hub.stats.janitor_repairs == 1


def ghost(kit: HubKit, name: str = "ghost") -> Session:
    """A session that was never registered with the hub (a leak to inject)."""
    session = Session(999, FakeOutlet(), ENCODER, "10.6.6.6", 1, kit.clock.monotonic(), 0)
    session.user = session.key = name
    session.state = SessionState.AUTHED
    return session


async def test_janitor_removes_a_room_member_that_is_not_a_session(kit: HubKit) -> None:
    await two_in_lobby(kit)
    dead = ghost(kit)
    kit.hub.rooms["lobby"].add(dead)
    report = kit.hub.janitor(transports_open=2)
    assert report.repaired == 1
    assert kit.hub.stats.janitor_repairs == 1
    assert dead not in kit.hub.rooms["lobby"].sessions
    assert kit.hub.rooms["lobby"].member_names() == ["alice", "Bob"]


async def test_janitor_drops_a_room_held_only_by_dead_sessions(kit: HubKit) -> None:
    await two_in_lobby(kit)
    dead = ghost(kit)
    kit.hub.join(dead, "attic", None, None)  # registers the room, but not the session
    assert "attic" in kit.hub.rooms
    report = kit.hub.janitor(transports_open=2)
    assert report.repaired == 1
    assert "attic" not in kit.hub.rooms


async def test_janitor_removes_a_dead_session_from_the_users_map(kit: HubKit) -> None:
    await two_in_lobby(kit)
    dead = ghost(kit, "alice")
    kit.hub.users["alice"].add(dead)
    kit.hub.users["ghost"] = {ghost(kit)}
    report = kit.hub.janitor(transports_open=2)
    assert report.repaired == 2
    assert kit.hub.stats.janitor_repairs == 2
    assert len(kit.hub.users["alice"]) == 1
    assert "ghost" not in kit.hub.users
