"""The embedded default store: one SQLite file in WAL mode.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction through a
crash of the process (``kill -9``); only a power loss may cost the last commits. Other
processes (``teahouse user add`` while the server runs) write to the same file; a short
``busy_timeout`` covers the server's brief write transactions.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import cast

from teahouse.errors import UserTaken
from teahouse.protocol.names import fold_user
from teahouse.store.base import (
    Account,
    Ban,
    BanKind,
    Page,
    Role,
    RoomRecord,
    StoredMessage,
    StoreError,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
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
    topic_ms INTEGER NOT NULL DEFAULT 0,
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

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of a database this code wrote. 0 is a database from before
versions were kept (teahouse 0.1 up to the identity rework), migrated on open."""

_MIGRATE_FROM_0 = """
CREATE TABLE accounts_v2 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    dm_cursor INTEGER NOT NULL DEFAULT 0
);
INSERT INTO accounts_v2 (key, name, role, password_hash, created_ms, dm_cursor)
    SELECT key, name, role, password_hash, created_ms, dm_cursor FROM accounts ORDER BY created_ms;
DROP TABLE accounts;
ALTER TABLE accounts_v2 RENAME TO accounts;
ALTER TABLE rooms ADD COLUMN topic_ms INTEGER NOT NULL DEFAULT 0;
"""


_MSG_COLUMNS = "id, sender, text, ts_ms, room, recipient, nonce"
_ACCOUNT_COLUMNS = "id, name, role, password_hash, created_ms"
_ROOM_COLUMNS = "name, topic, topic_by, topic_ms, created_ms"
_Row = tuple[int, str, str, int, str | None, str | None, str | None]


def _message(row: _Row) -> StoredMessage:
    return StoredMessage(*row)


def _now_ms() -> int:
    return int(time.time() * 1000)


class SQLiteStore:
    """:class:`~teahouse.store.base.Store` on one SQLite file (``:memory:`` for tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()
        self._in_tx = False
        self._lost: StoreError | None = None
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()
        self._last_id = int(row[0])

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION`, in one transaction."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer teahouse (schema {version}, this one "
                f"knows {SCHEMA_VERSION}); upgrade teahouse"
            )
        if version == SCHEMA_VERSION:
            return
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        steps = []
        if version == 0 and "accounts" in tables:
            steps.append(_MIGRATE_FROM_0)
        steps.append(_SCHEMA)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for script in steps:
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._db.execute("ROLLBACK")
            raise

    # -- transactions ----------------------------------------------------------------

    def _write(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one write in the open transaction (opening it when needed).

        Raises :class:`StoreError` when SQLite fails (disk full, I/O error, locked): the
        whole open transaction is rolled back then, and the next :meth:`flush` says so
        too, so nothing written before it in this round is reported as kept.
        """
        try:
            if not self._in_tx:
                self._db.execute("BEGIN IMMEDIATE")
                self._in_tx = True
            return self._db.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._lose(exc) from None

    def _lose(self, exc: sqlite3.Error) -> StoreError:
        """Roll back the open transaction and remember that its writes are lost."""
        self._in_tx = False
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        error = StoreError(f"storage failed: {exc}")
        self._lost = error
        return error

    def _commit(self) -> None:
        if not self._in_tx:
            return
        self._in_tx = False
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # Leave no half-open transaction behind, or every later write would fail too.
            raise self._lose(exc) from None

    def flush(self) -> None:
        try:
            self._commit()
        finally:
            # Reported once: a failed COMMIT raises here and must not fail the next round.
            error, self._lost = self._lost, None
        if error is not None:
            raise error

    def close(self) -> None:
        try:
            self._commit()
        finally:
            self._db.close()

    # -- accounts --------------------------------------------------------------------

    def get_account(self, name: str) -> Account | None:
        row = self._db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE key = ?", (fold_user(name),)
        ).fetchone()
        return Account(*row) if row else None

    def create_account(self, name: str, password_hash: str, role: Role) -> Account:
        now = _now_ms()
        try:
            self._write(
                "INSERT INTO accounts (key, name, role, password_hash, created_ms, dm_cursor)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (fold_user(name), name, role, password_hash, now, self._last_id),
            )
        except sqlite3.IntegrityError:
            raise UserTaken(f"the name {name!r} is taken") from None
        self._commit()
        account = self.get_account(name)
        assert account is not None
        return account

    def delete_account(self, name: str) -> bool:
        cur = self._write("DELETE FROM accounts WHERE key = ?", (fold_user(name),))
        self._commit()
        return cur.rowcount > 0

    def set_password(self, name: str, password_hash: str) -> bool:
        cur = self._write(
            "UPDATE accounts SET password_hash = ? WHERE key = ?", (password_hash, fold_user(name))
        )
        self._commit()
        return cur.rowcount > 0

    def set_role(self, name: str, role: Role) -> bool:
        cur = self._write("UPDATE accounts SET role = ? WHERE key = ?", (role, fold_user(name)))
        self._commit()
        return cur.rowcount > 0

    def list_accounts(self) -> list[Account]:
        rows = self._db.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY key").fetchall()
        return [Account(*row) for row in rows]

    def count_admins(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM accounts WHERE role = 'admin'").fetchone()
        return int(row[0])

    # -- rooms -----------------------------------------------------------------------

    def get_room(self, name: str) -> RoomRecord | None:
        row = self._db.execute(
            f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE name = ?", (name,)
        ).fetchone()
        return RoomRecord(*row) if row else None

    def create_room(self, name: str, now_ms: int) -> RoomRecord:
        self._write("INSERT OR IGNORE INTO rooms (name, created_ms) VALUES (?, ?)", (name, now_ms))
        record = self.get_room(name)
        assert record is not None
        return record

    def set_topic(self, name: str, topic: str, by: str, now_ms: int) -> None:
        self._write(
            "UPDATE rooms SET topic = ?, topic_by = ?, topic_ms = ? WHERE name = ?",
            (topic, by, now_ms, name),
        )

    def list_rooms(self, after: str | None, limit: int) -> list[RoomRecord]:
        rows = self._db.execute(
            f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE name > ? ORDER BY name LIMIT ?",
            (after or "", limit),
        ).fetchall()
        return [RoomRecord(*row) for row in rows]

    # -- messages --------------------------------------------------------------------

    def next_message_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def append_message(self, message: StoredMessage) -> None:
        self._write(
            "INSERT INTO messages (id, room, sender, sender_key, recipient, recipient_key,"
            " text, ts_ms, nonce) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.id,
                message.room,
                message.sender,
                fold_user(message.sender),
                message.recipient,
                fold_user(message.recipient) if message.recipient is not None else None,
                message.text,
                message.ts_ms,
                message.nonce,
            ),
        )

    def find_by_nonce(self, sender: str, nonce: str, since_ms: int) -> StoredMessage | None:
        row = self._db.execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE sender_key = ? AND nonce = ?"
            " AND ts_ms >= ? ORDER BY id DESC LIMIT 1",
            (fold_user(sender), nonce, since_ms),
        ).fetchone()
        return _message(row) if row else None

    def _page(self, sql: str, params: tuple[object, ...], limit: int, newest: bool) -> Page:
        rows = cast(list[_Row], self._db.execute(sql, (*params, limit + 1)).fetchall())
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
        bound = before_id if before_id is not None else self._last_id + 1
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

    def dms_after(self, user: str, after_id: int, limit: int, incoming_only: bool) -> Page:
        key = fold_user(user)
        if incoming_only:
            return self._page(
                f"SELECT {_MSG_COLUMNS} FROM messages WHERE recipient_key = ? AND id > ?"
                " ORDER BY id DESC LIMIT ?",
                (key, after_id),
                limit,
                newest=True,
            )
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id > ? AND recipient_key IS NOT NULL"
            " AND (recipient_key = ? OR sender_key = ?) ORDER BY id DESC LIMIT ?",
            (after_id, key, key),
            limit,
            newest=True,
        )

    def dms_before(self, user: str, before_id: int | None, limit: int) -> Page:
        key = fold_user(user)
        bound = before_id if before_id is not None else self._last_id + 1
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id < ? AND recipient_key IS NOT NULL"
            " AND (recipient_key = ? OR sender_key = ?) ORDER BY id DESC LIMIT ?",
            (bound, key, key),
            limit,
            newest=True,
        )

    def dms_since(self, user: str, after_id: int, limit: int) -> Page:
        key = fold_user(user)
        return self._page(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE id > ? AND recipient_key IS NOT NULL"
            " AND (recipient_key = ? OR sender_key = ?) ORDER BY id ASC LIMIT ?",
            (after_id, key, key),
            limit,
            newest=False,
        )

    def dm_cursor(self, user: str) -> int:
        row = self._db.execute(
            "SELECT dm_cursor FROM accounts WHERE key = ?", (fold_user(user),)
        ).fetchone()
        return int(row[0]) if row else 0

    def set_dm_cursor(self, user: str, message_id: int) -> None:
        self._write(
            "UPDATE accounts SET dm_cursor = MAX(dm_cursor, ?) WHERE key = ?",
            (message_id, fold_user(user)),
        )

    # -- moderation ------------------------------------------------------------------

    def add_ban(self, ban: Ban) -> None:
        self._write(
            "INSERT OR REPLACE INTO bans (kind, value, until_ms, reason, by, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ban.kind, ban.value, ban.until_ms, ban.reason, ban.by, ban.created_ms),
        )
        self._commit()

    def remove_ban(self, kind: BanKind, value: str) -> bool:
        cur = self._write("DELETE FROM bans WHERE kind = ? AND value = ?", (kind, value))
        self._commit()
        return cur.rowcount > 0

    def active_bans(self, now_ms: int) -> list[Ban]:
        rows = self._db.execute(
            "SELECT kind, value, until_ms, reason, by, created_ms FROM bans"
            " WHERE until_ms IS NULL OR until_ms > ? ORDER BY created_ms",
            (now_ms,),
        ).fetchall()
        return [Ban(*row) for row in rows]

    def set_mute(self, user: str, until_ms: int | None, by: str) -> None:
        self._write(
            "INSERT OR REPLACE INTO mutes (key, until_ms, by) VALUES (?, ?, ?)",
            (fold_user(user), until_ms, by),
        )
        self._commit()

    def remove_mute(self, user: str) -> bool:
        cur = self._write("DELETE FROM mutes WHERE key = ?", (fold_user(user),))
        self._commit()
        return cur.rowcount > 0

    def active_mutes(self, now_ms: int) -> dict[str, int | None]:
        rows = self._db.execute(
            "SELECT key, until_ms FROM mutes WHERE until_ms IS NULL OR until_ms > ?", (now_ms,)
        ).fetchall()
        return {row[0]: row[1] for row in rows}

    def create_invite(self, code: str, by: str, now_ms: int) -> None:
        self._write(
            "INSERT INTO invites (code, by, created_ms) VALUES (?, ?, ?)", (code, by, now_ms)
        )
        self._commit()

    def invite_available(self, code: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM invites WHERE code = ? AND used_by IS NULL", (code,)
        ).fetchone()
        return row is not None

    def use_invite(self, code: str, user: str) -> bool:
        cur = self._write(
            "UPDATE invites SET used_by = ? WHERE code = ? AND used_by IS NULL", (user, code)
        )
        self._commit()
        return cur.rowcount > 0
