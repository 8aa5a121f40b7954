"""close_session on every path releases everything at once; the janitor repairs leaks."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import pytest

from teahouse.core.hub import Hub
from teahouse.core.session import Session, SessionState
from teahouse.errors import ServerShutdown, SlowConsumer, TooManyConnections

from ..hubkit import ENCODER, FakeOutlet, HubKit, MakeKit, outlet

ALICE_IP = "10.0.0.1"
BOB_IP = "10.0.0.2"


async def two_in_lobby(kit: HubKit) -> tuple[Session, Session]:
    alice = await kit.login("alice", ip=ALICE_IP)
    bob = await kit.login("Bob", ip=BOB_IP)
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    kit.join(bob, "tea")
    kit.run_soon()
    outlet(alice).clear()
    outlet(bob).clear()
    return alice, bob


def assert_released(hub: Hub, session: Session, abort: bool = False) -> None:
    registry = hub.registry
    assert session.state is SessionState.CLOSED
    assert session.id not in hub.sessions
    assert not session.rooms
    for room in hub.registry.rooms.values():
        assert session not in room.sessions
        assert session.ident not in room.users
    for _, peers in registry.identities():
        assert session not in peers
    assert not registry.is_online(session.ident)
    assert session.key not in registry.names
    assert session.ip not in registry.ip_counts
    assert outlet(session).closes == [abort]
    assert outlet(session).after_close == []


def eof(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.hub.close_session(bob, "disconnected")


def heartbeat(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.clock.advance(60.0)
    kit.hub.received(alice, 1)
    kit.hub.housekeeping.sweep()


def kick(kit: HubKit, bob: Session, alice: Session) -> None:
    moderation = kit.hub.moderation
    assert moderation.kick(moderation.sessions_of(bob.ident), "flooding", "op") == 1


def ban_user(kit: HubKit, bob: Session, alice: Session) -> None:
    assert kit.hub.moderation.ban_account(bob.ident, None, "spam", "op") == 1


def ban_ip(kit: HubKit, bob: Session, alice: Session) -> None:
    assert kit.hub.moderation.ban_address(BOB_IP, None, "spam", "op") == 1


def quit_(kit: HubKit, bob: Session, alice: Session) -> None:
    # A door answers `quit` itself (native `bye`, IRC `ERROR`), then closes the session.
    kit.hub.close_session(bob, "quit", text="gone for tea")


def slow_consumer(kit: HubKit, bob: Session, alice: Session) -> None:
    kit.hub.close_session(bob, "slow_consumer", SlowConsumer(), abort=True)


PATHS: list[
    tuple[Callable[[HubKit, Session, Session], None], str, tuple[object, ...] | None, object]
] = [
    (eof, "disconnected", None, None),
    (heartbeat, "timeout", ("error", "heartbeat_timeout", True), None),
    (kick, "kicked", ("error", "kicked", True), {"text": "flooding"}),
    (ban_user, "banned", ("error", "banned", True), {"text": "banned until lifted: spam"}),
    (ban_ip, "banned", ("error", "banned", True), {"text": "banned until lifted: spam"}),
    (quit_, "quit", None, {"text": "gone for tea"}),
    (slow_consumer, "slow_consumer", None, None),
]


@pytest.mark.parametrize(
    ("close", "reason", "last_event", "extras"), PATHS, ids=lambda v: getattr(v, "__name__", None)
)
async def test_every_close_path_releases_everything_and_tells_the_room(
    kit: HubKit,
    close: Callable[[HubKit, Session, Session], None],
    reason: str,
    last_event: tuple[object, ...] | None,
    extras: object,
) -> None:
    alice, bob = await two_in_lobby(kit)
    close(kit, bob, alice)
    hub = kit.hub
    assert_released(hub, bob, abort=close is slow_consumer)
    assert hub.stats.closed[reason] == 1
    # Others see presence left with the reason (and the quit or kick text); rooms nobody
    # is in are dropped.
    left: tuple[object, ...] = ("presence", "lobby", "Bob", "left", reason)
    if extras is not None:
        left += (extras,)
    assert outlet(alice).events() == [left]
    assert set(hub.registry.rooms) == {"lobby"}
    assert hub.registry.rooms["lobby"].member_names() == ["alice"]
    assert set(hub.registry.names) == {"alice"}
    assert {ident for ident, _ in hub.registry.identities()} == {alice.ident}
    assert hub.registry.ip_counts == {ALICE_IP: 1}
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
        assert outlet(session).events()[-1] == ("error", "server_shutdown", True)
    assert hub.sessions == {}
    assert list(hub.registry.identities()) == []
    assert hub.registry.users_online == 0
    assert hub.registry.names == {}
    assert hub.registry.rooms == {}
    assert hub.registry.ip_counts == {}
    assert hub.stats.closed["shutdown"] == 3
    with pytest.raises(TooManyConnections):
        hub.admit("10.0.0.9")


async def test_registry_close_session_is_idempotent(kit: HubKit) -> None:
    alice, bob = await two_in_lobby(kit)
    bob2 = await kit.login("bob", ip=BOB_IP)
    kit.join(bob2, "lobby")
    outlet(alice).clear()
    registry = kit.hub.registry
    for _ in range(3):
        registry.close_session(bob, "disconnected")
        kit.hub.close_session(bob, "reset")
    assert kit.hub.stats.closed == {"disconnected": 1}
    assert outlet(bob).closes == [False]
    assert registry.ip_counts == {ALICE_IP: 1, BOB_IP: 1}
    assert registry.online(bob.ident) == {bob2}
    assert registry.names["bob"] == bob.ident
    # Bob is still in the lobby through his second connection: no presence yet.
    assert outlet(alice).events() == []
    assert kit.hub.registry.rooms["lobby"].member_names() == ["alice", "Bob"]
    kit.hub.close_session(bob2, "quit")
    assert outlet(alice).events() == [("presence", "lobby", "Bob", "left", "quit")]
    assert registry.ip_counts == {ALICE_IP: 1}
    assert "bob" not in registry.names


async def test_a_closing_session_with_a_peer_online_elsewhere_leaves_as_online(
    kit: HubKit,
) -> None:
    """Its last session in the room went, but the user is still connected (IRC: PART)."""
    alice, bob = await two_in_lobby(kit)
    await kit.login("bob", ip=BOB_IP)  # a second connection, in no room
    kit.hub.close_session(bob, "disconnected")
    assert outlet(alice).events() == [
        ("presence", "lobby", "Bob", "left", "disconnected", {"online": True})
    ]


async def test_closing_an_unauthenticated_session_releases_it(kit: HubKit) -> None:
    session = kit.connect("10.0.0.7")
    assert kit.hub.registry.ip_counts == {"10.0.0.7": 1}
    kit.hub.close_session(session, "disconnected")
    assert kit.hub.sessions == {}
    assert kit.hub.registry.ip_counts == {}
    assert outlet(session).closes == [False]


async def test_a_write_made_just_before_closing_is_committed_at_the_rounds_end(
    make_kit: MakeKit,
) -> None:
    # The store commits off the loop now: close_session does not wait for the disk, and
    # what the closing session wrote is committed with the round's batch.
    kit = make_kit(on_disk=True)
    _, bob = await two_in_lobby(kit)
    kit.hub.rooms.set_topic(bob, "lobby", "last words")
    kit.hub.close_session(bob, "disconnected")
    assert outlet(bob).closes == [False]
    kit.run_soon()
    reader = sqlite3.connect(kit.store.path)
    try:
        assert reader.execute("SELECT topic FROM rooms WHERE name = 'lobby'").fetchall() == [
            ("last words",)
        ]
    finally:
        reader.close()


async def test_a_message_said_just_before_closing_is_still_delivered_after_the_commit(
    kit: HubKit,
) -> None:
    alice, bob = await two_in_lobby(kit)
    acks = kit.say(bob, "lobby", "last words")
    kit.hub.close_session(bob, "disconnected")
    kit.run_soon()
    assert [e[5] for e in outlet(alice).events("message")] == ["last words"]
    assert acks.done == [] and acks.failed == []  # nobody left to acknowledge
    assert [m.text for m in kit.store.room_before("lobby", None, 5).messages] == ["last words"]


# -- the janitor --------------------------------------------------------------------------


async def test_janitor_finds_nothing_to_repair_in_a_clean_hub_and_says_nothing(
    kit: HubKit, caplog: pytest.LogCaptureFixture
) -> None:
    await two_in_lobby(kit)
    caplog.set_level(logging.DEBUG, logger="teahouse")
    report = kit.hub.housekeeping.janitor(transports_open=2)
    assert report.repaired == 0
    assert report.sessions == 2
    assert report.authenticated == 2
    assert report.rooms == 2
    assert report.transports_open == 2
    assert kit.hub.stats.janitor_repairs == 0
    assert caplog.records == []


async def test_janitor_releases_a_session_whose_transport_is_gone(
    kit: HubKit, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = await two_in_lobby(kit)
    outlet(bob).open = False  # the transport died and nobody told the hub
    caplog.set_level(logging.WARNING, logger="teahouse")
    report = kit.hub.housekeeping.janitor(transports_open=1)
    assert report.repaired == 1
    assert "closed transport" in caplog.text
    assert kit.hub.stats.janitor_repairs == 1
    assert kit.hub.stats.closed["leak"] == 1
    assert report.sessions == 1
    assert_released(kit.hub, bob)
    assert outlet(alice).events() == [("presence", "lobby", "Bob", "left", "leak")]
    assert kit.hub.housekeeping.janitor(transports_open=1).repaired == 0
    assert kit.hub.stats.janitor_repairs == 1


async def test_janitor_warns_when_transports_and_sessions_disagree(
    kit: HubKit, caplog: pytest.LogCaptureFixture
) -> None:
    await two_in_lobby(kit)
    caplog.set_level(logging.WARNING, logger="teahouse")
    report = kit.hub.housekeeping.janitor(transports_open=5)
    assert report.repaired == 0
    assert "5 transports open but 2 sessions" in caplog.text


def ghost(kit: HubKit, name: str = "ghost", ident: int = 999) -> Session:
    """A session that was never registered with the hub (a leak to inject)."""
    session = Session(999, FakeOutlet(port=1), ENCODER, "10.6.6.6", kit.clock.monotonic())
    session.user = name
    session.ident = ident
    session.state = SessionState.AUTHED
    return session


async def test_janitor_removes_a_room_member_that_is_not_a_session(kit: HubKit) -> None:
    await two_in_lobby(kit)
    dead = ghost(kit)
    kit.hub.registry.rooms["lobby"].add(dead)
    report = kit.hub.housekeeping.janitor(transports_open=2)
    assert report.repaired == 1
    assert kit.hub.stats.janitor_repairs == 1
    assert dead not in kit.hub.registry.rooms["lobby"].sessions
    assert kit.hub.registry.rooms["lobby"].member_names() == ["alice", "Bob"]


async def test_janitor_drops_a_room_held_only_by_dead_sessions(kit: HubKit) -> None:
    await two_in_lobby(kit)
    dead = ghost(kit)
    kit.join(dead, "attic")  # registers the room, but not the session
    assert "attic" in kit.hub.registry.rooms
    report = kit.hub.housekeeping.janitor(transports_open=2)
    assert report.repaired == 1
    assert "attic" not in kit.hub.registry.rooms


async def test_janitor_removes_dead_sessions_from_the_identities_and_names(kit: HubKit) -> None:
    alice, _ = await two_in_lobby(kit)
    registry = kit.hub.registry
    # Inject the leaks straight into the private index: no public call can make them.
    registry._idents[alice.ident] = {alice, ghost(kit, "alice", alice.ident)}
    registry._idents[999] = ghost(kit)
    registry.authed_sessions += 2
    registry.names["ghost"] = 999
    registry.names["nobody"] = 12345  # a name whose identity is gone
    report = kit.hub.housekeeping.janitor(transports_open=2)
    assert report.repaired == 4  # two dead sessions, two names without an identity
    assert kit.hub.stats.janitor_repairs == 4
    assert registry.online(alice.ident) == {alice}
    assert not registry.is_online(999)
    assert set(registry.names) == {"alice", "bob"}
