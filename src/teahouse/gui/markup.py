"""How a line of chat looks, as pure functions: links, mentions, actions, colours, days,
and text from the server made safe for the places Qt would read as HTML.

Nothing here imports Qt, so the unit tests need no display. The delegates in
:mod:`teahouse.gui.delegates` paint what these functions decide.

A security rule: Qt reads a string as rich text (HTML) wherever its format is "auto" and
the string looks like HTML: labels, tooltips, notification balloons. Every label that can
show server text is set to plain text; a tooltip gets :func:`tooltip_html`, a notification
:func:`notification_text`. A topic ``<img src=...>`` or ``<a href=...>`` stays text.
"""

from __future__ import annotations

import functools
import html
import re
import zlib
from datetime import date, datetime, timedelta

from teahouse.client.printable import printable

ACTION_PREFIX = "/me "
"""The server stores a ``/me`` action as a message whose text starts with this."""

# A link is http(s)://... or www.... up to whitespace; trailing punctuation that usually
# ends the sentence (not the URL) is left out, as chat clients do.
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""

# The characters of a user name (see teahouse.protocol.names): a mention is the name not
# glued to more of them, so "alice" is not mentioned in "malice" or "alice_2".
_NAME_CHARS = r"A-Za-z0-9_\-\[\]\\^{}|"

LIGHT_PALETTE: tuple[str, ...] = (
    "#c0392b",
    "#d35400",
    "#b7950b",
    "#27ae60",
    "#16a085",
    "#2980b9",
    "#8e44ad",
    "#c2185b",
    "#6d4c41",
    "#00838f",
    "#5d6d7e",
    "#7cb342",
    "#3949ab",
    "#e67e22",
    "#ad1457",
    "#00897b",
)
"""Sender colours readable on a light background (contrast ratio above 3:1 on white)."""

DARK_PALETTE: tuple[str, ...] = (
    "#ff7b72",
    "#ffa657",
    "#e3b341",
    "#7ee787",
    "#56d4bc",
    "#79c0ff",
    "#d2a8ff",
    "#ff9bce",
    "#d9a679",
    "#76e3ea",
    "#a5b4c3",
    "#b4e07a",
    "#a5b1ff",
    "#ffc680",
    "#f78fb3",
    "#4fd1c5",
)
"""The same hues, lighter, for a dark background."""


def find_links(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` of every link in ``text``; ``www.`` links get ``http://``."""
    links = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            # Keep a closing bracket that closes one opened inside the URL (wikipedia-style).
            if text[end - 1] == ")" and text[start:end].count("(") >= text[start:end].count(")"):
                break
            end -= 1
        url = text[start:end]
        if url.lower().startswith("www."):
            url = "http://" + url
        if end > start:
            links.append((start, end, url))
    return links


@functools.lru_cache(maxsize=8)
def _mention_pattern(me: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![{_NAME_CHARS}]){re.escape(me)}(?![{_NAME_CHARS}])", re.IGNORECASE)


def mentions(text: str, me: str) -> bool:
    """True when ``text`` names ``me`` as a word (case-insensitive, as names compare)."""
    return bool(me) and _mention_pattern(me).search(text) is not None


def is_action(text: str) -> bool:
    """True for a ``/me`` action (``"/me waves"``)."""
    return text.startswith(ACTION_PREFIX)


def action_body(text: str) -> str:
    """What the actor does: ``"/me waves"`` -> ``"waves"``."""
    return text[len(ACTION_PREFIX) :] if is_action(text) else text


def colour_index(name: str, count: int) -> int:
    """A stable index in ``range(count)`` for ``name``: the same name, the same colour,
    on every run and every machine (``hash()`` would change between runs)."""
    return zlib.crc32(name.lower().encode("utf-8", "surrogatepass")) % count


def sender_colour(name: str, *, dark: bool = False) -> str:
    """The ``#rrggbb`` colour of ``name``'s nickname."""
    palette = DARK_PALETTE if dark else LIGHT_PALETTE
    return palette[colour_index(name, len(palette))]


def parse_ts(ts: str) -> datetime | None:
    """A message's ISO 8601 UTC ``ts`` as an aware local datetime, None if unreadable."""
    try:
        return datetime.fromisoformat(ts).astimezone()
    except ValueError:
        return None


def clock(when: datetime | None) -> str:
    """``HH:MM``, or ``--:--`` when the time is unknown."""
    return when.strftime("%H:%M") if when is not None else "--:--"


def day_label(day: date, today: date) -> str:
    """``Today``, ``Yesterday``, or ``Wednesday 25 November 2026``."""
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return f"{day:%A} {day.day} {day:%B %Y}"


def tooltip_html(text: str) -> str:
    """``text`` as rich text that shows exactly ``text`` (for a tooltip: Qt reads a tooltip
    that looks like HTML as HTML, so plain text must be escaped into HTML)."""
    return "<qt>" + html.escape(printable(text), quote=False) + "</qt>"


_LOOKALIKES = str.maketrans({"&": "＆", "<": "‹", ">": "›"})


def notification_text(text: str) -> str:
    """``text`` for a system tray notification: control characters visible, and ``&``,
    ``<`` and ``>`` replaced by look-alikes, because depending on the platform the balloon
    is plain text, Qt rich text, or the body markup of ``org.freedesktop.Notifications``:
    an entity would show as ``&lt;`` in the first, a tag would be obeyed in the others."""
    return printable(text).translate(_LOOKALIKES)


def plain_line(when: datetime | None, sender: str, text: str) -> str:
    """The text form of a message, for copying and for screen readers."""
    if is_action(text):
        return f"[{clock(when)}] * {sender} {action_body(text)}"
    return f"[{clock(when)}] <{sender}> {text}"
