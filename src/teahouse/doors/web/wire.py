"""The native protocol over WebSocket messages: frames out as ready WebSocket frames, frames
in from whole text messages.

- :class:`WebEncoder` is the web door's :class:`~teahouse.core.session.Encoder`. It asks the
  native encoder for JSON lines and returns them as unmasked WebSocket text frames, one
  native frame per message. A server-to-client frame is the same bytes for every receiver,
  so the hub's fan-out still encodes an event once for all web members (once per encoder).
- :class:`MessageCodec` is the web door's input side: the sans-I/O
  :class:`websockets.server.ServerProtocol` turns bytes into WebSocket frames, the codec
  joins fragments into messages and decodes each text message as one native frame. It has
  the interface :class:`~teahouse.doors.native.NativeConnection` expects of its codec, so
  the native door's frame handling (order, rate limits, bad-frame strikes, the login
  pause) runs unchanged.

Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import logging
from collections import deque

import msgspec
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from teahouse.core.results import ModeChange
from teahouse.core.session import Session
from teahouse.doors.native import NativeEncoder
from teahouse.errors import BadFrame, ChatError, FrameTooLarge
from teahouse.protocol.frames import ClientFrame
from teahouse.protocol.native import FrameError, ServerCodec
from teahouse.store.base import StoredMessage

WS_LOG = logging.getLogger("teahouse.web.websocket")
"""The websockets library's per-connection logger. It says "connection open/closed" at
``info`` for every connection, which the hub already logs; only its warnings pass."""
WS_LOG.setLevel(logging.WARNING)


def is_json_lines(data: bytes) -> bool:
    """True for native JSON lines, False for WebSocket frames (what :func:`text_frames`
    returns, and the parser's control frames). A frame from this server starts with 0x81
    (text), 0x88 (close) or 0x8A (pong), a native frame with ``{``: one byte tells them
    apart, however the bytes were passed along."""
    return data[:1] == b"{"


def text_frames(lines: bytes) -> bytes:
    """Native JSON lines (each ending in ``\\n``) as WebSocket text frames, one per line,
    without the newline: what a server sends, so unmasked and never fragmented."""
    frames = [Frame(Opcode.TEXT, line).serialize(mask=False) for line in lines.split(b"\n") if line]
    return frames[0] if len(frames) == 1 else b"".join(frames)


class WebEncoder:
    """Every broadcast as the native encoder spells it, framed for WebSocket (see module
    doc): one encoder for every web connection, so an event is framed once for all."""

    def __init__(self, native: NativeEncoder) -> None:
        self._native = native

    def message(self, message: StoredMessage) -> bytes:
        return text_frames(self._native.message(message))

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
        spelled = self._native.presence(
            room, member, state, reason, online=online, by=by, text=text
        )
        return text_frames(spelled)

    def topic(self, room: str, text: str, by: str, ts_ms: int) -> bytes:
        return text_frames(self._native.topic(room, text, by, ts_ms))

    def mode(self, room: str, by: str, change: ModeChange) -> bytes:
        return text_frames(self._native.mode(room, by, change))

    def away(self, member: Session) -> bytes:
        return text_frames(self._native.away(member))

    def invited(self, room: str, by: str, target: str) -> bytes:
        return text_frames(self._native.invited(room, by, target))

    def notice(self, text: str, by: str) -> bytes:
        return text_frames(self._native.notice(text, by))

    def renamed(self, room: str, old: str, new: str) -> bytes:
        return text_frames(self._native.renamed(room, old, new))

    def relay(
        self,
        kind: str,
        sender: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        return text_frames(self._native.relay(kind, sender, room, to, text, tags))

    def error(self, error: ChatError) -> bytes:
        return text_frames(self._native.error(error))

    def ping(self, t: int) -> bytes:
        return text_frames(self._native.ping(t))


def _wire_size(payload: int) -> int:
    """Bytes of a client's frame with ``payload`` bytes: header, length, mask, payload."""
    return payload + (6 if payload < 126 else 8 if payload < 65536 else 14)


_CONTROL = frozenset({Opcode.PING, Opcode.PONG, Opcode.CLOSE})


def open_websocket(max_message: int) -> ServerProtocol:
    """A sans-I/O WebSocket for a connection whose handshake the door does itself.

    It starts OPEN (the HTTP request was read by the door's HTTP side), offers no extension
    (no permessage-deflate: nothing to inflate, so no compression bomb, and the fan-out's
    shared frames stay valid for every receiver), and accepts messages of at most
    ``max_message`` bytes, fragments included (a security limit, checked before the
    payload is buffered).
    """
    return ServerProtocol(extensions=None, state=OPEN, max_size=max_message, logger=WS_LOG)


class MessageCodec(ServerCodec):
    """Client frames from WebSocket text messages (see the module doc).

    ``max_frame`` keeps the native meaning (a line's bytes with its newline), so a message
    may hold ``max_frame - 1`` bytes. Before :meth:`attach` the codec holds nothing.
    """

    __slots__ = (
        "_binary",
        "_fragments",
        "_limit",
        "_messages",
        "_queued",
        "_unparsed",
        "overhead_bytes",
        "overhead_frames",
        "ws",
    )

    def __init__(self, max_frame: int) -> None:
        super().__init__(max_frame)
        self._limit = max_frame
        self.ws: ServerProtocol | None = None
        self._messages: deque[tuple[bytes, bool]] = deque()
        self._queued = 0
        self._fragments: bytearray | None = None
        self._binary = False
        self.overhead_frames = 0
        """WebSocket frames received that are not whole messages (pings, pongs, fragments
        but the last), and their bytes: the caller charges them to the rate limits, so a
        flood of pings or empty fragments costs what a flood of frames would."""
        self.overhead_bytes = 0
        self._unparsed = 0
        """Bytes of frames the parser has not finished (it takes a header in as it reads it,
        so its own buffer does not show a frame that stopped after two bytes)."""

    @property
    def max_frame(self) -> int:
        return self._limit

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        self._limit = value
        if self.ws is not None:
            self.ws.max_message_size = value - 1

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handled: whole messages waiting, a message's
        fragments, and a frame the parser has not seen the end of."""
        fragments = len(self._fragments) if self._fragments is not None else 0
        return self._queued + fragments + self._unparsed

    def attach(self, ws: ServerProtocol) -> None:
        """Read from ``ws`` from now on (the handshake is done)."""
        ws.max_message_size = self._limit - 1
        self.ws = ws

    def receive_data(self, data: bytes) -> None:
        """Feed bytes to the WebSocket parser and queue the messages it completes.

        Never raises. Afterwards the caller writes ``ws.data_to_send()`` (pongs; once the
        socket is closing, the close frame) and looks at ``ws.state`` and ``ws.parser_exc``.
        """
        ws = self.ws
        if ws is None or not data:
            return
        ws.receive_data(data)
        self._unparsed += len(data)
        for frame in ws.events_received():
            if not isinstance(frame, Frame):
                continue  # an HTTP request or response: not in the OPEN state
            opcode = frame.opcode
            self._unparsed -= _wire_size(len(frame.data))
            if not frame.fin or opcode in _CONTROL:
                self.overhead_frames += 1
                self.overhead_bytes += len(frame.data) + 6  # with a short header and mask
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self._binary = opcode is Opcode.BINARY
                if frame.fin:
                    self._queue(bytes(frame.data))
                else:
                    self._fragments = bytearray(frame.data)
            elif opcode is Opcode.CONT and self._fragments is not None:
                # The parser bounds the sum of the fragments by max_message_size.
                self._fragments += frame.data
                if frame.fin:
                    self._queue(bytes(self._fragments))
                    self._fragments = None
            # PING is answered by the parser itself; PONG needs nothing; CLOSE shows in
            # ws.state and is echoed by the parser.

    def _queue(self, data: bytes) -> None:
        self._messages.append((data, not self._binary))
        self._queued += len(data)

    def next_event(self) -> ClientFrame | FrameError | None:
        """The next frame, a :class:`FrameError` to answer, or None: no whole message left.

        Raises :class:`FrameTooLarge` once the messages before an oversized one are handled.
        """
        while self._messages:
            data, text = self._messages.popleft()
            self._queued -= len(data)
            self.last_size = len(data) + 1  # as a line with its newline, for the byte rate
            if not text:
                return FrameError(BadFrame("send each frame as a text message"), None)
            if not data.strip():
                continue
            try:
                return self._decoder.decode(data)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                return self._explain(data, exc)
        ws = self.ws
        if ws is not None and isinstance(ws.parser_exc, PayloadTooBig):
            raise FrameTooLarge(f"message longer than {self._limit - 1} bytes")
        return None
