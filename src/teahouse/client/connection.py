"""One connection to a teahouse server: bytes <-> frames, pings, and the heartbeat timer.

:class:`Connection` is an :class:`asyncio.Protocol` around the sans-I/O
:class:`~teahouse.protocol.native.ClientCodec`. It knows nothing of logins, rooms or
requests; :class:`teahouse.client.Client` builds those on top. What it does on its own:

- answers the server's ``ping`` with ``pong`` at once (the contract asks for it before and
  after login);
- once :meth:`Connection.start_heartbeat` is called, pings a server that has been silent for
  ``interval`` seconds, measures the round trip from the ``pong`` (:attr:`Connection.rtt`),
  and aborts the connection after ``timeout`` seconds of silence. One timer handle per
  connection, rescheduled by the pure :func:`~teahouse.client.policy.heartbeat_action`;
- reports the end of the connection exactly once, with a reason, whatever caused it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as _ssl
from collections.abc import Callable

from teahouse.client.events import Incoming
from teahouse.client.policy import DEFAULT_MAX_FRAME, HeartbeatAction, heartbeat_action
from teahouse.errors import FrameTooLarge
from teahouse.protocol import frames as f
from teahouse.protocol.native import ClientCodec, FrameError, encode

log = logging.getLogger("teahouse.client")

FrameCallback = Callable[["Connection", Incoming], None]
LostCallback = Callable[["Connection", str], None]
Outgoing = f.ClientFrame


class Connection(asyncio.Protocol):
    """A TCP (or TLS) connection speaking native protocol v1 from the client side.

    Make one with :meth:`open`. Every server frame except ``ping`` and the ``pong`` to our
    own pings goes to ``on_frame(connection, frame)``, in order. Frames of types this
    client does not know are skipped (a newer server must not break an older client). When
    the connection ends, for whatever reason, ``on_lost(connection, reason)`` is called
    exactly once; ``reason`` is ``"eof"``, ``"reset"``, ``"heartbeat_timeout"``,
    ``"frame_too_large"`` or the reason given to :meth:`abort`/:meth:`close`.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_frame: FrameCallback,
        on_lost: LostCallback,
    ) -> None:
        self._loop = loop
        self._on_frame = on_frame
        self._on_lost = on_lost
        self._codec = ClientCodec(DEFAULT_MAX_FRAME)
        self._transport: asyncio.Transport | None = None
        self._reason: str | None = None
        self._lost = False
        self._closed = loop.create_future()
        self._writable = asyncio.Event()
        self._writable.set()
        self._interval = 0.0
        self._timeout = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self.last_received = loop.time()
        self._last_ping: float | None = None
        self._ping_t: int | None = None
        self.rtt: float | None = None
        """Seconds between our last answered ``ping`` and its ``pong``; None until then."""

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        on_frame: FrameCallback,
        on_lost: LostCallback,
        ssl: _ssl.SSLContext | None = None,
    ) -> Connection:
        """Connect. Raises :class:`OSError` when the server cannot be reached."""
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: cls(loop, on_frame, on_lost), host, port, ssl=ssl
        )
        return conn

    # -- state -----------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._lost and self._reason is None

    @property
    def max_frame(self) -> int:
        return self._codec.max_frame

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        """Accept server lines up to ``value`` bytes (set from ``welcome.limits``)."""
        self._codec.max_frame = value

    # -- frames out ------------------------------------------------------------------

    def send(self, frame: Outgoing) -> None:
        """Queue one frame for the server; does nothing once the connection is closing."""
        if self.is_open:
            assert self._transport is not None
            self._transport.write(encode(frame))

    async def wait_writable(self) -> None:
        """Return once the transport's write buffer is below its high-water mark."""
        await self._writable.wait()

    def ping(self) -> None:
        """Send a ``ping`` now; its ``pong`` updates :attr:`rtt`."""
        now = self._loop.time()
        self._last_ping = now
        self._ping_t = int(now * 1000)
        self.send(f.Ping(t=self._ping_t))

    # -- heartbeat -------------------------------------------------------------------

    def start_heartbeat(self, interval: float, timeout: float) -> None:
        """Watch the server's silence from now on (see the module docstring)."""
        self._interval, self._timeout = interval, timeout
        self._schedule(self._loop.time())

    def _schedule(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self.is_open:
            return
        now = self._loop.time()
        action, next_check = heartbeat_action(
            interval=self._interval,
            timeout=self._timeout,
            now=now,
            last_received=self.last_received,
            last_ping=self._last_ping,
        )
        if action is HeartbeatAction.DEAD:
            log.info("no frame from the server for %.1f s: connection dead", self._timeout)
            self.abort("heartbeat_timeout")
            return
        if action is HeartbeatAction.PING:
            self.ping()
        self._schedule(next_check)

    # -- closing ---------------------------------------------------------------------

    def close(self, reason: str = "closed") -> None:
        """Send what is queued, then close."""
        if self._transport is not None and self._reason is None and not self._lost:
            self._reason = reason
            self._transport.close()

    def abort(self, reason: str) -> None:
        """Drop the connection now, unsent bytes included."""
        if self._transport is not None and self._reason is None and not self._lost:
            self._reason = reason
            self._transport.abort()

    async def wait_closed(self) -> None:
        """Return once the transport is closed (after :meth:`close`/:meth:`abort` or EOF)."""
        await asyncio.shield(self._closed)

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self.last_received = self._loop.time()

    def data_received(self, data: bytes) -> None:
        self.last_received = self._loop.time()
        self._codec.receive_data(data)
        while self.is_open:
            try:
                event = self._codec.next_event()
            except FrameTooLarge:
                log.warning("the server sent a line over %d bytes", self._codec.max_frame)
                self.abort("frame_too_large")
                return
            if event is None:
                return
            if isinstance(event, FrameError):
                log.debug("skipping a server frame: %s", event.error.message)
                continue
            self._handle(event)

    def _handle(self, frame: Incoming) -> None:
        if isinstance(frame, f.Ping):
            self.send(f.Pong(t=frame.t))
        elif isinstance(frame, f.Pong):
            if self._ping_t is not None and frame.t == self._ping_t:
                assert self._last_ping is not None
                self.rtt = self._loop.time() - self._last_ping
                self._ping_t = None
        else:
            self._on_frame(self, frame)

    def eof_received(self) -> bool | None:
        if self._reason is None:
            self._reason = "eof"
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._writable.set()
        if not self._closed.done():
            self._closed.set_result(None)
        if self._lost:
            return
        self._lost = True
        reason = self._reason or ("eof" if exc is None else "reset")
        self._on_lost(self, reason)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()
