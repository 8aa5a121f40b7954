"""The Qt item models behind the views: conversation lines, the side list, the members.

:class:`MessageModel` shows a :class:`~teahouse.gui.transcript.Transcript` through a
*window*: the newest rows, about :data:`WINDOW` of them while the view follows the end of
the conversation. A list view lays out every row its model has after each insertion, so a
window keeps a burst of 10,000 lines cheap to show; the older rows stay in memory and come
back (without asking the server) when the user scrolls up. Only when none are left does the
view ask the server for history.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QIcon, QPainter, QPixmap

from teahouse.gui.markup import action_body, clock, is_action, sender_colour, tooltip_html
from teahouse.gui.transcript import Kind, Row, Transcript

WINDOW = 600
"""Rows a conversation view lays out while it follows the newest lines."""
REVEAL_STEP = 300
"""Rows brought back from memory at a time when the user scrolls up."""

ROW_ROLE = Qt.ItemDataRole.UserRole + 1
CONVERSATION_ROLE = Qt.ItemDataRole.UserRole + 2
HEADER_ROLE = Qt.ItemDataRole.UserRole + 3
OPERATOR_ROLE = Qt.ItemDataRole.UserRole + 4
"""A member list row: True for a room operator."""
AWAY_ROLE = Qt.ItemDataRole.UserRole + 5
"""A member list row: the member's away text, or None."""

Index = QModelIndex | QPersistentModelIndex


def is_dark() -> bool:
    """True when the application palette is dark (sender colours follow it)."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return app.palette().window().color().lightness() < 128


def display_text(row: Row) -> str:
    """The text of a row as one plain line (copying, accessibility, tests)."""
    match row.kind:
        case Kind.MESSAGE | Kind.PENDING:
            if is_action(row.text):
                return f"[{clock(row.when)}] * {row.sender} {action_body(row.text)}"
            return f"[{clock(row.when)}] <{row.sender}> {row.text}"
        case Kind.DAY:
            return f"— {row.when:%A %d %B %Y} —" if row.when else "—"
        case _:
            return row.text


class MessageModel(QAbstractListModel):
    """The lines of one conversation, newest last (see the module doc)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transcript = Transcript(self)
        self._first = 0
        """Rows before this index are kept but not shown."""
        self._hidden_change = 0
        self._visible_removal = 0

    # -- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        if parent.isValid():
            return 0
        return len(self.transcript.rows) - self._first

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.transcript.rows[self._first + index.row()]
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(row)
        return None

    def row_at(self, index: Index) -> Row:
        return self.transcript.rows[self._first + index.row()]

    # -- the window ------------------------------------------------------------------

    @property
    def hidden(self) -> int:
        """Rows kept in memory above the window."""
        return self._first

    def reveal_older(self, count: int = REVEAL_STEP) -> int:
        """Show up to ``count`` more of the rows kept above the window; returns how many."""
        count = min(count, self._first)
        if count > 0:
            self.beginInsertRows(QModelIndex(), 0, count - 1)
            self._first -= count
            self.endInsertRows()
        return count

    def trim(self, keep: int = WINDOW) -> int:
        """Hide all but the newest ``keep`` rows (they stay in memory); returns how many."""
        count = self.rowCount() - keep
        if count <= 0:
            return 0
        self.beginRemoveRows(QModelIndex(), 0, count - 1)
        self._first += count
        self.endRemoveRows()
        return count

    # -- Transcript observer ---------------------------------------------------------

    def before_insert(self, pos: int, count: int) -> None:
        if pos < self._first:
            self._hidden_change = count  # lands above the window: nothing to show
            return
        self._hidden_change = 0
        start = pos - self._first
        self.beginInsertRows(QModelIndex(), start, start + count - 1)

    def after_insert(self, pos: int, count: int) -> None:
        if self._hidden_change:
            self._first += self._hidden_change
            self._hidden_change = 0
            return
        self.endInsertRows()

    def before_remove(self, pos: int, count: int) -> None:
        hidden = max(0, min(pos + count, self._first) - pos)
        self._hidden_change = hidden
        self._visible_removal = count - hidden
        if self._visible_removal:
            start = max(pos, self._first) - self._first
            self.beginRemoveRows(QModelIndex(), start, start + self._visible_removal - 1)

    def after_remove(self, pos: int, count: int) -> None:
        self._first -= self._hidden_change
        self._hidden_change = 0
        if self._visible_removal:
            self._visible_removal = 0
            self.endRemoveRows()


class ConversationKind(enum.StrEnum):
    ROOM = "room"
    DM = "dm"


@dataclass(eq=False)
class Conversation:
    """A room or a direct conversation, as the window keeps it."""

    kind: ConversationKind
    name: str
    """The room name, or the other user's name."""
    messages: MessageModel
    members: MemberModel
    topic: str = ""
    unread: int = 0
    mentions: int = 0
    joined: bool = False
    initial_replay: bool = True
    """Until the first replay ends, replayed lines are context, not unread news."""
    loading_older: bool = False
    at_start: bool = False
    """The oldest stored message is shown: scrolling up asks the server nothing."""
    resume_from: int | None = None
    """The newest id shown when the connection dropped (to fill a truncated replay)."""
    modes: str = ""
    """A room's modes as the server last said them (``+nt``)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return conversation_key(self.kind, self.name)

    @property
    def title(self) -> str:
        return f"#{self.name}" if self.kind is ConversationKind.ROOM else self.name


def conversation_key(kind: ConversationKind, name: str) -> str:
    """``#lobby`` for a room, ``@bob`` for a direct conversation (names compare lower-case)."""
    return f"#{name}" if kind is ConversationKind.ROOM else f"@{name.lower()}"


@dataclass(frozen=True)
class _Header:
    text: str


class ConversationListModel(QAbstractListModel):
    """The side list: a "Rooms" header, the rooms, a "Direct messages" header, the DMs."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[Conversation | _Header] = []
        self._conversations: dict[str, Conversation] = {}

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._items)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid() or isinstance(self._items[index.row()], _Header):
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if isinstance(item, _Header):
            if role == Qt.ItemDataRole.DisplayRole:
                return item.text
            if role == HEADER_ROLE:
                return True
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.title
        if role == CONVERSATION_ROLE:
            return item
        if role == HEADER_ROLE:
            return False
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [item.topic] if item.topic else []
            if item.unread:
                parts.append(f"{item.unread} unread")
            if item.mentions:
                parts.append(f"{item.mentions} mentioning you")
            return tooltip_html(" · ".join(parts)) if parts else None
        return None

    # -- conversations ---------------------------------------------------------------

    def get(self, key: str) -> Conversation | None:
        return self._conversations.get(key)

    def conversations(self) -> list[Conversation]:
        return [item for item in self._items if isinstance(item, Conversation)]

    def add(self, conversation: Conversation) -> None:
        self._conversations[conversation.key] = conversation
        self._rebuild()

    def remove(self, conversation: Conversation) -> None:
        if self._conversations.pop(conversation.key, None) is not None:
            self._rebuild()

    def index_of(self, conversation: Conversation) -> QModelIndex:
        for row, item in enumerate(self._items):
            if item is conversation:
                return self.index(row, 0)
        return QModelIndex()

    def changed(self, conversation: Conversation) -> None:
        """The unread counts or the topic of ``conversation`` changed."""
        index = self.index_of(conversation)
        if index.isValid():
            self.dataChanged.emit(index, index)

    def _rebuild(self) -> None:
        rooms = sorted(
            (c for c in self._conversations.values() if c.kind is ConversationKind.ROOM),
            key=lambda c: c.name,
        )
        dms = sorted(
            (c for c in self._conversations.values() if c.kind is ConversationKind.DM),
            key=lambda c: c.name.lower(),
        )
        items: list[Conversation | _Header] = []
        if rooms:
            items += [_Header("Rooms"), *rooms]
        if dms:
            items += [_Header("Direct messages"), *dms]
        self.beginResetModel()
        self._items = items
        self.endResetModel()


_DOTS: dict[str, QIcon] = {}


def presence_dot(colour: str) -> QIcon:
    """A small filled circle, for presence."""
    icon = _DOTS.get(colour)
    if icon is None:
        if not isinstance(QGuiApplication.instance(), QGuiApplication):
            return QIcon()  # no pixmaps without an application (Qt would abort)
        pixmap = QPixmap(12, 12)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(colour))
        painter.drawEllipse(2, 2, 8, 8)
        painter.end()
        icon = _DOTS[colour] = QIcon(pixmap)
    return icon


ONLINE = "#2ecc71"
AWAY = "#f0b27a"
UNKNOWN = "#b0b0b0"


class MemberModel(QAbstractListModel):
    """Who is in a room (online, away, or unknown while reconnecting), which of them are
    its operators; or the other side of a direct conversation. The display text is the
    name as it is; the rest is in the decoration, the tooltip and :data:`OPERATOR_ROLE`,
    :data:`AWAY_ROLE`."""

    def __init__(self, me: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.me = me
        self._names: list[str] = []
        self._online: dict[str, bool] = {}
        self._away: dict[str, str] = {}
        self._ops: set[str] = set()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._names)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        name = self._names[index.row()]
        low = name.lower()
        online = self._online.get(low, True)
        away = self._away.get(low)
        match role:
            case Qt.ItemDataRole.DisplayRole:
                return name
            case Qt.ItemDataRole.DecorationRole:
                return presence_dot(UNKNOWN if not online else AWAY if away else ONLINE)
            case Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor(sender_colour(name, dark=is_dark())))
            case Qt.ItemDataRole.FontRole if low == self.me.lower() or low in self._ops:
                font = QFont()
                font.setBold(low == self.me.lower())
                font.setUnderline(low in self._ops)
                return font
            case Qt.ItemDataRole.ToolTipRole:
                state = "not seen online" if not online else f"away: {away}" if away else "online"
                role_text = ", room operator" if low in self._ops else ""
                return tooltip_html(f"{name}: {state}{role_text}")
            case _ if role == OPERATOR_ROLE:
                return low in self._ops
            case _ if role == AWAY_ROLE:
                return away
            case _:
                return None

    def names(self) -> list[str]:
        return list(self._names)

    def __contains__(self, name: str) -> bool:
        return any(n.lower() == name.lower() for n in self._names)

    def is_operator(self, name: str) -> bool:
        return name.lower() in self._ops

    def away_text(self, name: str) -> str | None:
        return self._away.get(name.lower())

    def set_members(self, names: list[str], online: bool = True) -> None:
        self.beginResetModel()
        self._names = sorted(dict.fromkeys(names), key=str.lower)
        self._online = {n.lower(): online for n in self._names}
        self.endResetModel()

    def set_operators(self, names: list[str]) -> None:
        self._ops = {n.lower() for n in names}
        self._changed_all()

    def set_operator(self, name: str, op: bool) -> None:
        if op:
            self._ops.add(name.lower())
        else:
            self._ops.discard(name.lower())
        self._changed(name)

    def set_away(self, name: str, text: str | None) -> None:
        """``name`` is away with ``text``, or back (None); kept for names not listed yet."""
        if text:
            self._away[name.lower()] = text
        else:
            self._away.pop(name.lower(), None)
        self._changed(name)

    def clear_away(self) -> None:
        self._away.clear()
        self._changed_all()

    def add(self, name: str) -> None:
        if name in self:
            return
        keys = [n.lower() for n in self._names]
        pos = 0
        while pos < len(keys) and keys[pos] < name.lower():
            pos += 1
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._names.insert(pos, name)
        self._online[name.lower()] = True
        self.endInsertRows()

    def discard(self, name: str) -> bool:
        """Remove ``name``; False if it was not listed."""
        self._ops.discard(name.lower())
        for pos, candidate in enumerate(self._names):
            if candidate.lower() == name.lower():
                self.beginRemoveRows(QModelIndex(), pos, pos)
                del self._names[pos]
                self.endRemoveRows()
                return True
        return False

    def set_all_online(self, online: bool) -> None:
        self._online = dict.fromkeys(self._online, online)
        self._changed_all()

    def set_online(self, name: str, online: bool) -> None:
        if any(n.lower() == name.lower() for n in self._names):
            self._online[name.lower()] = online
            self._changed(name)

    def _changed(self, name: str) -> None:
        for pos, candidate in enumerate(self._names):
            if candidate.lower() == name.lower():
                index = self.index(pos, 0)
                self.dataChanged.emit(index, index)
                return

    def _changed_all(self) -> None:
        if self._names:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._names) - 1, 0))
