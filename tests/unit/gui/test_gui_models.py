"""The Qt models: consistent with Qt's own model checker, and the view's window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)

from PySide6.QtCore import Qt

from teahouse.gui.models import (
    AWAY_ROLE,
    OPERATOR_ROLE,
    ROW_ROLE,
    Conversation,
    ConversationKind,
    ConversationListModel,
    MemberModel,
    MessageModel,
)
from teahouse.gui.transcript import Kind, message_row

WHEN = datetime(2026, 11, 25, 12, 0).astimezone()
pytestmark = pytest.mark.usefixtures("qapp")


def rows(start: int, stop: int) -> list[Any]:
    return [message_row(i, "bob", f"line {i}", WHEN) for i in range(start, stop)]


def test_message_model_passes_qts_checks(qtmodeltester: Any) -> None:
    model = MessageModel()
    qtmodeltester.check(model, force_py=True)
    t = model.transcript
    t.add_messages(rows(10, 20))
    t.add_messages(rows(1, 5))
    t.add_system("bob joined")
    pending = t.add_pending("hello", "alice")
    t.resolve_pending(pending, message_row(30, "alice", "hello", WHEN, own=True))
    assert model.rowCount() == len(t.rows) == 1 + 14 + 1 + 1
    first = model.index(1, 0)
    assert first.data(Qt.ItemDataRole.DisplayRole) == "[12:00] <bob> line 1"
    assert first.data(ROW_ROLE).id == 1


def test_the_window_hides_old_rows_and_brings_them_back(qtmodeltester: Any) -> None:
    model = MessageModel()
    qtmodeltester.check(model, force_py=True)
    t = model.transcript
    t.add_messages(rows(1, 1001))  # 1 separator + 1000 messages
    assert model.trim(100) == 901
    assert model.rowCount() == 100 and model.hidden == 901
    assert model.row_at(model.index(0, 0)).id == 901
    # New lines still arrive at the end; history lands above the window, unseen.
    t.add_messages(rows(1001, 1011))
    assert model.rowCount() == 110
    t.remove(t.rows[5])  # a hidden row goes: the window does not move
    assert model.hidden == 900 and model.row_at(model.index(0, 0)).id == 901
    assert model.reveal_older(300) == 300
    assert model.rowCount() == 410 and model.hidden == 600
    assert model.reveal_older(10_000) == 600
    assert model.rowCount() == len(t.rows) and model.hidden == 0
    assert model.row_at(model.index(0, 0)).kind is Kind.DAY


def test_conversation_list_groups_rooms_then_direct_messages(qtmodeltester: Any) -> None:
    model = ConversationListModel()
    qtmodeltester.check(model, force_py=True)

    def conv(kind: ConversationKind, name: str) -> Conversation:
        return Conversation(kind, name, MessageModel(), MemberModel("alice"))

    dm = conv(ConversationKind.DM, "Bob")
    for c in (conv(ConversationKind.ROOM, "lobby"), dm, conv(ConversationKind.ROOM, "garden")):
        model.add(c)
    shown = [model.index(i, 0).data(Qt.ItemDataRole.DisplayRole) for i in range(model.rowCount())]
    assert shown == ["Rooms", "#garden", "#lobby", "Direct messages", "Bob"]
    assert model.flags(model.index(0, 0)) == Qt.ItemFlag.NoItemFlags
    assert model.get("@bob") is dm
    dm.unread = 2
    model.changed(dm)
    assert "2 unread" in model.index(4, 0).data(Qt.ItemDataRole.ToolTipRole)
    model.remove(dm)
    assert model.rowCount() == 3


def test_member_model_keeps_names_sorted(qtmodeltester: Any) -> None:
    model = MemberModel("alice")
    qtmodeltester.check(model, force_py=True)
    model.set_members(["carol", "Alice", "bob"])
    model.add("Dave")
    model.add("bob")  # already there
    model.discard("CAROL")
    assert model.names() == ["Alice", "bob", "Dave"]
    assert "dave" in model
    model.set_online("bob", False)
    assert "not seen online" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_member_model_shows_away_and_operators(qtmodeltester: Any) -> None:
    model = MemberModel("alice")
    qtmodeltester.check(model, force_py=True)
    model.set_away("Bob", "lunch")  # kept for a name not listed yet
    model.set_members(["alice", "bob", "carol"])
    model.set_operators(["Carol"])
    bob, carol = model.index(1, 0), model.index(2, 0)
    assert bob.data(Qt.ItemDataRole.DisplayRole) == "bob"  # the name as it is
    assert bob.data(AWAY_ROLE) == "lunch" and not bob.data(OPERATOR_ROLE)
    assert "away: lunch" in bob.data(Qt.ItemDataRole.ToolTipRole)
    assert carol.data(OPERATOR_ROLE) and "room operator" in carol.data(Qt.ItemDataRole.ToolTipRole)
    model.set_operator("bob", True)
    model.set_away("bob", None)
    assert model.is_operator("BOB") and model.away_text("bob") is None
    assert model.discard("carol") and not model.is_operator("carol")
    assert not model.discard("carol")
