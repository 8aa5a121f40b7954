"""Reading a conversation's messages out of the server's SQLite file, read-only.

All the SQL of the export lives here, behind :class:`MessageSource`: when the schema
changes (messages referring to account ids, names resolved at read time), this module
changes and the renderers do not.

The file is opened with ``mode=ro``, so an export can run beside a running server: in WAL
mode a reader never blocks the writer and sees only committed transactions. Messages come
in pages of :data:`PAGE` by id (``id > ? ORDER BY id LIMIT ?``), never all at once, and up
to the newest id that existed when the export began, so messages arriving meanwhile do not
make it run on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from teahouse.export.record import TranscriptMessage, split_action
from teahouse.protocol.names import fold_user

PAGE = 1000
"""Messages read per query."""

_COLUMNS = "id, room, sender, recipient, text, ts_ms"

_NEEDS = {
    "messages": {"id", "room", "sender", "sender_id", "recipient", "recipient_id", "text"},
    "rooms": {"name"},
    "accounts": {"key"},
}


class ExportError(Exception):
    """An export cannot be made; the message says why, in one line, for the user."""


@dataclass(frozen=True, slots=True)
class Room:
    """The messages of one room."""

    name: str


@dataclass(frozen=True, slots=True)
class DirectPair:
    """The direct messages between two users, both ways."""

    first: str
    second: str


Selection = Room | DirectPair


@dataclass(frozen=True, slots=True)
class TimeSpan:
    """Messages with ``start_ms <= ts_ms < end_ms`` (None: unbounded on that side)."""

    start_ms: int | None = None
    end_ms: int | None = None


def _decode(data: bytes) -> str:
    # A damaged row must not stop the export: bad UTF-8 shows as U+FFFD.
    return data.decode("utf-8", "replace")


class MessageSource:
    """A read-only view of a teahouse database (see the module doc). Close it when done."""

    def __init__(self, path: Path) -> None:
        """Open ``path``; raises :class:`ExportError` if it is missing, unreadable, or not a
        teahouse database."""
        if not path.is_file():
            raise ExportError(f"no database at {path}")
        try:
            self._db = sqlite3.connect(
                path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ExportError(f"cannot open {path}: {exc}") from None
        self._db.text_factory = _decode
        try:
            self._db.execute("PRAGMA query_only = ON")
            self._check_schema(path)
        except sqlite3.Error as exc:
            self._db.close()
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                raise ExportError(f"{path} is not a teahouse database ({exc})") from None
            raise ExportError(f"cannot read {path}: {exc}") from None
        except ExportError:
            self._db.close()
            raise

    def _check_schema(self, path: Path) -> None:
        for table, columns in _NEEDS.items():
            found = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if not columns <= found:
                raise ExportError(f"{path} is not a teahouse database (no {table} table)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> MessageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what exists ---------------------------------------------------------------------

    def room_exists(self, room: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM rooms WHERE name = ?", (room,)).fetchone() is not None
        )

    def account_id(self, name: str) -> int | None:
        """The id of the account called ``name`` now (direct messages belong to accounts,
        not to names: a name taken again after a deletion reads none of the old ones)."""
        row = self._db.execute("SELECT id FROM accounts WHERE key = ?", (fold_user(name),))
        found = row.fetchone()
        return None if found is None else int(found[0])

    def user_known(self, name: str) -> bool:
        return self.account_id(name) is not None

    def check(self, selection: Selection) -> None:
        """Raise :class:`ExportError` unless the room, or both users, exist."""
        match selection:
            case Room(name):
                if not self.room_exists(name):
                    raise ExportError(f"no such room: {name}")
            case DirectPair(first, second):
                for name in (first, second):
                    if not self.user_known(name):
                        raise ExportError(f"no such user: {name}")

    # -- messages ------------------------------------------------------------------------

    def messages(self, selection: Selection, span: TimeSpan) -> Iterator[TranscriptMessage]:
        """The selected messages within ``span``, oldest first, a page at a time.

        Raises :class:`ExportError` if the database fails while it is read.
        """
        bounds = ""
        bound_params: tuple[int, ...] = ()
        if span.start_ms is not None:
            bounds, bound_params = " AND ts_ms >= ?", (span.start_ms,)
        if span.end_ms is not None:
            bounds, bound_params = bounds + " AND ts_ms < ?", (*bound_params, span.end_ms)
        # One ordered index scan per arm, each limited to a page, merged: a direct
        # conversation is two arms (each way), which an OR would read whole for every page.
        arms = self._arms(selection, self.account_id)
        sql = " UNION ALL ".join(
            f"SELECT * FROM (SELECT {_COLUMNS} FROM messages WHERE {where}{bounds}"
            " AND id > ? AND id <= ? ORDER BY id LIMIT ?)"
            for where, _ in arms
        )
        sql += " ORDER BY id LIMIT ?"
        try:
            newest = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]
            after = 0
            while True:
                params: list[object] = []
                for _, arm_params in arms:
                    params += [*arm_params, *bound_params, after, newest, PAGE]
                rows = self._db.execute(sql, (*params, PAGE)).fetchall()
                for id_, room, sender, recipient, stored, ts_ms in rows:
                    text, action = split_action(stored)
                    yield TranscriptMessage(
                        id=id_,
                        sender=sender,
                        text=text,
                        ts_ms=ts_ms,
                        room=room,
                        to=None if room is not None else recipient,
                        action=action,
                    )
                if len(rows) < PAGE:
                    return
                after = rows[-1][0]
        except sqlite3.Error as exc:
            raise ExportError(f"reading the database failed: {exc}") from None

    @staticmethod
    def _arms(
        selection: Selection, account_id: Callable[[str], int | None]
    ) -> list[tuple[str, tuple[object, ...]]]:
        match selection:
            case Room(name):
                return [("room = ?", (name,))]
            case DirectPair(first, second):
                a, b = account_id(first), account_id(second)
                if a is None or b is None:
                    return [("0", ())]
                way = "room IS NULL AND sender_id = ? AND recipient_id = ?"
                return [(way, (a, b))] if a == b else [(way, (a, b)), (way, (b, a))]
