"""Doors in-process: a fake transport, and clients that drive a door on a HubKit's hub.

A :class:`FakeTransport` stands where asyncio's TCP transport would: it collects what the
connection writes, remembers whether reading is paused, and reports a write buffer size a
test may set (a peer that does not read). Closing or aborting it calls the protocol's
``connection_lost`` at the end of the loop round, as asyncio does.

A client makes one connection of a real :class:`~teahouse.doors.native.NativeDoor` or
:class:`~teahouse.doors.irc.door.IrcDoor` (no listening socket), feeds it bytes with
``received``, ends the loop round with the kit's fake clock (the hub's flush), and
parses what came back. Nothing sleeps: time moves by ``kit.clock.advance``, and password
checks (the only asynchronous work) are awaited through the door's task set.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

from teahouse.core.passwords import HashParams, PasswordHasher
from teahouse.core.session import Session
from teahouse.doors.connection import LINGER, Connection
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.door import IrcDoor
from teahouse.doors.native import NativeConnection, NativeDoor
from teahouse.protocol.irc import IrcMessage, IrcReader, LineTooLong

from ..hubkit import HubKit

_ports = itertools.count(50000)


class FakeTransport:
    """What a connection sees of its socket."""

    def __init__(self, kit: HubKit, ip: str = "10.0.0.1", port: int | None = None) -> None:
        self.kit = kit
        self.peer = (ip, next(_ports) if port is None else port)
        self.protocol: Connection | None = None
        self.data = bytearray()
        self.writes = 0
        self.largest = 0
        """The most bytes handed over in one write."""
        self.pieces: list[bytes] = []
        """What the last ``writelines`` was given (the bytes objects themselves)."""
        self.reading = True
        self.pauses = 0
        self.closing = False
        self.aborted = False
        self.lost = False
        self.buffer_size = 0
        """What ``get_write_buffer_size`` says: set it to play a peer that does not read."""
        self.limits: tuple[int | None, int | None] | None = None

    # -- asyncio.Transport -------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert not self.closing, "a write after close"
        self.writes += 1
        self.largest = max(self.largest, len(data))
        self.data += data

    def writelines(self, lines: Iterable[bytes]) -> None:
        self.pieces = list(lines)
        self.write(b"".join(self.pieces))  # one writev: one system call, like one write

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self._end()

    def abort(self) -> None:
        self.aborted = True
        self.data.clear()  # unsent bytes are dropped
        self._end()

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": self.peer, "socket": None}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return self.buffer_size

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.limits = (high, low)

    # -- the end ---------------------------------------------------------------------------

    def _end(self) -> None:
        if self.closing:
            return
        self.closing = True
        self.kit.clock.call_soon(self._lost)

    def _lost(self) -> None:
        if self.protocol is not None and not self.lost:
            self.lost = True
            self.protocol.connection_lost(None)

    def reset(self) -> None:
        """The peer went away: the transport reports it lost."""
        self.closing = True
        self._lost()


class Client:
    """One in-process connection to a door."""

    def __init__(self, kit: HubKit, door: NativeDoor | IrcDoor, ip: str = "10.0.0.1") -> None:
        self.kit = kit
        self.door = door
        self.conn = door.connection()
        self.transport = FakeTransport(kit, ip)
        self.transport.protocol = self.conn
        self._read = 0
        self.conn.connection_made(self.transport)  # type: ignore[arg-type]
        self._session = self.conn.session
        """Kept: the connection lets go of its session once the transport is lost."""
        kit.run_soon()

    @property
    def session(self) -> Session:
        session = self.conn.session or self._session
        assert session is not None
        return session

    @property
    def closed(self) -> bool:
        return self.transport.closing

    def dropped_for_garbage(self) -> bool:
        """The session ended at once and the socket is held unread, then closed after
        :data:`~teahouse.doors.connection.LINGER` seconds (time is moved here)."""
        if self.conn.session is None or not self.session.closed:
            return False
        if self.transport.reading or self.transport.closing:
            return False
        self.advance(LINGER)
        return self.transport.closing and not self.transport.reading

    def send_raw(self, data: bytes) -> None:
        """Bytes from the peer, then the end of the loop round."""
        if not self.transport.lost:
            self.conn.received(data)
        self.kit.run_soon()

    async def settle(self) -> None:
        """Let every password check in flight finish, and every round after it end."""
        await settle(self.kit, self.door)

    def advance(self, seconds: float, step: float | None = None) -> None:
        """Move the hub's clock (timers fire: paused connections resume)."""
        if step is None:
            self.kit.clock.advance(seconds)
        else:
            steps = round(seconds / step)
            for _ in range(steps):
                self.kit.clock.advance(step)
        self.kit.run_soon()

    def received(self) -> bytes:
        """Everything the peer got since the last call."""
        data = bytes(self.transport.data[self._read :])
        self._read = len(self.transport.data)
        return data


async def settle(kit: HubKit, door: NativeDoor | IrcDoor) -> None:
    for _ in range(100):
        tasks = list(door.tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        ran = kit.run_soon()
        if not door.tasks and ran == 0:
            return
    raise AssertionError("the door never settled")


# -- native ------------------------------------------------------------------------------


class NativeClient(Client):
    conn: NativeConnection

    def send(self, **frame: object) -> None:
        self.send_raw(json.dumps(frame).encode() + b"\n")

    def frames(self) -> list[dict[str, Any]]:
        """The frames the peer got since the last call."""
        return [json.loads(line) for line in self.received().splitlines() if line]

    def frame(self) -> dict[str, Any]:
        """The one frame the peer got since the last call."""
        [frame] = self.frames()
        return frame

    async def login(self, user: str, password: str, **extra: Any) -> dict[str, Any]:
        self.send(type="login", user=user, password=password, ref="login", **extra)
        await self.settle()
        frames = self.frames()
        return frames[0]


def native(kit: HubKit) -> NativeDoor:
    """The kit's native door (made on first use)."""
    door = kit.doors.get("native")
    if door is None:
        door = kit.doors["native"] = NativeDoor(kit.hub, kit.config)
    assert isinstance(door, NativeDoor)
    return door


# -- IRC ---------------------------------------------------------------------------------


class IrcClient(Client):
    conn: IrcConnection

    def send(self, *lines: str) -> None:
        self.send_raw("".join(line + "\r\n" for line in lines).encode())

    def messages(self) -> list[IrcMessage]:
        """The lines the peer got since the last call, parsed."""
        reader = IrcReader(max_line=1 << 16, max_tags=1 << 16)
        reader.receive_data(self.received())
        out = []
        while (item := reader.next_message()) is not None:
            assert not isinstance(item, LineTooLong)
            out.append(item)
        return out

    def commands(self) -> list[str]:
        return [m.command for m in self.messages()]

    async def register(self, nick: str, *lines: str, caps: Iterable[str] = ()) -> list[IrcMessage]:
        """Register as ``nick`` (after ``lines``, like PASS), asking for ``caps``."""
        wanted = " ".join(caps)
        if wanted:
            self.send("CAP LS 302", f"CAP REQ :{wanted}")
        self.send(*lines, f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Example")
        if wanted:
            self.send("CAP END")
        await self.settle()
        got = self.messages()
        assert "001" in [m.command for m in got], [(m.command, m.params) for m in got]
        return got


def irc(kit: HubKit) -> IrcDoor:
    """The kit's IRC door (made on first use)."""
    door = kit.doors.get("irc")
    if door is None:
        door = kit.doors["irc"] = IrcDoor(kit.hub, kit.config)
    assert isinstance(door, IrcDoor)
    return door


@contextlib.contextmanager
def small_hash_queue(kit: HubKit, limit: int) -> Iterator[PasswordHasher]:
    """The kit's hub checks passwords with one worker, cheap hashing and at most ``limit``
    jobs queued (a full queue answers ``throttled``); the hasher is closed afterwards."""
    hasher = PasswordHasher(HashParams(1, 1024, 1), workers=1, queue_limit=limit)
    kit.hub.accounts.hasher = hasher
    try:
        yield hasher
    finally:
        hasher.close()
