"""Small real-socket clients for the attack and fault tests: IRC lines and native frames.

:class:`Irc` is IRC over a bare asyncio stream, from any 127.x source address; it keeps
every line it read, so a test can say what a client *never* saw. The native side uses the
shared ``raw`` fixture's :class:`~tests.conftest.RawClient`; :func:`native_sync` is its
round trip (a ``ping`` answered by ``pong``: everything sent before has arrived).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import RawClient

PASSWORD = "correct-horse-1"
_tokens = itertools.count(1)


@dataclass
class Line:
    """One IRC line as read: ``raw`` (decoded, no CR LF), prefix, command, params."""

    raw: str
    command: str
    params: list[str]
    prefix: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str) -> Line:
        rest, tags = raw, {}
        if rest.startswith("@"):
            head, _, rest = rest.partition(" ")
            for item in head[1:].split(";"):
                key, _, value = item.partition("=")
                tags[key] = value
        prefix = ""
        if rest.startswith(":"):
            prefix, _, rest = rest[1:].partition(" ")
        head, sep, trailing = rest.partition(" :")
        words = head.split()
        params = words[1:] + ([trailing] if sep else [])
        return cls(raw, words[0].upper() if words else "", params, prefix, tags)

    def param(self, i: int) -> str:
        return self.params[i] if i < len(self.params) else ""


class Irc:
    """An IRC client over a bare socket: send lines, await lines, remember everything."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.lines: list[Line] = []
        """Every line read so far."""
        self.nick = "*"

    @classmethod
    async def connect(cls, port: int, local_ip: str | None = None) -> Irc:
        local = (local_ip, 0) if local_ip else None
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=local, limit=1 << 20
        )
        return cls(reader, writer)

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            data = line.encode() if isinstance(line, str) else line
            self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def recv(self, timeout: float = 5.0) -> Line:
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        if not data:
            raise EOFError("the server closed the connection")
        line = Line.parse(data.rstrip(b"\r\n").decode("utf-8", "replace"))
        self.lines.append(line)
        if line.command == "PING":
            await self.send(f"PONG :{line.param(0)}")
        return line

    async def expect(
        self, *commands: str, timeout: float = 5.0, where: Callable[[Line], bool] = lambda _: True
    ) -> Line:
        """Read until a line with one of ``commands`` that ``where`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            line = await self.recv(max(deadline - time.monotonic(), 0.01))
            if line.command in commands and where(line):
                return line

    async def sync(self, timeout: float = 5.0) -> list[Line]:
        """A round trip: the lines the server sent before our PING's PONG."""
        token = f"sync{next(_tokens)}"
        start = len(self.lines)
        await self.send(f"PING :{token}")
        await self.expect("PONG", timeout=timeout, where=lambda x: x.params[-1:] == [token])
        return self.lines[start:-1]

    async def register(self, nick: str, password: str | None = None) -> Irc:
        """``PASS``/``NICK``/``USER`` up to the end of the MOTD."""
        if password:
            await self.send(f"PASS {password}")
        await self.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick}")
        welcome = await self.expect("001", "433", "432", "464")
        if welcome.command != "001":
            raise AssertionError(f"registration refused: {welcome.raw}")
        self.nick = welcome.params[0]
        await self.expect("376", "422")
        return self

    def seen(self, command: str) -> list[Line]:
        return [line for line in self.lines if line.command == command]

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (lines before EOF are kept)."""
        try:
            async with asyncio.timeout(timeout):
                while data := await self.reader.readline():
                    self.lines.append(Line.parse(data.rstrip(b"\r\n").decode("utf-8", "replace")))
        except (ConnectionResetError, BrokenPipeError):
            pass
        return True

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@contextlib.asynccontextmanager
async def irc_clients() -> AsyncIterator[Callable[..., Any]]:
    """A factory of IRC clients, all closed at the end: ``await connect(server, "nick",
    password=None, local_ip=None)`` -> a registered :class:`Irc`; ``nick=None`` connects
    without registering."""
    clients: list[Irc] = []

    async def connect(
        server: Any, nick: str | None, password: str | None = None, local_ip: str | None = None
    ) -> Irc:
        client = await Irc.connect(server.irc_port, local_ip)
        clients.append(client)
        if nick is not None:
            await client.register(nick, password)
        return client

    try:
        yield connect
    finally:
        for client in clients:
            await client.close()


async def native_user(
    raw: Any,
    server: Any,
    name: str,
    *rooms: str,
    register: bool = True,
    password: str = PASSWORD,
    local_ip: str | None = None,
) -> RawClient:
    """A native client logged in (or registered) as ``name``, in ``rooms``."""
    client: RawClient = await raw(server.port, local_ip=local_ip)
    answer = await client.login(name, password, register=register)
    assert answer["type"] == "authed", answer
    await client.recv_until("replay_end", dm=True)
    for room in rooms:
        await client.send(type="join", room=room)
        await client.recv_until("replay_end", room=room)
    return client


async def native_sync(client: RawClient, timeout: float = 5.0) -> list[dict[str, Any]]:
    """A round trip: the frames the server sent before the answer to our ``ping``."""
    t = next(_tokens)
    await client.send(type="ping", t=t)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        frame = await client.recv(max(deadline - time.monotonic(), 0.01))
        if frame["type"] == "pong" and frame.get("t") == t:
            return seen
        if frame["type"] == "ping":
            await client.send(type="pong", t=frame["t"])
            continue
        seen.append(frame)


async def request(client: RawClient, timeout: float = 5.0, **frame: Any) -> dict[str, Any]:
    """Send a frame with a fresh ``ref``; the answer that carries it (a reply or an error)."""
    ref = f"r{next(_tokens)}"
    await client.send(**frame, ref=ref)
    deadline = time.monotonic() + timeout
    while True:
        got = await client.recv(max(deadline - time.monotonic(), 0.01))
        if got.get("ref") == ref:
            return got
        if got["type"] == "ping":
            await client.send(type="pong", t=got["t"])
