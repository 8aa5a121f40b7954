"""One browser connection: HTTP first (files, then the WebSocket handshake), then the
native protocol, one frame per WebSocket text message.

:class:`WebConnection` is a :class:`~teahouse.doors.native.NativeConnection` whose codec
reads WebSocket messages (:class:`~.wire.MessageCodec`) and whose outlet writes WebSocket
frames, so frames are handled exactly as on the native door: in order, through the same
rate limits, bad-frame strikes, login pause, heartbeats and :meth:`Hub.close_session`. Like
the native connection it has ``__slots__`` and no task or timer of its own.

When the session opens:

- for a direct peer, at ``connection_made``, as on the native door: the caps, rates and bans
  apply to every connection to the port, and a connection that never upgrades (a browser
  fetching files on a kept-alive connection, or a slow request head) is closed by
  ``limits.login_timeout``;
- for a peer in ``web.trusted_proxies``, at the upgrade, under the address the proxy gives
  in ``X-Forwarded-For``: one proxy connection may carry requests of many clients, and the
  proxy bounds its own connections.

A refused connection gets a plain HTTP ``403`` (banned) or ``503`` (too many connections)
with the reason, and is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, cast

from websockets.exceptions import PayloadTooBig
from websockets.frames import CloseCode
from websockets.protocol import OPEN

from teahouse.core.limits import Allowlist
from teahouse.core.session import Session
from teahouse.doors.connection import Connection
from teahouse.doors.native import NativeConnection, NativeServer
from teahouse.doors.web.handshake import client_address, origin_allowed, websocket_request
from teahouse.doors.web.http import (
    SECURITY_HEADERS,
    HttpSide,
    MetricsEndpoint,
    Respond,
    StaticFiles,
    Upgrade,
    refusal,
)
from teahouse.doors.web.wire import (
    MessageCodec,
    WebEncoder,
    is_json_lines,
    open_websocket,
    text_frames,
)
from teahouse.errors import BadFrame, ChatError, FrameTooLarge
from teahouse.logs import log_from

log = logging.getLogger("teahouse.web")


class WebServer(NativeServer, Protocol):
    """What a web connection needs from its door."""

    encoder: WebEncoder
    files: StaticFiles
    metrics: MetricsEndpoint | None
    origins: frozenset[str]
    trusted_proxies: Allowlist
    sessionless: set[WebConnection]


class WebConnection(NativeConnection):
    """One connection to the web door; also the hub's Outlet for it (see the module doc)."""

    __slots__ = ("_counted", "_http", "_peer", "_write_paused")

    _door: WebServer
    _codec: MessageCodec

    def __init__(self, door: WebServer) -> None:
        super().__init__(door)
        self._codec = MessageCodec(door.config.limits.max_frame_preauth)
        self._http: HttpSide | None = HttpSide(door.files, metrics=door.metrics)
        self._peer = ("?", 0)
        self._counted = False
        """This connection holds a session and is counted in ``transports_open``."""
        self._write_paused = False

    def _encoder(self) -> WebEncoder:  # type: ignore[override]
        return self._door.encoder

    # The codec holds the WebSocket's state: it lives as long as the connection (the
    # native door's is made and dropped as bytes come and go).

    def _discard_input(self) -> None:
        self._codec.discard()

    def _next_item(self) -> object | None:
        return self._codec.next_event()

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("?", 0)
        self._peer = (str(peer[0]), int(peer[1]))
        if self._peer[0] in self._door.trusted_proxies:
            self._door.sessionless.add(self)  # admitted at the upgrade, as the client
        else:
            self._admit(self._peer[0])

    def received(self, data: bytes) -> None:
        if self._closed:
            return
        session = self.session
        if session is not None:
            if session.closed:
                return
            self._door.hub.received(session, len(data))
        if self._codec.ws is None:
            if self._http is not None:
                self._http.receive_data(data)
                self._serve_http()
        else:
            self._websocket_received(data)

    def pause_writing(self) -> None:
        # HTTP answers are written as requests are read: a client that pipelines requests
        # and does not read the answers is not read from either, so they stay bounded.
        self._write_paused = True
        super().pause_writing()
        if self._codec.ws is None and self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        super().resume_writing()
        if self._codec.ws is None and self._http is not None and self._transport is not None:
            self._transport.resume_reading()
            self._serve_http()

    def connection_lost(self, exc: Exception | None) -> None:
        self._mark_closed()
        self._http = None
        self._door.sessionless.discard(self)
        if self._counted:
            self._counted = False
            self._door.transports_open -= 1
        self._end_pause()
        if self.session is not None:
            reason = "disconnected" if exc is None else "reset"
            self._door.hub.close_session(self.session, reason)
        self._pending = None

    # -- the outlet ------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Outlet.write: queue WebSocket frames. Before the upgrade there is no one to tell
        (a sweep's ping or login timeout to a connection that only fetched files)."""
        if self._codec.ws is None:
            return
        if is_json_lines(data):
            data = text_frames(data)  # a reply to this connection only, from the native code
        Connection.write(self, data)

    def write_all(self, lines: list[bytes], size: int) -> None:
        for data in lines:
            self.write(data)  # each as this door frames it

    def _framed(self, chunk: bytes) -> bytes:
        return text_frames(chunk) if is_json_lines(chunk) else chunk

    def close_transport(self, abort: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        ws = self._codec.ws
        if ws is None:
            self._mark_closed()
            if abort:
                transport.abort()
            else:
                transport.close()  # after the answers already written
            return
        if not abort and not self._closed:
            if ws.state is OPEN:
                ws.send_close(CloseCode.NORMAL_CLOSURE)
            # The close frame (ours, or the echo of the peer's) goes after everything queued.
            tail = b"".join(ws.data_to_send())
            if tail:
                self._pending = [*(self._pending or ()), tail]
        super().close_transport(abort)

    # -- HTTP ------------------------------------------------------------------------

    def peer_port(self) -> int:
        return self._peer[1]  # kept from the start: the HTTP side needs it anyway

    def _admit(self, ip: str) -> bool:
        """Open the session for ``ip`` (the hub's caps, rates and bans), or refuse and close."""
        assert self._transport is not None
        transport, door = self._transport, self._door
        hub = door.hub
        port = self._peer[1]
        try:
            hub.admit(ip)
        except ChatError as exc:
            log_from(
                log,
                logging.INFO,
                ip,
                "web connection refused peer=%s:%d reason=%s",
                ip,
                port,
                exc.code,
            )
            self._mark_closed()
            status = 403 if exc.code == "banned" else 503
            body = exc.message.encode() + b"\n"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
            ]
            transport.write(refusal(status, headers, body))
            transport.close()
            return False
        self.session = hub.open_session(self, door.encoder, ip)
        door.sessionless.discard(self)
        self._counted = True
        door.transports_open += 1
        log_from(log, logging.INFO, ip, "web connection opened peer=%s:%d", ip, port)
        return True

    def _serve_http(self) -> None:
        http, transport = self._http, self._transport
        if http is None or transport is None:
            return
        while not self._write_paused and not self._closed:
            step = http.next_step()
            if step is None:
                break
            if isinstance(step, Upgrade):
                self._upgrade(step)
                return
            if step.data:
                transport.write(step.data)
            if step.close:
                self._end_http("http_done")
                return
        session = self.session
        if session is not None and not session.closed:
            # A request head left unfinished is the slowloris clock, as a line is.
            if http.buffered == 0:
                session.partial_since = None
            elif session.partial_since is None:
                session.partial_since = self._door.hub.clock.monotonic()

    def _end_http(self, reason: str, answer: Respond | None = None) -> None:
        """Close after an HTTP answer (the session, if any, ends with ``reason``)."""
        transport = self._transport
        if answer is not None and answer.data and transport is not None:
            transport.write(answer.data)
        self._http = None
        if self.session is not None:
            self._door.hub.close_session(self.session, reason)
        else:
            self._mark_closed()
            if transport is not None:
                transport.close()

    def _upgrade(self, step: Upgrade) -> None:
        """The WebSocket handshake: admit (behind a proxy), check the origin, switch."""
        door, transport = self._door, self._transport
        assert transport is not None
        self._http = None
        request = step.request
        if self.session is None:
            address = client_address(self._peer[0], request, door.trusted_proxies)
            if not self._admit(address):
                return
        session = self.session
        assert session is not None
        if not origin_allowed(request, door.origins):
            origin = b",".join(v for k, v in request.headers if k == b"origin")
            log.info("websocket refused %r: origin %r is not allowed", session, origin)
            body = b"this page may not open the chat: its origin is not allowed\n"
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *SECURITY_HEADERS,
            ]
            self._end_http("forbidden_origin", Respond(refusal(403, headers, body), True))
            return
        ws = open_websocket(self._codec.max_frame - 1)
        response = ws.accept(websocket_request(request))
        if response.status_code != 101:
            self._end_http("bad_handshake", Respond(response.serialize(), True))
            return
        transport.write(response.serialize())
        self._codec.attach(ws)
        session.partial_since = None
        if step.rest:
            self._websocket_received(step.rest)

    # -- WebSocket -------------------------------------------------------------------

    def _charge_overhead(self, session: Session, frames: int, size: int) -> None:
        """Spend tokens for WebSocket frames that are not messages (pings, fragments).

        They are never refused (a ping has no ``ref`` to answer), but a client over the
        rate is slowed down exactly as for messages: reading pauses until the debt is paid.
        """
        now = self._door.hub.clock.monotonic()
        self._items_full_at, self._bytes_full_at, owed = self._spent(now, frames, size)
        if owed > 0:
            self._pause(session, owed)

    def _websocket_received(self, data: bytes) -> None:
        session = self.session
        ws = self._codec.ws
        if session is None or session.closed or ws is None:
            return
        codec = self._codec
        codec.receive_data(data)
        if ws.state is OPEN:
            control = ws.data_to_send()  # pongs to the peer's pings
            if control:
                self.write(b"".join(control))
        if codec.overhead_frames:
            self._charge_overhead(session, codec.overhead_frames, codec.overhead_bytes)
            codec.overhead_frames = codec.overhead_bytes = 0
        if not self._held_back:
            self._process(session)
        if session.closed:
            return
        hub = self._door.hub
        if ws.state is not OPEN:
            # The parser stopped: the peer closed the WebSocket, or broke its rules (the
            # parser has queued its close frame, which close_transport writes last).
            failure = ws.parser_exc
            if isinstance(failure, PayloadTooBig):
                too_large = FrameTooLarge(f"message longer than {self._codec.max_frame - 1} bytes")
                hub.close_session(session, "frame_too_large", too_large)
            elif failure is not None:
                error = BadFrame(f"WebSocket protocol error: {failure}", fatal=True)
                hub.close_session(session, "bad_frame", error)
            else:
                hub.close_session(session, "disconnected")
        elif (
            self._busy
            and not session.authenticated
            and self._codec.buffered > self._codec.max_frame
        ):
            # As on the native door: while a password is checked, an anonymous client may
            # not pile up more than one pre-auth frame's worth of messages.
            hub.close_session(
                session,
                "frame_too_large",
                FrameTooLarge("too much sent before the login was answered"),
            )
        elif self._busy:
            self._read_ahead(session)
