"""Sans-I/O IRC codec: RFC 1459/2812 lines with IRCv3 message tags.

Reading::

    reader = IrcReader()
    reader.receive_data(data)            # never raises, never buffers past the limit
    while (item := reader.next_message()) is not None:
        if isinstance(item, LineTooLong): ...   # answer 417 ERR_INPUTTOOLONG, carry on
        else: ...                               # an IrcMessage

A line is at most 512 bytes without its tags (CR LF included), and a client's tag
section at most 4094 bytes of tag data, as IRCv3 says. The reader keeps at most that
much of an unterminated line; the rest of an overlong line is skipped up to its end, and
the line is reported as :class:`LineTooLong` so the server can answer and go on (what
ngIRCd and InspIRCd do).

Writing: :func:`serialize` turns an :class:`IrcMessage` into bytes; it never emits CR, LF
or NUL inside a line, whatever the parameters hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

MAX_LINE = 512
"""Bytes of a line without tags, CR LF included (RFC 1459)."""
MAX_TAGS = 8191
"""Bytes of a tag section the server sends, '@' and the trailing space included."""
MAX_CLIENT_TAGS = 4096
"""Bytes of a client's tag section: 4094 of tag data (IRCv3 message-tags), '@' and space."""

_TAG_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPE = str.maketrans(
    {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n", "\x00": ""}
)


@dataclass(frozen=True, slots=True)
class IrcMessage:
    command: str
    params: tuple[str, ...] = ()
    prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    valid_utf8: bool = True
    """False when the line was not UTF-8: it was decoded with U+FFFD in place of the bad
    bytes, and a server that promises UTF8ONLY refuses to relay it."""

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if index < len(self.params) else default


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """A line over the limit was dropped."""


class IrcParseError(ValueError):
    """A line that is not an IRC message (no command)."""


def _unescape_tag(value: str) -> str:
    if "\\" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 1
            if i < len(value):
                out.append(_TAG_UNESCAPE.get(value[i], value[i]))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPE)


def parse_line(line: str) -> IrcMessage:
    """Parse one line (without CR LF). Raises :class:`IrcParseError` when it has no command."""
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        for item in raw_tags.split(";"):
            if not item:
                continue
            key, _, value = item.partition("=")
            tags[key] = _unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix = None
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    head, sep, tail = rest.partition(" :")
    if rest.startswith(":"):
        head, trailing = "", rest[1:]
    elif sep:
        trailing = tail
    words = [word for word in head.split(" ") if word]  # only SPACE separates (RFC 2812)
    if not words:
        raise IrcParseError("no command")
    command = words[0].upper()
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return IrcMessage(command, tuple(params), prefix, tags)


def _clean(text: str) -> str:
    # A parameter must never smuggle a second line (or a NUL) onto the wire.
    return text.replace("\r", " ").replace("\n", " ").replace("\x00", "")


def serialize(message: IrcMessage) -> bytes:
    """One line, CR LF terminated. The last parameter gets ':' when it needs it."""
    parts: list[str] = []
    if message.tags:
        parts.append(
            "@"
            + ";".join(
                f"{_clean(key)}={escape_tag(value)}" if value else _clean(key)
                for key, value in message.tags.items()
            )
        )
    if message.prefix:
        parts.append(":" + _clean(message.prefix))
    parts.append(message.command)
    params = [_clean(p) for p in message.params]
    if params:
        last = params[-1]
        for p in params[:-1]:
            parts.append(p.replace(" ", "") or "*")
        if not last or " " in last or last.startswith(":"):
            parts.append(":" + last)
        else:
            parts.append(last)
    return (" ".join(parts) + "\r\n").encode("utf-8", errors="replace")


_NOTHING = b""


class IrcReader:
    """Splits a byte stream into IRC messages with a hard cap on line length.

    A security limit: at most ``max_tags + max_line`` bytes of one unterminated line are
    kept. Bytes are decoded as UTF-8, and invalid sequences become U+FFFD (old clients
    send Latin-1; they get replacement characters, not a disconnect).
    """

    __slots__ = ("_buf", "_dropped", "_skipping", "max_line", "max_tags")

    def __init__(self, max_line: int = MAX_LINE, max_tags: int = MAX_CLIENT_TAGS) -> None:
        self.max_line = max_line
        self.max_tags = max_tags
        self._buf: bytearray | bytes = _NOTHING
        """What is held; the shared empty bytes while nothing is (an idle connection keeps
        no buffer of its own between reads)."""
        self._skipping = False
        self._dropped = False

    @property
    def limit(self) -> int:
        return self.max_line + self.max_tags

    @property
    def buffered(self) -> int:
        return len(self._buf)

    @property
    def idle(self) -> bool:
        """Holding nothing: no bytes, no overlong line being skipped or to be reported."""
        return not self._buf and not self._skipping and not self._dropped

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the peer; drop an overlong line's bytes instead of keeping them."""
        if self._skipping:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1 :]
            self._skipping = False
        if not data:
            return
        if type(self._buf) is bytes:
            self._buf = bytearray()
        buf = cast(bytearray, self._buf)
        buf += data
        tail = len(buf) - (buf.rfind(b"\n") + 1)
        if tail > self.limit:
            del buf[len(buf) - tail :]
            self._skipping = True
            self._dropped = True

    def next_message(self) -> IrcMessage | LineTooLong | None:
        """The next message, a :class:`LineTooLong` marker, or None for "need more"."""
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                if self._dropped:
                    self._dropped = False
                    return LineTooLong()
                return None
            buf = cast(bytearray, self._buf)
            raw = bytes(buf[:end])
            if end + 1 == len(buf):
                self._buf = _NOTHING
            else:
                del buf[: end + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if self._too_long(raw):
                return LineTooLong()
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
                valid = True
            except UnicodeDecodeError:
                text = raw.decode("utf-8", errors="replace")
                valid = False
            try:
                message = parse_line(text)
            except IrcParseError:
                continue
            if not valid:
                return IrcMessage(
                    message.command, message.params, message.prefix, message.tags, False
                )
            return message

    def _too_long(self, raw: bytes) -> bool:
        body = raw
        if raw.startswith(b"@"):
            space = raw.find(b" ")
            if space < 0:
                return len(raw) > self.max_tags
            if space + 1 > self.max_tags:
                return True
            body = raw[space + 1 :]
        return len(body) + 2 > self.max_line
