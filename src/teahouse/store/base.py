"""What the core needs from storage: accounts, rooms, messages, grants, bans, mutes, invites.

:class:`Store` is the interface; :class:`~teahouse.store.sqlite.SQLiteStore` is the
embedded default, and ``tests/contract/`` is the suite every backend must pass.

Three kinds of calls, so the event loop never waits for the disk:

- **reads** return at once (a local read that no writer can block: SQLite's WAL);
- **batched writes** (``append_message``, ``set_topic``, ...) return at once and join the
  current batch; :meth:`Store.commit` hands the batch to the writer and calls back when it
  is durable, or failed. Nothing is acknowledged to anyone before that callback;
- **account writes** are ``async``: they need the commit's answer (a new id, a row count).

Identities are account ids (:attr:`Account.id`), never names: direct messages, grants,
bans and mutes refer to ids, so a later account with an old name starts empty. Times are
integer milliseconds since the Unix epoch (``*_ms``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

Role = Literal["user", "admin"]
BanKind = Literal["user", "ip"]
Grant = Literal["owner", "op"]


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
    """One chat message: in a room (``room`` set) or direct (``recipient`` set).

    ``sender`` and ``recipient`` are the names shown; ``sender_id`` and ``recipient_id``
    the account ids they were at the time (None for a guest), which is what DMs are found
    by.
    """

    id: int
    sender: str
    text: str
    ts_ms: int
    room: str | None = None
    recipient: str | None = None
    nonce: str | None = None
    sender_id: int | None = None
    recipient_id: int | None = None
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
    owner_id: int | None = None
    """The account that registered the room (None: unregistered)."""
    modes: str = ""
    """The saved modes of a registered room (see :func:`teahouse.core.room.Room.saved_modes`)."""
    community: bool = False
    """An account has been in the room: it no longer behaves as a guests' scratch channel."""


@dataclass(frozen=True, slots=True)
class Ban:
    kind: BanKind
    value: str
    """An account id (as text) or an address or network (CIDR)."""
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
    """Storage failed: the disk is full or nearly full, the file is locked or broken. What
    the failed batch wrote is not kept; reads still work."""


Committed = Callable[[StoreError | None], None]


class Store(Protocol):
    """Storage of everything that must outlive a connection or a restart."""

    # -- lifecycle -------------------------------------------------------------------

    def commit(self, done: Committed) -> None:
        """Commit what was written since the last commit; then ``done(None)``, or
        ``done(error)`` when it could not be kept (nothing of it is). ``done`` runs on the
        caller's thread; batches commit in order."""

    async def sync(self) -> None:
        """Commit what is pending and wait for it; raises :class:`StoreError`."""

    def failing(self) -> StoreError | None:
        """Why a write would not be kept now (the last commit failed, the disk is under
        its free-space floor), or None. The hub asks before it announces a change that
        only the store makes lasting (a topic, a registered room's modes, a new room)."""

    def close(self) -> None:
        """Commit what is pending and release the database."""

    async def backup(self, path: Path) -> None:
        """A consistent copy of everything to ``path`` (0600), while in use."""

    # -- accounts --------------------------------------------------------------------

    def get_account(self, name: str) -> Account | None: ...

    def account_by_id(self, account_id: int) -> Account | None: ...

    def confusable_accounts(self, key: str) -> list[Account]:
        """Accounts whose name has this look-alike key (see ``protocol.lookalike``)."""

    async def create_account(self, name: str, password_hash: str, role: Role) -> Account:
        """Create and commit an account; raises :class:`~teahouse.errors.UserTaken`."""

    async def delete_account(self, account_id: int) -> bool:
        """Delete an account with its direct messages, grants, mutes and bans."""

    async def set_password(self, account_id: int, password_hash: str) -> bool: ...

    async def set_role(self, account_id: int, role: Role) -> bool: ...

    def list_accounts(self) -> list[Account]: ...

    def count_admins(self) -> int: ...

    # -- rooms -----------------------------------------------------------------------

    def get_room(self, name: str) -> RoomRecord | None: ...

    def create_room(self, name: str, now_ms: int) -> RoomRecord:
        """Create a room (batched); returns the record it will hold."""

    def set_topic(self, name: str, topic: str, by: str, now_ms: int) -> None: ...

    def list_rooms(self, after: str | None, limit: int) -> list[RoomRecord]:
        """Up to ``limit`` rooms by name, those after ``after`` (from the start when None)."""

    def count_rooms(self) -> int: ...

    def mark_community(self, name: str) -> None:
        """Record that an account has been in the room."""

    def register_room(self, name: str, owner_id: int | None, modes: str) -> None:
        """Give a room an owner (None: unregister it) and save its modes."""

    def save_room_modes(self, name: str, modes: str) -> None: ...

    def room_grants(self, name: str) -> dict[int, Grant]:
        """Account id -> grant, for a registered room."""

    def set_room_grant(self, name: str, account_id: int, grant: Grant | None) -> None: ...

    def delete_room(self, name: str) -> None:
        """Delete a room with its messages and grants."""

    # -- messages --------------------------------------------------------------------

    def next_message_id(self) -> int:
        """Reserve the next message id: strictly increasing over the whole store, never
        reused, not even after a failed commit or a crash."""

    def append_message(self, message: StoredMessage) -> None: ...

    def find_by_nonce(self, sender_id: int, nonce: str, since_ms: int) -> StoredMessage | None:
        """The message account ``sender_id`` sent with ``nonce`` at or after ``since_ms``."""

    def room_after(self, room: str, after_id: int, limit: int) -> Page:
        """The *newest* ``limit`` messages with id > ``after_id``, oldest first.

        ``more`` is true when older ones (still > ``after_id``) were left out.
        """

    def room_before(self, room: str, before_id: int | None, limit: int) -> Page:
        """The newest ``limit`` messages with id < ``before_id`` (any id when None)."""

    def room_since(self, room: str, after_id: int, limit: int) -> Page:
        """The *oldest* ``limit`` messages with id > ``after_id`` (paging forward)."""

    def dms_after(self, user_id: int, after_id: int, limit: int, incoming_only: bool) -> Page:
        """Direct messages to (and, unless ``incoming_only``, from) account ``user_id``,
        newest ``limit`` with id > ``after_id``, oldest first."""

    def dms_before(self, user_id: int, before_id: int | None, limit: int) -> Page:
        """The newest ``limit`` direct messages to or from ``user_id`` with id < ``before_id``."""

    def dms_since(self, user_id: int, after_id: int, limit: int) -> Page:
        """The oldest ``limit`` direct messages to or from ``user_id`` with id > ``after_id``."""

    def dm_cursor(self, user_id: int) -> int:
        """The highest direct-message id delivered to any connection of the account."""

    def set_dm_cursor(self, user_id: int, message_id: int) -> None:
        """Raise the cursor to ``message_id`` (never lowers it)."""

    def purge_messages(self, room: str | None, before_ms: int | None, keep: int | None) -> None:
        """Delete a room's messages (or, ``room`` None, direct messages) older than
        ``before_ms`` and beyond the newest ``keep``: retention."""

    # -- moderation ------------------------------------------------------------------

    def add_ban(self, ban: Ban) -> None: ...

    def remove_ban(self, kind: BanKind, value: str) -> None: ...

    def active_bans(self, now_ms: int) -> list[Ban]: ...

    def set_mute(self, account_id: int, until_ms: int | None, by: str) -> None: ...

    def remove_mute(self, account_id: int) -> None: ...

    def active_mutes(self, now_ms: int) -> dict[int, int | None]:
        """Account id -> until (ms), None meaning until lifted."""

    def create_invite(self, code: str, by: str, now_ms: int) -> None: ...

    def invite_available(self, code: str) -> bool:
        """True when ``code`` exists and is unused (does not use it)."""

    async def use_invite(self, code: str, user: str) -> bool:
        """Mark an unused invite code used; False when unknown or already used."""
