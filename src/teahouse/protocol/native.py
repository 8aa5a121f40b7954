"""Sans-I/O codec of native protocol v1: bytes in, frames out; frames in, bytes out.

The server side is :class:`ServerCodec`::

    codec = ServerCodec(max_frame=4096)
    codec.receive_data(data)          # never raises; never holds more than max_frame
    while (event := codec.next_event()) is not None:
        ...                           # a ClientFrame, or a ChatError to answer

:meth:`ServerCodec.next_event` raises :class:`~teahouse.errors.FrameTooLarge` when it
reaches a line longer than ``max_frame``; the caller must then send that fatal error and
close. Everything else the peer can get wrong (bad JSON, unknown type, wrong field types)
comes back as a non-fatal :class:`~teahouse.errors.ChatError` *value* with the request's
``ref`` when one could be read, so the caller can answer and carry on.

:func:`encode` turns any frame into one line of bytes. :class:`ClientCodec` is the mirror
image for clients. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import msgspec

from teahouse.errors import BadFrame, ChatError, FrameTooLarge, InvalidField, UnknownType
from teahouse.protocol.frames import CLIENT_TYPES, ClientFrame, Ref, ServerFrame

PROTOCOL_VERSION = 1

_encoder = msgspec.json.Encoder()


def encode(frame: msgspec.Struct) -> bytes:
    """One frame as one line: compact JSON followed by ``\\n``."""
    buf = bytearray()
    _encoder.encode_into(frame, buf)
    buf += b"\n"
    return bytes(buf)


_NOTHING = b""


class LineReader:
    """Splits a byte stream into lines with a hard cap on the length of one line.

    A security limit: the reader never keeps more than ``max_line`` bytes of a line it has
    not seen the end of. Once a line goes over, the bytes are dropped, the reader
    remembers the overflow, and :meth:`next_line` raises :class:`FrameTooLarge` after
    the complete lines that came before it.
    """

    __slots__ = ("_buf", "_overflow", "_pos", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._buf: bytearray | bytes = _NOTHING
        """What is held; the shared empty bytes while nothing is (an idle connection keeps
        no buffer of its own between reads)."""
        self._pos = 0
        self._overflow = False

    @property
    def buffered(self) -> int:
        """Bytes held and not yet returned."""
        return len(self._buf) - self._pos

    @property
    def idle(self) -> bool:
        """Holding nothing: no bytes, no overlong line to report."""
        return not self._buf and not self._overflow

    def discard(self) -> None:
        """Forget what is buffered and give its memory back (the connection is over)."""
        self._buf = _NOTHING
        self._pos = 0

    def feed(self, data: bytes) -> None:
        """Take bytes from the peer; check the limit before keeping them."""
        if self._overflow:
            return
        if type(self._buf) is bytes:
            self._buf = bytearray()
        buf = cast(bytearray, self._buf)
        # `max_line` counts the newline, so an unterminated tail may hold max_line - 1 bytes.
        # Measured before anything is copied: an oversized tail is never buffered at all.
        last_newline = data.rfind(b"\n")
        if last_newline < 0:
            tail = len(buf) - self._pos - self._unterminated_start() + len(data)
            if tail >= self.max_line:
                del buf[len(buf) - (tail - len(data)) :]
                self._overflow = True
                return
            buf += data
            return
        if len(data) - last_newline - 1 >= self.max_line:
            buf += memoryview(data)[: last_newline + 1]
            self._overflow = True
            return
        buf += data

    def _unterminated_start(self) -> int:
        """Bytes from the read position to the start of the unterminated tail."""
        newline = self._buf.rfind(b"\n", self._pos)
        return 0 if newline < 0 else newline + 1 - self._pos

    def next_line(self) -> bytes | None:
        """The next complete line without its ``\\n`` (and ``\\r``), or None for "need more".

        Raises :class:`FrameTooLarge` for a line over the limit; the reader is unusable
        afterwards (the connection must be closed).
        """
        end = self._buf.find(b"\n", self._pos)
        if end < 0:
            if self._pos:
                del cast(bytearray, self._buf)[: self._pos]
                self._pos = 0
            if self._overflow:
                raise FrameTooLarge(f"line longer than {self.max_line} bytes")
            return None
        start = self._pos
        self._pos = end + 1
        if end + 1 - start > self.max_line:
            self._overflow = True
            raise FrameTooLarge(f"line longer than {self.max_line} bytes")
        if end > start and self._buf[end - 1] == 0x0D:
            end -= 1
        line = bytes(self._buf[start:end])
        if self._pos == len(self._buf):
            self._buf = _NOTHING
            self._pos = 0
        return line


def _read_ref(obj: object) -> Ref | None:
    if isinstance(obj, dict):
        ref = obj.get("ref")
        if isinstance(ref, str) and len(ref) <= 64:
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool):
            return ref
    return None


class FrameError(Exception):
    """A line that is not a valid client frame: ``error`` says what to answer, with ``ref``."""

    def __init__(self, error: ChatError, ref: Ref | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.ref = ref


_F = TypeVar("_F")


class _Codec(LineReader, Generic[_F]):
    """A :class:`LineReader` that decodes its lines (one object per connection, not two)."""

    __slots__ = ("_decoder", "last_size")

    def __init__(self, decoder: msgspec.json.Decoder[_F], max_frame: int) -> None:
        super().__init__(max_frame)
        self._decoder = decoder
        self.last_size = 0
        """Bytes of the line behind the last event (for byte-rate limits)."""

    @property
    def max_frame(self) -> int:
        return self.max_line

    @max_frame.setter
    def max_frame(self, value: int) -> None:
        """Change the limit (the server raises it once the client is authenticated)."""
        self.max_line = value

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer. Never raises; never buffers past the limit."""
        self.feed(data)

    def next_event(self) -> _F | FrameError | None:
        """The next frame, a :class:`FrameError` to answer, or None when more bytes are needed.

        Raises :class:`FrameTooLarge` at an oversized line.
        """
        while True:
            line = self.next_line()
            if line is None:
                return None
            if line.strip():
                break
        self.last_size = len(line) + 1
        try:
            return self._decoder.decode(line)
        # Invalid UTF-8 and nesting past the decoder's depth limit are bad lines too.
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            return self._explain(line, exc)

    def _explain(self, line: bytes, exc: Exception) -> FrameError:
        try:
            obj = msgspec.json.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return FrameError(BadFrame("the line is not valid JSON"), None)
        ref = _read_ref(obj)
        if not isinstance(obj, dict):
            return FrameError(BadFrame("a frame must be a JSON object"), None)
        kind = obj.get("type")
        if not isinstance(kind, str):
            return FrameError(BadFrame("a frame needs a string field 'type'"), ref)
        if not self._known(kind):
            return FrameError(UnknownType(f"unknown frame type {kind[:64]!r}"), ref)
        return FrameError(InvalidField(str(exc)), ref)

    def _known(self, kind: str) -> bool:
        return True


_CLIENT_FRAMES = msgspec.json.Decoder(ClientFrame)
"""One decoder for every connection: it holds no state between calls."""


class ServerCodec(_Codec[ClientFrame]):
    """The server's view of one connection: reads client frames."""

    __slots__ = ()

    def __init__(self, max_frame: int) -> None:
        super().__init__(_CLIENT_FRAMES, max_frame)

    def _known(self, kind: str) -> bool:
        return kind in CLIENT_TYPES


class ClientCodec(_Codec[ServerFrame]):
    """A client's view of one connection: reads server frames.

    Frames of types this client does not know come back as :class:`FrameError` values,
    so a newer server never breaks an older client.
    """

    __slots__ = ()

    def __init__(self, max_frame: int = 1 << 20) -> None:
        super().__init__(msgspec.json.Decoder(ServerFrame), max_frame)
