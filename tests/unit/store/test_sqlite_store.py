"""SQLiteStore on a temporary file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teahouse.errors import UserTaken
from teahouse.store.base import Ban, StoredMessage
from teahouse.store.sqlite import SQLiteStore

NOW = 1_800_000_000_000


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "teahouse.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    db = SQLiteStore(path)
    yield db
    db.close()


def post(
    store: SQLiteStore,
    *,
    room: str | None = None,
    sender: str = "alice",
    to: str | None = None,
    text: str = "x",
    ts: int = NOW,
    nonce: str | None = None,
) -> int:
    msg_id = store.next_message_id()
    store.append_message(StoredMessage(msg_id, sender, text, ts, room, to, nonce))
    return msg_id


def ids(page: object) -> list[int]:
    return [m.id for m in page.messages]  # type: ignore[attr-defined]


# -- accounts -----------------------------------------------------------------------------


def test_an_account_is_found_case_insensitively_with_its_spelling(store: SQLiteStore) -> None:
    created = store.create_account("Alice", "hash-1", "admin")
    for name in ["Alice", "alice", "ALICE"]:
        account = store.get_account(name)
        assert account is not None
        assert (account.name, account.role, account.password_hash) == ("Alice", "admin", "hash-1")
    assert created.name == "Alice"
    assert store.get_account("bob") is None


@pytest.mark.parametrize("name", ["alice", "ALICE", "Alice"])
def test_account_names_are_unique_case_insensitively(store: SQLiteStore, name: str) -> None:
    store.create_account("Alice", "h", "user")
    with pytest.raises(UserTaken):
        store.create_account(name, "h2", "user")
    assert [a.name for a in store.list_accounts()] == ["Alice"]


def test_account_changes_report_whether_the_account_existed(store: SQLiteStore) -> None:
    store.create_account("alice", "h", "user")
    assert store.set_password("ALICE", "h2")
    assert store.set_role("Alice", "admin")
    account = store.get_account("alice")
    assert account is not None
    assert (account.password_hash, account.role) == ("h2", "admin")
    assert store.count_admins() == 1
    assert not store.set_password("bob", "h")
    assert not store.set_role("bob", "admin")
    assert store.delete_account("ALICE")
    assert not store.delete_account("alice")
    assert store.get_account("alice") is None
    assert store.count_admins() == 0


def test_accounts_are_listed_by_folded_name(store: SQLiteStore) -> None:
    for name in ["carol", "Bob", "alice"]:
        store.create_account(name, "h", "user")
    assert [a.name for a in store.list_accounts()] == ["alice", "Bob", "carol"]


# -- rooms --------------------------------------------------------------------------------


def test_rooms_are_created_once_and_keep_their_topic(store: SQLiteStore) -> None:
    first = store.create_room("lobby", NOW)
    store.set_topic("lobby", "tea time", "alice")
    again = store.create_room("lobby", NOW + 5)
    assert again.created_ms == first.created_ms == NOW
    assert (again.topic, again.topic_by) == ("tea time", "alice")
    store.create_room("attic", NOW)
    assert [r.name for r in store.list_rooms()] == ["attic", "lobby"]
    assert store.get_room("cellar") is None


# -- message paging -----------------------------------------------------------------------


@pytest.fixture
def lobby(store: SQLiteStore) -> list[int]:
    """Ten messages in lobby, interleaved with noise in another room and a DM."""
    out = []
    for i in range(10):
        out.append(post(store, room="lobby", text=f"l{i}"))
        post(store, room="attic")
        post(store, to="bob")
    return out


def test_room_after_gives_the_newest_limit_after_id_oldest_first(
    store: SQLiteStore, lobby: list[int]
) -> None:
    page = store.room_after("lobby", lobby[2], 3)
    assert ids(page) == lobby[-3:]
    assert page.more
    page = store.room_after("lobby", lobby[2], 7)
    assert ids(page) == lobby[3:]
    assert not page.more
    assert ids(store.room_after("lobby", lobby[-1], 5)) == []


def test_room_before_gives_the_newest_limit_before_id_oldest_first(
    store: SQLiteStore, lobby: list[int]
) -> None:
    page = store.room_before("lobby", lobby[5], 3)
    assert ids(page) == lobby[2:5]
    assert page.more
    page = store.room_before("lobby", lobby[3], 3)
    assert ids(page) == lobby[:3]
    assert not page.more
    page = store.room_before("lobby", None, 4)
    assert ids(page) == lobby[-4:]
    assert ids(store.room_before("lobby", lobby[0], 5)) == []


def test_room_since_gives_the_oldest_limit_after_id(store: SQLiteStore, lobby: list[int]) -> None:
    page = store.room_since("lobby", lobby[2], 3)
    assert ids(page) == lobby[3:6]
    assert page.more
    page = store.room_since("lobby", lobby[6], 3)
    assert ids(page) == lobby[7:]
    assert not page.more


def test_room_pages_hold_only_that_room(store: SQLiteStore, lobby: list[int]) -> None:
    for page in [
        store.room_after("lobby", 0, 100),
        store.room_before("lobby", None, 100),
        store.room_since("lobby", 0, 100),
    ]:
        assert ids(page) == lobby
        assert {m.room for m in page.messages} == {"lobby"}
    assert store.room_after("lobby", 0, 1).messages[0].text == "l9"


@pytest.fixture
def dms(store: SQLiteStore) -> dict[str, int]:
    return {
        "a>b": post(store, sender="alice", to="Bob"),
        "b>a": post(store, sender="Bob", to="alice"),
        "c>b": post(store, sender="carol", to="bob"),
        "room": post(store, sender="bob", room="lobby"),
        "a>c": post(store, sender="alice", to="carol"),
        "a>b2": post(store, sender="alice", to="bob"),
    }


def test_dms_after_incoming_only_gives_messages_to_the_user(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    page = store.dms_after("BOB", 0, 10, incoming_only=True)
    assert ids(page) == [dms["a>b"], dms["c>b"], dms["a>b2"]]
    assert ids(store.dms_after("bob", dms["a>b"], 10, incoming_only=True)) == [
        dms["c>b"],
        dms["a>b2"],
    ]


def test_dms_after_both_directions_adds_messages_from_the_user(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    page = store.dms_after("bob", 0, 10, incoming_only=False)
    assert ids(page) == [dms["a>b"], dms["b>a"], dms["c>b"], dms["a>b2"]]


def test_dms_after_gives_the_newest_limit_and_says_more(
    store: SQLiteStore, dms: dict[str, int]
) -> None:
    page = store.dms_after("bob", 0, 2, incoming_only=False)
    assert ids(page) == [dms["c>b"], dms["a>b2"]]
    assert page.more


def test_find_by_nonce_finds_the_senders_recent_message(store: SQLiteStore) -> None:
    msg_id = post(store, room="lobby", sender="Alice", nonce="n1", ts=NOW)
    found = store.find_by_nonce("alice", "n1", NOW - 1000)
    assert found is not None
    assert found.id == msg_id
    assert store.find_by_nonce("alice", "n1", NOW + 1) is None
    assert store.find_by_nonce("bob", "n1", 0) is None
    assert store.find_by_nonce("alice", "n2", 0) is None


# -- the DM cursor ------------------------------------------------------------------------


def test_a_new_account_has_seen_every_earlier_message(store: SQLiteStore) -> None:
    last = post(store, room="lobby")
    store.create_account("alice", "h", "user")
    assert store.dm_cursor("alice") == last


def test_dm_cursor_only_ever_rises(store: SQLiteStore) -> None:
    store.create_account("alice", "h", "user")
    store.set_dm_cursor("Alice", 10)
    assert store.dm_cursor("alice") == 10
    store.set_dm_cursor("alice", 4)
    assert store.dm_cursor("ALICE") == 10
    store.set_dm_cursor("alice", 11)
    assert store.dm_cursor("alice") == 11


def test_dm_cursor_of_an_unknown_user_is_zero(store: SQLiteStore) -> None:
    assert store.dm_cursor("nobody") == 0


# -- moderation ---------------------------------------------------------------------------


def test_a_timed_ban_is_active_until_it_expires(store: SQLiteStore) -> None:
    store.add_ban(Ban("user", "bob", NOW + 1000, "spam", "op", NOW))
    store.add_ban(Ban("ip", "10.0.0.9", None, "flood", "op", NOW))
    assert {b.value for b in store.active_bans(NOW)} == {"bob", "10.0.0.9"}
    assert {b.value for b in store.active_bans(NOW + 999)} == {"bob", "10.0.0.9"}
    assert {b.value for b in store.active_bans(NOW + 1000)} == {"10.0.0.9"}
    assert {b.value for b in store.active_bans(NOW * 2)} == {"10.0.0.9"}


def test_a_ban_is_replaced_and_removed(store: SQLiteStore) -> None:
    store.add_ban(Ban("user", "bob", NOW + 1000, "spam", "op", NOW))
    store.add_ban(Ban("user", "bob", None, "again", "op2", NOW))
    [ban] = store.active_bans(NOW)
    assert (ban.until_ms, ban.reason, ban.by) == (None, "again", "op2")
    assert store.remove_ban("user", "bob")
    assert not store.remove_ban("user", "bob")
    assert not store.remove_ban("ip", "bob")
    assert store.active_bans(NOW) == []


def test_a_timed_mute_is_active_until_it_expires(store: SQLiteStore) -> None:
    store.set_mute("Alice", NOW + 1000, "op")
    store.set_mute("bob", None, "op")
    assert store.active_mutes(NOW) == {"alice": NOW + 1000, "bob": None}
    assert store.active_mutes(NOW + 1000) == {"bob": None}


def test_a_mute_is_removed_case_insensitively(store: SQLiteStore) -> None:
    store.set_mute("alice", None, "op")
    assert store.remove_mute("ALICE")
    assert not store.remove_mute("alice")
    assert store.active_mutes(NOW) == {}


def test_an_invite_code_works_once(store: SQLiteStore) -> None:
    store.create_invite("abc", "op", NOW)
    assert store.use_invite("abc", "newbie")
    assert not store.use_invite("abc", "other")
    assert not store.use_invite("nope", "newbie")


# -- durability ---------------------------------------------------------------------------


def test_writes_are_invisible_to_others_until_flush(store: SQLiteStore, path: Path) -> None:
    msg_id = post(store, room="lobby")
    other = sqlite3.connect(path)
    try:
        assert other.execute("SELECT id FROM messages").fetchall() == []
        store.flush()
        assert other.execute("SELECT id FROM messages").fetchall() == [(msg_id,)]
    finally:
        other.close()


def test_everything_survives_close_and_reopen(path: Path) -> None:
    store = SQLiteStore(path)
    store.create_account("Alice", "h", "admin")
    store.create_room("lobby", NOW)
    store.set_topic("lobby", "tea", "Alice")
    room_ids = [post(store, room="lobby", text=f"m{i}") for i in range(3)]
    dm_id = post(store, sender="Alice", to="bob")
    store.set_dm_cursor("alice", dm_id)
    store.add_ban(Ban("ip", "10.0.0.9", None, "flood", "op", NOW))
    store.set_mute("bob", None, "op")
    store.create_invite("abc", "op", NOW)
    store.close()

    reopened = SQLiteStore(path)
    try:
        account = reopened.get_account("alice")
        assert account is not None
        assert (account.name, account.role) == ("Alice", "admin")
        room = reopened.get_room("lobby")
        assert room is not None
        assert (room.topic, room.topic_by) == ("tea", "Alice")
        assert ids(reopened.room_after("lobby", 0, 10)) == room_ids
        assert [m.text for m in reopened.room_after("lobby", 0, 10).messages] == ["m0", "m1", "m2"]
        assert ids(reopened.dms_after("bob", 0, 10, incoming_only=True)) == [dm_id]
        assert reopened.dm_cursor("alice") == dm_id
        assert [b.value for b in reopened.active_bans(NOW)] == ["10.0.0.9"]
        assert reopened.active_mutes(NOW) == {"bob": None}
        assert reopened.use_invite("abc", "newbie")
        assert reopened.next_message_id() == dm_id + 1
    finally:
        reopened.close()


def test_next_message_id_strictly_increases_and_continues_after_reopen(path: Path) -> None:
    store = SQLiteStore(path)
    issued = [post(store, room="lobby") for _ in range(5)]
    assert issued == sorted(set(issued))
    store.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.next_message_id() > issued[-1]
    finally:
        reopened.close()


def test_an_empty_store_starts_ids_at_one(store: SQLiteStore) -> None:
    assert store.next_message_id() == 1
    assert store.next_message_id() == 2
