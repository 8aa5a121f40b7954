"""What the core needs from storage: accounts, rooms, messages, bans, mutes, invites.

:class:`Store` is the interface; :class:`~teahouse.store.sqlite.SQLiteStore` is the
embedded default. Calls are synchronous and fast (local SQLite): the hub calls them on the
event loop. Writes join one open transaction that :meth:`Store.flush` commits; the hub
flushes once per event-loop round, *before* it writes replies to sockets, so a message a
client saw acknowledged is always on disk (group commit).

Times are integer milliseconds since the Unix epoch (``*_ms``). User names are compared by
their folded key (``teahouse.protocol.names.fold_user``); the store keeps the spelling the
user registered with for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["user", "admin"]
BanKind = Literal["user", "ip"]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    """Stable and never reused: a later account with the same name gets another id."""
    name: str
    role: Role
    password_hash: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One chat message: in a room (``room`` set) or direct (``recipient`` set)."""

    id: int
    sender: str
    text: str
    ts_ms: int
    room: str | None = None
    recipient: str | None = None
    nonce: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    """Client-only tags (IRCv3 ``+key=value``) that travel with the live delivery; never
    stored."""

    @property
    def is_dm(self) -> bool:
        return self.room is None


@dataclass(frozen=True, slots=True)
class RoomRecord:
    name: str
    topic: str
    topic_by: str
    topic_ms: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class Ban:
    kind: BanKind
    value: str
    """A folded user name, or an IP address."""
    until_ms: int | None
    """None: until lifted."""
    reason: str
    by: str
    created_ms: int


@dataclass(frozen=True, slots=True)
class Page:
    """Messages oldest first, and whether more existed beyond the limit."""

    messages: list[StoredMessage]
    more: bool


class StoreError(Exception):
    """Storage failed: the disk is full, the file is locked or broken. What the failed
    call (or commit) wrote is not kept; reads may still work."""


class Store(Protocol):
    """Storage of everything that must outlive a connection or a restart."""

    # -- lifecycle -------------------------------------------------------------------

    def flush(self) -> None:
        """Commit the open transaction, if any. Cheap when there is none.

        Raises :class:`StoreError` when the commit fails; the transaction is rolled back
        and the store stays usable.
        """

    def close(self) -> None:
        """Flush and release the database."""

    # -- accounts --------------------------------------------------------------------

    def get_account(self, name: str) -> Account | None: ...

    def create_account(self, name: str, password_hash: str, role: Role) -> Account:
        """Create and commit an account; raises :class:`~teahouse.errors.UserTaken`."""

    def delete_account(self, name: str) -> bool: ...

    def set_password(self, name: str, password_hash: str) -> bool: ...

    def set_role(self, name: str, role: Role) -> bool: ...

    def list_accounts(self) -> list[Account]: ...

    def count_admins(self) -> int: ...

    # -- rooms -----------------------------------------------------------------------

    def get_room(self, name: str) -> RoomRecord | None: ...

    def create_room(self, name: str, now_ms: int) -> RoomRecord: ...

    def set_topic(self, name: str, topic: str, by: str, now_ms: int) -> None: ...

    def list_rooms(self, after: str | None, limit: int) -> list[RoomRecord]:
        """Up to ``limit`` rooms by name, those after ``after`` (from the start when None)."""

    # -- messages --------------------------------------------------------------------

    def next_message_id(self) -> int:
        """Reserve the next message id: strictly increasing over the whole store."""

    def append_message(self, message: StoredMessage) -> None: ...

    def find_by_nonce(self, sender: str, nonce: str, since_ms: int) -> StoredMessage | None:
        """The message ``sender`` sent with ``nonce`` at or after ``since_ms``, if any."""

    def room_after(self, room: str, after_id: int, limit: int) -> Page:
        """The *newest* ``limit`` messages with id > ``after_id``, oldest first.

        ``more`` is true when older ones (still > ``after_id``) were left out.
        """

    def room_before(self, room: str, before_id: int | None, limit: int) -> Page:
        """The newest ``limit`` messages with id < ``before_id`` (any id when None)."""

    def room_since(self, room: str, after_id: int, limit: int) -> Page:
        """The *oldest* ``limit`` messages with id > ``after_id`` (paging forward)."""

    def dms_after(self, user: str, after_id: int, limit: int, incoming_only: bool) -> Page:
        """Direct messages to (and, unless ``incoming_only``, from) ``user``, newest
        ``limit`` with id > ``after_id``, oldest first."""

    def dms_before(self, user: str, before_id: int | None, limit: int) -> Page:
        """The newest ``limit`` direct messages to or from ``user`` with id < ``before_id``."""

    def dms_since(self, user: str, after_id: int, limit: int) -> Page:
        """The oldest ``limit`` direct messages to or from ``user`` with id > ``after_id``."""

    def dm_cursor(self, user: str) -> int:
        """The highest direct-message id delivered to any connection of ``user``."""

    def set_dm_cursor(self, user: str, message_id: int) -> None:
        """Raise the cursor to ``message_id`` (never lowers it)."""

    # -- moderation ------------------------------------------------------------------

    def add_ban(self, ban: Ban) -> None: ...

    def remove_ban(self, kind: BanKind, value: str) -> bool: ...

    def active_bans(self, now_ms: int) -> list[Ban]: ...

    def set_mute(self, user: str, until_ms: int | None, by: str) -> None: ...

    def remove_mute(self, user: str) -> bool: ...

    def active_mutes(self, now_ms: int) -> dict[str, int | None]:
        """Folded user name -> until (ms), None meaning until lifted."""

    def create_invite(self, code: str, by: str, now_ms: int) -> None: ...

    def invite_available(self, code: str) -> bool:
        """True when ``code`` exists and is unused (does not use it)."""

    def use_invite(self, code: str, user: str) -> bool:
        """Mark an unused invite code used; False when unknown or already used."""
