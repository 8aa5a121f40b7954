"""What the hub knows of one connection: :class:`Session`, and the door-facing protocols.

A door gives the hub two things per connection:

- an :class:`Outlet`: where bytes for this connection go (buffered, written once per loop
  round) and how to close its transport;
- an :class:`Encoder`: how this door spells each event as bytes. One encoder serves every
  connection of a door, so a message to N members is encoded once per door.

The hub never learns JSON or IRC: it asks the encoder for bytes and hands them to outlets.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from teahouse.errors import ChatError
from teahouse.store.base import Role, StoredMessage

Ref = str | int | None
"""A client's request reference, opaque to the core."""


class Outlet(Protocol):
    def write(self, data: bytes) -> None:
        """Queue bytes; the door writes them at the end of the loop round."""

    def flush(self) -> None:
        """Write queued bytes to the transport now (the hub's flush round calls this)."""

    def close_transport(self, abort: bool) -> None:
        """Write what is queued, then close; ``abort`` drops unsent bytes and frees the fd now."""

    def is_open(self) -> bool:
        """False once the transport is closed or closing."""

    def backlog(self) -> int:
        """Bytes queued or buffered for this connection and not yet sent."""


class RoomSummary(Protocol):
    name: str
    topic: str

    @property
    def member_count(self) -> int: ...


class Encoder(Protocol):
    """How one door spells every event. Each method returns the bytes to write."""

    def authed(self, user: str, role: Role, ref: Ref) -> bytes: ...

    def joined(self, room: str, topic: str, members: Sequence[str], ref: Ref) -> bytes: ...

    def parted(self, room: str, ref: Ref) -> bytes: ...

    def message(
        self, message: StoredMessage, *, replay: bool = False, ref: Ref = None
    ) -> bytes: ...

    def replay_end(
        self,
        room: str | None,
        count: int,
        truncated: bool,
        oldest_id: int | None,
        last_id: int | None = None,
    ) -> bytes: ...

    def presence(
        self,
        room: str,
        user: str,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        """A member joined or left. On ``left``: ``online`` says the user is still connected
        (in other rooms); a kick carries who did it (``by``) and why (``text``)."""

    def room_list(self, rooms: Sequence[tuple[str, int, str]], ref: Ref) -> bytes: ...

    def members(self, room: str, members: Sequence[str], ref: Ref) -> bytes: ...

    def history(self, room: str | None, messages: Sequence[StoredMessage], ref: Ref) -> bytes:
        """A page of a room's messages, or of the user's direct messages (``room`` None)."""

    def topic(self, room: str, text: str, by: str, ref: Ref = None) -> bytes: ...

    def notice(self, text: str, by: str) -> bytes:
        """A server-wide announcement from an operator."""

    def renamed(self, room: str, old: str, new: str) -> bytes:
        """A guest in ``room`` changed its name from ``old`` to ``new``."""

    def relay(self, kind: str, sender: str, room: str | None, to: str | None, text: str) -> bytes:
        """A live-only message that is not stored: ``kind`` is ``notice`` (IRC NOTICE) or
        ``ctcp`` (an IRC CTCP request other than ACTION, raw, for IRC clients only)."""

    def admin_result(self, cmd: str, text: str, data: object, ref: Ref) -> bytes: ...

    def error(self, error: ChatError, ref: Ref = None) -> bytes: ...

    def ping(self, t: int) -> bytes: ...

    def bye(self, ref: Ref) -> bytes: ...


class SessionState(enum.Enum):
    CONNECTED = "connected"
    """Transport open, not yet authenticated."""
    AUTHED = "authed"
    CLOSED = "closed"


class Session:
    """One connection as the hub sees it. ``__slots__``: thousands of these live at once."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "connected_at",
        "connected_wall_ms",
        "encoder",
        "guest",
        "id",
        "ip",
        "key",
        "last_ping",
        "last_ping_t",
        "last_received",
        "outlet",
        "partial_since",
        "port",
        "role",
        "rooms",
        "rtt",
        "state",
        "user",
    )

    def __init__(
        self,
        session_id: int,
        outlet: Outlet,
        encoder: Encoder,
        ip: str,
        port: int,
        now: float,
        wall_ms: int,
    ) -> None:
        self.id = session_id
        self.outlet = outlet
        self.encoder = encoder
        self.ip = ip
        self.port = port
        self.state = SessionState.CONNECTED
        self.user: str | None = None
        self.key: str | None = None
        self.role: Role = "user"
        self.guest = False
        """Authenticated by nick only (IRC guests): no account, nothing stored for them."""
        self.rooms: set[str] = set()
        self.connected_at = now
        self.connected_wall_ms = wall_ms
        self.last_received = now
        self.last_ping: float | None = None
        self.partial_since: float | None = None
        """Since when the door holds an unfinished line from this peer (slowloris check)."""
        self.last_ping_t = 0
        self.rtt: float | None = None
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def authenticated(self) -> bool:
        return self.state is SessionState.AUTHED

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED

    def send(self, data: bytes) -> None:
        if data and self.state is not SessionState.CLOSED:
            self.outlet.write(data)

    def __repr__(self) -> str:
        who = self.user or "-"
        return f"<Session {self.id} {who} {self.ip}:{self.port} {self.state.value}>"
