"""Text made safe to show: control characters made visible, times in UTC.

A security rule: no character that a terminal, an editor or a browser would obey rather
than show leaves an export raw. Control characters (C0 but tab, DEL, C1) are shown as
``\\x1b``-style escapes, and the bidi embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069) as ``\\u202e``, so that no message can reorder what follows it, or itself.
Escapes rather than control pictures (U+241B), because few fonts have those. Plain text
also escapes tab, the bidi marks (LRM, RLM, ALM) and the line and paragraph separators,
which an editor or ``less`` would obey.
"""

from __future__ import annotations

import time

_CONTROLS = [*range(0x20), *range(0x7F, 0xA0)]
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Embeddings, overrides and isolates: they reorder text up to the end of the paragraph."""
PLAIN_EXTRA = "\t\u061c\u200e\u200f\u2028\u2029"
"""Tab, ALM, LRM, RLM, line and paragraph separators: harmless in a page, not in a file."""

VISIBLE_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in _CONTROLS if code != ord("\t")},
    **{ord(ch): f"\\u{ord(ch):04x}" for ch in BIDI_CONTROLS},
    **{code: f"\\u{code:04x}" for code in range(0xD800, 0xE000)},
}
"""What :func:`visible` replaces, and with what (a :meth:`str.translate` table). Lone
surrogates too: not text, and a page or file holding one cannot even be encoded (the server
never stores them; a damaged or hand-made database might)."""

_PLAIN_ESCAPES: dict[int, str] = {
    **VISIBLE_ESCAPES,
    ord("\t"): "\\x09",
    **{ord(ch): f"\\u{ord(ch):04x}" for ch in PLAIN_EXTRA if ch != "\t"},
}


def visible(text: str) -> str:
    """``text`` with control characters (but tab) and bidi overrides shown as escapes:
    ESC is ``\\x1b``, U+202E is ``\\u202e``."""
    return text.translate(VISIBLE_ESCAPES)


def visible_plain(text: str) -> str:
    """``text`` for a line of plain text: :func:`visible`, and tab, the bidi marks and the
    line separators escaped too: no control or format character that moves text is left."""
    return text.translate(_PLAIN_ESCAPES)


MAX_TS_MS = 253_402_300_799_999
"""The last millisecond of the year 9999: a time beyond it (or before 1970) is shown as
that bound, so a corrupt timestamp can never stop an export."""


def _clamp(ts_ms: int) -> int:
    return min(max(ts_ms, 0), MAX_TS_MS)


def _utc(ts_ms: int) -> time.struct_time:
    return time.gmtime(_clamp(ts_ms) // 1000)


def utc_iso(ts_ms: int) -> str:
    """``2026-11-24T10:00:00.000Z``, as the protocol writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", _utc(ts_ms)) + f".{_clamp(ts_ms) % 1000:03d}Z"


def utc_clock(ts_ms: int) -> str:
    """``10:00:00`` (UTC)."""
    return time.strftime("%H:%M:%S", _utc(ts_ms))


def utc_day(ts_ms: int) -> str:
    """``2026-11-24`` (UTC)."""
    return time.strftime("%Y-%m-%d", _utc(ts_ms))


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def utc_day_label(ts_ms: int) -> str:
    """``Tuesday 24 November 2026`` (UTC; English whatever the locale, as the page is)."""
    t = _utc(ts_ms)
    return f"{_WEEKDAYS[t.tm_wday]} {t.tm_mday} {_MONTHS[t.tm_mon - 1]} {t.tm_year}"
