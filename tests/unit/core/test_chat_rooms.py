"""Room state through the hub's rooms (and relays through its messages): modes, bans,
invites, kicks, topics, the room list."""

from __future__ import annotations

import pytest

from teahouse.core.results import ModeChange
from teahouse.core.room import Room
from teahouse.core.session import Session
from teahouse.errors import (
    Forbidden,
    InvalidField,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
)

from ..hubkit import HubKit, MakeKit, outlet

Wanted = list[tuple[str, str, str | None]]


async def op_and_member(kit: HubKit) -> tuple[Session, Session]:
    """alice opened the lobby, new to the server (so she runs it); bob joined after."""
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    outlet(alice).clear()
    outlet(bob).clear()
    return alice, bob


def modes(kit: HubKit, session: Session, wanted: Wanted) -> tuple[ModeChange, list[object]]:
    change, refused = kit.hub.rooms.set_modes(session, "lobby", wanted)
    return change, list(refused)


def room(kit: HubKit, name: str = "lobby") -> Room:
    return kit.hub.registry.rooms[name]


# -- modes ----------------------------------------------------------------------------------


async def test_whoever_opens_a_new_room_runs_it(kit: HubKit) -> None:
    _alice, bob = await op_and_member(kit)
    state = kit.hub.rooms.state_of(bob, "lobby")
    assert [(m.name, m.op) for m in state.members] == [("alice", True), ("bob", False)]
    assert state.modes == "+n"


async def test_flags_are_applied_in_order_and_the_others_are_told(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    change, refused = modes(kit, alice, [("+", "m", None), ("+", "t", None), ("-", "n", None)])
    assert change.changes == (("+", "m", None), ("+", "t", None), ("-", "n", None))
    assert change.flags_and_args() == ("+mt-n", [])
    assert refused == []
    assert room(kit).mode_string() == "+mt"
    assert outlet(bob).events() == [("mode", "lobby", "alice", "+mt-n", [])]
    assert outlet(alice).events() == [], "the setter renders its own reply"


async def test_a_flag_already_set_is_refused_as_unchanged_and_not_broadcast(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    change, refused = modes(kit, alice, [("+", "n", None), ("-", "s", None)])
    assert not change
    assert refused == [("n", None, "unchanged"), ("s", None, "unchanged")]
    assert outlet(bob).events() == []


async def test_a_member_who_is_no_operator_may_not_change_modes(kit: HubKit) -> None:
    _, bob = await op_and_member(kit)
    with pytest.raises(Forbidden) as info:
        modes(kit, bob, [("+", "m", None)])
    assert info.value.detail == "not_op"
    assert room(kit).mode_string() == "+n"


async def test_modes_of_a_room_nobody_is_in(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.store.create_room("attic", 0)
    with pytest.raises(NotInRoom):
        kit.hub.rooms.set_modes(alice, "attic", [("+", "m", None)])
    with pytest.raises(NoSuchRoom):
        kit.hub.rooms.set_modes(alice, "nowhere", [("+", "m", None)])


@pytest.mark.parametrize(
    "key", ["", "   ", "two words", "a,b", "x" * 24, "nul\x00", "ctl\x85x", "esc\x1b"]
)
async def test_a_bad_key_is_refused(kit: HubKit, key: str) -> None:
    alice, bob = await op_and_member(kit)
    change, refused = modes(kit, alice, [("+", "k", key)])
    assert not change
    assert refused == [("k", key, "bad_arg")]
    assert room(kit).key is None
    assert outlet(bob).events() == []


async def test_a_key_is_set_shown_to_members_and_cleared_as_a_star(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    change, _ = modes(kit, alice, [("+", "k", "s3cret")])
    assert change.flags_and_args() == ("+k", ["s3cret"])
    assert room(kit).key == "s3cret"
    assert room(kit).mode_string() == "+nk"
    change, _ = modes(kit, alice, [("-", "k", None)])
    assert change.flags_and_args() == ("-k", ["*"])
    assert room(kit).key is None
    assert outlet(bob).events("mode") == [
        ("mode", "lobby", "alice", "+k", ["s3cret"]),
        ("mode", "lobby", "alice", "-k", ["*"]),
    ]
    _, refused = modes(kit, alice, [("-", "k", None)])
    assert refused == [("k", None, "unchanged")]


async def test_a_key_is_kept_and_shown_without_surrounding_blanks(kit: HubKit) -> None:
    alice, _bob = await op_and_member(kit)
    change, _ = modes(kit, alice, [("+", "k", " tea\x85")])
    assert room(kit).key == "tea"
    assert change.flags_and_args() == ("+k", ["tea"]), "members are told the key that works"


@pytest.mark.parametrize("limit", ["²", "0", "-1", "1.5", "ten", "100001", "١٢", " 5"])
async def test_a_limit_must_be_a_positive_ascii_number(kit: HubKit, limit: str) -> None:
    alice, _ = await op_and_member(kit)
    change, refused = modes(kit, alice, [("+", "l", limit)])
    assert not change
    assert refused == [("l", limit, "bad_arg")]
    assert room(kit).limit is None


async def test_a_limit_is_set_and_lifted(kit: HubKit) -> None:
    alice, _ = await op_and_member(kit)
    _, refused = modes(kit, alice, [("+", "l", None)])
    assert refused == [("l", None, "needs_arg")]
    change, _ = modes(kit, alice, [("+", "l", "10")])
    assert change.flags_and_args() == ("+l", ["10"])
    assert (room(kit).limit, room(kit).mode_string()) == (10, "+nl")
    change, _ = modes(kit, alice, [("-", "l", None)])
    assert change.flags_and_args() == ("-l", [])
    assert room(kit).limit is None


async def test_operator_and_voice_go_to_members_only(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    await kit.login("carol", ip="10.0.0.3")  # online, but not in the room
    change, refused = modes(
        kit, alice, [("+", "o", "BOB"), ("+", "v", "carol"), ("+", "v", None), ("+", "v", "bob")]
    )
    assert change.changes == (("+", "o", "BOB"), ("+", "v", "bob"))
    assert refused == [("v", "carol", "not_in_room"), ("v", None, "needs_arg")]
    assert bob.ident in room(kit).ops and bob.ident in room(kit).voiced
    assert modes(kit, bob, [("-", "o", "alice")])[0].flags_and_args() == ("-o", ["alice"])
    assert alice.ident not in room(kit).ops
    with pytest.raises(Forbidden):
        modes(kit, alice, [("+", "o", "alice")])


async def test_an_unknown_mode_letter_is_refused(kit: HubKit) -> None:
    alice, _ = await op_and_member(kit)
    change, refused = modes(kit, alice, [("+", "z", None), ("+", "m", None)])
    assert change.flags_and_args() == ("+m", [])
    assert refused == [("z", None, "unknown")]


async def test_moderated_rooms_let_only_operators_and_voices_speak(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    modes(kit, alice, [("+", "m", None)])
    with pytest.raises(Forbidden) as info:
        kit.say(bob, "lobby", "may I?")
    assert info.value.detail == "moderated"
    kit.say(alice, "lobby", "ops may")
    modes(kit, alice, [("+", "v", "bob")])
    acks = kit.say(bob, "lobby", "now I may")
    kit.run_soon()
    assert acks.message.text == "now I may"


# -- bans -----------------------------------------------------------------------------------


async def test_a_ban_mask_keeps_a_user_out_and_can_be_lifted(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    kit.hub.rooms.part(bob, "lobby")
    change, _ = modes(kit, alice, [("+", "b", "bob")])
    assert change.flags_and_args() == ("+b", ["bob!*@*"])
    [ban] = kit.hub.rooms.mode_list(alice, "lobby", "b")
    assert (str(ban.mask), ban.by) == ("bob!*@*", "alice")
    with pytest.raises(Forbidden) as info:
        kit.join(bob, "lobby")
    assert info.value.detail == "banned"
    _, refused = modes(kit, alice, [("+", "b", "BOB!*@*")])
    assert refused == [("b", "BOB!*@*", "unchanged")]
    modes(kit, alice, [("-", "b", "Bob!*@*")])
    assert kit.hub.rooms.mode_list(alice, "lobby", "b") == []
    kit.join(bob, "lobby")


async def test_a_ban_by_host_matches_the_cloak_others_see_never_the_address(
    kit: HubKit,
) -> None:
    alice, bob = await op_and_member(kit)
    kit.hub.rooms.part(bob, "lobby")
    guest = kit.guest("visitor", ip="10.0.0.7")
    assert (bob.host, guest.host) == ("user/bob", kit.hub.accounts.cloak("10.0.0.7"))
    modes(kit, alice, [("+", "b", "*!*@10.0.0.*")])
    kit.join(bob, "lobby")  # the address is nobody's host: it matches no one
    kit.join(guest, "lobby")
    kit.hub.rooms.part(bob, "lobby")
    kit.hub.rooms.part(guest, "lobby")
    modes(kit, alice, [("+", "b", "*!*@user/bob"), ("+", "b", f"*!*@{guest.host}")])
    for banned in (bob, guest):
        with pytest.raises(Forbidden):
            kit.join(banned, "lobby")


async def test_the_ban_list_of_a_room_is_bounded(kit: HubKit) -> None:
    alice, _ = await op_and_member(kit)
    wanted: Wanted = [("+", "b", f"spammer{i}") for i in range(Room.MAX_LIST)]
    change, refused = modes(kit, alice, wanted)
    assert len(change.changes) == Room.MAX_LIST and refused == []
    _, refused = modes(kit, alice, [("+", "b", "one-more")])
    assert refused == [("b", "one-more", "full")]


async def test_an_admin_passes_every_door_of_a_room(kit: HubKit) -> None:
    alice, _ = await op_and_member(kit)
    modes(kit, alice, [("+", "i", None), ("+", "k", "key"), ("+", "l", "2"), ("+", "b", "root")])
    await kit.add_user("root", role="admin")
    root = await kit.login("root", ip="10.0.0.9")
    assert not kit.join(root, "lobby").already


# -- who may join ---------------------------------------------------------------------------


async def test_an_invite_only_room_needs_an_invite_which_one_join_uses(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    modes(kit, alice, [("+", "i", None)])
    carol = await kit.login("carol", ip="10.0.0.3")
    with pytest.raises(Forbidden) as info:
        kit.join(carol, "lobby")
    assert info.value.detail == "invite_only"
    with pytest.raises(Forbidden) as info:
        kit.hub.rooms.invite(bob, "lobby", "carol")  # +i: only operators invite
    assert info.value.detail == "not_op"
    assert kit.hub.rooms.invite(alice, "lobby", "CAROL") == "carol"
    assert outlet(carol).events() == [("invited", "lobby", "alice", "carol")]
    kit.join(carol, "lobby")
    # Carol's second connection is the same member: it needs no invite of its own.
    carol2 = await kit.login("carol", ip="10.0.0.4")
    kit.join(carol2, "lobby")
    kit.hub.rooms.part(carol, "lobby")
    kit.hub.rooms.part(carol2, "lobby")
    with pytest.raises(Forbidden):
        kit.join(carol, "lobby")


async def test_a_keyed_room_needs_its_key(kit: HubKit) -> None:
    alice, _ = await op_and_member(kit)
    modes(kit, alice, [("+", "k", "tea")])
    carol = await kit.login("carol", ip="10.0.0.3")
    for key in (None, "coffee"):
        with pytest.raises(Forbidden) as info:
            kit.join(carol, "lobby", key=key)
        assert info.value.detail == "bad_key"
    kit.join(carol, "lobby", key="tea")


async def test_a_full_room_refuses_the_next_user_but_not_a_second_session(kit: HubKit) -> None:
    alice, _bob = await op_and_member(kit)
    modes(kit, alice, [("+", "l", "2")])
    carol = await kit.login("carol", ip="10.0.0.3")
    with pytest.raises(Forbidden) as info:
        kit.join(carol, "lobby")
    assert info.value.detail == "full"
    bob2 = await kit.login("bob", ip="10.0.0.4")
    kit.join(bob2, "lobby")
    assert room(kit).member_count == 2


# -- invites and kicks ------------------------------------------------------------------------


async def test_invite_refusals(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    carol = await kit.login("carol", ip="10.0.0.3")
    with pytest.raises(NoSuchUser):
        kit.hub.rooms.invite(alice, "lobby", "nobody")
    with pytest.raises(Forbidden) as info:
        kit.hub.rooms.invite(alice, "lobby", "bob")
    assert info.value.detail == "already"
    with pytest.raises(NotInRoom):
        kit.hub.rooms.invite(carol, "lobby", "alice")
    # Without +i any member may invite.
    await kit.login("dave", ip="10.0.0.5")
    assert kit.hub.rooms.invite(bob, "lobby", "dave") == "dave"


async def test_a_kick_is_heard_by_everyone_and_removes_every_session_of_the_target(
    kit: HubKit,
) -> None:
    alice, bob = await op_and_member(kit)
    bob2 = await kit.login("bob", ip="10.0.0.4")
    kit.join(bob2, "lobby")
    carol = await kit.login("carol", ip="10.0.0.3")
    kit.join(carol, "lobby")
    outlet(carol).clear()
    outlet(alice).clear()
    victim, text = kit.hub.rooms.kick(alice, "lobby", "BOB", "too loud\x07")
    assert victim in (bob, bob2)
    assert text == "too loud"
    kicked = (
        "presence",
        "lobby",
        "bob",
        "left",
        "kicked",
        {"online": True, "by": "alice", "text": "too loud"},
    )
    for session in (bob, bob2, carol):
        assert outlet(session).events()[-1] == kicked
    # The kicker's own connection hears it from its door's reply, not as a broadcast.
    assert outlet(alice).events() == []
    assert room(kit).member_names() == ["alice", "carol"]
    assert "lobby" not in bob.rooms and "lobby" not in bob2.rooms
    assert not bob.closed and not bob2.closed, "a kick from a room is no disconnect"
    with pytest.raises(NotInRoom):
        kit.say(bob, "lobby", "let me back")


async def test_kick_refusals(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    with pytest.raises(Forbidden) as info:
        kit.hub.rooms.kick(bob, "lobby", "alice", None)
    assert info.value.detail == "not_op"
    with pytest.raises(NotInRoom) as info_target:
        kit.hub.rooms.kick(alice, "lobby", "nobody", None)
    assert info_target.value.detail == "target"
    carol = await kit.login("carol", ip="10.0.0.3")
    with pytest.raises(NotInRoom):
        kit.hub.rooms.kick(carol, "lobby", "bob", None)


async def test_a_kick_without_a_reason_names_the_kicker_and_an_emptied_room_goes(
    kit: HubKit,
) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "attic")
    outlet(alice).clear()
    victim, text = kit.hub.rooms.kick(alice, "attic", "alice", None)
    assert (victim, text) == (alice, "alice")
    assert outlet(alice).events() == [], "the kicker's door replies"
    assert "attic" not in alice.rooms
    assert "attic" not in kit.hub.registry.rooms


# -- topics ---------------------------------------------------------------------------------


async def test_a_member_sets_the_topic_which_is_stored_and_told(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    kit.clock.advance(5.0)
    text, by, ts = kit.hub.rooms.set_topic(bob, "lobby", "tea at five")
    assert (text, by, ts) == ("tea at five", "bob", kit.clock.wall_ms())
    assert outlet(alice).events() == [("topic", "lobby", "tea at five", "bob")]
    assert outlet(bob).events() == []
    record = kit.store.get_room("lobby")
    assert record is not None
    assert (record.topic, record.topic_by, record.topic_ms) == ("tea at five", "bob", ts)
    state = kit.join(await kit.login("carol", ip="10.0.0.3"), "lobby").room
    assert (state.topic, state.topic_by, state.topic_ms) == ("tea at five", "bob", ts)


async def test_a_locked_topic_is_for_operators_and_a_topic_has_rules(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "t", None)])
    with pytest.raises(Forbidden) as info:
        kit.hub.rooms.set_topic(bob, "lobby", "mine now")
    assert info.value.detail == "not_op"
    with pytest.raises(InvalidField):
        kit.hub.rooms.set_topic(alice, "lobby", "x" * 391)
    # Control codes are cleaned out, not refused: members never get them.
    assert kit.hub.rooms.set_topic(alice, "lobby", "line\nbreak\x1b[2J")[0] == "line break[2J"
    assert outlet(bob).events("topic")[-1] == ("topic", "lobby", "line break[2J", "alice")
    carol = await kit.login("carol", ip="10.0.0.3")
    with pytest.raises(NotInRoom):
        kit.hub.rooms.set_topic(carol, "lobby", "from outside")
    kit.hub.rooms.set_topic(alice, "lobby", "")  # clearing is allowed


async def test_a_topic_survives_the_room_emptying(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    kit.hub.rooms.set_topic(alice, "lobby", "kept")
    kit.hub.rooms.part(alice, "lobby")
    assert "lobby" not in kit.hub.registry.rooms
    assert kit.hub.rooms.state_of(alice, "lobby").topic == "kept"
    assert kit.join(alice, "lobby").room.topic == "kept"


# -- the room list ----------------------------------------------------------------------------


async def test_the_room_list_pages_by_name(kit: HubKit) -> None:
    alice = await kit.login("alice")
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        kit.join(alice, name)
    kit.hub.rooms.part(alice, "charlie")
    chat = kit.hub.rooms
    first = chat.list_rooms(alice, limit=2)
    assert [r.name for r in first.rooms] == ["alpha", "bravo"]
    assert first.next_after == "bravo"
    second = chat.list_rooms(alice, first.next_after, limit=2)
    assert [(r.name, r.members) for r in second.rooms] == [("charlie", 0), ("delta", 1)]
    last = chat.list_rooms(alice, second.next_after, limit=2)
    assert ([r.name for r in last.rooms], last.next_after) == (["echo"], None)
    assert [r.name for r in kit.store.list_rooms("bravo", 2)] == ["charlie", "delta"]


async def test_a_secret_room_is_listed_for_its_members_and_admins_only(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "s", None)])
    carol = await kit.login("carol", ip="10.0.0.3")
    assert [r.name for r in kit.hub.rooms.list_rooms(bob).rooms] == ["lobby"]
    assert kit.hub.rooms.list_rooms(carol).rooms == []
    kit.hub.moderation.set_live_role(carol.ident, "admin")
    assert [r.name for r in kit.hub.rooms.list_rooms(carol).rooms] == ["lobby"]


async def test_a_closed_rooms_history_is_for_members(make_kit: MakeKit) -> None:
    kit = make_kit()
    alice, _ = await op_and_member(kit)
    kit.say_many(alice, "lobby", 2)
    carol = await kit.login("carol", ip="10.0.0.3")
    assert len(kit.hub.messages.history(carol, "lobby").messages) == 2
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "i", None)])
    with pytest.raises(Forbidden) as info:
        kit.hub.messages.history(carol, "lobby")
    assert info.value.detail == "closed"


# -- live-only relays -------------------------------------------------------------------------


async def test_a_notice_to_a_room_is_relayed_live_and_not_stored(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    kit.hub.messages.relay(alice, "notice", "lobby", None, "psst\x07")
    kit.run_soon()
    assert outlet(bob).events() == [("relay", "notice", "alice", "lobby", None, "psst")]
    assert outlet(alice).events() == []
    assert kit.store.room_before("lobby", None, 5).messages == []
    with pytest.raises(NoSuchUser):
        kit.hub.messages.relay(alice, "ctcp", None, "nobody", "\x01VERSION\x01")


async def test_a_message_to_a_rooms_operators_reaches_operators_only(kit: HubKit) -> None:
    alice, bob = await op_and_member(kit)
    carol = await kit.login("carol", ip="10.0.0.3")
    kit.join(carol, "lobby")
    kit.hub.rooms.set_modes(alice, "lobby", [("+", "o", "carol")])
    for session in (alice, bob, carol):
        outlet(session).clear()
    kit.hub.messages.relay_to_ops(bob, "privmsg", "lobby", "help")
    assert outlet(alice).events() == [("relay", "ops_privmsg", "bob", "lobby", None, "help")]
    assert outlet(carol).events() == [("relay", "ops_privmsg", "bob", "lobby", None, "help")]
    assert outlet(bob).events() == []
