"""The teahouse client: one logical session that outlives TCP connections.

::

    async with Client("localhost", 6680, "alice", password, rooms=["lobby"]) as chat:
        await chat.say("lobby", "hi")
        async for event in chat.events():
            match event:
                case Message(room=room, sender=who, text=text):
                    print(f"#{room} <{who}> {text}")

What the client promises:

- **Requests** (:meth:`Client.join`, :meth:`Client.say`, ...) each carry a unique ``ref``
  and return the server's direct reply to it, or raise :class:`ServerError` for an
  ``error`` with that ref. A request made while the client is reconnecting waits for the
  new session. When a connection drops before the reply, requests that are safe to repeat
  are sent again on the next session: ``say``/``dm`` with the same ``nonce`` (the server
  stores and delivers the message once), and ``join``, ``part``, ``rooms``, ``who``,
  ``history``, ``topic``, ``away``, ``whois``, ``invite``, asking a room's ``mode`` or
  ``room`` info. What changes something once (``admin``, ``kick``, a ``mode`` change, a
  room's ``register``/``drop``) is not repeated: it raises :class:`ConnectionLost`.
- **Reconnects** happen by themselves, forever, until :meth:`Client.close` (unless
  ``reconnect=False``), with exponential backoff and full jitter. A connection is dead
  when the server sent nothing for the heartbeat timeout, or on EOF, reset, or a fatal
  error. The new session logs in with ``dm_since`` = the highest DM id seen and rejoins
  every room with ``since`` = the highest message id seen in it (and the key it was joined
  with), so nothing is missed; if you were away, it says so again (the server forgets it
  with the session), and that ``AwayChanged`` comes as an event.
- **No duplicates**: a message whose id is at or below the highest id already seen in its
  room (or among DMs) is never surfaced again. When a replay was cut by the server's cap,
  its ``ReplayEnd`` (``truncated=True``, ``oldest_id``) says where the gap is; page back
  with :meth:`Client.history`, or :meth:`Client.history_pages`, which goes on while the
  server says there is ``more`` (a page may hold fewer messages than ``limit``: the server
  sends at most 512 KiB of messages in one frame).
- **Events**: :meth:`Client.events` yields, in order, every server frame that is not the
  direct reply to one of your requests, plus :class:`Connected`, :class:`Disconnected`
  and :class:`Reconnecting`. The stream ends after ``Disconnected(will_reconnect=False)``.

The event queue is bounded (``max_events``, 10 000 by default). When it is full, new
events are dropped, never the connection: requests, replies and heartbeats go on, and the
consumer gets one :class:`EventsDropped` (with the count) at the place of the gap once it
catches up. Dropped messages are still on the server (:meth:`Client.history`).

A message of yours whose reply was lost with a connection may come back in the rejoin's
replay as an event *and* be returned by the retried ``say`` (same id): it is stored once.

Memory: besides the event queue, the client holds one integer per room, the requests in
flight, and one read buffer bounded by ``welcome.limits`` (a security limit; see
:func:`~teahouse.client.policy.server_frame_limit`).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import random
import secrets
import ssl as _ssl
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self, TypeVar

from teahouse.client.connection import Connection, Outgoing
from teahouse.client.errors import (
    ClientClosed,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    LoginFailed,
    ProtocolViolation,
    ServerError,
)
from teahouse.client.events import (
    ClientEvent,
    Connected,
    Disconnected,
    EventsDropped,
    Incoming,
    Reconnecting,
)
from teahouse.client.policy import DM, Cursors, backoff_delay, server_frame_limit
from teahouse.protocol import frames as f
from teahouse.protocol.frames import ArgValue
from teahouse.protocol.native import PROTOCOL_VERSION

log = logging.getLogger("teahouse.client")

DEFAULT_MAX_EVENTS = 10_000
STABLE_AFTER = 10.0
"""A session that lasted this many seconds resets the backoff to ``backoff_initial``."""
QUIT_WAIT = 5.0
"""How long :meth:`Client.quit` waits for ``bye``."""
MIN_HEARTBEAT = 0.05
"""The shortest ping interval the client accepts from ``welcome`` (half the shortest timeout)."""
CLOSE_WAIT = 2.0
"""How long :meth:`Client.close` waits for the transport to finish closing."""

FINAL_CODES = frozenset(
    {
        "banned",
        "bad_credentials",
        "unsupported_proto",
        "registration_closed",
        "invalid_name",
        "weak_password",
        "user_taken",
    }
)
"""Error codes after which reconnecting cannot help: the client closes instead."""

_AUTO_JOIN = "auto:join:"
"""The ``ref`` prefix of the joins the client makes by itself (initial rooms, rejoins)."""
_AUTO_AWAY = "auto:away"
"""The ``ref`` of the ``away`` the client sends by itself after a reconnect."""
MAX_HISTORY_PAGES = 1000
"""A bound on the pages :meth:`Client.history_pages` asks for in one walk."""

_R = TypeVar("_R", bound=Incoming)


class State(enum.StrEnum):
    """The client's state; compares equal to its string value."""

    CONNECTING = "connecting"
    """Before the first session is authenticated."""
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    """The connection was lost; waiting for the backoff or opening a new session."""
    CLOSED = "closed"


@dataclass(slots=True, eq=False)
class _Request:
    frame: Outgoing
    future: asyncio.Future[Incoming]
    retry: bool
    """Safe to send again on a new connection."""
    sent: bool = False
    """Sent on the current connection."""


class _EventQueue:
    """A bounded FIFO for one consumer that drops new items when full (see the module doc)."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[ClientEvent] = deque()
        self._maxsize = maxsize
        self._dropped = 0
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: ClientEvent, *, force: bool = False) -> None:
        """Append ``event``; ``force`` ignores the bound (for the final events)."""
        if self._closed:
            return
        if self._dropped:
            # The marker and the event need two places: the gap is reported where it is.
            if len(self._items) + 2 > self._maxsize and not force:
                self._dropped += 1
                return
            self._items.append(EventsDropped(self._dropped))
            self._dropped = 0
        elif len(self._items) >= self._maxsize and not force:
            self._dropped = 1
            return
        self._items.append(event)
        self._wake()

    def close(self) -> None:
        if self._dropped:
            self._items.append(EventsDropped(self._dropped))
            self._dropped = 0
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> ClientEvent:
        """The next event; raises :class:`StopAsyncIteration` once closed and drained."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class EventStream:
    """The async iterator returned by :meth:`Client.events` (one consumer at a time)."""

    def __init__(self, queue: _EventQueue) -> None:
        self._queue = queue

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ClientEvent:
        return await self._queue.get()


class Client:
    """A native-protocol client that reconnects and resumes by itself (see the module doc).

    ``heartbeat_interval``/``heartbeat_timeout`` override the server's ``welcome`` values:
    the client pings after ``interval`` seconds of server silence and drops the connection
    after ``timeout``. ``rooms`` are joined on connect (their ``Joined`` frames arrive as
    events). ``register=True`` registers the account on the first connect; later sessions
    log in.
    """

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        register: bool = False,
        rooms: Iterable[str] = (),
        client_name: str = "teahouse-client/0.1",
        heartbeat_interval: float | None = None,
        heartbeat_timeout: float | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        connect_timeout: float = 10.0,
        max_events: int = DEFAULT_MAX_EVENTS,
        ssl: _ssl.SSLContext | None = None,
        invite: str | None = None,
    ) -> None:
        if heartbeat_interval is not None and heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        if heartbeat_timeout is not None and heartbeat_timeout <= 0:
            raise ValueError("heartbeat_timeout must be positive")
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if max_events < 2:
            raise ValueError("max_events must be at least 2")
        self.host = host
        self.port = port
        self.user = user
        self._password = password
        self._register = register
        self._initial_rooms = list(dict.fromkeys(rooms))
        self.client_name = client_name
        self._hb_interval = heartbeat_interval
        self._hb_timeout = heartbeat_timeout
        self._reconnect = reconnect
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connect_timeout = connect_timeout
        self._ssl = ssl
        self._invite = invite
        self._random = random.random

        self._state = State.CONNECTING
        self._started = False
        self._closing = False
        self._events = _EventQueue(max_events)
        self._cursors = Cursors()
        self._joined: set[str] = set()
        self._keys: dict[str, str] = {}
        """The key each keyed room was joined with, for the rejoins."""
        self._away: str | None = None
        """Your away text as the server last confirmed it (said again after a reconnect)."""
        self._pending: dict[int, _Request] = {}
        self._refs = itertools.count(1)
        self._conn: Connection | None = None
        self._handshake: asyncio.Future[f.Authed] | None = None
        self._lost: asyncio.Future[str] | None = None
        self._fatal: f.Error | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._sessions = 0
        self._session_started = 0.0
        self._last_rtt: float | None = None
        self.role: str | None = None
        """``user`` or ``admin`` once authenticated."""
        self.welcome: f.Welcome | None = None
        """The last ``welcome`` frame (heartbeat, limits, server version)."""

    # -- public state ----------------------------------------------------------------

    @property
    def state(self) -> State:
        """``connecting`` | ``connected`` | ``reconnecting`` | ``closed``."""
        return self._state

    @property
    def rtt(self) -> float | None:
        """Round trip of the latest answered client ``ping``, in seconds (None until one)."""
        conn = self._conn
        if conn is not None and conn.rtt is not None:
            return conn.rtt
        return self._last_rtt

    @property
    def rooms_joined(self) -> frozenset[str]:
        """The rooms this client is in (and rejoins after a reconnect)."""
        return frozenset(self._joined)

    def last_id(self, room: str | None) -> int | None:
        """The highest message id seen in ``room`` (None: among direct messages)."""
        return self._cursors.last(room)

    def events(self) -> EventStream:
        """The event stream (see the module doc). Use one consumer."""
        return EventStream(self._events)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the first session: connect, ``hello`` + ``login``/``register``, ``authed``.

        Raises :class:`LoginFailed` (with the server's ``code``, ``message`` and
        ``retry_after``) when the server refuses, :class:`ConnectFailed` when it cannot be
        reached or does not answer within ``connect_timeout``. Either way the client is
        closed afterwards. After a success the client keeps itself connected until
        :meth:`close`.
        """
        if self._started:
            raise ClientError("connect() may be called once")
        self._started = True
        try:
            await self._open_session()
        except ClientError as exc:
            self._shutdown(getattr(exc, "code", "connect_failed"), exc)
            raise
        except BaseException:
            self._shutdown("cancelled", ClientClosed("connect() was cancelled"))
            raise
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        self._supervisor.add_done_callback(self._supervisor_done)

    async def close(self) -> None:
        """Leave politely (a best-effort ``quit``), close, stop reconnecting.

        Requests still waiting raise :class:`ClientClosed`; the event stream ends after a
        final ``Disconnected("closed", will_reconnect=False)``. Safe to call twice.
        """
        self._closing = True
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None and supervisor is not asyncio.current_task():
            supervisor.cancel()
            await asyncio.wait({supervisor})
        conn = self._conn
        if conn is not None and self._state is State.CONNECTED:
            conn.send(f.Quit())
        self._shutdown("closed", ClientClosed("the client is closed"))
        if conn is not None:
            try:
                async with asyncio.timeout(CLOSE_WAIT):
                    await conn.wait_closed()
            except TimeoutError:
                conn.abort("closed")

    async def quit(self, reason: str | None = None) -> None:
        """Send ``quit`` with ``reason``, wait (up to 5 s) for ``bye``, then :meth:`close`."""
        conn = self._conn
        if conn is not None and self._state is State.CONNECTED:
            self._closing = True  # no reconnect when the server closes after bye
            ref = next(self._refs)
            req = _Request(f.Quit(reason=reason, ref=ref), self._future(), retry=False)
            self._pending[ref] = req
            conn.send(req.frame)
            req.sent = True
            try:
                async with asyncio.timeout(QUIT_WAIT):
                    await req.future
            except (TimeoutError, ClientError):
                pass
            finally:
                self._pending.pop(ref, None)
        await self.close()

    # -- requests --------------------------------------------------------------------

    async def join(self, room: str, key: str | None = None) -> f.Joined:
        """Join ``room`` (created if new). The replay follows as events, then live traffic.

        ``key`` is the room's key, for a room that has one (mode ``k``); it is kept for the
        rejoins after a reconnect. If this client was in the room before, the replay starts
        after the last message seen; otherwise it is the server's default (the last 50
        messages).
        """
        frame = f.Join(room=room, since=self._cursors.last(room), key=key, ref=next(self._refs))
        joined = await self._call(frame, f.Joined, retry=True)
        if key:
            self._keys[joined.room] = key
        return joined

    async def part(self, room: str) -> f.Parted:
        """Leave ``room``."""
        return await self._call(f.Part(room=room, ref=next(self._refs)), f.Parted, retry=True)

    async def say(self, room: str, text: str) -> f.Message:
        """Say ``text`` in ``room``; returns the stored message (its ``id``, ``ts``).

        Survives reconnects: it is sent again with the same nonce until acknowledged.
        """
        frame = f.Say(room=room, text=text, nonce=_nonce(), ref=next(self._refs))
        return await self._call(frame, f.Message, retry=True)

    async def dm(self, user: str, text: str) -> f.Message:
        """Send ``text`` to ``user`` (stored for them if offline); returns the message."""
        frame = f.Dm(to=user, text=text, nonce=_nonce(), ref=next(self._refs))
        return await self._call(frame, f.Message, retry=True)

    async def rooms(self) -> f.RoomList:
        """Every room with its online member count and topic."""
        return await self._call(f.Rooms(ref=next(self._refs)), f.RoomList, retry=True)

    async def who(self, room: str) -> f.Members:
        """The members of ``room`` online now."""
        return await self._call(f.Who(room=room, ref=next(self._refs)), f.Members, retry=True)

    async def history(
        self,
        room: str,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> f.HistoryPage:
        """Stored messages of ``room``, oldest first: ``before`` an id pages back, ``since``
        an id pages forward, neither gives the newest. Not surfaced as events."""
        frame = f.History(room=room, before=before, since=since, limit=limit, ref=next(self._refs))
        return await self._call(frame, f.HistoryPage, retry=True)

    async def history_pages(
        self,
        room: str | None,
        *,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[f.HistoryPage]:
        """Page through the stored messages of ``room`` (None: your direct messages), one
        :class:`~teahouse.protocol.frames.HistoryPage` at a time, going on while the server
        says there is ``more``: back from ``before`` (or from the newest), or forward from
        ``since``. Stop iterating when you have what you need.

        Each page holds at most ``limit`` messages, and may hold fewer while ``more`` is
        true (the server caps a frame at 512 KiB of messages): only a page without ``more``
        is the end. At most :data:`MAX_HISTORY_PAGES` pages are asked for in one walk.
        """
        for _ in range(MAX_HISTORY_PAGES):
            if room is None:
                page = await self.dm_history(before=before, since=since, limit=limit)
            else:
                page = await self.history(room, before=before, since=since, limit=limit)
            yield page
            if not page.more or not page.messages:
                return
            if since is not None:
                since = page.messages[-1].id
            else:
                before = page.messages[0].id

    async def dm_history(
        self, before: int | None = None, since: int | None = None, limit: int | None = None
    ) -> f.HistoryPage:
        """Your direct messages (sent and received), oldest first, paged like
        :meth:`history`; for the gap a truncated DM replay reports. Not surfaced as events."""
        frame = f.History(dm=True, before=before, since=since, limit=limit, ref=next(self._refs))
        return await self._call(frame, f.HistoryPage, retry=True)

    async def topic(self, room: str, text: str) -> f.TopicChanged:
        """Set the topic of ``room``."""
        frame = f.Topic(room=room, text=text, ref=next(self._refs))
        return await self._call(frame, f.TopicChanged, retry=True)

    async def admin(self, cmd: str, **args: ArgValue) -> f.AdminResult:
        """Run an operator command (admins only, else ``forbidden``).

        Not repeated after a connection loss: raises :class:`ConnectionLost` then.
        """
        frame = f.Admin(cmd=cmd, args=dict(args), ref=next(self._refs))
        return await self._call(frame, f.AdminResult, retry=False)

    async def away(self, text: str | None) -> f.AwayChanged:
        """Set yourself away with ``text``, or back with None; the members of your rooms
        are told. Said again by itself after a reconnect (the server forgets it)."""
        frame = f.Away(text=text or None, ref=next(self._refs))
        reply = await self._call(frame, f.AwayChanged, retry=True)
        self._away = reply.text
        return reply

    @property
    def away_text(self) -> str | None:
        """Your away text as the server last confirmed it; None when you are back."""
        return self._away

    async def whois(self, user: str) -> f.WhoisInfo:
        """What the server tells about ``user``: online or not, the rooms you may see, away,
        idle seconds, the door (``native``, ``irc``, ``web``); the address for admins.
        ``no_such_user`` for a name that is neither online nor an account."""
        frame = f.Whois(user=user, ref=next(self._refs))
        return await self._call(frame, f.WhoisInfo, retry=True)

    async def mode(
        self, room: str, changes: str | None = None, args: Iterable[str] = ()
    ) -> f.ModeChanged:
        """Change ``room``'s modes (``"+k"``, ``args`` ``["secret"]``; room operators), or
        with no ``changes`` ask what they are. A change is not repeated after a connection
        loss: it raises :class:`ConnectionLost` then."""
        frame = f.Mode(room=room, changes=changes, args=list(args), ref=next(self._refs))
        return await self._call(frame, f.ModeChanged, retry=changes is None)

    async def kick(self, room: str, user: str, reason: str | None = None) -> f.Presence:
        """Remove ``user`` from ``room`` (room operators; ``forbidden`` otherwise). They stay
        connected and may rejoin unless the room keeps them out. Returns the ``left``
        presence (``reason`` ``kicked``, ``by``, ``text``). Not repeated after a connection
        loss: raises :class:`ConnectionLost` then."""
        frame = f.Kick(room=room, user=user, reason=reason or None, ref=next(self._refs))
        return await self._call(frame, f.Presence, retry=False)

    async def invite(self, room: str, user: str) -> f.Invited:
        """Let ``user`` into ``room`` (needed for an invite-only room); they are told."""
        frame = f.Invite(room=room, user=user, ref=next(self._refs))
        return await self._call(frame, f.Invited, retry=True)

    async def room(
        self, room: str, action: Literal["info", "register", "drop"] = "info"
    ) -> f.RoomInfoReply:
        """A room's owner, operators and modes (``info``); ``register`` makes you its owner
        (an operator of it, with an account), ``drop`` gives it up (its owner). A register
        or drop is not repeated after a connection loss: raises :class:`ConnectionLost`."""
        frame = f.RoomAction(room=room, action=action, ref=next(self._refs))
        return await self._call(frame, f.RoomInfoReply, retry=action == "info")

    async def _call(self, frame: Outgoing, expect: type[_R], *, retry: bool) -> _R:
        if self._closing or self._state is State.CLOSED:
            raise ClientClosed("the client is closed")
        if not self._started:
            raise ClientClosed("call connect() first")
        conn = self._conn
        if conn is not None and self._state is State.CONNECTED:
            await conn.wait_writable()  # backpressure when the server does not read
        ref = frame.ref
        assert isinstance(ref, int)
        req = _Request(frame, self._future(), retry)
        self._pending[ref] = req
        conn = self._conn
        if conn is not None and self._state is State.CONNECTED:
            conn.send(frame)
            req.sent = True
        try:
            reply = await req.future
        finally:
            self._pending.pop(ref, None)
        if not isinstance(reply, expect):
            raise ProtocolViolation(f"expected {expect.__name__} for {frame!r}, got {reply!r}")
        return reply

    def _future(self) -> asyncio.Future[Incoming]:
        return asyncio.get_running_loop().create_future()

    # -- sessions --------------------------------------------------------------------

    async def _open_session(self) -> None:
        """Connect and authenticate; raises LoginFailed or ConnectFailed."""
        loop = asyncio.get_running_loop()
        handshake: asyncio.Future[f.Authed] = loop.create_future()
        self._handshake = handshake
        self._fatal = None
        conn: Connection | None = None
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self._connect_timeout):
                try:
                    conn = await Connection.open(
                        self.host,
                        self.port,
                        on_frame=self._on_frame,
                        on_lost=self._on_lost,
                        ssl=self._ssl,
                    )
                except OSError as exc:
                    raise ConnectFailed(f"cannot connect to {where}: {exc}") from exc
                self._conn = conn
                conn.send(f.Hello(proto=PROTOCOL_VERSION, client=self.client_name))
                if self._register:
                    conn.send(
                        f.Register(user=self.user, password=self._password, invite=self._invite)
                    )
                else:
                    dm_since = self._cursors.last(DM)
                    conn.send(f.Login(user=self.user, password=self._password, dm_since=dm_since))
                await handshake
        except TimeoutError:
            self._drop(conn, "connect_timeout")
            raise ConnectFailed(
                f"no answer from {where} within {self._connect_timeout} s"
            ) from None
        except BaseException:
            self._drop(conn, "login_failed")
            raise
        finally:
            self._handshake = None

    def _drop(self, conn: Connection | None, reason: str) -> None:
        """Abandon a connection whose handshake failed (its loss is not a session's loss)."""
        if conn is None:
            return
        if self._conn is conn:
            self._conn = None
        conn.abort(reason)

    async def _supervise(self) -> None:
        """Wait for the session to end, then reconnect with backoff, forever."""
        exponent = 0  # of the backoff; kept across short-lived sessions
        while True:
            lost = self._lost
            assert lost is not None
            reason = await lost
            if self._closing:
                return
            fatal = self._fatal
            final = fatal is not None and fatal.code in FINAL_CODES
            will = self._reconnect and not final
            self._events.put(Disconnected(reason, will), force=True)
            if not will:
                error: ClientError = (
                    ServerError.from_frame(fatal) if final and fatal else ConnectionLost(reason)
                )
                self._shutdown(reason, error, announce=False)
                return
            self._state = State.RECONNECTING
            loop = asyncio.get_running_loop()
            if loop.time() - self._session_started >= STABLE_AFTER:
                exponent = 0
            retry_after = 0.0
            attempt = 0
            while True:
                delay = max(
                    retry_after,
                    backoff_delay(exponent, self._backoff_initial, self._backoff_max, self._random),
                )
                exponent += 1
                attempt += 1
                self._events.put(Reconnecting(round(delay, 3), attempt))
                await asyncio.sleep(delay)
                try:
                    await self._open_session()
                    break
                except LoginFailed as exc:
                    if exc.code in FINAL_CODES:
                        log.warning("reconnect refused for good: %s", exc)
                        self._shutdown(exc.code, exc)
                        return
                    log.info("reconnect refused: %s", exc)
                    retry_after = exc.retry_after or 0.0
                except ConnectFailed as exc:
                    log.info("reconnect failed: %s", exc)
                    retry_after = 0.0
                except ClientClosed:
                    return

    def _supervisor_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        log.error("the client's supervisor failed", exc_info=task.exception())
        self._shutdown("internal", ClientError("internal error in the client; see the log"))

    def _shutdown(self, reason: str, error: ClientError, *, announce: bool = True) -> None:
        """Become closed: fail waiting requests with ``error``, end the event stream."""
        if self._state is State.CLOSED:
            return
        self._state = State.CLOSED
        self._closing = True
        conn, self._conn = self._conn, None
        if conn is not None:
            if conn.rtt is not None:
                self._last_rtt = conn.rtt
            conn.close("closed")
        for req in list(self._pending.values()):
            if not req.future.done():
                req.future.set_exception(error)
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(error)  # a connect() in progress gives up now
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        if announce:
            self._events.put(Disconnected(reason, False), force=True)
        self._events.close()

    # -- frames in -------------------------------------------------------------------

    def _on_frame(self, conn: Connection, frame: Incoming) -> None:
        if conn is not self._conn:
            return  # a connection we already gave up on
        if self._handshake is not None and not self._handshake.done():
            self._on_handshake_frame(conn, frame)
            return
        if isinstance(frame, f.Error) and frame.fatal:
            self._fatal = frame
        if isinstance(frame, f.ReplayEnd) and frame.dm and frame.last_id is not None:
            # The newest direct message the server had at login: resuming from here with
            # dm_since can never skip one (even one sent while this link was dying).
            self._cursors.raise_to(DM, frame.last_id)
        ref = getattr(frame, "ref", None)
        if isinstance(ref, int) and not isinstance(ref, bool):
            req = self._pending.get(ref)
            if req is not None and not req.future.done():
                self._reply(req, frame)
                return
        self._surface(frame)

    def _on_handshake_frame(self, conn: Connection, frame: Incoming) -> None:
        handshake = self._handshake
        assert handshake is not None
        match frame:
            case f.Welcome():
                self.welcome = frame
                conn.max_frame = server_frame_limit(frame.limits)
                timeout = self._hb_timeout or float(frame.heartbeat.timeout)
                interval = self._hb_interval or float(frame.heartbeat.interval)
                # Ping well before giving up, or an idle healthy link would look dead; and
                # never spin on absurd values.
                timeout = max(timeout, 2 * MIN_HEARTBEAT)
                interval = max(MIN_HEARTBEAT, min(interval, timeout / 2))
                conn.start_heartbeat(interval, timeout)
            case f.Authed():
                self._authenticated(conn, frame)
                handshake.set_result(frame)
            case f.Error():
                if frame.fatal:
                    self._fatal = frame
                handshake.set_exception(LoginFailed.from_frame(frame))
            case _:
                log.debug("ignoring %r before authed", frame)

    def _authenticated(self, conn: Connection, frame: f.Authed) -> None:
        """The session is up: say so, rejoin the rooms, send what waits. Synchronous, so the
        frames after ``authed`` (the DM replay) are already handled as a session's."""
        loop = asyncio.get_running_loop()
        self.user, self.role = frame.user, frame.role
        self._register = False
        self._state = State.CONNECTED
        self._lost = loop.create_future()
        self._session_started = loop.time()
        server = self.welcome.server if self.welcome is not None else ""
        self._events.put(Connected(frame.user, frame.role, server, self._sessions > 0))
        self._sessions += 1
        if self._sessions > 1 and self._away:
            conn.send(f.Away(text=self._away, ref=_AUTO_AWAY))
        for room in sorted(self._joined):
            since = self._cursors.last(room) or 0  # 0: we were in it, and it was empty
            key = self._keys.get(room)
            conn.send(f.Join(room=room, since=since, key=key, ref=_AUTO_JOIN + room))
        for room in self._initial_rooms:
            if room not in self._joined:
                conn.send(f.Join(room=room, ref=_AUTO_JOIN + room))
        for ref in sorted(self._pending):
            req = self._pending[ref]
            if not req.future.done() and not req.sent:
                conn.send(req.frame)
                req.sent = True
        conn.ping()  # a first round-trip measurement

    def _on_lost(self, conn: Connection, reason: str) -> None:
        if conn.rtt is not None:
            self._last_rtt = conn.rtt
        if conn is not self._conn:
            return
        self._conn = None
        fatal = self._fatal
        if fatal is not None:
            reason = fatal.code
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            if fatal is not None:
                handshake.set_exception(LoginFailed.from_frame(fatal))
            else:
                handshake.set_exception(
                    ConnectFailed(f"the server closed the connection before login ({reason})")
                )
            return
        for req in self._pending.values():
            if not req.sent or req.future.done():
                continue
            req.sent = False
            if not req.retry:
                req.future.set_exception(
                    ConnectionLost(f"the connection dropped before the reply ({reason})")
                )
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)

    def _reply(self, req: _Request, frame: Incoming) -> None:
        if isinstance(frame, f.Error):
            req.future.set_exception(ServerError.from_frame(frame))
            return
        match frame:
            case f.Message():
                self._cursors.note(frame)
            case f.Joined(room=room):
                self._joined.add(room)
            case f.Parted(room=room):
                self._forget(room)
            case _:
                pass
        req.future.set_result(frame)

    def _surface(self, frame: Incoming) -> None:
        match frame:
            case f.Message():
                if not self._cursors.accept(frame):
                    return
            case f.Joined(room=room):
                self._joined.add(room)
            case f.Parted(room=room):
                self._forget(room)
            case f.Presence(room=room, user=user, state="left") if (
                user.lower() == self.user.lower()
            ):
                self._forget(room)  # removed by an operator: do not rejoin it
            case f.AwayChanged(user=user, text=text) if user.lower() == self.user.lower():
                self._away = text
            case f.Error(ref=str(ref)) if ref.startswith(_AUTO_JOIN):
                room = ref.removeprefix(_AUTO_JOIN)
                self._forget(room)
                if room in self._initial_rooms:
                    self._initial_rooms.remove(room)
            case f.Welcome() | f.Authed():
                return
            case _:
                pass
        self._events.put(frame)

    def _forget(self, room: str) -> None:
        """Not in ``room`` any more: it is not rejoined, and its key is forgotten."""
        self._joined.discard(room)
        self._keys.pop(room, None)


def _nonce() -> str:
    return secrets.token_urlsafe(12)
