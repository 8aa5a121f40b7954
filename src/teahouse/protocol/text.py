"""Text rules for what crosses the server: IRC formatting codes."""

from __future__ import annotations

import re

_HEX_COLOUR = re.compile(r"\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
_FORMATTING = str.maketrans("", "", "\x02\x0f\x11\x16\x1d\x1e\x1f")


def strip_irc_formatting(text: str) -> str:
    """Drop mIRC formatting codes (bold, colours, ...): the core keeps plain text."""
    text = text.translate(_FORMATTING)
    if "\x04" in text:  # hex colours: \x04RRGGBB[,RRGGBB]
        text = _HEX_COLOUR.sub("", text)
    if "\x03" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\x03":
            i += 1
            for _ in range(2):
                if i < len(text) and text[i].isascii() and text[i].isdigit():
                    i += 1
            if (
                i + 1 < len(text)
                and text[i] == ","
                and text[i + 1].isascii()
                and text[i + 1].isdigit()
            ):
                i += 2
                if i < len(text) and text[i].isascii() and text[i].isdigit():
                    i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
