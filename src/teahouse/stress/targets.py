"""Client speakers for the stress tool: the native protocol and IRC over one lean Link.

A :class:`Dialect` turns intentions into bytes (log in, join, say, ping) and lines into
:class:`Event` values; :class:`NativeDialect` uses the project's own frames
(:mod:`teahouse.protocol.frames`), :class:`IrcDialect` its IRC parser, so the same
scenario runs against teahouse's two doors and against any IRC server.

A :class:`Link` is one TCP connection: an ``asyncio.Protocol`` with no task of its own. In
its *slow* mode every line becomes an event a coroutine can wait for (:meth:`Link.expect`);
in its *fast* mode a callback gets whole blocks of complete lines, for counting hundreds of
thousands of deliveries a second with one regular expression per block. In both modes it
answers the server's pings itself (unless told to play dead) and notes the reason of a
fatal error, so an idle connection costs no task and no wakeup.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import string
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, cast

import msgspec

from teahouse.protocol import frames as f
from teahouse.protocol.irc import IrcParseError, parse_line
from teahouse.protocol.native import encode
from teahouse.stress.options import loopback

# Event kinds.
READY = "ready"
"""Logged in (native ``authed``) or registered (IRC ``001``)."""
FAIL = "fail"
"""An error: native ``error`` (``code``), an IRC error numeric or ``ERROR``."""
WELCOME = "welcome"
JOINED = "joined"
MESSAGE = "message"
PING = "ping"
PONG = "pong"
LEFT = "left"
OPER = "oper"
CLOSED = "closed"

MAX_LINE = 1 << 20
"""A security limit on our side too: a line longer than this is dropped, not buffered."""
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
SYMBOLS = string.ascii_letters + string.digits + string.punctuation


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    code: str = ""
    """An error code or numeric; a departure's reason."""
    text: str = ""
    """A message's text; the room of JOINED and LEFT."""
    who: str = ""
    """A message's sender; the user of LEFT."""
    value: float = 0.0
    """``retry_after``, a pong token, the heartbeat timeout of WELCOME."""
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a connection says it is."""

    nick: str
    password: str | None = None
    register: bool = False
    """Native: ``register`` instead of ``login``."""
    account: str | None = None
    """Log in to this account (native ``user``; IRC ``PASS account:password``)."""


class Dialect:
    """Bytes out and events in for one protocol."""

    name: ClassVar[str]
    ping_marker: ClassVar[bytes]
    error_marker: ClassVar[bytes]
    left_marker: ClassVar[bytes]
    ping_re: ClassVar[re.Pattern[bytes]]
    pong_re: ClassVar[re.Pattern[bytes]]

    def login(self, ident: Identity) -> bytes:
        raise NotImplementedError

    def retry_login(self, ident: Identity) -> bytes:
        """The bytes for another attempt on the same connection (native only)."""
        raise NotImplementedError

    def join(self, room: str) -> bytes:
        raise NotImplementedError

    def say(self, room: str, text: str) -> bytes:
        raise NotImplementedError

    def ping(self, token: int) -> bytes:
        raise NotImplementedError

    def pong(self, token: bytes) -> bytes:
        raise NotImplementedError

    def quit(self) -> bytes:
        raise NotImplementedError

    def room(self, base: str) -> str:
        """The name of a room as this protocol writes it (IRC: ``#base``)."""
        raise NotImplementedError

    def partial_prefix(self, authed: bool) -> bytes:
        """The start of a line a slowloris never finishes."""
        raise NotImplementedError

    def oper(self, name: str, password: str, nick: str) -> bytes:
        return b""

    def classify(self, line: bytes) -> Event | None:
        """What a line means, or None for lines the tool does not care about."""
        raise NotImplementedError


class _NativeLine(msgspec.Struct):
    """The fields of server frames the tool reads; anything else is ignored."""

    type: str = ""
    code: str = ""
    fatal: bool = False
    retry_after: float | None = None
    t: int | None = None
    text: str | None = None
    sender: str = msgspec.field(default="", name="from")
    room: str | None = None
    user: str = ""
    state: str = ""
    reason: str | None = None
    replay: bool = False
    heartbeat: f.HeartbeatInfo | None = None


_native_decoder = msgspec.json.Decoder(_NativeLine)
_IRC_STARTS = (b":", b"NOTICE ", b"PING ", b"ERROR ")
"""How IRC servers start lines: seeing one, a native client is at the wrong door."""


class NativeDialect(Dialect):
    name = "native"
    ping_marker = b'"type":"ping"'
    error_marker = b'"type":"error"'
    left_marker = b'"state":"left"'
    ping_re = re.compile(rb'\{"type":"ping","t":(-?\d+)')
    pong_re = re.compile(rb'\{"type":"pong","t":(\d+)')

    def login(self, ident: Identity) -> bytes:
        return encode(f.Hello(proto=1, client="teahouse-stress")) + self.retry_login(ident)

    def retry_login(self, ident: Identity) -> bytes:
        user = ident.account or ident.nick
        password = ident.password or ""
        if ident.register:
            return encode(f.Register(user=user, password=password))
        return encode(f.Login(user=user, password=password))

    def join(self, room: str) -> bytes:
        return encode(f.Join(room=room))

    def say(self, room: str, text: str) -> bytes:
        return encode(f.Say(room=room, text=text))

    def ping(self, token: int) -> bytes:
        return encode(f.Ping(t=token))

    def pong(self, token: bytes) -> bytes:
        return b'{"type":"pong","t":' + token + b"}\n"

    def quit(self) -> bytes:
        return encode(f.Quit())

    def room(self, base: str) -> str:
        return base

    def partial_prefix(self, authed: bool) -> bytes:
        if authed:
            return b'{"type":"say","room":"slowloris","text":"'
        return b'{"type":"login","user":"slowloris","password":"'

    def classify(self, line: bytes) -> Event | None:
        try:
            frame = _native_decoder.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            if line.startswith(_IRC_STARTS):
                return Event(FAIL, code="wrong_protocol", text="an IRC server?", fatal=True)
            return None
        kind = frame.type
        if kind == "message":
            if frame.replay:
                return None
            return Event(MESSAGE, text=frame.text or "", who=frame.sender)
        if kind == "ping":
            return Event(PING, value=frame.t or 0)
        if kind == "pong":
            return Event(PONG, value=frame.t or 0)
        if kind == "authed":
            return Event(READY, who=frame.user)
        if kind == "error":
            return Event(FAIL, code=frame.code, value=frame.retry_after or 0.0, fatal=frame.fatal)
        if kind == "replay_end" and frame.room is not None:
            return Event(JOINED, text=frame.room)
        if kind == "presence" and frame.state == "left":
            return Event(LEFT, code=frame.reason or "", text=frame.room or "", who=frame.user)
        if kind == "welcome" and frame.heartbeat is not None:
            return Event(WELCOME, value=float(frame.heartbeat.timeout))
        return None


_IRC_FAILURES = frozenset(
    {"403", "405", "432", "433", "436", "464", "465", "471", "473", "474", "475", "476", "477"}
)
_IRC_FATAL = frozenset({"464", "465"})


def _nick_of(prefix: str | None) -> str:
    return (prefix or "").partition("!")[0]


class IrcDialect(Dialect):
    name = "irc"
    ping_marker = b"PING"
    error_marker = b"ERROR"
    left_marker = b" QUIT"
    ping_re = re.compile(rb"(?m)^(?::\S+ )?PING :?([^\r\n]*)")
    pong_re = re.compile(rb"(?m)^(?::\S+ )?PONG (?:\S+ )?:?(\d+)\r?$")

    def login(self, ident: Identity) -> bytes:
        lines = []
        if ident.password is not None:
            secret = f"{ident.account}:{ident.password}" if ident.account else ident.password
            lines.append(f"PASS {secret}")
        lines.append(f"NICK {ident.nick}")
        lines.append(f"USER {ident.nick} 0 * :teahouse stress")
        return ("\r\n".join(lines) + "\r\n").encode()

    def retry_login(self, ident: Identity) -> bytes:
        return b""

    def join(self, room: str) -> bytes:
        return f"JOIN {room}\r\n".encode()

    def say(self, room: str, text: str) -> bytes:
        return f"PRIVMSG {room} :{text}\r\n".encode()

    def ping(self, token: int) -> bytes:
        return b"PING :%d\r\n" % token

    def pong(self, token: bytes) -> bytes:
        return b"PONG :" + token.rstrip(b"\r") + b"\r\n"

    def quit(self) -> bytes:
        return b"QUIT :bye\r\n"

    def room(self, base: str) -> str:
        return "#" + base

    def partial_prefix(self, authed: bool) -> bytes:
        return b"PRIVMSG #slowloris :" if authed else b"USER slowloris 0 * :"

    def oper(self, name: str, password: str, nick: str) -> bytes:
        # +F is ngIRCd's relaxed flood protection; other servers answer 501 and go on.
        return f"OPER {name} {password}\r\nMODE {nick} +F\r\n".encode()

    def classify(self, line: bytes) -> Event | None:
        if line.startswith(b"{"):
            return Event(FAIL, code="wrong_protocol", text="a native server?", fatal=True)
        try:
            msg = parse_line(line.rstrip(b"\r").decode("utf-8", errors="replace"))
        except IrcParseError:
            return None
        command = msg.command
        if command == "PRIVMSG":
            return Event(MESSAGE, text=msg.param(1), who=_nick_of(msg.prefix))
        if command == "PING":
            return Event(PING, text=msg.param(len(msg.params) - 1))
        if command == "PONG":
            token = msg.param(len(msg.params) - 1)
            return Event(PONG, value=float(token) if token.isdigit() else 0.0)
        if command == "001":
            return Event(READY, who=msg.param(0))
        if command == "366":
            return Event(JOINED, text=msg.param(1).lower())
        if command == "QUIT":
            reason = msg.param(0) or "quit"
            return Event(LEFT, code=reason, who=_nick_of(msg.prefix))
        if command == "PART":
            return Event(LEFT, code="part", text=msg.param(0).lower(), who=_nick_of(msg.prefix))
        if command == "381":
            return Event(OPER)
        if command == "ERROR":
            return Event(FAIL, code="error", text=msg.param(0), fatal=True)
        if command in _IRC_FAILURES:
            return Event(
                FAIL, code=command, text=msg.param(len(msg.params) - 1), fatal=command in _IRC_FATAL
            )
        return None


def dialect_for(irc: bool) -> Dialect:
    return IrcDialect() if irc else NativeDialect()


@dataclass(frozen=True, slots=True)
class Target:
    """Where the load goes. Checked again here: only 127.0.0.0/8 (a security rule)."""

    host: str
    port: int
    irc: bool

    def __post_init__(self) -> None:
        if loopback(self.host) != self.host:
            raise ValueError(f"target {self.host!r} must be written as an IPv4 address")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"bad port {self.port}")


class Link(asyncio.Protocol):
    """One client connection. See the module docstring for its two modes."""

    __slots__ = (
        "_buf",
        "_waiter",
        "_writable",
        "answer_pings",
        "bytes_out",
        "close_reason",
        "closed_ns",
        "connected_ns",
        "dialect",
        "errors",
        "events",
        "fast",
        "keep_events",
        "on_left",
        "server_timeout",
        "transport",
    )

    def __init__(self, dialect: Dialect, *, keep_events: bool = True) -> None:
        self.dialect = dialect
        self.transport: asyncio.Transport | None = None
        self.events: deque[Event] = deque(maxlen=4096)
        self.keep_events = keep_events
        self.fast: Callable[[bytes], None] | None = None
        self.on_left: Callable[[Event], None] | None = None
        self.answer_pings = True
        self.close_reason = ""
        self.closed_ns = 0
        self.connected_ns = 0
        self.bytes_out = 0
        self.server_timeout = 0.0
        self.errors: dict[str, int] = {}
        """Error codes the server sent, counted."""
        self._buf = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connected_ns = time.monotonic_ns()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_ns = time.monotonic_ns()
        if not self.close_reason:
            self.close_reason = "reset" if exc is not None else "eof"
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        if not buf and data.endswith(b"\n"):
            block = data
        else:
            buf += data
            end = buf.rfind(b"\n")
            if end < 0:
                if len(buf) > MAX_LINE:
                    buf.clear()
                return
            block = bytes(buf[: end + 1])
            del buf[: end + 1]
        fast = self.fast
        if fast is None:
            for line in block.split(b"\n")[:-1]:
                self._line(line)
            return
        fast(block)
        dialect = self.dialect
        if self.answer_pings and dialect.ping_marker in block:
            for match in dialect.ping_re.finditer(block):
                self.send(dialect.pong(match[1]))
        if dialect.error_marker in block or (
            self.on_left is not None and dialect.left_marker in block
        ):
            for line in block.split(b"\n"):
                if dialect.error_marker in line or dialect.left_marker in line:
                    event = dialect.classify(line)
                    if event is not None:
                        self._note(event)

    # -- lines and events -------------------------------------------------------------

    def _line(self, line: bytes) -> None:
        event = self.dialect.classify(line)
        if event is None:
            return
        if event.kind == PING:
            if self.answer_pings:
                token = event.text.encode() if event.text else b"%d" % int(event.value)
                self.send(self.dialect.pong(token))
            return
        self._note(event)
        if self.keep_events:
            self.events.append(event)
            self._wake()

    def _note(self, event: Event) -> None:
        if event.kind == FAIL:
            self.errors[event.code] = self.errors.get(event.code, 0) + 1
            if event.fatal and not self.close_reason:
                self.close_reason = event.code
        elif event.kind == WELCOME:
            self.server_timeout = event.value
        elif event.kind == LEFT and self.on_left is not None:
            self.on_left(event)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def closed(self) -> bool:
        return self.closed_ns != 0

    async def next_event(self) -> Event:
        """The next event; a CLOSED event once the connection is gone and nothing is left.

        Waits as long as it takes: bound it with ``asyncio.timeout``.
        """
        if not self.events and not self.closed:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.events:
            return self.events.popleft()
        return Event(CLOSED, code=self.close_reason)

    async def expect(self, kinds: frozenset[str]) -> Event:
        """Skip events until one of ``kinds``, a FAIL, or CLOSED."""
        while True:
            event = await self.next_event()
            if event.kind in kinds or event.kind in (FAIL, CLOSED):
                return event

    # -- bytes out --------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closed and not transport.is_closing():
            transport.write(data)
            self.bytes_out += len(data)

    @property
    def paused(self) -> bool:
        return self._writable is not None and not self._writable.done()

    async def drain(self) -> None:
        """Wait until the transport takes more (or the connection is gone)."""
        writable = self._writable
        if writable is not None and not writable.done():
            await writable

    def go_fast(self, handler: Callable[[bytes], None]) -> None:
        """From now on, blocks of complete lines go to ``handler`` (events stop)."""
        self.fast = handler
        self.keep_events = False
        self.events.clear()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_link(
    target: Target,
    link: Link,
    source: str | None = None,
    *,
    connect_timeout: float = 10.0,
    rcvbuf: int = 0,
) -> Link:
    """Connect ``link`` to ``target`` from ``source`` (a loopback address, port chosen at
    connect time so thousands of connections per source never exhaust its ports).

    Raises OSError or TimeoutError.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
        async with asyncio.timeout(connect_timeout):
            await loop.sock_connect(sock, (target.host, target.port))
            await loop.create_connection(lambda: link, sock=sock)
    except BaseException:
        sock.close()
        raise
    return link


class LoginFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def _expect_by(link: Link, kinds: frozenset[str], deadline: float) -> Event:
    """:meth:`Link.expect` until ``deadline`` (``time.monotonic()``); raises LoginFailed."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await link.expect(kinds)
    except TimeoutError:
        raise LoginFailed("timeout") from None


async def log_in(link: Link, ident: Identity, deadline: float) -> None:
    """Send the login (or registration) and wait for READY until ``deadline``.

    A non-fatal ``throttled`` is waited out (its ``retry_after``) and tried again while
    time is left. Raises LoginFailed with the error code, ``closed`` or ``timeout``.
    """
    link.send(link.dialect.login(ident))
    while True:
        event = await _expect_by(link, frozenset({READY}), deadline)
        if event.kind == READY:
            return
        if event.kind == CLOSED:
            raise LoginFailed(event.code or "closed")
        retry = event.value or 1.0
        throttled = event.code == "throttled" and not event.fatal
        if throttled and time.monotonic() + retry < deadline:
            await asyncio.sleep(retry)
            link.send(link.dialect.retry_login(ident))
            continue
        raise LoginFailed(event.code)


async def join(link: Link, room: str, deadline: float) -> None:
    """Join ``room`` (as the dialect spells it); wait until the server confirms it."""
    link.send(link.dialect.join(room))
    while True:
        event = await _expect_by(link, frozenset({JOINED}), deadline)
        if event.kind == JOINED and event.text.lower() == room.lower():
            return
        if event.kind == CLOSED:
            raise LoginFailed(event.code or "closed")
        if event.kind == FAIL:
            raise LoginFailed(event.code)


async def become_oper(link: Link, oper: str, nick: str, deadline: float) -> bool:
    """IRC: ``OPER`` (and ngIRCd's ``+F``) so a load sender is not fakelagged."""
    name, _, password = oper.partition(":")
    data = link.dialect.oper(name, password, nick)
    if not data:
        return False
    link.send(data)
    try:
        event = await _expect_by(link, frozenset({OPER}), deadline)
    except LoginFailed:
        return False
    return event.kind == OPER


def random_password(rng: random.Random, length: int = 16) -> str:
    """Random symbols, no spaces (so IRC's PASS takes them as one word)."""
    return "".join(rng.choices(SYMBOLS, k=length))


NAME_DIGITS = "23456789abcdefghjkpqrstuxyz"
"""Digits of the numbers in load users' names: none that look alike (0/o, 1/l/i, rn/m,
vv/w), so a server that refuses look-alike names (teahouse does) takes every one."""


def name_code(n: int) -> str:
    """``n`` written with :data:`NAME_DIGITS`."""
    digits = NAME_DIGITS
    base = len(digits)
    out = ""
    while True:
        n, r = divmod(n, base)
        out = digits[r] + out
        if n == 0:
            return out
