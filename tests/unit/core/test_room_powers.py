"""Who runs a room: first joiners only where ``rooms.first_joiner_ops`` allows, never in a
community's room or a registered one; registered rooms keep their owner, operators and
modes by account id, across a restart."""

from __future__ import annotations

import pytest

from teahouse.core.session import Session
from teahouse.errors import Forbidden

from ..hubkit import HubKit, MakeKit


def runs(kit: HubKit, session: Session, room: str = "lobby") -> bool:
    """Whether ``session`` is an operator of the live ``room``."""
    return session.ident in kit.hub.registry.rooms[room].ops


def empty(kit: HubKit, room: str, *sessions: Session) -> None:
    for session in sessions:
        kit.hub.rooms.part(session, room)
    assert room not in kit.hub.registry.rooms, "an empty room is dropped from memory"


# -- the default: new rooms and guests' scratch rooms ---------------------------------------


async def test_the_creator_of_a_new_room_runs_it(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    assert runs(kit, alice) and not runs(kit, bob)
    guest = kit.guest("visitor", ip="10.0.0.3")
    kit.join(guest, "scratch")
    assert runs(kit, guest, "scratch")


async def test_a_community_room_gives_nobody_ops_after_it_empties(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    empty(kit, "lobby", alice, bob)
    kit.join(bob, "lobby")
    assert not runs(kit, bob), "nobody takes a community's room by being first"
    empty(kit, "lobby", bob)
    guest = kit.guest("visitor", ip="10.0.0.3")
    kit.join(guest, "lobby")
    assert not runs(kit, guest)


async def test_a_guest_only_room_is_run_by_the_guest_who_opens_it(kit: HubKit) -> None:
    first = kit.guest("first", ip="10.0.0.5")
    kit.join(first, "scratch")
    empty(kit, "scratch", first)
    second = kit.guest("second", ip="10.0.0.6")
    kit.join(second, "scratch")
    assert runs(kit, second, "scratch"), "an IRC scratch channel, as IRC has them"
    empty(kit, "scratch", second)
    alice = await kit.login("alice")
    kit.join(alice, "scratch")
    assert not runs(kit, alice, "scratch"), "an account opening it later gets nothing"
    empty(kit, "scratch", alice)
    third = kit.guest("third", ip="10.0.0.7")
    kit.join(third, "scratch")
    assert not runs(kit, third, "scratch"), "an account has been in it: a community's now"


async def test_a_guest_is_never_made_an_operator_of_a_communitys_room(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    guest = kit.guest("visitor", ip="10.0.0.3")
    kit.join(guest, "lobby")
    change, refused = kit.hub.rooms.set_modes(
        alice, "lobby", [("+", "o", "visitor"), ("+", "v", "visitor")]
    )
    assert refused == [("o", "visitor", "guest")]
    assert change.changes == (("+", "v", "visitor"),), "a voice is fine"
    assert not runs(kit, guest)
    # In a guests' own room a guest operator may share the power.
    first = kit.guest("first", ip="10.0.0.5")
    second = kit.guest("second", ip="10.0.0.6")
    kit.join(first, "scratch")
    kit.join(second, "scratch")
    change, refused = kit.hub.rooms.set_modes(first, "scratch", [("+", "o", "second")])
    assert refused == [] and runs(kit, second, "scratch")


@pytest.mark.parametrize(
    ("rule", "creator", "guest_again", "community_again"),
    [
        ("never", False, False, False),
        ("new", True, False, False),
        ("guest_rooms", True, True, False),
        ("always", True, True, True),
    ],
)
async def test_first_joiner_ops_follows_the_setting(
    make_kit: MakeKit, rule: str, creator: bool, guest_again: bool, community_again: bool
) -> None:
    kit = make_kit(first_joiner_ops=rule)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    assert runs(kit, alice) is creator
    empty(kit, "lobby", alice)
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(bob, "lobby")
    assert runs(kit, bob) is community_again
    first = kit.guest("first", ip="10.0.0.5")
    kit.join(first, "scratch")
    assert runs(kit, first, "scratch") is creator
    empty(kit, "scratch", first)
    second = kit.guest("second", ip="10.0.0.6")
    kit.join(second, "scratch")
    assert runs(kit, second, "scratch") is guest_again


async def test_a_room_refused_for_too_many_rooms_is_not_created(make_kit: MakeKit) -> None:
    kit = make_kit(max_joined=1)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    with pytest.raises(Forbidden) as info:
        kit.join(alice, "attic")
    assert info.value.detail == "too_many_rooms"
    assert "attic" not in kit.hub.registry.rooms
    assert kit.store.get_room("attic") is None
    assert kit.join(alice, "lobby").already, "joining a room one is in is no new room"


# -- registered rooms ---------------------------------------------------------------------


async def registered_lobby(kit: HubKit) -> tuple[Session, Session]:
    """alice registered lobby, made bob an operator, locked the topic; then all left."""
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    state = kit.hub.rooms.register(alice, "lobby")
    assert state.owner_id == alice.ident
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "o", "bob"), ("+", "t", None)])
    empty(kit, "lobby", alice, bob)
    kit.run_soon()
    return alice, bob


async def test_a_registered_room_gives_first_joiners_nothing_and_keeps_its_own(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(first_joiner_ops="always")
    alice, bob = await registered_lobby(kit)
    carol = await kit.login("carol", ip="10.0.0.3")
    kit.join(carol, "lobby")
    assert not runs(kit, carol), "not even with first_joiner_ops = always"
    kit.join(bob, "lobby")
    kit.join(alice, "lobby")
    assert runs(kit, alice) and runs(kit, bob)
    assert kit.hub.rooms.state_of(carol, "lobby").modes == "+nt"
    with pytest.raises(Forbidden):
        kit.hub.rooms.kick(bob, "lobby", "alice", "coup")  # the owner stays
    _, refused = kit.hub.rooms.set_modes(bob, "lobby", [("-", "o", "alice")])
    assert refused == [("o", "alice", "owner")]


async def test_guests_cannot_register_rooms(kit: HubKit) -> None:
    guest = kit.guest("visitor")
    kit.join(guest, "scratch")
    with pytest.raises(Forbidden) as info:
        kit.hub.rooms.register(guest, "scratch")
    assert info.value.detail == "guest"


async def test_a_registered_rooms_powers_survive_a_restart(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    alice, bob = await registered_lobby(kit)
    alice_id, bob_id = alice.ident, bob.ident
    kit.restart()

    carol = await kit.login("carol", ip="10.0.0.3")
    kit.join(carol, "lobby")
    assert not runs(kit, carol)
    bob = await kit.login("bob", ip="10.0.0.2", create=False)
    alice = await kit.login("alice", create=False)
    assert (alice.ident, bob.ident) == (alice_id, bob_id)
    kit.join(bob, "lobby")
    kit.join(alice, "lobby")
    assert runs(kit, alice) and runs(kit, bob)
    state = kit.hub.rooms.state_of(carol, "lobby")
    assert (state.owner_id, state.modes) == (alice_id, "+nt")
    with pytest.raises(Forbidden):
        kit.hub.rooms.set_topic(carol, "lobby", "mine now")
    assert kit.store.room_grants("lobby") == {alice_id: "owner", bob_id: "op"}


async def test_a_dropped_room_forgets_its_operators(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    alice, bob = await registered_lobby(kit)
    kit.join(alice, "lobby")
    kit.hub.rooms.drop(alice, "lobby")
    empty(kit, "lobby", alice)
    kit.run_soon()
    kit.restart()
    bob = await kit.login("bob", ip="10.0.0.2", create=False)
    kit.join(bob, "lobby")
    assert not runs(kit, bob)
    assert kit.store.room_grants("lobby") == {}


async def test_operators_made_before_registering_are_kept_with_the_room(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(on_disk=True)
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "o", "bob")])
    kit.hub.rooms.register(alice, "lobby")
    kit.run_soon()
    assert kit.store.room_grants("lobby") == {alice.ident: "owner", bob.ident: "op"}
    _, operators = kit.hub.rooms.info(alice, "lobby")
    assert "bob" in operators
