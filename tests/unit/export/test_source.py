"""MessageSource on a real database written by the server's own store."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from teahouse.export.record import TranscriptMessage
from teahouse.export.source import (
    PAGE,
    DirectPair,
    ExportError,
    MessageSource,
    Room,
    TimeSpan,
)
from teahouse.store.base import StoredMessage, StoreError
from teahouse.store.sqlite import SQLiteStore

T0 = 1_795_507_200_000  # 2026-11-24T08:00:00Z


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "teahouse.db"


def flush(store: SQLiteStore) -> None:
    """Commit the store's batch (inline: done at once)."""
    said: list[StoreError | None] = []
    store.commit(said.append)
    assert said == [None]


async def _accounts(store: SQLiteStore) -> None:
    for name in ("Alice", "bob", "carol"):
        await store.create_account(name, "h", "user")


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(db_path)
    asyncio.run(_accounts(store))
    store.create_room("lobby", T0)
    store.create_room("kitchen", T0)
    flush(store)
    yield store
    store.close()


def post(
    store: SQLiteStore,
    text: str,
    *,
    sender: str = "Alice",
    room: str | None = None,
    to: str | None = None,
    ts: int = T0,
) -> int:
    msg_id = store.next_message_id()
    sender_account = store.get_account(sender)
    to_account = store.get_account(to) if to is not None else None
    store.append_message(
        StoredMessage(
            msg_id,
            sender,
            text,
            ts,
            room,
            to,
            sender_id=sender_account.id if sender_account is not None else None,
            recipient_id=to_account.id if to_account is not None else None,
        )
    )
    return msg_id


def test_a_rooms_messages_in_order_with_actions(store: SQLiteStore, db_path: Path) -> None:
    post(store, "hello", room="lobby")
    post(store, "elsewhere", room="kitchen")
    post(store, "/me waves", sender="bob", room="lobby", ts=T0 + 1000)
    post(store, "psst", to="bob")
    flush(store)
    with MessageSource(db_path) as source:
        got = list(source.messages(Room("lobby"), TimeSpan()))
    assert got == [
        TranscriptMessage(1, "Alice", "hello", T0, room="lobby"),
        TranscriptMessage(3, "bob", "waves", T0 + 1000, room="lobby", action=True),
    ]


def test_direct_messages_between_two_users_both_ways(store: SQLiteStore, db_path: Path) -> None:
    post(store, "to bob", to="bob")
    post(store, "to carol", to="carol")
    post(store, "to alice", sender="bob", to="Alice")
    post(store, "room", room="lobby")
    post(store, "carol to bob", sender="carol", to="bob")
    flush(store)
    with MessageSource(db_path) as source:
        for pair in (DirectPair("alice", "BOB"), DirectPair("bob", "Alice")):
            got = list(source.messages(pair, TimeSpan()))
            assert [(m.sender, m.text, m.to) for m in got] == [
                ("Alice", "to bob", "bob"),
                ("bob", "to alice", "Alice"),
            ]
            assert all(m.room is None for m in got)


def test_a_time_span_includes_its_start_not_its_end(store: SQLiteStore, db_path: Path) -> None:
    for i in range(10):
        post(store, f"m{i}", room="lobby", ts=T0 + i * 1000)
    flush(store)
    with MessageSource(db_path) as source:
        got = source.messages(Room("lobby"), TimeSpan(T0 + 2000, T0 + 5000))
        assert [m.text for m in got] == ["m2", "m3", "m4"]
        assert len(list(source.messages(Room("lobby"), TimeSpan(start_ms=T0 + 8000)))) == 2
        assert len(list(source.messages(Room("lobby"), TimeSpan(end_ms=T0 + 1)))) == 1


def test_pages_of_a_thousand_never_everything(store: SQLiteStore, db_path: Path) -> None:
    count = 2 * PAGE + 500
    for i in range(count):
        post(store, f"m{i}", room="lobby", ts=T0 + i)
        if i % 7 == 0:
            post(store, "noise", room="kitchen")
    flush(store)
    queries: list[str] = []
    with MessageSource(db_path) as source:
        source._db.set_trace_callback(queries.append)
        stream = source.messages(Room("lobby"), TimeSpan())
        first = [next(stream) for _ in range(PAGE)]
        paged = [q for q in queries if "LIMIT" in q]
        assert len(paged) == 1 and f"LIMIT {PAGE}" in paged[0]
        rest = list(stream)
    assert [m.text for m in first + rest] == [f"m{i}" for i in range(count)]
    assert len([q for q in queries if "LIMIT" in q]) == 3


def test_messages_arriving_during_an_export_do_not_extend_it(
    store: SQLiteStore, db_path: Path
) -> None:
    for i in range(PAGE + 10):
        post(store, f"m{i}", room="lobby")
    flush(store)
    with MessageSource(db_path) as source:
        stream = source.messages(Room("lobby"), TimeSpan())
        next(stream)
        post(store, "late", room="lobby")
        flush(store)
        assert "late" not in [m.text for m in stream]


def test_reads_beside_a_writer_holding_a_transaction(store: SQLiteStore, db_path: Path) -> None:
    post(store, "committed", room="lobby")
    flush(store)
    post(store, "not yet", room="lobby")  # in the store's batch, not yet committed
    with MessageSource(db_path) as source:
        assert [m.text for m in source.messages(Room("lobby"), TimeSpan())] == ["committed"]
    flush(store)


def test_read_only(store: SQLiteStore, db_path: Path) -> None:
    post(store, "hello", room="lobby")
    store.close()  # checkpoints: the file holds everything (closing twice is harmless)
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with MessageSource(db_path) as source:
        assert len(list(source.messages(Room("lobby"), TimeSpan()))) == 1
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only"):
            source._db.execute("DELETE FROM messages")
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_rooms_and_users_that_exist(store: SQLiteStore, db_path: Path) -> None:
    post(store, "old news", sender="dave", to="Alice")  # dave's account is gone
    flush(store)
    with MessageSource(db_path) as source:
        source.check(Room("lobby"))
        source.check(DirectPair("ALICE", "bob"))
        # DMs belong to accounts: a name without one (dave's is gone) selects nothing,
        # and a new "dave" would not be handed the old one's messages.
        with pytest.raises(ExportError, match=r"^no such user: dave$"):
            source.check(DirectPair("ALICE", "dave"))
        with pytest.raises(ExportError, match=r"^no such room: attic$"):
            source.check(Room("attic"))
        with pytest.raises(ExportError, match=r"^no such user: zed$"):
            source.check(DirectPair("alice", "zed"))


def test_damaged_text_does_not_stop_an_export(store: SQLiteStore, db_path: Path) -> None:
    flush(store)
    raw = sqlite3.connect(db_path)
    raw.execute(
        "INSERT INTO messages (id, room, sender, sender_key, text, ts_ms)"
        " VALUES (1, 'lobby', 'x', 'x', CAST(X'6869FF' AS TEXT), 0)"
    )
    raw.commit()
    raw.close()
    with MessageSource(db_path) as source:
        (got,) = source.messages(Room("lobby"), TimeSpan())
    assert got.text == "hi\ufffd"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no database at "),
        (b"", "is not a teahouse database (no messages table)"),
        (bytes(range(256)) * 20, "is not a teahouse database (file is not a database)"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "is not a teahouse database"),
    ],
)
def test_not_a_teahouse_database(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "teahouse.db"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ExportError, match=re.escape(message)) as caught:
        MessageSource(path)
    assert "\n" not in str(caught.value)


def test_another_sqlite_file_is_not_a_teahouse_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE messages (id INTEGER, body TEXT)")
    other.commit()
    other.close()
    with pytest.raises(ExportError, match="not a teahouse database"):
        MessageSource(path)


def test_a_long_direct_conversation_in_pages(store: SQLiteStore, db_path: Path) -> None:
    count = 2 * PAGE + 300
    for i in range(count):
        sender, to = ("Alice", "bob") if i % 3 else ("bob", "Alice")
        post(store, f"d{i}", sender=sender, to=to)
        if i % 5 == 0:
            post(store, "other", sender="carol", to="bob")
    flush(store)
    with MessageSource(db_path) as source:
        got = list(source.messages(DirectPair("bob", "alice"), TimeSpan()))
    assert [m.text for m in got] == [f"d{i}" for i in range(count)]
    assert [m.id for m in got] == sorted(m.id for m in got)
