"""What hub commands return: plain, frozen data that each door renders as its own replies.

A native client gets ``joined`` with its ``ref``; an IRC client gets ``JOIN``, ``332``,
``333``, ``353`` and ``366`` with its label; both from one :class:`JoinResult`. The core
never knows how a reply is spelled, and a door never reaches into the core's state to
build one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from teahouse.store.base import StoredMessage


@dataclass(frozen=True, slots=True)
class ModeChange:
    """Room modes applied in one request, in order: ``(sign, letter, argument)``.

    Letters (:mod:`teahouse.protocol.modes`): the flags of ``MODE_FLAGS``, ``k`` (key),
    ``l`` (member limit), ``o`` and ``v`` (operator, voice: the argument is the member's
    name), and the list modes of ``MODE_LISTS`` (the argument is a mask).
    """

    changes: tuple[tuple[str, str, str | None], ...]
    modes: str = ""
    """The room's modes after the change (``+knt``)."""

    def __bool__(self) -> bool:
        return bool(self.changes)

    def flags_and_args(self) -> tuple[str, list[str]]:
        """``("+kl-i", ["secret", "10"])``: the compact form IRC and native clients read."""
        flags = ""
        args: list[str] = []
        last = ""
        for sign, letter, arg in self.changes:
            if sign != last:
                flags += sign
                last = sign
            flags += letter
            if arg is not None:
                args.append(arg)
        return flags, args


@dataclass(frozen=True, slots=True)
class Replay:
    """Stored messages a client gets after ``joined`` or ``authed``, oldest first.

    ``truncated``: the cap cut it, and ``oldest_id`` says where the client pages back from.
    ``last_id`` (direct messages only): the newest DM to or from the user when the replay
    was made, the client's ``dm_since`` baseline.
    """

    messages: list[StoredMessage]
    truncated: bool
    oldest_id: int | None
    last_id: int | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """One user in a room: ``session`` is one of the user's sessions in it."""

    name: str
    op: bool
    voiced: bool
    session: object
    """A :class:`~teahouse.core.session.Session`; typed loosely to keep this module a leaf."""


@dataclass(frozen=True, slots=True)
class RoomState:
    """A room as a member sees it right after joining."""

    name: str
    topic: str
    topic_by: str
    topic_ms: int
    created_ms: int
    modes: str
    """Flags, ``k`` and ``l`` included when set: ``+knt``."""
    key: str | None
    limit: int | None
    members: list[Member] = field(default_factory=list)
    owner_id: int | None = None
    """The account that registered the room (None: unregistered)."""

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]


@dataclass(frozen=True, slots=True)
class JoinResult:
    room: RoomState
    replay: Replay | None
    """None when the door asked for no replay (IRC)."""
    already: bool = False
    """The session was in the room before this join."""


@dataclass(frozen=True, slots=True)
class RoomSummary:
    name: str
    members: int
    topic: str


@dataclass(frozen=True, slots=True)
class RoomPage:
    """A page of the room list, by name; ``next_after`` names where the next page starts."""

    rooms: list[RoomSummary]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Messages of a room or of the user's DMs, oldest first; ``more``: older ones exist
    beyond the page (paging back) or newer ones (paging forward)."""

    room: str | None
    messages: list[StoredMessage]
    more: bool


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What anyone may learn of a user who is online (WHOIS, native ``whois``)."""

    name: str
    account: str | None
    """None for a guest."""
    role: str
    rooms: list[str]
    away: str | None
    doors: list[str]
    idle_s: float
    signon_ms: int
    host: str
    """The cloaked host; the real address only in ``address``, for operators."""
    address: str | None
