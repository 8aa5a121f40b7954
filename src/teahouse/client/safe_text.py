"""Text from a server, made safe to show: every control character drawn, never obeyed.

A teahouse server cleans what it relays (:mod:`teahouse.protocol.text`), but a client must
not trust that: an old or hostile server, or a proxy, can send ESC sequences that rewrite
the terminal (``ESC [2J`` clears it, OSC 8 plants a hyperlink under innocent text), a NUL,
a line break that fakes another line, or a right-to-left override. :func:`visible` draws each
such code point as text instead.

Call it on every string that came from the server (message text, names, topics, reasons,
notices, error messages) before it reaches a terminal or a widget, not on whole lines that
the client itself joined with newlines.
"""

from __future__ import annotations

import re

from teahouse.protocol.text import FLAG_SEQUENCE, UNSAFE

_UNSAFE_CHAR = re.compile(f"[{UNSAFE}]")


def visible(text: str) -> str:
    """``text`` with every unsafe code point drawn visibly, everything else unchanged.

    C0 controls and DEL in caret notation, as ``cat -v`` draws them (ESC is ``^[``, NUL
    ``^@``, LF ``^J``, DEL ``^?``); any other unsafe code point (C1 controls, U+2028/U+2029,
    bidi overrides and isolates, invisible characters, tag characters outside an emoji flag,
    lone surrogates) as ``<U+202E>``. Tab stays a tab. Text that holds nothing unsafe comes
    back as it was, and the result never holds an unsafe code point, so it can be printed
    or encoded as UTF-8 without error.
    """
    if _UNSAFE_CHAR.search(text) is None:
        return text
    pieces: list[str] = []
    start = 0
    for flag in FLAG_SEQUENCE.finditer(text):
        pieces.append(_UNSAFE_CHAR.sub(_draw, text[start : flag.start()]))
        pieces.append(flag.group())
        start = flag.end()
    pieces.append(_UNSAFE_CHAR.sub(_draw, text[start:]))
    return "".join(pieces)


def _draw(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"
