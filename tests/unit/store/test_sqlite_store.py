"""SQLiteStore on a temporary file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teahouse.errors import UserTaken
from teahouse.store.base import Ban, StoredMessage, StoreError
from teahouse.store.sqlite import SCHEMA_VERSION, SQLiteStore

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


def test_accounts_get_ids_that_are_never_reused(store: SQLiteStore) -> None:
    alice = store.create_account("alice", "h", "user")
    bob = store.create_account("bob", "h", "user")
    assert 0 < alice.id < bob.id
    found = store.get_account("ALICE")
    assert found is not None
    assert found.id == alice.id
    store.delete_account("bob")
    again = store.create_account("bob", "h", "user")
    assert again.id > bob.id, "a later account of the same name is someone else"


def test_accounts_are_listed_by_folded_name(store: SQLiteStore) -> None:
    for name in ["carol", "Bob", "alice"]:
        store.create_account(name, "h", "user")
    assert [a.name for a in store.list_accounts()] == ["alice", "Bob", "carol"]


# -- rooms --------------------------------------------------------------------------------


def test_rooms_are_created_once_and_keep_their_topic(store: SQLiteStore) -> None:
    first = store.create_room("lobby", NOW)
    assert (first.topic, first.topic_by, first.topic_ms) == ("", "", 0)
    store.set_topic("lobby", "tea time", "alice", NOW + 1)
    again = store.create_room("lobby", NOW + 5)
    assert again.created_ms == first.created_ms == NOW
    assert (again.topic, again.topic_by, again.topic_ms) == ("tea time", "alice", NOW + 1)
    store.create_room("attic", NOW)
    assert [r.name for r in store.list_rooms(None, 10)] == ["attic", "lobby"]
    assert store.get_room("cellar") is None


def test_rooms_are_listed_a_page_at_a_time_by_name(store: SQLiteStore) -> None:
    for name in ["delta", "alpha", "charlie", "bravo"]:
        store.create_room(name, NOW)
    assert [r.name for r in store.list_rooms(None, 2)] == ["alpha", "bravo"]
    assert [r.name for r in store.list_rooms("bravo", 2)] == ["charlie", "delta"]
    assert [r.name for r in store.list_rooms("b", 10)] == ["bravo", "charlie", "delta"]
    assert store.list_rooms("delta", 2) == []


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
    created = store.create_account("Alice", "h", "admin")
    store.create_room("lobby", NOW)
    store.set_topic("lobby", "tea", "Alice", NOW + 7)
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
        assert (account.id, account.name, account.role) == (created.id, "Alice", "admin")
        room = reopened.get_room("lobby")
        assert room is not None
        assert (room.topic, room.topic_by, room.topic_ms) == ("tea", "Alice", NOW + 7)
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


def test_a_failed_commit_is_reported_once_and_the_next_round_is_kept(store: SQLiteStore) -> None:
    # A deferred foreign key makes COMMIT itself fail, as a full disk would.
    store._db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    store._db.execute(
        "CREATE TABLE child (parent REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    lost = post(store, room="lobby", text="lost")
    store._write("INSERT INTO child VALUES (1)")
    with pytest.raises(StoreError):
        store.flush()
    assert ids(store.room_after("lobby", 0, 10)) == []
    kept = post(store, room="lobby", text="kept")
    store.flush()  # this round's commit worked: it must say so
    assert ids(store.room_after("lobby", 0, 10)) == [kept]
    assert kept > lost


def test_a_failed_write_fails_the_rounds_commit(store: SQLiteStore) -> None:
    first = post(store, room="lobby")
    with pytest.raises(StoreError):
        store._write("INSERT INTO no_such_table VALUES (1)")  # rolls the round back
    with pytest.raises(StoreError):
        store.flush()
    assert first not in ids(store.room_after("lobby", 0, 10))
    store.flush()


# -- the schema and its migrations ----------------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    dm_cursor INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE rooms (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    room TEXT,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    recipient TEXT,
    recipient_key TEXT,
    text TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    nonce TEXT
);
CREATE INDEX messages_room ON messages (room, id) WHERE room IS NOT NULL;
CREATE TABLE bans (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    until_ms INTEGER,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE TABLE mutes (key TEXT PRIMARY KEY, until_ms INTEGER, by TEXT NOT NULL);
CREATE TABLE invites (
    code TEXT PRIMARY KEY, by TEXT NOT NULL, created_ms INTEGER NOT NULL, used_by TEXT
);
"""
"""The schema of teahouse before schema versions (commit 1295f81), without IF NOT EXISTS."""


def make_old_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany(
        "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("bob", "Bob", "user", "hash-b", NOW + 10, 2),
            ("alice", "Alice", "admin", "hash-a", NOW, 1),
        ],
    )
    db.execute("INSERT INTO rooms VALUES ('lobby', 'tea', 'Alice', ?)", (NOW,))
    db.executemany(
        "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "lobby", "Alice", "alice", None, None, "hello", NOW, "n1"),
            (2, None, "Alice", "alice", "Bob", "bob", "psst", NOW + 1, None),
        ],
    )
    db.execute("INSERT INTO bans VALUES ('ip', '10.0.0.9', NULL, 'flood', 'op', ?)", (NOW,))
    db.execute("INSERT INTO mutes VALUES ('bob', NULL, 'op')")
    db.execute("INSERT INTO invites VALUES ('abc', 'op', ?, NULL)", (NOW,))
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone() == (0,)
    db.close()


def test_a_database_of_the_old_schema_is_migrated_and_loses_nothing(path: Path) -> None:
    make_old_database(path)
    store = SQLiteStore(path)
    try:
        alice, bob = store.get_account("ALICE"), store.get_account("bob")
        assert alice is not None and bob is not None
        assert (alice.name, alice.role, alice.password_hash, alice.created_ms) == (
            "Alice",
            "admin",
            "hash-a",
            NOW,
        )
        assert (bob.name, bob.role, bob.password_hash) == ("Bob", "user", "hash-b")
        assert 0 < alice.id < bob.id, "ids in the order the accounts were made"
        assert (store.dm_cursor("alice"), store.dm_cursor("bob")) == (1, 2)
        room = store.get_room("lobby")
        assert room is not None
        assert (room.topic, room.topic_by, room.topic_ms, room.created_ms) == (
            "tea",
            "Alice",
            0,
            NOW,
        )
        assert [m.text for m in store.room_after("lobby", 0, 10).messages] == ["hello"]
        assert [m.text for m in store.dms_after("bob", 0, 10, incoming_only=True).messages] == [
            "psst"
        ]
        found = store.find_by_nonce("alice", "n1", 0)
        assert found is not None and found.id == 1
        assert [b.value for b in store.active_bans(NOW)] == ["10.0.0.9"]
        assert store.active_mutes(NOW) == {"bob": None}
        assert store.invite_available("abc")
        assert store.next_message_id() == 3
        # The new schema works: a new account, a topic with its time.
        carol = store.create_account("carol", "h", "user")
        assert carol.id > bob.id
        store.set_topic("lobby", "new", "carol", NOW + 5)
        store.flush()
    finally:
        store.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        db.close()
    reopened = SQLiteStore(path)  # a second open finds the current version: no migration
    try:
        room = reopened.get_room("lobby")
        assert room is not None and (room.topic, room.topic_ms) == ("new", NOW + 5)
        account = reopened.get_account("alice")
        assert account is not None and account.id == alice.id
    finally:
        reopened.close()


def test_a_new_database_gets_the_current_schema_version(store: SQLiteStore, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    finally:
        db.close()


def test_a_database_of_a_newer_teahouse_is_refused(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer teahouse"):
        SQLiteStore(path)
