"""Messages through the hub: stored, committed, then delivered; ids, nonces, join replay,
history, DM replay."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from teahouse.core.session import Session
from teahouse.errors import InvalidField, NoSuchUser, NotInRoom, StorageFailed
from teahouse.store.base import Committed

from ..hubkit import HubKit, MakeKit, outlet


def received(session: Session) -> list[str]:
    """The texts of the messages ``session`` was sent live."""
    return [e[5] for e in outlet(session).events("message")]


async def lobby_pair(kit: HubKit) -> tuple[Session, Session]:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "lobby")
    kit.run_soon()
    outlet(alice).clear()
    outlet(bob).clear()
    return alice, bob


# -- stored, committed, then delivered ------------------------------------------------------


async def test_flush_commits_the_store_before_any_delivery_or_write(
    make_kit: MakeKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = make_kit(on_disk=True)
    alice, bob = await lobby_pair(kit)

    order: list[str] = []
    store_commit = kit.store.commit

    def logged_commit(done: Committed) -> None:
        order.append("store")
        store_commit(done)

    monkeypatch.setattr(kit.store, "commit", logged_commit)
    reader = sqlite3.connect(kit.store.path)
    stored_at_write: list[set[int]] = []

    def on_flush() -> None:
        order.append("outlet")
        stored_at_write.append({row[0] for row in reader.execute("SELECT id FROM messages")})

    outlet(alice).on_flush = on_flush
    outlet(bob).on_flush = on_flush

    acks = kit.say(alice, "lobby", "hello")
    assert acks.done == [], "acknowledged before the commit"
    assert outlet(bob).written == [], "delivered before the commit"
    assert stored_at_write == []
    assert kit.run_soon() == 1, "one flush per loop round"
    reader.close()

    assert acks.message.text == "hello"
    assert order == ["store", "outlet"], "only bob had something to write"
    assert stored_at_write == [{acks.id}], "an outlet wrote before the commit"
    assert received(bob) == ["hello"]
    assert received(alice) == [], "the sender's copy is its acknowledgement, not a broadcast"


async def test_a_flush_round_writes_each_dirty_outlet_once(kit: HubKit) -> None:
    alice, bob = await lobby_pair(kit)
    flushes = outlet(bob).flushes
    for i in range(5):
        kit.say(alice, "lobby", f"m{i}")
    assert kit.run_soon() == 1
    assert outlet(bob).flushes == flushes + 1
    assert outlet(bob).queued == []
    assert received(bob) == [f"m{i}" for i in range(5)]


async def test_a_failed_commit_tells_the_sender_and_delivers_nothing(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    alice, bob = await lobby_pair(kit)
    kit.fill_disk()
    acks = kit.say(alice, "lobby", "lost", nonce="n-1")
    dm = kit.dm(alice, "bob", "lost too")
    kit.run_soon()
    for lost in (acks, dm):
        assert lost.done == []
        [error] = lost.failed
        assert isinstance(error, StorageFailed)
        assert error.retry_after == 5.0 and not error.fatal
    assert outlet(bob).events() == []
    assert kit.hub.outbox.commit_failures == 1
    assert kit.store.room_before("lobby", None, 10).messages == []
    # Space comes back: the next round works, and the nonce of the lost message is free.
    kit.fill_disk(False)
    again = kit.say(alice, "lobby", "lost", nonce="n-1")
    kit.run_soon()
    assert again.message.text == "lost"
    assert received(bob) == ["lost"]
    assert [m.text for m in kit.store.room_before("lobby", None, 10).messages] == ["lost"]


# -- message ids and nonces -------------------------------------------------------------


async def test_message_ids_strictly_increase_across_rooms_and_dms(kit: HubKit) -> None:
    alice = await kit.login("alice")
    await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(alice, "tea")
    sent = []
    for i in range(5):
        sent.append(kit.say(alice, "lobby", f"l{i}"))
        sent.append(kit.dm(alice, "bob", f"d{i}"))
        sent.append(kit.say(alice, "tea", f"t{i}"))
    kit.run_soon()
    ids = [acks.id for acks in sent]
    assert len(ids) == 15
    assert all(a < b for a, b in itertools.pairwise(ids))


async def test_a_retried_say_with_the_same_nonce_returns_the_same_id_and_stores_once(
    kit: HubKit,
) -> None:
    alice, bob = await lobby_pair(kit)
    first = kit.say(alice, "lobby", "once", "n-1")
    kit.run_soon()
    kit.clock.advance(599.0)  # the contract: remembered for at least 10 minutes
    second = kit.say(alice, "lobby", "once", "n-1")
    kit.run_soon()
    assert first.id == second.id
    assert len(kit.store.room_before("lobby", None, 10).messages) == 1
    assert kit.hub.stats.messages_total == 1
    assert received(bob) == ["once"]


async def test_a_retry_in_the_same_round_is_answered_after_the_commit_too(kit: HubKit) -> None:
    alice, bob = await lobby_pair(kit)
    first = kit.say(alice, "lobby", "once", "n-1")
    second = kit.say(alice, "lobby", "once", "n-1")
    assert first.done == second.done == []
    kit.run_soon()
    assert first.id == second.id
    assert received(bob) == ["once"]
    assert len(kit.store.room_before("lobby", None, 10).messages) == 1


async def test_a_nonce_reused_for_another_room_is_a_new_message(kit: HubKit) -> None:
    alice, _ = await lobby_pair(kit)
    kit.join(alice, "tea")
    first = kit.say(alice, "lobby", "hi", "n-1")
    kit.run_soon()
    second = kit.say(alice, "tea", "hi", "n-1")
    kit.run_soon()
    assert first.id != second.id
    assert second.message.room == "tea"


async def test_a_different_nonce_is_a_new_message(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    sent = [
        kit.say(alice, "lobby", "same text", "n-1"),
        kit.say(alice, "lobby", "same text", "n-2"),
        kit.say(alice, "lobby", "same text"),
        kit.say(alice, "lobby", "same text"),
    ]
    kit.run_soon()
    assert len({acks.id for acks in sent}) == 4


async def test_a_retried_dm_with_the_same_nonce_is_delivered_and_stored_once(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    first = kit.dm(alice, "bob", "psst", "n-9")
    second = kit.dm(alice, "bob", "psst", "n-9")
    kit.run_soon()
    third = kit.dm(alice, "BOB", "psst", "n-9")
    kit.run_soon()
    assert first.id == second.id == third.id
    assert received(bob) == ["psst"]
    assert len(kit.store.dms_after(bob.ident, 0, 10, incoming_only=True).messages) == 1


async def test_say_needs_membership_and_valid_text(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    kit.hub.rooms.part(alice, "lobby")
    with pytest.raises(NotInRoom):
        kit.say(alice, "lobby", "hi")
    kit.join(alice, "lobby")
    for bad in ["", "a\x00b", "x" * 4097]:
        with pytest.raises(InvalidField):
            kit.say(alice, "lobby", bad)
    kit.run_soon()
    assert kit.store.room_before("lobby", None, 10).messages == []


async def test_dm_to_an_unknown_user_is_no_such_user(kit: HubKit) -> None:
    alice = await kit.login("alice")
    for name in ["nobody", "bad name"]:
        with pytest.raises(NoSuchUser):
            kit.dm(alice, name, "hi")


async def test_a_dm_reaches_the_senders_other_sessions(kit: HubKit) -> None:
    alice = await kit.login("alice")
    alice2 = await kit.login("alice", ip="10.0.0.3")
    bob = await kit.login("bob", ip="10.0.0.2")
    acks = kit.dm(alice, "bob", "psst")
    kit.run_soon()
    assert received(bob) == ["psst"]
    assert received(alice2) == ["psst"]
    assert received(alice) == []
    assert acks.message.recipient == "bob"


# -- guests: nothing of theirs is kept --------------------------------------------------------


async def test_a_dm_to_a_guest_is_delivered_live_and_not_stored(kit: HubKit) -> None:
    alice = await kit.login("alice")
    guest = kit.guest("visitor", ip="10.0.0.2")
    acks = kit.dm(alice, "Visitor", "hello guest")
    kit.run_soon()
    assert acks.message.recipient == "visitor"
    assert received(guest) == ["hello guest"]
    assert acks.message.recipient_id is None
    assert kit.store.dms_before(alice.ident, None, 10).messages == []
    assert kit.hub.messages.dm_history(guest).messages == []
    assert kit.hub.accounts.replay_dms(guest, None).messages == []


async def test_a_dm_to_a_guest_that_left_is_no_such_user(kit: HubKit) -> None:
    alice = await kit.login("alice")
    guest = kit.guest("visitor", ip="10.0.0.2")
    kit.hub.close_session(guest, "quit")
    with pytest.raises(NoSuchUser):
        kit.dm(alice, "visitor", "anyone?")


async def test_a_guests_dm_to_an_account_is_kept_for_the_account(kit: HubKit) -> None:
    await kit.add_user("bob")
    guest = kit.guest("visitor")
    acks = kit.dm(guest, "bob", "hello from a guest")
    kit.run_soon()
    bob = await kit.login("bob", ip="10.0.0.2")
    assert [m.id for m in kit.replays[bob.id].messages] == [acks.id]


# -- join replay --------------------------------------------------------------------------


async def test_join_with_since_replays_exactly_the_messages_after_since(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 10)
    bob = await kit.login("bob", ip="10.0.0.2")
    result = kit.join(bob, "lobby", since=ids[3])
    assert result.room.name == "lobby"
    assert result.room.topic == ""
    assert result.room.member_names == ["alice", "bob"]
    assert not result.already
    replay = result.replay
    assert [m.id for m in replay.messages] == ids[4:]
    assert (replay.truncated, replay.oldest_id) == (False, ids[4])


async def test_join_with_since_at_the_newest_id_replays_nothing(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 3)
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.join(bob, "lobby", since=ids[-1]).replay
    assert (replay.messages, replay.truncated, replay.oldest_id) == ([], False, None)


async def test_join_replay_is_capped_at_max_replay_and_says_so(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 12)
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.join(bob, "lobby", since=ids[0]).replay
    assert [m.id for m in replay.messages] == ids[-5:], "the newest max_replay, oldest first"
    assert (replay.truncated, replay.oldest_id) == (True, ids[-5])


async def test_join_replay_of_exactly_max_replay_is_not_truncated(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 6)
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.join(bob, "lobby", since=ids[0]).replay
    assert [m.id for m in replay.messages] == ids[1:]
    assert (replay.truncated, replay.oldest_id) == (False, ids[1])


async def test_join_without_since_replays_the_last_50(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 60)
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.join(bob, "lobby").replay
    assert [m.id for m in replay.messages] == ids[-50:]
    assert not replay.truncated  # 50 is the default page, not a cut


async def test_join_without_since_never_replays_more_than_max_replay(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 8)
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.join(bob, "lobby").replay
    assert [m.id for m in replay.messages] == ids[-5:]
    assert (replay.truncated, replay.oldest_id) == (True, ids[-5])


async def test_a_join_without_replay_returns_none(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    kit.say_many(alice, "lobby", 3)
    bob = await kit.login("bob", ip="10.0.0.2")
    assert kit.join(bob, "lobby", replay=False).replay is None


async def test_joining_again_is_already(kit: HubKit) -> None:
    alice = await kit.login("alice")
    assert not kit.join(alice, "lobby").already
    again = kit.join(alice, "lobby")
    assert again.already
    assert again.room.member_names == ["alice"]


async def test_history_pages_back_and_forward(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 10)
    chat = kit.hub.messages
    back = chat.history(alice, "lobby", ids[5], None, 3)
    forward = chat.history(alice, "lobby", None, ids[5], 3)
    default = chat.history(alice, "lobby")
    assert ([m.id for m in back.messages], back.more, back.room) == (ids[2:5], True, "lobby")
    assert ([m.id for m in forward.messages], forward.more) == (ids[6:9], True)
    assert ([m.id for m in default.messages], default.more) == (ids, False)


async def test_history_refuses_a_bad_limit_or_both_directions(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=20)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    for limit in (0, 21, -1):
        with pytest.raises(InvalidField):
            kit.hub.messages.history(alice, "lobby", None, None, limit)
    with pytest.raises(InvalidField):
        kit.hub.messages.history(alice, "lobby", 5, 1, 5)


async def test_history_without_limit_works_when_max_replay_is_below_50(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    ids = kit.say_many(alice, "lobby", 8)
    page = kit.hub.messages.history(alice, "lobby")
    assert [m.id for m in page.messages] == ids[-5:]


async def test_others_see_presence_joined_once_per_user(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.join(alice, "lobby")
    outlet(alice).clear()
    bob = await kit.login("bob", ip="10.0.0.2")
    bob2 = await kit.login("bob", ip="10.0.0.3")
    kit.join(bob, "lobby")
    kit.join(bob2, "lobby")
    assert outlet(alice).events() == [("presence", "lobby", "bob", "joined", None)]
    assert outlet(bob).events() == [], "the joiner hears its own join as the result"
    kit.hub.rooms.part(bob, "lobby")
    assert outlet(alice).events("presence")[-1][3] == "joined"
    kit.hub.rooms.part(bob2, "lobby", "off to bed")
    assert outlet(alice).events()[-1] == (
        "presence",
        "lobby",
        "bob",
        "left",
        "part",
        {"online": True, "text": "off to bed"},
    )


async def test_parting_a_room_one_is_not_in_is_not_in_room(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(bob, "lobby")
    with pytest.raises(NotInRoom):
        kit.hub.rooms.part(alice, "lobby")


# -- DM replay at login -------------------------------------------------------------------


async def test_a_dm_to_an_offline_user_is_replayed_at_login(kit: HubKit) -> None:
    alice = await kit.login("alice")
    await kit.add_user("bob")
    acks = kit.dm(alice, "BOB", "while you were out")
    kit.run_soon()
    assert acks.message.recipient == "bob"
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.replays[bob.id]
    [message] = replay.messages
    assert (message.id, message.sender, message.recipient, message.text) == (
        acks.id,
        "alice",
        "bob",
        "while you were out",
    )
    assert (replay.truncated, replay.oldest_id, replay.last_id) == (False, acks.id, acks.id)


async def test_a_replayed_dm_is_not_replayed_again(kit: HubKit) -> None:
    alice = await kit.login("alice")
    await kit.add_user("bob")
    acks = kit.dm(alice, "bob", "once")
    kit.run_soon()
    bob = await kit.login("bob", ip="10.0.0.2")
    assert [m.text for m in kit.replays[bob.id].messages] == ["once"]
    # The door wrote the replay to bob's socket: from now on those DMs count as delivered.
    kit.hub.accounts.dms_delivered(bob, kit.replays[bob.id])
    kit.run_soon()
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2")
    replay = kit.replays[again.id]
    assert (replay.messages, replay.truncated, replay.oldest_id) == ([], False, None)
    assert replay.last_id == acks.id, "the newest DM is the client's dm_since baseline"


async def test_a_dm_replay_that_never_reached_the_socket_is_replayed_again(
    kit: HubKit,
) -> None:
    alice = await kit.login("alice")
    await kit.add_user("bob")
    kit.dm(alice, "bob", "once")
    kit.run_soon()
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.close_session(bob, "disconnected")  # before the door wrote the replay
    kit.hub.accounts.dms_delivered(bob, kit.replays[bob.id])  # too late: ignored
    kit.run_soon()
    again = await kit.login("bob", ip="10.0.0.2")
    assert [m.text for m in kit.replays[again.id].messages] == ["once"]


async def test_a_dm_delivered_live_is_not_replayed_at_the_next_login(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.dm(alice, "bob", "live")
    kit.run_soon()
    assert received(bob) == ["live"]
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2")
    assert kit.replays[again.id].messages == []


async def test_login_with_dm_since_replays_both_directions_after_since(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    carol = await kit.login("carol", ip="10.0.0.3")
    first = kit.dm(alice, "bob", "a->b 1")
    kit.dm(bob, "alice", "b->a")
    kit.dm(carol, "alice", "c->a")
    kit.dm(alice, "bob", "a->b 2")
    kit.run_soon()
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2", dm_since=first.id)
    assert [m.text for m in kit.replays[again.id].messages] == ["b->a", "a->b 2"]


async def test_the_dm_replay_is_capped_at_max_replay_and_says_so(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=3)
    alice = await kit.login("alice")
    await kit.add_user("bob")
    sent = [kit.dm(alice, "bob", f"d{i}") for i in range(5)]
    kit.run_soon()
    ids = [acks.id for acks in sent]
    bob = await kit.login("bob", ip="10.0.0.2")
    replay = kit.replays[bob.id]
    assert [m.id for m in replay.messages] == ids[-3:]
    assert (replay.truncated, replay.oldest_id) == (True, ids[-3])


# -- a commit's messages to one room go out together, in order -------------------------------


def say_acked(kit: HubKit, session: Session, text: str) -> None:
    """Say ``text`` in the lobby; the acknowledgement is written to the sender, as doors do."""
    kit.hub.messages.say(
        session,
        "lobby",
        text,
        None,
        lambda message: session.send(repr(("ack", message.text)).encode()),
        lambda exc: None,
    )


async def lobby_trio(kit: HubKit) -> tuple[Session, Session, Session]:
    """:func:`lobby_pair` and carol, all three in the lobby, with nothing sent yet."""
    alice, bob = await lobby_pair(kit)
    carol = await kit.login("carol", ip="10.0.0.3")
    kit.join(carol, "lobby")
    kit.run_soon()
    for session in (alice, bob, carol):
        outlet(session).clear()
    return alice, bob, carol


def seen(session: Session) -> list[tuple[str, str]]:
    """What ``session`` was sent: ("ack"|"message", text) or (kind, room) for the rest."""
    return [(e[0], e[5] if e[0] == "message" else e[1]) for e in outlet(session).events()]


async def test_a_commit_delivers_a_rooms_messages_in_order_with_acks_in_place(
    make_kit: MakeKit,
) -> None:
    kit = make_kit()
    alice, bob, carol = await lobby_trio(kit)
    for session, text in ((alice, "a1"), (bob, "b1"), (alice, "a2"), (bob, "b2")):
        say_acked(kit, session, text)
    kit.run_soon()
    assert seen(alice) == [("ack", "a1"), ("message", "b1"), ("ack", "a2"), ("message", "b2")]
    assert seen(bob) == [("message", "a1"), ("ack", "b1"), ("message", "a2"), ("ack", "b2")]
    assert seen(carol) == [("message", t) for t in ("a1", "b1", "a2", "b2")]
    assert kit.hub.stats.deliveries_total >= 8


async def test_an_event_between_two_messages_of_one_commit_keeps_its_place(
    make_kit: MakeKit,
) -> None:
    kit = make_kit()
    alice, bob, carol = await lobby_trio(kit)
    say_acked(kit, alice, "before")
    kit.hub.rooms.part(bob, "lobby")
    say_acked(kit, alice, "after")
    kit.run_soon()
    assert seen(carol) == [("message", "before"), ("presence", "lobby"), ("message", "after")]


async def test_messages_to_two_rooms_in_one_commit_go_to_each_rooms_members(
    make_kit: MakeKit,
) -> None:
    kit = make_kit()
    alice, bob = await lobby_pair(kit)
    kit.join(alice, "side")
    kit.run_soon()
    outlet(bob).clear()
    say_acked(kit, alice, "lobby one")
    kit.hub.messages.say(alice, "side", "side one", None, lambda m: None, lambda e: None)
    say_acked(kit, alice, "lobby two")
    kit.run_soon()
    assert seen(bob) == [("message", "lobby one"), ("message", "lobby two")]
