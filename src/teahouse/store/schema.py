"""The SQLite schema, and the migration of every older database to it.

``PRAGMA user_version`` says which schema a file has. 0 is a database written before
versions were kept (teahouse up to the identity rework): accounts without ids, direct
messages, bans and mutes kept by name. :func:`migrate` brings any of them to
:data:`SCHEMA_VERSION` in one transaction: each account gets an id, and its direct
messages, bans and mutes are attached to it *by name, once*; a direct message to a name
that has no account (an IRC guest) is dropped, since nothing of a guest is kept.
"""

from __future__ import annotations

import sqlite3

from teahouse.protocol.lookalike import confusable_key
from teahouse.store.base import StoreError

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    dm_cursor INTEGER NOT NULL DEFAULT 0,
    confusable TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS accounts_confusable ON accounts (confusable);
CREATE TABLE IF NOT EXISTS rooms (
    name TEXT PRIMARY KEY,
    topic TEXT NOT NULL DEFAULT '',
    topic_by TEXT NOT NULL DEFAULT '',
    topic_ms INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    owner_id INTEGER,
    modes TEXT NOT NULL DEFAULT '',
    community INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS room_grants (
    room TEXT NOT NULL,
    account_id INTEGER NOT NULL,
    grant_ TEXT NOT NULL CHECK (grant_ IN ('owner', 'op')),
    PRIMARY KEY (room, account_id)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    room TEXT,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    sender_id INTEGER,
    recipient TEXT,
    recipient_key TEXT,
    recipient_id INTEGER,
    text TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    nonce TEXT
);
CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id) WHERE room IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_dm_to ON messages (recipient_id, id) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS messages_dm_from ON messages (sender_id, id) WHERE room IS NULL;
CREATE INDEX IF NOT EXISTS messages_nonce ON messages (sender_id, nonce) WHERE nonce IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_time ON messages (ts_ms);
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
    account_id INTEGER PRIMARY KEY,
    until_ms INTEGER,
    by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    code TEXT PRIMARY KEY,
    by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_by TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_OLD_INDEXES = ("messages_to", "messages_dm_from", "messages_nonce")


def _statements(script: str) -> list[str]:
    return [s for s in script.split(";") if s.strip()]


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`, in one transaction (or not at all)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer teahouse (schema {version}, this one knows "
            f"{SCHEMA_VERSION}): upgrade teahouse, or restore a backup"
        )
    if version == SCHEMA_VERSION:
        return
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.execute("BEGIN IMMEDIATE")
    try:
        if "accounts" in tables:
            _from_legacy(db, tables)
        for statement in _statements(TABLES):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _from_legacy(db: sqlite3.Connection, tables: set[str]) -> None:
    """Any older teahouse database, whatever its columns, to the current tables."""
    accounts = _columns(db, "accounts")
    if "id" not in accounts:
        db.execute(
            "CREATE TABLE accounts_new (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL"
            " UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'admin')),"
            " password_hash TEXT NOT NULL, created_ms INTEGER NOT NULL,"
            " dm_cursor INTEGER NOT NULL DEFAULT 0, confusable TEXT NOT NULL DEFAULT '')"
        )
        db.execute(
            "INSERT INTO accounts_new (key, name, role, password_hash, created_ms, dm_cursor)"
            " SELECT key, name, role, password_hash, created_ms, dm_cursor FROM accounts"
            " ORDER BY created_ms, key"
        )
        db.execute("DROP TABLE accounts")
        db.execute("ALTER TABLE accounts_new RENAME TO accounts")
    elif "confusable" not in accounts:
        db.execute("ALTER TABLE accounts ADD COLUMN confusable TEXT NOT NULL DEFAULT ''")
    for account_id, name in db.execute("SELECT id, name FROM accounts").fetchall():
        db.execute(
            "UPDATE accounts SET confusable = ? WHERE id = ?", (confusable_key(name), account_id)
        )

    rooms = _columns(db, "rooms")
    for column, kind in (
        ("topic_ms", "INTEGER NOT NULL DEFAULT 0"),
        ("owner_id", "INTEGER"),
        ("modes", "TEXT NOT NULL DEFAULT ''"),
        ("community", "INTEGER NOT NULL DEFAULT 0"),
    ):
        if column not in rooms:
            db.execute(f"ALTER TABLE rooms ADD COLUMN {column} {kind}")

    messages = _columns(db, "messages")
    if "sender_id" not in messages:
        for index in _OLD_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {index}")
        db.execute("ALTER TABLE messages ADD COLUMN sender_id INTEGER")
        db.execute("ALTER TABLE messages ADD COLUMN recipient_id INTEGER")
        # Attached by name, once: from now on a name that changes hands takes nothing along.
        db.execute(
            "UPDATE messages SET sender_id = (SELECT id FROM accounts a"
            " WHERE a.key = messages.sender_key)"
        )
        db.execute(
            "UPDATE messages SET recipient_id = (SELECT id FROM accounts a"
            " WHERE a.key = messages.recipient_key) WHERE room IS NULL"
        )
        # A DM to a name without an account went to an IRC guest: nothing of a guest is kept.
        db.execute("DELETE FROM messages WHERE room IS NULL AND recipient_id IS NULL")
        # Communities: rooms where an account has spoken.
        db.execute(
            "UPDATE rooms SET community = 1 WHERE name IN (SELECT DISTINCT room FROM messages"
            " WHERE room IS NOT NULL AND sender_id IS NOT NULL)"
        )

    if "bans" in tables:
        for value, account_id in db.execute(
            "SELECT b.value, a.id FROM bans b JOIN accounts a ON a.key = b.value"
            " WHERE b.kind = 'user'"
        ).fetchall():
            db.execute(
                "UPDATE bans SET value = ? WHERE kind = 'user' AND value = ?",
                (str(account_id), value),
            )
        db.execute(
            "DELETE FROM bans WHERE kind = 'user' AND value NOT IN"
            " (SELECT CAST(id AS TEXT) FROM accounts)"
        )

    if "mutes" in tables and "account_id" not in _columns(db, "mutes"):
        db.execute(
            "CREATE TABLE mutes_new (account_id INTEGER PRIMARY KEY, until_ms INTEGER,"
            " by TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO mutes_new (account_id, until_ms, by) SELECT a.id, m.until_ms, m.by"
            " FROM mutes m JOIN accounts a ON a.key = m.key"
        )
        db.execute("DROP TABLE mutes")
        db.execute("ALTER TABLE mutes_new RENAME TO mutes")
