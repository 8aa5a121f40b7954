"""Messages through the hub: group commit, ids, nonces, join replay, DM replay."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from teahouse.core.session import Session
from teahouse.errors import InvalidField, NoSuchUser, NotInRoom
from teahouse.store.sqlite import SQLiteStore

from ..hubkit import HubKit, MakeKit, outlet


def own_messages(session: Session) -> list[tuple[object, ...]]:
    return [e for e in outlet(session).events("message") if e[3] == session.user]


def message_ids(session: Session, replay: bool | None = None) -> list[int]:
    return [
        int(e[1]) for e in outlet(session).events("message") if replay is None or e[6] is replay
    ]


async def say_many(kit: HubKit, session: Session, room: str, count: int) -> list[int]:
    for i in range(count):
        kit.hub.say(session, room, f"m{i}", None, None)
    return [int(e[1]) for e in outlet(session).events("message") if e[2] == room][-count:]


# -- group commit ---------------------------------------------------------------------------


async def test_flush_commits_the_store_before_any_outlet_writes(
    make_kit: MakeKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "chat.db"
    kit = make_kit(store=SQLiteStore(path))
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.join(bob, "lobby", None, None)
    kit.run_soon()

    order: list[str] = []
    store_flush = kit.store.flush

    def logged_flush() -> None:
        order.append("store")
        store_flush()

    monkeypatch.setattr(kit.store, "flush", logged_flush)
    reader = sqlite3.connect(path)
    stored_at_write: list[set[int]] = []

    def on_flush() -> None:
        order.append("outlet")
        stored_at_write.append({row[0] for row in reader.execute("SELECT id FROM messages")})

    outlet(alice).on_flush = on_flush
    outlet(bob).on_flush = on_flush

    kit.hub.say(alice, "lobby", "hello", None, 1)
    [msg_id] = message_ids(alice)[-1:]
    assert not any(b"hello" in data for data in outlet(alice).sent + outlet(bob).sent)
    assert len(kit.pending) == 1, "one flush per loop round, however many outlets are dirty"
    assert stored_at_write == []
    kit.run_soon()
    reader.close()

    assert order == ["store", "outlet", "outlet"]
    assert stored_at_write == [{msg_id}, {msg_id}], "an outlet wrote before the commit"
    assert any(b"hello" in data for data in outlet(bob).sent)


async def test_a_flush_round_writes_each_dirty_outlet_once(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    kit.run_soon()
    flushes = outlet(alice).flushes
    for i in range(5):
        kit.hub.say(alice, "lobby", f"m{i}", None, None)
    assert kit.run_soon() == 1
    assert outlet(alice).flushes == flushes + 1
    assert outlet(alice).queued == []


# -- message ids and nonces -------------------------------------------------------------


async def test_message_ids_strictly_increase_across_rooms_and_dms(kit: HubKit) -> None:
    alice = await kit.login("alice")
    await kit.login("bob", ip="10.0.0.2")
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.join(alice, "tea", None, None)
    for i in range(5):
        kit.hub.say(alice, "lobby", f"l{i}", None, None)
        kit.hub.dm(alice, "bob", f"d{i}", None, None)
        kit.hub.say(alice, "tea", f"t{i}", None, None)
    ids = message_ids(alice)
    assert len(ids) == 15
    assert all(a < b for a, b in itertools.pairwise(ids))


async def test_a_retried_say_with_the_same_nonce_returns_the_same_id_and_stores_once(
    kit: HubKit,
) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.join(bob, "lobby", None, None)
    outlet(bob).clear()
    kit.hub.say(alice, "lobby", "once", "n-1", 1)
    kit.clock.advance(599.0)  # the contract: remembered for at least 10 minutes
    kit.hub.say(alice, "lobby", "once", "n-1", 2)
    first, second = own_messages(alice)[-2:]
    assert first[1] == second[1]
    assert (first[7], second[7]) == (1, 2), "each reply carries its own request's ref"
    assert len(kit.store.room_before("lobby", None, 10).messages) == 1
    assert kit.hub.stats.messages_total == 1
    assert len(outlet(bob).events("message")) == 1


async def test_a_different_nonce_is_a_new_message(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.say(alice, "lobby", "same text", "n-1", None)
    kit.hub.say(alice, "lobby", "same text", "n-2", None)
    kit.hub.say(alice, "lobby", "same text", None, None)
    kit.hub.say(alice, "lobby", "same text", None, None)
    assert len(set(message_ids(alice))) == 4


async def test_a_retried_dm_with_the_same_nonce_is_delivered_and_stored_once(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.dm(alice, "bob", "psst", "n-9", 1)
    kit.hub.dm(alice, "bob", "psst", "n-9", 2)
    first, second = own_messages(alice)
    assert first[1] == second[1]
    assert len(outlet(bob).events("message")) == 1
    assert len(kit.store.dms_after("bob", 0, 10, incoming_only=True).messages) == 1


async def test_say_needs_membership_and_valid_text(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    kit.hub.part(alice, "lobby", None)
    with pytest.raises(NotInRoom):
        kit.hub.say(alice, "lobby", "hi", None, None)
    kit.hub.join(alice, "lobby", None, None)
    for bad in ["", "a\x00b", "x" * 4097]:
        with pytest.raises(InvalidField):
            kit.hub.say(alice, "lobby", bad, None, None)
    assert kit.store.room_before("lobby", None, 10).messages == []


async def test_dm_to_an_unknown_user_is_no_such_user(kit: HubKit) -> None:
    alice = await kit.login("alice")
    for name in ["nobody", "bad name"]:
        with pytest.raises(NoSuchUser):
            kit.hub.dm(alice, name, "hi", None, None)


# -- join replay --------------------------------------------------------------------------


async def test_join_with_since_replays_exactly_the_messages_after_since(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 10)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", ids[3], "j")
    events = outlet(bob).events()
    assert events[0] == ("joined", "lobby", "", ["alice", "bob"], "j")
    assert [e[1] for e in events[1:-1]] == ids[4:]
    assert all(e[0] == "message" and e[6] is True for e in events[1:-1])
    assert events[-1] == ("replay_end", "lobby", 6, False, ids[4])


async def test_join_with_since_at_the_newest_id_replays_nothing(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 3)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", ids[-1], None)
    assert outlet(bob).events("message") == []
    assert outlet(bob).events("replay_end") == [("replay_end", "lobby", 0, False, None)]


async def test_join_replay_is_capped_at_max_replay_and_says_so(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 12)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", ids[0], None)
    assert message_ids(bob) == ids[-5:], "the newest max_replay, oldest first"
    assert outlet(bob).events("replay_end") == [("replay_end", "lobby", 5, True, ids[-5])]


async def test_join_replay_of_exactly_max_replay_is_not_truncated(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 6)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", ids[0], None)
    assert message_ids(bob) == ids[1:]
    assert outlet(bob).events("replay_end") == [("replay_end", "lobby", 5, False, ids[1])]


async def test_join_without_since_replays_the_last_50(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 60)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", None, None)
    assert message_ids(bob) == ids[-50:]


async def test_join_without_since_never_replays_more_than_max_replay(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 8)
    bob = await kit.login("bob", ip="10.0.0.2")
    outlet(bob).clear()
    kit.hub.join(bob, "lobby", None, None)
    assert message_ids(bob) == ids[-5:]
    assert outlet(bob).events("replay_end") == [("replay_end", "lobby", 5, True, ids[-5])]


async def test_history_pages_back_and_forward(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 10)
    kit.hub.history(alice, "lobby", ids[5], None, 3, "h1")
    kit.hub.history(alice, "lobby", None, ids[5], 3, "h2")
    kit.hub.history(alice, "lobby", None, None, None, "h3")
    assert outlet(alice).events("history") == [
        ("history", "lobby", ids[2:5], "h1"),
        ("history", "lobby", ids[6:9], "h2"),
        ("history", "lobby", ids, "h3"),
    ]


async def test_history_refuses_a_bad_limit_or_both_directions(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=20)
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    for limit in (0, 21, -1):
        with pytest.raises(InvalidField):
            kit.hub.history(alice, "lobby", None, None, limit, None)
    with pytest.raises(InvalidField):
        kit.hub.history(alice, "lobby", 5, 1, 5, None)


async def test_history_without_limit_works_when_max_replay_is_below_50(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(max_replay=5)
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    ids = await say_many(kit, alice, "lobby", 8)
    kit.hub.history(alice, "lobby", None, None, None, None)
    assert outlet(alice).events("history") == [("history", "lobby", ids[-5:], None)]


async def test_others_see_presence_joined_once_per_user(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.hub.join(alice, "lobby", None, None)
    outlet(alice).clear()
    bob = await kit.login("bob", ip="10.0.0.2")
    bob2 = await kit.login("bob", ip="10.0.0.3")
    kit.hub.join(bob, "lobby", None, None)
    kit.hub.join(bob2, "lobby", None, None)
    assert outlet(alice).events() == [("presence", "lobby", "bob", "joined", None)]
    kit.hub.part(bob, "lobby", 3)
    assert outlet(bob).events()[-1] == ("parted", "lobby", 3)
    assert outlet(alice).events("presence")[-1][3] == "joined"
    kit.hub.part(bob2, "lobby", None)
    assert outlet(alice).events()[-1] == ("presence", "lobby", "bob", "left", "part")


# -- DM replay at login -------------------------------------------------------------------


async def test_a_dm_to_an_offline_user_is_replayed_at_login(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.add_user("bob")
    kit.hub.dm(alice, "BOB", "while you were out", None, None)
    [msg_id] = message_ids(alice)
    bob = await kit.login("bob", ip="10.0.0.2")
    events = outlet(bob).events()
    assert events[0][0] == "authed"
    assert events[1] == ("message", msg_id, None, "alice", "bob", "while you were out", True, None)
    assert events[2] == ("replay_end", None, 1, False, msg_id)
    assert len(events) == 3


async def test_a_replayed_dm_is_not_replayed_again(kit: HubKit) -> None:
    alice = await kit.login("alice")
    kit.add_user("bob")
    kit.hub.dm(alice, "bob", "once", None, None)
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2")
    assert outlet(again).events("message") == []
    assert outlet(again).events("replay_end") == [("replay_end", None, 0, False, None)]


async def test_a_dm_delivered_live_is_not_replayed_at_the_next_login(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.hub.dm(alice, "bob", "live", None, None)
    assert len(outlet(bob).events("message")) == 1
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2")
    assert outlet(again).events("message") == []


async def test_login_with_dm_since_replays_both_directions_after_since(kit: HubKit) -> None:
    alice = await kit.login("alice")
    bob = await kit.login("bob", ip="10.0.0.2")
    carol = await kit.login("carol", ip="10.0.0.3")
    kit.hub.dm(alice, "bob", "a->b 1", None, None)
    kit.hub.dm(bob, "alice", "b->a", None, None)
    kit.hub.dm(carol, "alice", "c->a", None, None)
    kit.hub.dm(alice, "bob", "a->b 2", None, None)
    first = message_ids(bob)[0]
    kit.hub.close_session(bob, "disconnected")
    again = await kit.login("bob", ip="10.0.0.2", dm_since=first)
    texts = [e[5] for e in outlet(again).events("message")]
    assert texts == ["b->a", "a->b 2"]


async def test_the_dm_replay_is_capped_at_max_replay_and_says_so(make_kit: MakeKit) -> None:
    kit = make_kit(max_replay=3)
    alice = await kit.login("alice")
    kit.add_user("bob")
    for i in range(5):
        kit.hub.dm(alice, "bob", f"d{i}", None, None)
    ids = message_ids(alice)
    bob = await kit.login("bob", ip="10.0.0.2")
    assert message_ids(bob) == ids[-3:]
    assert outlet(bob).events("replay_end") == [("replay_end", None, 3, True, ids[-3])]
