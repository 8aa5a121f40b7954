"""A database of an older teahouse opens with everything it held, attached to account ids.

The old database is built with the exact schema of commit 1295f81 (the last before schema
versions and account ids), the way that teahouse wrote its rows: accounts keyed by folded
name, direct messages and mutes by folded name, user bans by folded name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teahouse.store.base import Ban
from teahouse.store.sqlite import SCHEMA_VERSION, SQLiteStore

NOW = 1_800_000_000_000

SCHEMA_1295F81 = """
CREATE TABLE IF NOT EXISTS accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    dm_cursor INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rooms (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
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
CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id) WHERE room IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_to ON messages (recipient_key, id)
    WHERE recipient_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_dm_from ON messages (sender_key, id)
    WHERE recipient_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_nonce ON messages (sender_key, nonce)
    WHERE nonce IS NOT NULL;
CREATE TABLE IF NOT EXISTS bans (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    until_ms INTEGER,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE TABLE IF NOT EXISTS mutes (
    key TEXT PRIMARY KEY,
    until_ms INTEGER,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY,
    by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_by TEXT
);
"""
"""``_SCHEMA`` of ``src/teahouse/store/sqlite.py`` at commit 1295f81, verbatim."""

# (id, room, sender, sender_key, recipient, recipient_key, text, ts_ms, nonce)
ROOM_MESSAGES = [
    (1, "lobby", "Alice", "alice", None, None, "hello", NOW, "n1"),
    (3, "lobby", "Bob", "bob", None, None, "hi alice", NOW + 2, None),
    (6, "scratch", "visitor", "visitor", None, None, "a guest's room", NOW + 5, None),
]
DMS = [
    (2, None, "Alice", "alice", "Bob", "bob", "psst", NOW + 1, "n2"),
    (4, None, "Bob", "bob", "Alice", "alice", "psst back", NOW + 3, None),
    (5, None, "Alice", "alice", "visitor", "visitor", "to a guest", NOW + 4, None),
    (7, None, "visitor", "visitor", "Bob", "bob", "from a guest", NOW + 6, None),
    (8, None, "carol", "carol", "Alice", "alice", "hi from carol", NOW + 7, None),
]


def make_1295f81_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_1295F81)
    db.executemany(
        "INSERT INTO accounts VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("bob", "Bob", "user", "hash-b", NOW + 10, 4),
            ("alice", "Alice", "admin", "hash-a", NOW, 5),
            ("carol", "carol", "user", "hash-c", NOW + 20, 0),
        ],
    )
    db.executemany(
        "INSERT INTO rooms VALUES (?, ?, ?, ?)",
        [("lobby", "tea", "Alice", NOW), ("scratch", "", "", NOW + 1)],
    )
    db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", ROOM_MESSAGES + DMS)
    db.executemany(
        "INSERT INTO bans VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("user", "bob", None, "spam", "Alice", NOW),
            ("user", "ghost", None, "gone", "Alice", NOW),  # an account deleted since
            ("ip", "10.0.0.9", NOW + 60_000, "flood", "Alice", NOW),
        ],
    )
    db.execute("INSERT INTO mutes VALUES ('carol', ?, 'Alice')", (NOW + 30_000,))
    db.execute("INSERT INTO invites VALUES ('abc', 'Alice', ?, NULL)", (NOW,))
    db.execute("INSERT INTO invites VALUES ('used', 'Alice', ?, 'carol')", (NOW,))
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone() == (0,)
    db.close()


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[tuple[SQLiteStore, Path]]:
    """The old database, opened (and so migrated) by today's store; and its path."""
    path = tmp_path / "teahouse.db"
    make_1295f81_database(path)
    store = SQLiteStore(path)
    yield store, path
    store.close()


def test_every_account_gets_an_id_in_the_order_they_were_made(
    migrated: tuple[SQLiteStore, Path],
) -> None:
    store, _ = migrated
    alice, bob, carol = (store.get_account(n) for n in ("ALICE", "bob", "Carol"))
    assert alice is not None and bob is not None and carol is not None
    assert 0 < alice.id < bob.id < carol.id
    assert (alice.name, alice.role, alice.password_hash, alice.created_ms) == (
        "Alice",
        "admin",
        "hash-a",
        NOW,
    )
    assert (bob.name, bob.role, bob.password_hash) == ("Bob", "user", "hash-b")
    assert [a.name for a in store.list_accounts()] == ["Alice", "Bob", "carol"]
    assert (store.dm_cursor(alice.id), store.dm_cursor(bob.id)) == (5, 4)
    assert store.count_admins() == 1


def test_dms_between_accounts_are_attached_by_id_and_a_guests_dm_is_gone(
    migrated: tuple[SQLiteStore, Path],
) -> None:
    store, path = migrated
    alice, bob, carol = (store.get_account(n) for n in ("alice", "bob", "carol"))
    assert alice is not None and bob is not None and carol is not None
    page = store.dms_before(alice.id, None, 100)
    assert [(m.id, m.sender_id, m.recipient_id) for m in page.messages] == [
        (2, alice.id, bob.id),
        (4, bob.id, alice.id),
        (8, carol.id, alice.id),
    ], "the DM to the guest 'visitor' is dropped: nothing of a guest is kept"
    incoming = store.dms_after(bob.id, 0, 100, incoming_only=True)
    assert [(m.id, m.sender, m.sender_id) for m in incoming.messages] == [
        (2, "Alice", alice.id),
        (7, "visitor", None),  # a guest's DM to an account stays the account's
    ]
    found = store.find_by_nonce(alice.id, "n2", 0)
    assert found is not None and found.id == 2
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM messages WHERE id = 5").fetchone() == (0,)
    finally:
        db.close()


def test_room_history_and_rooms_are_kept(migrated: tuple[SQLiteStore, Path]) -> None:
    store, _ = migrated
    alice = store.get_account("alice")
    assert alice is not None
    assert [(m.id, m.text) for m in store.room_after("lobby", 0, 10).messages] == [
        (1, "hello"),
        (3, "hi alice"),
    ]
    assert [m.text for m in store.room_after("scratch", 0, 10).messages] == ["a guest's room"]
    assert store.room_after("lobby", 0, 10).messages[0].sender_id == alice.id
    found = store.find_by_nonce(alice.id, "n1", 0)
    assert found is not None and found.id == 1
    lobby, scratch = store.get_room("lobby"), store.get_room("scratch")
    assert lobby is not None and scratch is not None
    assert (lobby.topic, lobby.topic_by, lobby.topic_ms, lobby.created_ms) == (
        "tea",
        "Alice",
        0,
        NOW,
    )
    assert (lobby.owner_id, lobby.community) == (None, True), "accounts spoke in lobby"
    assert (scratch.owner_id, scratch.community) == (None, False), "only a guest spoke"
    assert [r.name for r in store.list_rooms(None, 10)] == ["lobby", "scratch"]


def test_bans_and_mutes_refer_to_account_ids(migrated: tuple[SQLiteStore, Path]) -> None:
    store, _ = migrated
    bob, carol = store.get_account("bob"), store.get_account("carol")
    assert bob is not None and carol is not None
    assert sorted(store.active_bans(NOW), key=lambda b: b.kind) == [
        Ban("ip", "10.0.0.9", NOW + 60_000, "flood", "Alice", NOW),
        Ban("user", str(bob.id), None, "spam", "Alice", NOW),
    ], "the ban of a name without an account has nothing left to ban"
    assert store.active_mutes(NOW) == {carol.id: NOW + 30_000}


def test_invites_ids_and_the_new_schema_work_after_the_migration(
    migrated: tuple[SQLiteStore, Path],
) -> None:
    store, path = migrated
    assert store.invite_available("abc")
    assert not store.invite_available("used")
    assert store.next_message_id() == 9
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "messages_to" not in indexes, "the name-keyed DM index is gone"
    finally:
        db.close()


async def test_a_migrated_database_takes_new_accounts_and_opens_again_unchanged(
    migrated: tuple[SQLiteStore, Path],
) -> None:
    store, path = migrated
    bob = store.get_account("bob")
    assert bob is not None
    dave = await store.create_account("dave", "h", "user")
    assert dave.id > bob.id
    store.set_topic("lobby", "new", "dave", NOW + 5)
    said: list[object] = []
    store.commit(said.append)
    assert said == [None]
    store.close()
    reopened = SQLiteStore(path)  # the current version: no second migration
    try:
        room = reopened.get_room("lobby")
        assert room is not None and (room.topic, room.topic_ms) == ("new", NOW + 5)
        again = reopened.get_account("bob")
        assert again is not None and again.id == bob.id
        assert [m.id for m in reopened.dms_after(bob.id, 0, 10, incoming_only=True).messages] == [
            2,
            7,
        ]
    finally:
        reopened.close()
