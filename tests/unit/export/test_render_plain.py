"""JSON Lines round-trips; plain text is one line a message, with no control character."""

from __future__ import annotations

import io
import json
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from teahouse.export import TranscriptMessage, render_jsonl, render_text, write_text
from teahouse.export.escape import visible_plain
from teahouse.export.render import read_jsonl, text_line
from tests.unit.export.pagecheck import HOSTILE

T0 = 1_795_507_200_000  # 2026-11-24T08:00:00Z


def test_jsonl_lines_have_stable_field_names() -> None:
    out = render_jsonl(
        [
            TranscriptMessage(7, "alice", "hi", T0 + 5, room="lobby"),
            TranscriptMessage(8, "bob", "waves", T0 + 60_000, to="alice", action=True),
        ]
    )
    lines = out.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": 7, "ts": "2026-11-24T08:00:00.005Z", "from": "alice", "text": "hi", "room": "lobby"},
        {
            "id": 8,
            "ts": "2026-11-24T08:01:00.000Z",
            "from": "bob",
            "text": "/me waves",
            "to": "alice",
        },
    ]
    assert out.endswith("\n")


def test_jsonl_round_trips_hostile_text() -> None:
    sent = [
        TranscriptMessage(i, f"u{i}", text, T0 + i, room="lobby", action=i % 3 == 0)
        for i, text in enumerate(HOSTILE, 1)
    ]
    out = render_jsonl(sent)
    assert list(read_jsonl(io.StringIO(out))) == sent
    assert len(out.splitlines()) == len(sent)
    # Escaped, not raw: nothing a terminal showing the file would obey.
    assert not re.search(
        "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", out.replace("\n", "")
    )


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(max_size=300),
    sender=st.text(min_size=1, max_size=40),
    ts_ms=st.integers(min_value=0, max_value=253_402_300_799_999),
    dm=st.booleans(),
    action=st.booleans(),
)
def test_jsonl_round_trips_anything(
    text: str, sender: str, ts_ms: int, dm: bool, action: bool
) -> None:
    where = {"to": "bob"} if dm else {"room": "lobby"}
    message = TranscriptMessage(1, sender, text, ts_ms, action=action, **where)  # type: ignore[arg-type]
    out = render_jsonl([message])
    assert out.count("\n") == 1
    assert list(read_jsonl([out])) == [message]


def test_text_lines() -> None:
    out = render_text(
        [
            TranscriptMessage(1, "alice", "hi", T0 + 7_200_000, room="lobby"),
            TranscriptMessage(2, "alice", "waves", T0 + 7_201_000, room="lobby", action=True),
        ]
    )
    assert out == "[2026-11-24 10:00:00] <alice> hi\n[2026-11-24 10:00:01] * alice waves\n"


def test_text_escapes_every_control_character() -> None:
    line = text_line(
        TranscriptMessage(1, "al\x1bice", "\x1b[2J\x00\ttab\u202eevil\nnext\u2028sep", T0, room="x")
    )
    assert line == (
        "[2026-11-24 08:00:00] <al\\x1bice> \\x1b[2J\\x00\\x09tab\\u202eevil\\x0anext\\u2028sep"
    )


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), sender=st.text(min_size=1, max_size=40))
def test_text_has_no_control_character(text: str, sender: str) -> None:
    out = io.StringIO()
    write_text([TranscriptMessage(1, sender, text, T0, room="x")], out)
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    body = line[:-1]
    assert not [ch for ch in body if unicodedata.category(ch) in ("Cc", "Zl", "Zp")]
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]", body)
    assert body == f"[2026-11-24 08:00:00] <{visible_plain(sender)}> {visible_plain(text)}"
