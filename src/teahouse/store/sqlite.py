"""The embedded default store: one SQLite file in WAL mode, written by one writer.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction through a
crash of the process (``kill -9``); only a power loss may cost the last commits.

The event loop never waits for the disk. Reads run on the caller's thread on a connection
of their own (in WAL mode no writer blocks a reader). Writes are collected into a batch
and committed by :class:`Writer` — on a thread of its own in the server (``threaded``),
or at once in tests and one-shot commands — which calls back when the batch is durable or
failed. A batch that fails is rolled back whole. Another process holding the write lock
delays the writer, never the loop; past ``write_timeout`` the batch fails with a clear
error and the next one tries again.

Message ids are handed out from memory, in blocks reserved in the database *in the same
transaction* as the first message that uses one, so an id is never reused: not after a
failed commit, not after ``kill -9``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from teahouse.errors import UserTaken
from teahouse.protocol.lookalike import confusable_key
from teahouse.protocol.names import fold_user
from teahouse.store.base import (
    Account,
    Ban,
    BanKind,
    Committed,
    Grant,
    Page,
    Role,
    RoomRecord,
    StoredMessage,
    StoreError,
)
from teahouse.store.schema import SCHEMA_VERSION, migrate

log = logging.getLogger("teahouse.store")

ID_BLOCK = 1000
"""Message ids reserved at a time (one small write per thousand messages)."""

Op = Callable[[sqlite3.Connection], object]
_Job = tuple[list[Op], Callable[["StoreError | None"], None]]

_MSG_COLUMNS = "id, sender, text, ts_ms, room, recipient, nonce, sender_id, recipient_id"
_ACCOUNT_COLUMNS = "id, name, role, password_hash, created_ms"
_ROOM_COLUMNS = "name, topic, topic_by, topic_ms, created_ms, owner_id, modes, community"
_Row = tuple[int, str, str, int, str | None, str | None, str | None, int | None, int | None]


def _message(row: _Row) -> StoredMessage:
    return StoredMessage(*row)


def _room(row: tuple[Any, ...]) -> RoomRecord:
    name, topic, topic_by, topic_ms, created_ms, owner_id, modes, community = row
    return RoomRecord(name, topic, topic_by, topic_ms, created_ms, owner_id, modes, bool(community))


def _resolver(future: asyncio.Future[StoreError | None]) -> Committed:
    def resolve(error: StoreError | None) -> None:
        if not future.done():
            future.set_result(error)

    return resolve


def _now_ms() -> int:
    return int(time.time() * 1000)


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Files created in this block (the database, its -wal and -shm) are 0600."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def make_private(path: Path) -> None:
    """Make the database and its companion files 0600, whatever they were."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


WRITER_CACHE_KIB = 256
"""The writer's page cache. SQLite's default, 2 MiB, fills as accounts and messages are
written and stays full: 0.1 KiB on every one of 19,000 idle connections. The writer only
needs the hot index pages it updates; the file's pages it reads again come from the OS."""
READER_CACHE_KIB = 1024
"""The reader's page cache: logins and history reads; half SQLite's default."""


def _connect(path: str, busy_ms: int) -> sqlite3.Connection:
    uri = path.startswith("file:")
    with _private_umask():
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, uri=uri)
    db.execute(f"PRAGMA busy_timeout = {busy_ms}")
    return db


class Writer:
    """Commits batches of writes, in order, one at a time.

    ``threaded``: on a thread of its own, calling back on the event loop (the server).
    Otherwise at once, on the caller's thread (tests, the command line).
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        threaded: bool,
        free_floor: int,
        directory: str | None,
    ) -> None:
        self._db = db
        self._threaded = threaded
        self.free_floor = free_floor
        """Bytes that must stay free on the disk: below it a batch fails (StoreError)."""
        self._directory = directory
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="teahouse-writer", daemon=True)
            self._thread.start()

    @property
    def threaded(self) -> bool:
        return self._threaded

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    def submit(self, ops: list[Op], done: Callable[[StoreError | None], None]) -> None:
        if self._threaded:
            loop = asyncio.get_running_loop()

            def back(error: StoreError | None) -> None:
                loop.call_soon_threadsafe(done, error)

            self._jobs.put((ops, back))
        else:
            done(self._commit(ops))

    def commit_now(self, ops: list[Op]) -> StoreError | None:
        """Commit on the calling thread (no writer thread running, or none at all)."""
        return self._commit(ops)

    def close_connection(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            ops, back = job
            back(self._commit(ops))

    def _commit(self, ops: list[Op]) -> StoreError | None:
        db = self._db
        try:
            self.check_space()
            db.execute("BEGIN IMMEDIATE")
            for op in ops:
                op(db)
            db.execute("COMMIT")
            return None
        except (sqlite3.Error, StoreError, OSError) as exc:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if isinstance(exc, OSError):
                return StoreError(f"{exc.strerror or exc}")
            return exc if isinstance(exc, StoreError) else StoreError(_explain(exc))

    def check_space(self) -> None:
        if self.free_floor <= 0 or self._directory is None:
            return
        stat = os.statvfs(self._directory)
        free = stat.f_bavail * stat.f_frsize
        if free < self.free_floor:
            raise StoreError(
                f"the disk holding the data has {free >> 20} MiB free, under the floor of "
                f"{self.free_floor >> 20} MiB (storage.min_free_mb): writes wait for space"
            )

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full: the server could not store this"
    if "locked" in text or "busy" in text:
        return "the database is locked by another program: the server could not store this"
    return f"storage failed: {text}"


class SQLiteStore:
    """:class:`~teahouse.store.base.Store` on one SQLite file (``:memory:`` for tests)."""

    def __init__(
        self,
        path: str | Path,
        *,
        threaded: bool = False,
        min_free_bytes: int = 0,
        write_timeout: float = 10.0,
    ) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        if memory:
            # One connection for reading and writing: a private in-memory database.
            self._read = _connect(self.path, 1000)
            write = self._read
            threaded = False
        else:
            write = _connect(self.path, int(write_timeout * 1000))
        try:
            write.execute("PRAGMA journal_mode = WAL")
            write.execute("PRAGMA synchronous = NORMAL")
            write.execute("PRAGMA foreign_keys = ON")
            write.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            migrate(write, self.path)
        except sqlite3.DatabaseError as exc:
            write.close()
            raise StoreError(
                f"{self.path} is not a teahouse database or is damaged ({exc}); restore a "
                "backup with `teahouse restore FILE`, or move it away to start empty"
            ) from None
        if not memory:
            make_private(Path(self.path))
            self._read = _connect(self.path, 1000)
            self._read.execute("PRAGMA query_only = ON")
            self._read.execute(f"PRAGMA cache_size = -{READER_CACHE_KIB}")
        directory = None if memory else os.path.dirname(os.path.abspath(self.path))
        self._writer = Writer(
            write, threaded=threaded, free_floor=min_free_bytes, directory=directory
        )
        self._batch: list[Op] = []
        self._last_error: StoreError | None = None
        self._last_error_at = 0.0
        # Read your own writes: what a batch not yet committed changed, newest first.
        self._gen = 1
        """The generation of the batch being gathered."""
        self._rooms_pending: dict[str, tuple[int, RoomRecord | None]] = {}
        self._cursors_pending: dict[int, tuple[int, int]] = {}
        row = write.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        reserved = write.execute(
            "SELECT value FROM meta WHERE key = 'message_ids_reserved'"
        ).fetchone()
        self._last_id = max(int(row[0]), int(reserved[0]) if reserved else 0)
        self._reserved = self._last_id
        self.schema_version = SCHEMA_VERSION

    # -- lifecycle -------------------------------------------------------------------

    @property
    def min_free_bytes(self) -> int:
        """The free-space floor (``storage.min_free_mb``): while the disk has less, every
        batch fails with :class:`StoreError` and keeps nothing; set it to change the floor."""
        return self._writer.free_floor

    @min_free_bytes.setter
    def min_free_bytes(self, value: int) -> None:
        self._writer.free_floor = value

    def _add(self, op: Op) -> None:
        self._batch.append(op)

    def _sql(self, sql: str, params: tuple[object, ...] = ()) -> None:
        self._batch.append(lambda db: db.execute(sql, params))

    def commit(self, done: Committed) -> None:
        ops, self._batch = self._batch, []
        gen = self._gen
        self._gen += 1
        if not ops:
            done(None)
            return

        def settled(error: StoreError | None) -> None:
            # Committed (or lost): from now on the database itself says what is true.
            self._forget_pending(gen)
            self._last_error = error
            self._last_error_at = time.monotonic()
            if error is not None:
                # The block reserved in this batch, if any, was lost with it: the next id
                # reserves again, so every id handed out is covered by a durable reservation
                # (or a later id's deletion could let a reopen hand it out again).
                self._reserved = min(self._reserved, self._last_id)
            done(error)

        self._writer.submit(ops, settled)

    def failing(self) -> StoreError | None:
        # A failed commit counts for a few seconds: then a write is tried again (the
        # disk may have been freed), and its own commit says how it went.
        if self._last_error is not None and time.monotonic() - self._last_error_at < 5.0:
            return self._last_error
        try:
            self._writer.check_space()
        except StoreError as exc:
            return exc
        return None

    def _forget_pending(self, gen: int) -> None:
        for name, (seen, _) in list(self._rooms_pending.items()):
            if seen <= gen:
                del self._rooms_pending[name]
        for user, (seen, _) in list(self._cursors_pending.items()):
            if seen <= gen:
                del self._cursors_pending[user]

    def _room_changed(self, name: str, change: Callable[[RoomRecord], RoomRecord]) -> None:
        current = self.get_room(name)
        if current is not None:
            self._rooms_pending[name] = (self._gen, change(current))

    async def sync(self) -> None:
        if not self._batch:
            return
        future: asyncio.Future[StoreError | None] = asyncio.get_running_loop().create_future()
        self.commit(_resolver(future))
        error = await future
        if error is not None:
            raise error

    async def _write_now(self, op: Callable[[sqlite3.Connection], object]) -> object:
        """Run ``op`` in a transaction of its own and return its result.

        The pending batch is not part of it: that batch belongs to whoever commits it
        (the hub, once a round), whose callback must report that batch's fate alone.
        """
        result: list[object] = []

        def run(db: sqlite3.Connection) -> None:
            result.append(op(db))

        if self._writer.threaded:
            future: asyncio.Future[StoreError | None] = asyncio.get_running_loop().create_future()
            self._writer.submit([run], _resolver(future))
            error = await future
        else:
            error = self._writer.commit_now([run])
        if error is not None:
            raise error
        return result[0] if result else None

    async def backup(self, path: Path) -> None:
        """Copy the whole database to ``path`` (0600), consistent, while the server runs:
        SQLite's online backup, on the writer, between two batches."""
        path = Path(path)
        partial = path.with_name(path.name + ".partial")

        def copy(db: sqlite3.Connection) -> None:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            target = _connect(str(partial), 1000)
            db.execute("COMMIT")  # the writer's empty transaction: back up outside it
            try:
                db.backup(target)
            finally:
                target.close()
                db.execute("BEGIN IMMEDIATE")
            os.chmod(partial, 0o600)
            os.replace(partial, path)

        try:
            await self._write_now(copy)
        except OSError as exc:
            raise StoreError(f"cannot write the backup to {path}: {exc.strerror}") from None

    def close(self) -> None:
        """Commit what is pending (on this thread: no loop to call back on) and close."""
        self._writer.close()
        ops, self._batch = self._batch, []
        if ops:
            error = self._writer.commit_now(ops)
            if error is not None:
                log.error("the last writes before closing were lost: %s", error)
        self._writer.close_connection()
        if self._read is not self._writer.db:
            with contextlib.suppress(sqlite3.Error):
                self._read.close()

    # -- accounts --------------------------------------------------------------------

    def get_account(self, name: str) -> Account | None:
        row = self._read.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE key = ?", (fold_user(name),)
        ).fetchone()
        return Account(*row) if row else None

    def account_by_id(self, account_id: int) -> Account | None:
        row = self._read.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        return Account(*row) if row else None

    def confusable_accounts(self, key: str) -> list[Account]:
        rows = self._read.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE confusable = ?", (key,)
        ).fetchall()
        return [Account(*row) for row in rows]

    async def create_account(self, name: str, password_hash: str, role: Role) -> Account:
        now = _now_ms()

        def insert(db: sqlite3.Connection) -> object:
            try:
                cur = db.execute(
                    "INSERT INTO accounts (key, name, role, password_hash, created_ms,"
                    " dm_cursor, confusable) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        fold_user(name),
                        name,
                        role,
                        password_hash,
                        now,
                        self._last_id,
                        confusable_key(name),
                    ),
                )
            except sqlite3.IntegrityError:
                return None
            return cur.lastrowid

        account_id = await self._write_now(insert)
        if account_id is None:
            raise UserTaken(f"the name {name!r} is taken")
        return Account(cast(int, account_id), name, role, password_hash, now)

    async def delete_account(self, account_id: int) -> bool:
        def delete(db: sqlite3.Connection) -> object:
            db.execute(
                "DELETE FROM messages WHERE room IS NULL AND (sender_id = ? OR recipient_id = ?)",
                (account_id, account_id),
            )
            db.execute("DELETE FROM room_grants WHERE account_id = ?", (account_id,))
            db.execute("UPDATE rooms SET owner_id = NULL WHERE owner_id = ?", (account_id,))
            db.execute("DELETE FROM mutes WHERE account_id = ?", (account_id,))
            db.execute("DELETE FROM bans WHERE kind = 'user' AND value = ?", (str(account_id),))
            return db.execute("DELETE FROM accounts WHERE id = ?", (account_id,)).rowcount

        return bool(await self._write_now(delete))

    async def set_password(self, account_id: int, password_hash: str) -> bool:
        sql = "UPDATE accounts SET password_hash = ? WHERE id = ?"
        return bool(
            await self._write_now(lambda db: db.execute(sql, (password_hash, account_id)).rowcount)
        )

    async def set_role(self, account_id: int, role: Role) -> bool:
        sql = "UPDATE accounts SET role = ? WHERE id = ?"
        return bool(await self._write_now(lambda db: db.execute(sql, (role, account_id)).rowcount))

    def list_accounts(self) -> list[Account]:
        rows = self._read.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY key"
        ).fetchall()
        return [Account(*row) for row in rows]

    def count_admins(self) -> int:
        row = self._read.execute("SELECT COUNT(*) FROM accounts WHERE role = 'admin'").fetchone()
        return int(row[0])

    # -- rooms -----------------------------------------------------------------------

    def get_room(self, name: str) -> RoomRecord | None:
        pending = self._rooms_pending.get(name)
        if pending is not None:
            return pending[1]
        row = self._read.execute(
            f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE name = ?", (name,)
        ).fetchone()
        return _room(row) if row else None

    def create_room(self, name: str, now_ms: int) -> RoomRecord:
        self._sql("INSERT OR IGNORE INTO rooms (name, created_ms) VALUES (?, ?)", (name, now_ms))
        record = self.get_room(name) or RoomRecord(name, "", "", 0, now_ms)
        self._rooms_pending[name] = (self._gen, record)
        return record

    def set_topic(self, name: str, topic: str, by: str, now_ms: int) -> None:
        self._sql(
            "UPDATE rooms SET topic = ?, topic_by = ?, topic_ms = ? WHERE name = ?",
            (topic, by, now_ms, name),
        )
        self._room_changed(name, lambda r: replace(r, topic=topic, topic_by=by, topic_ms=now_ms))

    def list_rooms(self, after: str | None, limit: int) -> list[RoomRecord]:
        rows = self._read.execute(
            f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE name > ? ORDER BY name LIMIT ?",
            (after or "", limit),
        ).fetchall()
        records = {row[0]: _room(row) for row in rows}
        for name, (_, record) in self._rooms_pending.items():
            if name > (after or ""):
                if record is None:
                    records.pop(name, None)
                else:
                    records[name] = record
        return [records[name] for name in sorted(records)[:limit]]

    def count_rooms(self) -> int:
        return int(self._read.execute("SELECT COUNT(*) FROM rooms").fetchone()[0])

    def mark_community(self, name: str) -> None:
        self._sql("UPDATE rooms SET community = 1 WHERE name = ? AND community = 0", (name,))
        self._room_changed(name, lambda r: replace(r, community=True))

    def register_room(self, name: str, owner_id: int | None, modes: str) -> None:
        self._sql(
            "UPDATE rooms SET owner_id = ?, modes = ? WHERE name = ?", (owner_id, modes, name)
        )
        if owner_id is None:
            self._sql("DELETE FROM room_grants WHERE room = ?", (name,))
        else:
            self._sql(
                "INSERT OR REPLACE INTO room_grants (room, account_id, grant_) VALUES (?, ?, ?)",
                (name, owner_id, "owner"),
            )
        self._room_changed(name, lambda r: replace(r, owner_id=owner_id, modes=modes))

    def save_room_modes(self, name: str, modes: str) -> None:
        self._sql("UPDATE rooms SET modes = ? WHERE name = ?", (modes, name))
        self._room_changed(name, lambda r: replace(r, modes=modes))

    def room_grants(self, name: str) -> dict[int, Grant]:
        rows = self._read.execute(
            "SELECT account_id, grant_ FROM room_grants WHERE room = ?", (name,)
        ).fetchall()
        return {int(account): cast(Grant, grant) for account, grant in rows}

    def set_room_grant(self, name: str, account_id: int, grant: Grant | None) -> None:
        if grant is None:
            self._sql(
                "DELETE FROM room_grants WHERE room = ? AND account_id = ?", (name, account_id)
            )
        else:
            self._sql(
                "INSERT OR REPLACE INTO room_grants (room, account_id, grant_) VALUES (?, ?, ?)",
                (name, account_id, grant),
            )

    def delete_room(self, name: str) -> None:
        self._sql("DELETE FROM messages WHERE room = ?", (name,))
        self._sql("DELETE FROM room_grants WHERE room = ?", (name,))
        self._sql("DELETE FROM rooms WHERE name = ?", (name,))
        self._rooms_pending[name] = (self._gen, None)

    def next_message_id(self) -> int:
        self._last_id += 1
        if self._last_id > self._reserved:
            # Reserved in the batch that stores the first message using the block, so the
            # block is durable before any of its ids is seen.
            self._reserved = self._last_id + ID_BLOCK - 1
            self._sql(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('message_ids_reserved', ?)",
                (self._reserved,),
            )
        return self._last_id

    def append_message(self, message: StoredMessage) -> None:
        self._sql(
            "INSERT INTO messages (id, room, sender, sender_key, sender_id, recipient,"
            " recipient_key, recipient_id, text, ts_ms, nonce)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.id,
                message.room,
                message.sender,
                fold_user(message.sender),
                message.sender_id,
                message.recipient,
                fold_user(message.recipient) if message.recipient is not None else None,
                message.recipient_id,
                message.text,
                message.ts_ms,
                message.nonce,
            ),
        )

    def find_by_nonce(self, sender_id: int, nonce: str, since_ms: int) -> StoredMessage | None:
        row = self._read.execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE sender_id = ? AND nonce = ?"
            " AND ts_ms >= ? ORDER BY id DESC LIMIT 1",
            (sender_id, nonce, since_ms),
        ).fetchone()
        return _message(row) if row else None

    def _page(self, sql: str, params: tuple[object, ...], limit: int, newest: bool) -> Page:
        rows = cast(list[_Row], self._read.execute(sql, (*params, limit + 1)).fetchall())
        more = len(rows) > limit
        rows = rows[:limit]
        if newest:
            rows.reverse()
        return Page([_message(r) for r in rows], more)

    def room_after(self, room: str, after_id: int, limit: int) -> Page:
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE room = ? AND id > ?"
            " ORDER BY id DESC LIMIT ?",
            (room, after_id),
            limit,
            newest=True,
        )

    def room_before(self, room: str, before_id: int | None, limit: int) -> Page:
        bound = before_id if before_id is not None else 2**62
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE room = ? AND id < ?"
            " ORDER BY id DESC LIMIT ?",
            (room, bound),
            limit,
            newest=True,
        )

    def room_since(self, room: str, after_id: int, limit: int) -> Page:
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE room = ? AND id > ?"
            " ORDER BY id ASC LIMIT ?",
            (room, after_id),
            limit,
            newest=False,
        )

    _DM = "room IS NULL AND (recipient_id = ? OR sender_id = ?)"

    def dms_after(self, user_id: int, after_id: int, limit: int, incoming_only: bool) -> Page:
        if incoming_only:
            return self._page(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE recipient_id = ? AND id > ?"
                " ORDER BY id DESC LIMIT ?",
                (user_id, after_id),
                limit,
                newest=True,
            )
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id > ? AND {self._DM}"
            " ORDER BY id DESC LIMIT ?",
            (after_id, user_id, user_id),
            limit,
            newest=True,
        )

    def dms_before(self, user_id: int, before_id: int | None, limit: int) -> Page:
        bound = before_id if before_id is not None else 2**62
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id < ? AND {self._DM}"
            " ORDER BY id DESC LIMIT ?",
            (bound, user_id, user_id),
            limit,
            newest=True,
        )

    def dms_since(self, user_id: int, after_id: int, limit: int) -> Page:
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id > ? AND {self._DM}"
            " ORDER BY id ASC LIMIT ?",
            (after_id, user_id, user_id),
            limit,
            newest=False,
        )

    def dm_cursor(self, user_id: int) -> int:
        row = self._read.execute(
            "SELECT dm_cursor FROM accounts WHERE id = ?", (user_id,)
        ).fetchone()
        stored = int(row[0]) if row else 0
        pending = self._cursors_pending.get(user_id)
        return max(stored, pending[1]) if pending is not None else stored

    def set_dm_cursor(self, user_id: int, message_id: int) -> None:
        self._sql(
            "UPDATE accounts SET dm_cursor = MAX(dm_cursor, ?) WHERE id = ?",
            (message_id, user_id),
        )
        previous = self._cursors_pending.get(user_id, (0, 0))[1]
        self._cursors_pending[user_id] = (self._gen, max(previous, message_id))

    def purge_messages(self, room: str | None, before_ms: int | None, keep: int | None) -> None:
        where = "room = ?" if room is not None else "room IS NULL"
        params: tuple[object, ...] = (room,) if room is not None else ()
        if before_ms is not None:
            self._sql(f"DELETE FROM messages WHERE {where} AND ts_ms < ?", (*params, before_ms))
        if keep is not None and room is not None:
            self._sql(
                f"DELETE FROM messages WHERE {where} AND id < (SELECT COALESCE(MIN(id), 0)"
                f" FROM (SELECT id FROM messages WHERE {where} ORDER BY id DESC LIMIT ?))",
                (*params, *params, keep),
            )

    # -- moderation ------------------------------------------------------------------

    def add_ban(self, ban: Ban) -> None:
        self._sql(
            "INSERT OR REPLACE INTO bans (kind, value, until_ms, reason, by, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ban.kind, ban.value, ban.until_ms, ban.reason, ban.by, ban.created_ms),
        )

    def remove_ban(self, kind: BanKind, value: str) -> None:
        self._sql("DELETE FROM bans WHERE kind = ? AND value = ?", (kind, value))

    def active_bans(self, now_ms: int) -> list[Ban]:
        rows = self._read.execute(
            "SELECT kind, value, until_ms, reason, by, created_ms FROM bans"
            " WHERE until_ms IS NULL OR until_ms > ? ORDER BY created_ms",
            (now_ms,),
        ).fetchall()
        return [Ban(*row) for row in rows]

    def set_mute(self, account_id: int, until_ms: int | None, by: str) -> None:
        self._sql(
            "INSERT OR REPLACE INTO mutes (account_id, until_ms, by) VALUES (?, ?, ?)",
            (account_id, until_ms, by),
        )

    def remove_mute(self, account_id: int) -> None:
        self._sql("DELETE FROM mutes WHERE account_id = ?", (account_id,))

    def active_mutes(self, now_ms: int) -> dict[int, int | None]:
        rows = self._read.execute(
            "SELECT account_id, until_ms FROM mutes WHERE until_ms IS NULL OR until_ms > ?",
            (now_ms,),
        ).fetchall()
        return {int(row[0]): row[1] for row in rows}

    def create_invite(self, code: str, by: str, now_ms: int) -> None:
        self._sql("INSERT INTO invites (code, by, created_ms) VALUES (?, ?, ?)", (code, by, now_ms))

    def invite_available(self, code: str) -> bool:
        row = self._read.execute(
            "SELECT 1 FROM invites WHERE code = ? AND used_by IS NULL", (code,)
        ).fetchone()
        return row is not None

    async def use_invite(self, code: str, user: str) -> bool:
        sql = "UPDATE invites SET used_by = ? WHERE code = ? AND used_by IS NULL"
        return bool(await self._write_now(lambda db: db.execute(sql, (user, code)).rowcount))
