"""The "join a room" dialog (fed by ``rooms``) and the admin panel (``admin`` frames).

Both are modeless: they never run a nested event loop, so asyncio keeps running while they
are open, and they ask the :class:`~teahouse.gui.session.ChatSession` for data as tasks.
Text from the server goes into table cells and plain-text widgets only: nothing here is
ever read as HTML.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from teahouse.client import ClientError, ServerError
from teahouse.gui.commands import room_name
from teahouse.gui.session import ChatSession
from teahouse.gui.wording import describe_error
from teahouse.protocol import frames as f
from teahouse.protocol.names import is_room_name


class JoinRoomDialog(QDialog):
    """Pick a room from the server's list, or type a new name. ``join_requested(room)``."""

    join_requested = Signal(str)

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Join a room")
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Type to filter, or name a new room")
        layout.addWidget(self.name)
        self.model = QStandardItemModel(0, 3, self)
        self.model.setHorizontalHeaderLabels(["Room", "Online", "Topic"])
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.info = QLabel("Loading the rooms…")
        self.info.setTextFormat(Qt.TextFormat.PlainText)  # it may quote the server
        self.info.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.info)
        buttons = QDialogButtonBox()
        self.refresh_button = buttons.addButton("Refresh", QDialogButtonBox.ButtonRole.ResetRole)
        self.join_button = buttons.addButton("Join", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        layout.addWidget(buttons)
        self.name.textChanged.connect(self._filter)
        self.name.returnPressed.connect(self._join)
        self.table.doubleClicked.connect(lambda _: self._join())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._picked())
        self.join_button.clicked.connect(self._join)
        self.refresh_button.clicked.connect(self.refresh)
        buttons.rejected.connect(self.close)

    def refresh(self) -> None:
        self.info.setText("Loading the rooms…")
        self.session.spawn(self._load())

    async def _load(self) -> None:
        try:
            rooms = await self.session.rooms()
        except ClientError as exc:
            self.info.setText(f"Could not list the rooms: {exc}")
            return
        self.set_rooms(rooms)

    def set_rooms(self, rooms: list[f.RoomInfo]) -> None:
        self.model.removeRows(0, self.model.rowCount())
        for info in rooms:
            name = QStandardItem(f"#{info.room}")
            name.setData(info.room, Qt.ItemDataRole.UserRole)
            count = QStandardItem()
            count.setData(info.members, Qt.ItemDataRole.DisplayRole)
            self.model.appendRow([name, count, QStandardItem(info.topic)])
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        plural = "s" if len(rooms) != 1 else ""
        self.info.setText(f"{len(rooms)} room{plural} on this server. A new name creates a room.")

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.removeprefix("#"))

    def _picked(self) -> None:
        rows = self.table.selectionModel().selectedRows(0)
        if rows:
            self.name.blockSignals(True)
            self.name.setText(str(rows[0].data(Qt.ItemDataRole.UserRole)))
            self.name.blockSignals(False)

    def _join(self) -> None:
        room = room_name(self.name.text().strip())
        if not room:
            rows = self.table.selectionModel().selectedRows(0)
            room = str(rows[0].data(Qt.ItemDataRole.UserRole)) if rows else ""
        if not is_room_name(room):
            self.info.setText(
                "Room names have 1 to 50 lower-case letters, digits, _ or -, "
                "starting with a letter or digit."
            )
            return
        self.join_requested.emit(room)
        self.close()


WHO_COLUMNS = ["User", "Role", "Door", "Address", "Rooms", "Idle"]
BAN_COLUMNS = ["Kind", "Banned", "Until", "Reason", "By"]
DOORS = {"irc": "IRC", "native": "native", "web": "web"}
"""How a user came in, as the ``door`` field of a ``who`` row says (when the server sends it)."""


def door_label(door: object) -> str:
    """``IRC``, ``native``, ``web``; ``—`` when the server does not say."""
    if not isinstance(door, str) or not door:
        return "—"
    return DOORS.get(door, door)


def until_label(until_ms: object) -> str:
    """When a ban ends, in local time; ``until lifted`` for a ban with no end."""
    if not isinstance(until_ms, int | float) or isinstance(until_ms, bool):
        return "until lifted"
    return datetime.fromtimestamp(until_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def _table(model: QStandardItemModel) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setStretchLastSection(True)
    return table


class AdminPanel(QDialog):
    """Operator commands for admins: who is online (and by which door), kick, ban, the bans
    in force and unban, mute, broadcast."""

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Admin")
        self.resize(760, 680)
        layout = QVBoxLayout(self)

        online = QGroupBox("Online now")
        online_layout = QVBoxLayout(online)
        self.who_model = QStandardItemModel(0, len(WHO_COLUMNS), self)
        self.who_model.setHorizontalHeaderLabels(WHO_COLUMNS)
        self.who_table = _table(self.who_model)
        self.who_table.setToolTip(
            "Door: how the user came in (IRC, native or web), when the server says."
        )
        online_layout.addWidget(self.who_table)
        refresh = QPushButton("Refresh")
        online_layout.addWidget(refresh, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(online, 1)

        banned = QGroupBox("Bans in force")
        banned_layout = QVBoxLayout(banned)
        self.bans_model = QStandardItemModel(0, len(BAN_COLUMNS), self)
        self.bans_model.setHorizontalHeaderLabels(BAN_COLUMNS)
        self.bans_table = _table(self.bans_model)
        banned_layout.addWidget(self.bans_table)
        layout.addWidget(banned, 1)

        act = QGroupBox("Act on a user")
        form = QFormLayout(act)
        self.target = QLineEdit()
        self.target.setPlaceholderText("user name (or an IP address, to ban)")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("optional; the user sees it")
        self.duration = QLineEdit()
        self.duration.setPlaceholderText("e.g. 30s, 10m, 2h, 7d; empty: until lifted")
        form.addRow("User", self.target)
        form.addRow("Reason", self.reason)
        form.addRow("Duration", self.duration)
        row = QHBoxLayout()
        self.kick_button = QPushButton("Kick")
        self.ban_button = QPushButton("Ban")
        self.unban_button = QPushButton("Unban")
        self.mute_button = QPushButton("Mute")
        self.unmute_button = QPushButton("Unmute")
        for button in (
            self.kick_button,
            self.ban_button,
            self.unban_button,
            self.mute_button,
            self.unmute_button,
        ):
            row.addWidget(button)
        row.addStretch(1)
        form.addRow("", row)
        layout.addWidget(act)

        shout = QGroupBox("Broadcast to everyone online")
        shout_row = QHBoxLayout(shout)
        self.broadcast_text = QLineEdit()
        self.broadcast_button = QPushButton("Send")
        shout_row.addWidget(self.broadcast_text, 1)
        shout_row.addWidget(self.broadcast_button)
        layout.addWidget(shout)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setFixedHeight(110)
        layout.addWidget(self.log)

        refresh.clicked.connect(self.refresh)
        self.who_table.selectionModel().selectionChanged.connect(lambda *_: self._picked())
        self.bans_table.selectionModel().selectionChanged.connect(lambda *_: self._picked_ban())
        self.kick_button.clicked.connect(lambda: self._act("kick"))
        self.ban_button.clicked.connect(lambda: self._act("ban"))
        self.unban_button.clicked.connect(lambda: self._act("unban"))
        self.mute_button.clicked.connect(lambda: self._act("mute"))
        self.unmute_button.clicked.connect(lambda: self._act("unmute"))
        self.broadcast_button.clicked.connect(self._broadcast)
        self.broadcast_text.returnPressed.connect(self._broadcast)

    def refresh(self) -> None:
        """Ask again who is online and which bans are in force."""
        self.run("who", on_result=self.fill_who)
        self.refresh_bans()

    def refresh_bans(self) -> None:
        self.run("bans", on_result=self.fill_bans)

    def fill_who(self, result: f.AdminResult) -> None:
        self.who_model.removeRows(0, self.who_model.rowCount())
        rows = result.data if isinstance(result.data, list) else []
        for item in rows:
            if not isinstance(item, dict):
                continue
            rooms = item.get("rooms")
            cells = [
                str(item.get("user", "")),
                str(item.get("role", "")),
                door_label(item.get("door")),
                str(item.get("address", "")),
                ", ".join(str(r) for r in rooms) if isinstance(rooms, list) else "",
                f"{item.get('idle', '')} s",
            ]
            self.who_model.appendRow([QStandardItem(c) for c in cells])
        self.who_table.resizeColumnsToContents()

    def fill_bans(self, result: f.AdminResult) -> None:
        self.bans_model.removeRows(0, self.bans_model.rowCount())
        rows = result.data if isinstance(result.data, list) else []
        for item in rows:
            if not isinstance(item, dict):
                continue
            cells = [
                str(item.get("kind", "")),
                str(item.get("value", "")),
                until_label(item.get("until_ms")),
                str(item.get("reason") or ""),
                str(item.get("by") or ""),
            ]
            self.bans_model.appendRow([QStandardItem(c) for c in cells])
        self.bans_table.resizeColumnsToContents()

    def _picked(self) -> None:
        rows = self.who_table.selectionModel().selectedRows(0)
        if rows:
            self.target.setText(str(rows[0].data(Qt.ItemDataRole.DisplayRole)))

    def _picked_ban(self) -> None:
        rows = self.bans_table.selectionModel().selectedRows(1)
        if rows:
            self.target.setText(str(rows[0].data(Qt.ItemDataRole.DisplayRole)))

    def _act(self, cmd: str) -> None:
        target = self.target.text().strip()
        if not target:
            self._say("Type a user name first.")
            return
        reason = self.reason.text().strip() or None
        duration = self.duration.text().strip() or None
        args: dict[str, Any]
        match cmd:
            case "kick":
                args = {"user": target, "reason": reason}
            case "ban":
                args = {"target": target, "duration": duration, "reason": reason}
            case "mute":
                args = {"user": target, "duration": duration}
            case "unban":
                args = {"target": target}
            case _:
                args = {"user": target}
        self.run(cmd, on_result=lambda _: self.refresh(), **args)

    def _broadcast(self) -> None:
        text = self.broadcast_text.text().strip()
        if text:
            self.run("broadcast", text=text)
            self.broadcast_text.clear()

    def _say(self, line: str) -> None:
        self.log.appendPlainText(line)

    def run(self, cmd: str, on_result: Any = None, **args: f.ArgValue) -> asyncio.Task[None | None]:
        """Send ``admin cmd args``; the answer goes to the log (and ``on_result``)."""
        shown = {k: v for k, v in args.items() if v is not None}

        async def go() -> None:
            try:
                result = await self.session.admin(cmd, **shown)
            except ServerError as exc:
                self._say(f"{cmd}: {describe_error(exc.code, exc.message)}")
                return
            except ClientError as exc:
                self._say(f"{cmd}: {exc}")
                return
            if cmd not in ("who", "bans"):
                self._say(f"{cmd}: {result.text}")
            if on_result is not None:
                on_result(result)

        return self.session.spawn(go())
