"""What the hub knows of one connection: :class:`Session`, and the door-facing protocols.

A door gives the hub two things per connection:

- an :class:`Outlet`: where bytes for this connection go (buffered, written once per loop
  round) and how to close its transport;
- an :class:`Encoder`: how this door spells each *broadcast* event as bytes. One encoder
  serves every connection of a door (or of one IRC capability set), so a message to N
  members is encoded once per door.

Replies to a request are not the encoder's business: hub commands return what happened
(:mod:`teahouse.core.results`) and each door renders its own replies. The hub never learns
JSON or IRC.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol

from teahouse.core.results import ModeChange
from teahouse.core.seldom import SeldomField
from teahouse.errors import ChatError
from teahouse.protocol.names import fold_user
from teahouse.store.base import Role, StoredMessage

Ident = int
"""Who a session is: an account's id (> 0), or for a guest its session's id (< 0: session
ids count down from -1, so a guest keeps no second number), which dies with the guest's
session. Rooms, DMs and grants refer to idents, never to names."""


def oldest(sessions: Iterable[Session]) -> Session:
    """The session of ``sessions`` that opened first (ids count down)."""
    return max(sessions, key=_session_id)


def _session_id(session: Session) -> int:
    return session.id


class Outlet(Protocol):
    def write(self, data: bytes) -> None:
        """Queue bytes; the door writes them at the end of the loop round."""

    def write_all(self, lines: list[bytes], size: int) -> None:
        """Queue several events in order, in one call (``size``: their bytes together).
        ``lines`` is shared with other outlets: never keep or change the list itself."""

    def flush(self) -> None:
        """Write queued bytes to the transport now (the hub's flush round calls this)."""

    def close_transport(self, abort: bool) -> None:
        """Write what is queued, then close; ``abort`` drops unsent bytes and frees the fd now."""

    def is_open(self) -> bool:
        """False once the transport is closed or closing."""

    def backlog(self) -> int:
        """Bytes queued or buffered for this connection and not yet sent."""

    def peer_port(self) -> int:
        """The port the peer connects from (0 if unknown), even once closed."""

    @property
    def door_name(self) -> str:
        """The name of the door the connection came through (``native``, ``irc``, ``web``)."""

    def hold_input(self, seconds: float) -> None:
        """Read and handle nothing more from this peer for ``seconds`` (backpressure: a
        room it speaks in is congested). A no-op while its input is already held."""


class Encoder(Protocol):
    """How one door spells the events the hub sends to many sessions.

    Each method returns the bytes to write; the hub calls it once per encoder per event and
    hands the same bytes to every session that uses this encoder.
    """

    def message(self, message: StoredMessage) -> bytes:
        """A live message in a room, or a direct message to or from the session's user."""

    def presence(
        self,
        room: str,
        member: Session,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        """``member`` joined or left ``room``. On ``left``: ``online`` says the user is
        still connected (in other rooms); a kick carries who did it (``by``); ``text`` is
        the member's or the kicker's reason, already cleaned. The member's session may be
        closing: read its names, never write to it."""

    def topic(self, room: str, text: str, by: str, ts_ms: int) -> bytes: ...

    def mode(self, room: str, by: str, change: ModeChange) -> bytes:
        """Room modes changed (flags, key, limit, operators, voices, bans)."""

    def away(self, member: Session) -> bytes:
        """``member`` went away (``member.away`` holds the text) or came back (None)."""

    def invited(self, room: str, by: str, target: str) -> bytes:
        """``by`` invited ``target`` (the receiving session's user) to ``room``."""

    def notice(self, text: str, by: str) -> bytes:
        """A server-wide announcement from an operator."""

    def renamed(self, room: str, old: str, new: str) -> bytes:
        """A guest in ``room`` changed its name from ``old`` to ``new``."""

    def relay(
        self,
        kind: str,
        sender: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        """A live-only message that is not stored: ``kind`` is ``notice`` (IRC NOTICE),
        ``ctcp`` (an IRC CTCP request other than ACTION, raw, for IRC clients only),
        ``tagmsg`` (IRC TAGMSG: only ``tags``, for IRC clients with message-tags), or
        ``ops_privmsg``/``ops_notice`` (to a room's operators only: IRC ``@#room``).
        ``tags`` are client-only tags (``+key``) and an ephemeral ``msgid``."""

    def error(self, error: ChatError) -> bytes:
        """The last words before the server closes a connection (a fatal error)."""

    def ping(self, t: int) -> bytes: ...


class SessionState(enum.Enum):
    CONNECTED = "connected"
    """Transport open, not yet authenticated."""
    AUTHED = "authed"
    CLOSED = "closed"


NO_ROOMS: frozenset[str] = frozenset()
"""The rooms of a session in none: shared, so an idle connection holds no set of its own."""


class _Seldom:
    """What only some sessions hold (an away text, operator power, an unfinished line):
    one slot (None) on every other session instead of four."""

    __slots__ = ("away", "oper_id", "partial_since", "role")

    def __init__(self) -> None:
        self.away: str | None = None
        self.oper_id: int | None = None
        self.partial_since: float | None = None
        self.role: Role = "user"

    @property
    def empty(self) -> bool:
        return (
            self.away is None
            and self.oper_id is None
            and self.partial_since is None
            and self.role == "user"
        )


class Session:
    """One connection as the hub sees it. ``__slots__``: thousands of these live at once,
    so it holds only what cannot be worked out (see the memory notes in architecture.md)."""

    __slots__ = (
        "_host",
        "_seldom",
        "connected_at",
        "encoder",
        "id",
        "ident",
        "ip",
        "last_ping",
        "last_received",
        "outlet",
        "rooms",
        "rtt_ms",
        "state",
        "user",
    )

    def __init__(
        self,
        session_id: int,
        outlet: Outlet,
        encoder: Encoder,
        ip: str,
        now: float,
    ) -> None:
        self.id = session_id
        self.outlet = outlet
        self.encoder = encoder
        self.ip = ip
        self._host: str | None = None
        self.state = SessionState.CONNECTED
        self.user: str | None = None
        """The display name: the account's name, or the guest's nick."""
        self.ident: Ident = 0
        """0 until authenticated; its sign tells an account (:attr:`account_id`) from a
        guest (:attr:`guest`), so neither needs a slot of its own."""
        self._seldom: _Seldom | None = None
        """Made when the session is given a value below that only some sessions have (an
        admin's role, an away text...), let go once every one is back to its default."""
        self.rooms: set[str] | frozenset[str] = NO_ROOMS
        """The rooms the session is in (change it with :meth:`enter` and :meth:`left`)."""
        self.connected_at = now
        self.last_received = now
        self.last_ping: float | None = None
        """When the last heartbeat ping went out (its ``t`` is this in milliseconds)."""
        self.rtt_ms: int | None = None
        """The round trip of the last heartbeat ping that was answered, in milliseconds."""

    role = SeldomField[Role](
        "user", "The power this session has now: its account's role, or ``admin`` from OPER."
    )
    oper_id = SeldomField[int | None](
        None,
        "The admin account whose password this session gave to OPER: the power lasts only "
        "while that account is an admin with that password.",
    )
    away = SeldomField[str | None](None, "The user's away text (None: here).")
    partial_since = SeldomField[float | None](
        None, "Since when the door holds an unfinished line from this peer (slowloris check)."
    )

    def _seldom_state(self) -> _Seldom:
        seldom = self._seldom
        if seldom is None:
            seldom = self._seldom = _Seldom()
        return seldom

    def _forget_seldom(self) -> None:
        seldom = self._seldom
        if seldom is not None and seldom.empty:
            self._seldom = None

    @property
    def host(self) -> str:
        """What other users may see of the address: ``user/<name>`` for an account, a
        cloak for a guest, never the address itself."""
        if self._host is not None:
            return self._host
        if self.account_id is not None and self.user is not None:
            return f"user/{self.user}"
        return "*"

    @host.setter
    def host(self, value: str | None) -> None:
        self._host = value

    def idle(self, now: float) -> float:
        """Seconds since the peer last sent anything (never below 0: ``last_received`` is
        a stamp, which may be a little ahead of ``now``)."""
        return max(0.0, now - self.last_received)

    @property
    def door(self) -> str:
        """Which door the connection came through: ``native``, ``irc`` or ``web``."""
        return self.outlet.door_name

    @property
    def key(self) -> str | None:
        """The folded name, for finding a user by name (worked out when asked: a name with
        capitals would otherwise keep a second string on every session)."""
        user = self.user
        return fold_user(user) if user is not None else None

    @property
    def account_id(self) -> int | None:
        """The account this session is logged in to (kept once it closes), or None."""
        ident = self.ident
        return ident if ident > 0 else None

    @property
    def guest(self) -> bool:
        """Authenticated by nick only (IRC guests): no account, nothing stored for them."""
        return self.ident < 0

    @property
    def port(self) -> int:
        """The peer's port: asked of the connection (only logs and the operators' list
        show it), so a session keeps no int for it."""
        return self.outlet.peer_port()

    @property
    def last_ping_t(self) -> int:
        """The ``t`` of the last heartbeat ping: its time in milliseconds."""
        return int(self.last_ping * 1000) if self.last_ping is not None else 0

    def enter(self, room: str) -> None:
        if self.rooms is NO_ROOMS:
            self.rooms = set()
        self.rooms.add(room)  # type: ignore[union-attr]

    def left(self, room: str) -> None:
        rooms = self.rooms
        if room in rooms:
            rooms.discard(room)  # type: ignore[union-attr]
            if not rooms:
                self.rooms = NO_ROOMS

    def left_all(self) -> None:
        self.rooms = NO_ROOMS

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
