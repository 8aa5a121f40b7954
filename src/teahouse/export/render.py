"""Transcripts as HTML, JSON Lines or plain text: pure, streaming renderers.

Each ``write_*`` function takes an iterable of
:class:`~teahouse.export.record.TranscriptMessage` (oldest first) and a text file object,
writes each message as soon as it has it, and returns how many it wrote: a million messages
cost the memory of one. The ``render_*`` functions return the whole text, for small inputs
and tests.

Every text from a user (names, rooms, messages, and the title and details the caller
passes) is escaped, in every format:

- HTML: through :func:`html.escape`, with control characters and bidi overrides shown as
  escapes (:func:`~teahouse.export.escape.visible`), each name and message in its own
  ``<bdi>`` so that right-to-left text cannot reorder the rest of the line, and links
  only for ``http``/``https``, with ``rel="noopener noreferrer nofollow"``. The page is one
  file with its style inline and a Content-Security-Policy that forbids everything else
  (:mod:`~teahouse.export.style`).
- JSON Lines: one object a line, ``{"id", "ts", "from", "text", "room" | "to"}``, as the
  protocol's ``message`` frame (an action's text starts with ``/me``); JSON escapes the
  rest. :func:`read_jsonl` reads it back.
- Plain text: ``[2026-11-24 10:00:00] <alice> hi`` and ``[...] * alice waves``, with no
  control character at all (:func:`~teahouse.export.escape.visible_plain`).
"""

from __future__ import annotations

import enum
import html
import io
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import PurePath
from typing import TextIO

import msgspec

from teahouse import __version__
from teahouse.export.escape import (
    BIDI_CONTROLS,
    PLAIN_EXTRA,
    VISIBLE_ESCAPES,
    utc_clock,
    utc_day,
    utc_day_label,
    utc_iso,
    visible,
    visible_plain,
)
from teahouse.export.record import TranscriptMessage, split_action
from teahouse.export.style import CONTENT_SECURITY_POLICY, STYLE, name_class


class Format(enum.StrEnum):
    HTML = "html"
    JSONL = "jsonl"
    TEXT = "text"

    @property
    def suffix(self) -> str:
        """The usual file name suffix: ``.html``, ``.jsonl``, ``.txt``."""
        return {"html": ".html", "jsonl": ".jsonl", "text": ".txt"}[self.value]

    @classmethod
    def of_file(cls, name: str) -> Format | None:
        """The format a file name's suffix names (``.htm`` and ``.log`` too), or None."""
        return _BY_SUFFIX.get(PurePath(name).suffix.lower())


_BY_SUFFIX = {
    ".html": Format.HTML,
    ".htm": Format.HTML,
    ".jsonl": Format.JSONL,
    ".txt": Format.TEXT,
    ".log": Format.TEXT,
}


# -- HTML -------------------------------------------------------------------------------

# Control characters and bidi overrides, once html.escape has passed over the text (it
# leaves them alone), as marked escapes; the markup goes in after escaping, so it is ours.
_HTML_CONTROLS = {
    code: f'<span class="ctl">{shown}</span>' for code, shown in VISIBLE_ESCAPES.items()
}

# A link: http(s):// up to whitespace, a quote, an angle bracket, a control character or a
# character that is invisible or reorders text (a URL must look like what it opens), or a
# lone surrogate (not text at all).
_URL = re.compile(
    r"\bhttps?://[^\s<>\"'`\x00-\x20\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
    r"\u2060-\u206f\ufeff\ud800-\udfff]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""


def _text_html(text: str) -> str:
    return html.escape(text).translate(_HTML_CONTROLS)


def _links(text: str) -> Iterator[tuple[int, int]]:
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            # Keep a ")" that closes a "(" opened inside the URL (wikipedia-style).
            if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
                break
            end -= 1
        try:
            parts = urllib.parse.urlsplit(text[start:end])
        except ValueError:  # a malformed IPv6 host, for one
            continue
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            yield start, end


def message_html(text: str) -> str:
    """The HTML of a message's text: escaped, controls shown, http(s) links as anchors."""
    out: list[str] = []
    pos = 0
    for start, end in _links(text):
        url = text[start:end]
        out.append(_text_html(text[pos:start]))
        out.append(
            f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer nofollow">'
            f"{_text_html(url)}</a>"
        )
        pos = end
    out.append(_text_html(text[pos:]))
    return "".join(out)


def _name_html(name: str, extra_class: str = "") -> str:
    classes = f"{extra_class} {name_class(name)}".strip()
    return f'<bdi class="{classes}">{_text_html(name)}</bdi>'


def _message_block(m: TranscriptMessage) -> str:
    when = f'<time datetime="{utc_iso(m.ts_ms)}">{utc_clock(m.ts_ms)}</time>'
    anchor = f"m{int(m.id)}"  # int(): never anything but digits in the attribute
    if m.action:
        return (
            f'<div class="msg action" id="{anchor}">{when} <span class="from">*</span> '
            f'<bdi class="text">{_name_html(m.sender, "who")} {message_html(m.text)}</bdi>'
            "</div>\n"
        )
    return (
        f'<div class="msg" id="{anchor}">{when} {_name_html(m.sender, "from")} '
        f'<bdi class="text">{message_html(m.text)}</bdi></div>\n'
    )


def write_html(
    messages: Iterable[TranscriptMessage],
    out: TextIO,
    *,
    title: str,
    details: Sequence[str] = (),
) -> int:
    """Write one self-contained HTML page: ``title`` as its heading, each of ``details`` (a
    line of plain text: the time range, when it was exported) under it, then the messages,
    with a heading for each new day (UTC). Returns how many messages it wrote."""
    head = _text_html(title)
    out.write(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="teahouse {html.escape(__version__)}">\n'
        f"<title>{html.escape(visible(title))}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<header>\n<h1><bdi>{head}</bdi></h1>\n"
        + "".join(f"<p><bdi>{_text_html(line)}</bdi></p>\n" for line in details)
        + "</header>\n<main>\n"
    )
    count = 0
    day = ""
    for message in messages:
        this_day = utc_day(message.ts_ms)
        if this_day != day:
            day = this_day
            out.write(
                f'<h2 class="day"><time datetime="{day}">{utc_day_label(message.ts_ms)}'
                "</time></h2>\n"
            )
        out.write(_message_block(message))
        count += 1
    if count == 0:
        out.write('<p class="empty">No messages.</p>\n')
    out.write(
        f"</main>\n<footer>{count} message{'' if count == 1 else 's'} · times in UTC · "
        f"teahouse {html.escape(__version__)}</footer>\n</body>\n</html>\n"
    )
    return count


# -- JSON Lines -------------------------------------------------------------------------


class JsonMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """One line of a JSON Lines transcript; these field names are a stable format."""

    id: int
    ts: str
    from_: str = msgspec.field(name="from")
    text: str = ""
    room: str | None = None
    to: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(JsonMessage)
# msgspec escapes C0 controls but writes DEL, C1 and the bidi controls raw; as \uXXXX they
# stay the same JSON strings and cannot reach a terminal that shows the file.
_JSON_ESCAPES = {
    code: f"\\u{code:04x}"
    for code in [*range(0x7F, 0xA0), *map(ord, BIDI_CONTROLS + PLAIN_EXTRA)]
    if code != ord("\t")  # msgspec has written tab as \t already
}


def write_jsonl(messages: Iterable[TranscriptMessage], out: TextIO) -> int:
    """Write one JSON object per line; returns how many."""
    count = 0
    buffer = bytearray()
    for m in messages:
        line = JsonMessage(
            id=m.id, ts=utc_iso(m.ts_ms), from_=m.sender, text=m.wire_text, room=m.room, to=m.to
        )
        _encoder.encode_into(line, buffer)
        out.write(buffer.decode("utf-8").translate(_JSON_ESCAPES) + "\n")
        count += 1
    return count


def read_jsonl(lines: Iterable[str | bytes]) -> Iterator[TranscriptMessage]:
    """The messages of a JSON Lines transcript (blank lines skipped).

    Raises :class:`msgspec.ValidationError` or :class:`msgspec.DecodeError` on a line that
    is not one.
    """
    for line in lines:
        if not line.strip():
            continue
        j = _decoder.decode(line)
        text, action = split_action(j.text)
        ts_ms = round(datetime.fromisoformat(j.ts).timestamp() * 1000)
        yield TranscriptMessage(j.id, j.from_, text, ts_ms, j.room, j.to, action)


# -- plain text -------------------------------------------------------------------------


def text_line(m: TranscriptMessage) -> str:
    """``[2026-11-24 10:00:00] <alice> hi`` or ``[2026-11-24 10:00:00] * alice waves``."""
    when = f"[{utc_day(m.ts_ms)} {utc_clock(m.ts_ms)}]"
    sender = visible_plain(m.sender)
    if m.action:
        return f"{when} * {sender} {visible_plain(m.text)}"
    return f"{when} <{sender}> {visible_plain(m.text)}"


def write_text(messages: Iterable[TranscriptMessage], out: TextIO) -> int:
    """Write one line per message (times in UTC); returns how many."""
    count = 0
    for m in messages:
        out.write(text_line(m) + "\n")
        count += 1
    return count


# -- all three --------------------------------------------------------------------------


def write(
    fmt: Format,
    messages: Iterable[TranscriptMessage],
    out: TextIO,
    *,
    title: str,
    details: Sequence[str] = (),
) -> int:
    """Write ``messages`` in ``fmt`` (``title`` and ``details`` are for HTML only)."""
    if fmt is Format.HTML:
        return write_html(messages, out, title=title, details=details)
    if fmt is Format.JSONL:
        return write_jsonl(messages, out)
    return write_text(messages, out)


def _render(writer: Callable[[TextIO], int]) -> str:
    buffer = io.StringIO()
    writer(buffer)
    return buffer.getvalue()


def render_html(
    messages: Iterable[TranscriptMessage], title: str, details: Sequence[str] = ()
) -> str:
    """:func:`write_html` into a string."""
    return _render(lambda out: write_html(messages, out, title=title, details=details))


def render_jsonl(messages: Iterable[TranscriptMessage]) -> str:
    """:func:`write_jsonl` into a string."""
    return _render(lambda out: write_jsonl(messages, out))


def render_text(messages: Iterable[TranscriptMessage]) -> str:
    """:func:`write_text` into a string."""
    return _render(lambda out: write_text(messages, out))
