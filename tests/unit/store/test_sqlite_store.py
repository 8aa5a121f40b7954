"""What is SQLite's own in SQLiteStore: the schema version, a locked file, a damaged file.

The behaviour every store shares (ids, paging, DMs by id, failures, read-your-writes,
private files) is in ``tests/contract/``, run against this store inline and threaded;
migrations of older databases are in ``test_migration.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teahouse.store.base import StoredMessage, StoreError
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


def commit(store: SQLiteStore) -> StoreError | None:
    """Commit inline; what ``done`` said."""
    said: list[StoreError | None] = []
    store.commit(said.append)
    [error] = said
    return error


def test_a_new_database_gets_the_current_schema_version(store: SQLiteStore, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()


def test_a_database_of_a_newer_teahouse_is_refused(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer teahouse"):
        SQLiteStore(path)


def test_a_file_that_is_no_database_is_refused_with_what_to_do(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, just some text" * 100)
    with pytest.raises(StoreError, match="restore a backup"):
        SQLiteStore(path)


def test_a_batch_that_finds_the_file_locked_fails_clearly_and_the_next_one_works(
    path: Path,
) -> None:
    store = SQLiteStore(path, write_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        store.append_message(StoredMessage(store.next_message_id(), "alice", "x", NOW, "lobby"))
        error = commit(store)
        assert isinstance(error, StoreError)
        assert "locked" in str(error)
        other.execute("ROLLBACK")
        kept = store.next_message_id()
        store.append_message(StoredMessage(kept, "alice", "y", NOW, "lobby"))
        assert commit(store) is None
        assert [m.id for m in store.room_after("lobby", 0, 10).messages] == [kept]
    finally:
        other.close()
        store.close()


def test_a_failed_statement_rolls_back_its_whole_batch(store: SQLiteStore) -> None:
    lost = store.next_message_id()
    store.append_message(StoredMessage(lost, "alice", "x", NOW, "lobby"))
    store.create_room("lobby", NOW)
    # A second message with the same id: the batch's last statement fails.
    store.append_message(StoredMessage(lost, "alice", "again", NOW, "lobby"))
    assert isinstance(commit(store), StoreError)
    assert store.room_after("lobby", 0, 10).messages == []
    assert store.get_room("lobby") is None
    kept = store.next_message_id()
    store.append_message(StoredMessage(kept, "alice", "y", NOW, "lobby"))
    assert commit(store) is None
    assert [m.id for m in store.room_after("lobby", 0, 10).messages] == [kept]


def test_an_in_memory_store_works_without_a_file() -> None:
    store = SQLiteStore(":memory:")
    try:
        msg_id = store.next_message_id()
        store.append_message(StoredMessage(msg_id, "alice", "x", NOW, "lobby"))
        assert commit(store) is None
        assert [m.id for m in store.room_after("lobby", 0, 10).messages] == [msg_id]
    finally:
        store.close()
