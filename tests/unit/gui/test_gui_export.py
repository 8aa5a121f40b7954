"""Saving an open conversation: the client's rows through the export renderers."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)

from teahouse.export import TranscriptMessage
from teahouse.export.render import Format
from teahouse.gui.export import (
    NAME_FILTERS,
    choose_format,
    save_conversation,
    suggested_stem,
    transcript_messages,
)
from teahouse.gui.models import Conversation, ConversationKind, MemberModel, MessageModel
from teahouse.gui.transcript import message_row
from tests.unit.export.pagecheck import assert_inert, messages, parse, shown_text

pytestmark = pytest.mark.usefixtures("qapp")
WHEN = datetime(2026, 11, 24, 10, 0, 0, 250_000, tzinfo=UTC).astimezone()  # local, as shown
T = 1_795_514_400_250  # the same moment in ms


def conversation(kind: ConversationKind, name: str) -> Conversation:
    conv = Conversation(kind, name, MessageModel(), MemberModel("alice"))
    t = conv.messages.transcript
    t.add_messages(
        [
            message_row(5, "alice", "hi <b>bob</b>", WHEN, own=True),
            message_row(6, "Bob", "/me waves \x1b[2J", WHEN),
        ]
    )
    t.add_system("bob joined")  # the window's own note: not part of the transcript
    t.add_pending("still sending", "alice")  # not acknowledged: not part of it either
    return conv


def test_rows_become_transcript_messages() -> None:
    room = conversation(ConversationKind.ROOM, "lobby")
    assert list(
        transcript_messages(room.messages.transcript.rows, room.kind, room.name, "alice")
    ) == [
        TranscriptMessage(5, "alice", "hi <b>bob</b>", T, room="lobby"),
        # The window shows control characters visibly, and saves what it shows.
        TranscriptMessage(6, "Bob", "waves ^[[2J", T, room="lobby", action=True),
    ]
    dm = conversation(ConversationKind.DM, "Bob")
    got = list(transcript_messages(dm.messages.transcript.rows, dm.kind, dm.name, "Alice"))
    assert [(m.sender, m.to, m.room) for m in got] == [
        ("alice", "Bob", None),
        ("Bob", "Alice", None),
    ]


def test_save_each_format_privately(tmp_path: Path) -> None:
    room = conversation(ConversationKind.ROOM, "lobby")
    room.messages.trim(1)  # rows hidden above the window are saved too
    page = tmp_path / "lobby.html"
    assert save_conversation(room, "alice", page, Format.HTML) == 2
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    root = parse(page.read_text())
    assert_inert(root)
    assert [shown_text(b) for b in messages(root)] == ["hi <b>bob</b>", "Bob waves ^[[2J"]
    assert "".join(root.find("head/title").itertext()) == "#lobby"  # type: ignore[union-attr]

    lines = tmp_path / "lobby.jsonl"
    save_conversation(room, "alice", lines, Format.JSONL)
    assert [json.loads(x)["text"] for x in lines.read_text().splitlines()] == [
        "hi <b>bob</b>",
        "/me waves ^[[2J",
    ]
    text = tmp_path / "lobby.txt"
    save_conversation(room, "alice", text, Format.TEXT)
    assert text.read_text() == (
        "[2026-11-24 10:00:00] <alice> hi <b>bob</b>\n[2026-11-24 10:00:00] * Bob waves ^[[2J\n"
    )


def test_file_names_and_formats() -> None:
    day = datetime(2026, 11, 25)
    assert suggested_stem(conversation(ConversationKind.ROOM, "lobby"), day) == "lobby-2026-11-25"
    assert suggested_stem(conversation(ConversationKind.DM, "Bob"), day) == "dm-Bob-2026-11-25"
    assert choose_format("/x/a.jsonl", NAME_FILTERS[Format.HTML]) is Format.JSONL
    assert choose_format("/x/a", NAME_FILTERS[Format.TEXT]) is Format.TEXT
    assert choose_format("/x/a.weird", "") is Format.HTML


def test_an_unwritable_place_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        save_conversation(
            conversation(ConversationKind.ROOM, "lobby"),
            "alice",
            tmp_path / "missing" / "x.html",
            Format.HTML,
        )
