"""Server text made safe to show in a terminal or a widget (teahouse.client.safe_text)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teahouse.client.safe_text import visible
from teahouse.protocol.text import has_unsafe

ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize(
    ("server_sent", "shown"),
    [
        ("\x1b[2J\x1b[Hgotcha", "^[[2J^[[Hgotcha"),
        (
            "\x1b]8;;http://evil\x1b\\text\x1b]8;;\x1b\\",
            "^[]8;;http://evil^[\\text^[]8;;^[\\",
        ),
        ("nul\x00", "nul^@"),
        ("del\x7f", "del^?"),
        ("fake\n<admin> line", "fake^J<admin> line"),
        ("cr\r", "cr^M"),
        ("\x02bold\x02", "^Bbold^B"),
        ("csi\x9b2J", "csi<U+009B>2J"),
        ("invoice_\u202egnp.exe", "invoice_<U+202E>gnp.exe"),
        ("zero\u200bwidth", "zero<U+200B>width"),
        ("line\u2028sep", "line<U+2028>sep"),
        ("lone\ud800", "lone<U+D800>"),
        ("hi\U000e0041", "hi<U+E0041>"),
    ],
)
def test_unsafe_code_points_are_drawn_not_obeyed(server_sent: str, shown: str) -> None:
    assert visible(server_sent) == shown


@pytest.mark.parametrize(
    "text", ["hello", "tab\there", "日本語", f"go {ENGLAND}", "a\u200db", "\u05e9\u200f", ""]
)
def test_safe_text_is_shown_as_it_is(text: str) -> None:
    assert visible(text) == text


@given(st.text(max_size=60))
def test_what_is_shown_is_always_safe_and_printable_as_utf8(text: str) -> None:
    shown = visible(text)
    assert not has_unsafe(shown)
    shown.encode("utf-8")
    if not has_unsafe(text):
        assert shown == text
