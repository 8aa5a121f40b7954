"""What every door's connection shares: the hub's Outlet, and the door's listeners.

:class:`BufferedConnection` is the output half of a connection object (an
``asyncio.Protocol``): bytes for the peer are queued during a loop round and written in one
``transport.write`` when the hub flushes; a peer whose transport buffer passes the
high-water mark is dropped as a slow consumer, never buffered for.

:class:`Listeners` opens a door's plain and TLS ports and closes them together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.session import Session
from teahouse.doors.tls import TlsContext, TlsListener
from teahouse.errors import SlowConsumer


class OnceLine(bytes):
    """A line a client should get once per round even when the hub sends it per room (the
    IRC QUIT of a user who was in several shared rooms; a NICK change). A type, not a
    parse: the outlet tells it apart with one ``type()`` check per delivery."""

    __slots__ = ()


class DoorLike(Protocol):
    hub: Hub
    config: Config


class BufferedConnection(asyncio.Protocol):
    """The Outlet of one connection. Subclasses set ``_door`` and ``session``."""

    __slots__ = ("_capture", "_closed", "_last_once", "_pending", "_pending_size", "_transport")

    _door: DoorLike
    session: Session | None

    def _init_outlet(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._closed = False
        self._capture: list[bytes] | None = None
        """While set, output is collected here instead of sent (IRC labeled-response)."""
        self._last_once: bytes | None = None

    def write(self, data: bytes) -> None:
        """Outlet.write: queue bytes for this round's flush.

        This runs once per delivery of every fan-out, so it stays one flat function.
        """
        if self._closed or not data:
            return
        if type(data) is OnceLine:
            if data == self._last_once:
                return  # the same departure, heard through another shared room
            self._last_once = data
        if self._capture is not None:
            self._capture.append(data)
            return
        if not self._pending:
            self._door.hub.want_flush(self)
        self._pending.append(data)
        self._pending_size += len(data)
        # The queue holds references to bytes shared by every member, and it empties at
        # the end of this round; the real test is the transport's buffer after `flush`.
        # This cap only stops one round from queueing without bound.
        if self._pending_size > 4 * self._door.config.limits.output_high_water:
            self._slow()

    def flush(self) -> None:
        self._last_once = None
        if not self._pending or self._closed or self._transport is None:
            return
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._pending_size = 0
        self._transport.write(data)
        if self.session is not None:
            self.session.bytes_out += len(data)
        self._door.hub.stats.bytes_out += len(data)
        if self._transport.get_write_buffer_size() > self._door.config.limits.output_high_water:
            self._slow()

    def _slow(self) -> None:
        """Over the high-water mark: drop this client, never buffer more for it.

        The close is deferred to the next loop step because we may be inside a fan-out
        that is iterating over the room this session belongs to.
        """
        if self.session is None or self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._pending_size = 0
        session, hub = self.session, self._door.hub
        asyncio.get_running_loop().call_soon(
            lambda: hub.close_session(session, "slow_consumer", SlowConsumer(), abort=True)
        )

    def close_transport(self, abort: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if not abort and not self._closed:
            self.flush()
        self._closed = True
        self._pending.clear()
        # A peer that is not reading would hold the fd until TCP gives up: free it now.
        if abort or transport.get_write_buffer_size() > 0:
            transport.abort()
        else:
            transport.close()

    def is_open(self) -> bool:
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    def backlog(self) -> int:
        buffered = self._transport.get_write_buffer_size() if self._transport is not None else 0
        return self._pending_size + buffered


class Listeners:
    """A door's listening sockets: plain ports and TLS ports, closed together."""

    def __init__(self, door: DoorLike, make: Callable[[], asyncio.Protocol]) -> None:
        self._door = door
        self._make = make
        self._servers: list[asyncio.Server] = []
        self._tls: list[TlsListener] = []
        self.tasks: set[asyncio.Task[None]] = set()
        """Handshakes and password checks in flight (kept so they are not collected)."""

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Start listening; returns the address actually bound (port 0 picks one)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._make, host, port, backlog=1024, reuse_address=True)
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def start_tls(self, host: str, port: int, tls: TlsContext) -> tuple[str, int]:
        """Listen for TLS connections (checked for bans before the handshake)."""
        deadline = self._door.config.limits.login_timeout
        listener = TlsListener(self._door.hub, tls, self._make, deadline, self.tasks)
        self._tls.append(listener)
        return listener.start(host, port)

    def stop_accepting(self) -> None:
        for server in self._servers:
            server.close()
        for listener in self._tls:
            listener.close()

    async def wait_closed(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for server in self._servers:
            await server.wait_closed()
