"""One conversation's lines, in order, without duplicates: pure, no Qt.

A :class:`Transcript` holds :class:`Row` objects sorted by a key:

- a message is keyed by its server ``id``: ids only grow within a room (and within your
  direct messages), so sorting by id is the server's order, whatever order the frames
  arrived in (a live message, a replay after a reconnect, a history page, the reply to your
  own ``say``). A message whose id is already there is dropped: never a duplicate;
- a day separator sits right before the first message of each local day;
- a system line ("bob joined", "reconnected") sits after the newest message it followed;
- a message being sent (not yet acknowledged) stays at the end until its id is known.

Changes are reported to an observer *before and after* each one, as Qt's item models need
(``beginInsertRows``/``endInsertRows``); :class:`teahouse.gui.models.MessageModel` is that
observer. A batch of messages that all go to the same place (the usual case: newer than
everything, or older than everything) is one insertion, whatever its size.
"""

from __future__ import annotations

import bisect
import enum
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from teahouse.client.printable import printable
from teahouse.gui.markup import find_links

PENDING_ID = 2**62 + 1
"""Above every message id (ids are at most 2**62): pending lines sort last."""

Key = tuple[int, int, int]


class Kind(enum.IntEnum):
    """Also the second part of a row's key: on equal ids, this order."""

    DAY = 0
    MESSAGE = 1
    SYSTEM = 2
    PENDING = 3
    START = -1
    """"This is the beginning of the room": above everything."""


class Tone(enum.StrEnum):
    """How a system line looks."""

    INFO = "info"
    GOOD = "good"
    BAD = "bad"


@dataclass(slots=True, eq=False)
class Row:
    """One line of the conversation view.

    ``size`` caches the painted size as ``(width, height)``: rows are immutable once
    added (a pending row is replaced, not changed), so a size measured for a width stays
    true for that width.
    """

    kind: Kind
    key: Key
    text: str
    sender: str = ""
    when: datetime | None = None
    id: int | None = None
    own: bool = False
    mention: bool = False
    tone: Tone = Tone.INFO
    failed: bool = False
    size: tuple[int, int] = (0, 0)
    _links: list[tuple[int, int, str]] | None = field(default=None, repr=False)

    @property
    def day(self) -> date | None:
        return self.when.date() if self.when is not None else None

    @property
    def links(self) -> list[tuple[int, int, str]]:
        """The links in ``text`` (found once, when first painted)."""
        if self._links is None:
            self._links = find_links(self.text) if self.kind is not Kind.DAY else []
        return self._links


def message_row(
    message_id: int,
    sender: str,
    text: str,
    when: datetime | None,
    *,
    own: bool = False,
    mention: bool = False,
) -> Row:
    # Control characters shown visibly (they are no danger to Qt, but a bidirectional
    # override could make a line read as something else).
    return Row(
        Kind.MESSAGE,
        (message_id, Kind.MESSAGE, 0),
        printable(text),
        sender=printable(sender),
        when=when,
        id=message_id,
        own=own,
        mention=mention,
    )


class Observer(Protocol):
    """Told about each change, before and after it (positions in :attr:`Transcript.rows`)."""

    def before_insert(self, pos: int, count: int) -> None: ...
    def after_insert(self, pos: int, count: int) -> None: ...
    def before_remove(self, pos: int, count: int) -> None: ...
    def after_remove(self, pos: int, count: int) -> None: ...


class _Nobody:
    def before_insert(self, pos: int, count: int) -> None:
        pass

    def after_insert(self, pos: int, count: int) -> None:
        pass

    def before_remove(self, pos: int, count: int) -> None:
        pass

    def after_remove(self, pos: int, count: int) -> None:
        pass


_seq = itertools.count(1)
"""Orders system and pending lines among themselves (global: only the order matters)."""


class Transcript:
    """The rows of one conversation (see the module doc)."""

    def __init__(self, observer: Observer | None = None) -> None:
        self.rows: list[Row] = []
        self._keys: list[Key] = []
        self._ids: set[int] = set()
        self._newest: int | None = None
        self.observer: Observer = observer or _Nobody()

    def __len__(self) -> int:
        return len(self.rows)

    # -- queries ---------------------------------------------------------------------

    def message_ids(self) -> list[int]:
        """The ids of the messages shown, in order."""
        return [row.id for row in self.rows if row.kind is Kind.MESSAGE and row.id is not None]

    @property
    def newest_id(self) -> int | None:
        return self._newest

    @property
    def oldest_id(self) -> int | None:
        for row in self.rows:
            if row.kind is Kind.MESSAGE:
                return row.id
        return None

    def __contains__(self, message_id: int) -> bool:
        return message_id in self._ids

    def has_start(self) -> bool:
        return bool(self.rows) and self.rows[0].kind is Kind.START

    # -- changes ---------------------------------------------------------------------

    def add_messages(self, rows: Iterable[Row]) -> list[Row]:
        """Insert message rows at their place; returns those that were new (not dups)."""
        fresh: dict[int, Row] = {}
        for row in rows:
            assert row.kind is Kind.MESSAGE and row.id is not None
            if row.id not in self._ids and row.id not in fresh:
                fresh[row.id] = row
        if not fresh:
            return []
        new = sorted(fresh.values(), key=lambda r: r.key)
        # Group consecutive messages that land at the same place: one insertion each.
        run: list[Row] = []
        run_pos = -1
        for row in new:
            pos = bisect.bisect_right(self._keys, row.key)
            if run and pos != run_pos:
                self._insert_run(run_pos, run)
                run = []
                pos = bisect.bisect_right(self._keys, row.key)
            run_pos = pos
            run.append(row)
        if run:
            self._insert_run(run_pos, run)
        return new

    def add_system(self, text: str, tone: Tone = Tone.INFO, when: datetime | None = None) -> Row:
        """Add an informational line after the newest message."""
        newest = self.newest_id or 0
        key = (newest, Kind.SYSTEM, next(_seq))
        row = Row(Kind.SYSTEM, key, printable(text), when=when, tone=tone)
        self._insert(bisect.bisect_right(self._keys, row.key), [row])
        return row

    def add_pending(self, text: str, sender: str) -> Row:
        """Show a line being sent; replace it with :meth:`resolve_pending` when acknowledged."""
        row = Row(Kind.PENDING, (PENDING_ID, Kind.PENDING, next(_seq)), text, sender=sender)
        row.own = True
        self._insert(len(self.rows), [row])
        return row

    def resolve_pending(self, pending: Row, message: Row | None) -> None:
        """The line ``pending`` was acknowledged as ``message`` (None: it failed for good)."""
        self.remove(pending)
        if message is not None:
            self.add_messages([message])

    def mark_start(self, text: str) -> None:
        """Put "the beginning of the conversation" above everything (once)."""
        if not self.has_start():
            self._insert(0, [Row(Kind.START, (-1, Kind.START, 0), text)])

    def remove(self, row: Row) -> None:
        for pos, candidate in enumerate(self.rows):
            if candidate is row:
                self._remove(pos, 1)
                return

    def clear(self) -> None:
        if self.rows:
            self._remove(0, len(self.rows))

    # -- internals -------------------------------------------------------------------

    def _previous_message(self, pos: int) -> Row | None:
        for i in range(pos - 1, -1, -1):
            if self.rows[i].kind is Kind.MESSAGE:
                return self.rows[i]
        return None

    def _insert_run(self, pos: int, run: Sequence[Row]) -> None:
        """Insert ``run`` (sorted, all landing at ``pos``) with its day separators."""
        before = self._previous_message(pos)
        day = before.day if before is not None else None
        block: list[Row] = []
        for row in run:
            if row.day is not None and row.day != day:
                assert row.id is not None and row.when is not None
                block.append(Row(Kind.DAY, (row.id, Kind.DAY, 0), "", when=row.when))
                day = row.day
            block.append(row)
            assert row.id is not None
            self._ids.add(row.id)
            if self._newest is None or row.id > self._newest:
                self._newest = row.id
        self._insert(pos, block)
        # The next message may now follow one of its own day: its separator goes.
        end = pos + len(block)
        nxt = end
        while nxt < len(self.rows) and self.rows[nxt].kind is Kind.SYSTEM:
            nxt += 1
        if (
            nxt < len(self.rows)
            and self.rows[nxt].kind is Kind.DAY
            and self.rows[nxt].day == day
            and day is not None
        ):
            self._remove(nxt, 1)

    def _insert(self, pos: int, block: list[Row]) -> None:
        self.observer.before_insert(pos, len(block))
        self.rows[pos:pos] = block
        self._keys[pos:pos] = [row.key for row in block]
        self.observer.after_insert(pos, len(block))

    def _remove(self, pos: int, count: int) -> None:
        self.observer.before_remove(pos, count)
        gone = [r.id for r in self.rows[pos : pos + count] if r.kind is Kind.MESSAGE]
        self._ids.difference_update(i for i in gone if i is not None)
        del self.rows[pos : pos + count]
        del self._keys[pos : pos + count]
        if self._newest in gone:
            self._newest = max(self._ids) if self._ids else None
        self.observer.after_remove(pos, count)
