"""The one rule for text from the server before a client shows it: :func:`printable`.

Its own module, so that every client (the terminal's line mode and full screen, the
desktop client) takes it without the others' code (the one-file desktop build leaves the
terminal client out).
"""

from __future__ import annotations

import re

_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""What must never reach a terminal as it is: C0 controls but tab (ESC starts the escape
sequences: colours, cursor moves, OSC 8 links, window titles, clipboard writes), DEL, C1
controls (0x9b is a one-byte CSI on some terminals), the line and paragraph separators,
the bidirectional overrides and isolates (they reorder what is shown after them), and lone
surrogates (they cannot be encoded)."""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC -> ^[, NUL -> ^@, LF -> ^J
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: every control character shown visibly.

    A security rule: every text that comes from the server (messages, names, topics, error
    messages, ...) passes through here before it is printed or drawn. C0 controls become
    caret notation (ESC is ``^[``, NUL ``^@``, a newline ``^J``), DEL ``^?``, and C1
    controls, bidirectional overrides and line separators ``<U+XXXX>``. Tab and every
    printable character are kept. The result holds no character this function changes,
    so applying it twice changes nothing more.
    """
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(_visible, text)
