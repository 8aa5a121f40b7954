"""The conversation view and the input line.

:class:`ConversationView` follows the newest line while the user is at the bottom, stays
put while they read further up (new lines do not move what they read, older lines put above
do not either), and asks for older lines when they reach the top: first the rows its model
keeps above its window, then, through :attr:`ConversationView.older_wanted`, the server.

:class:`InputLine` keeps what was typed (Up/Down walk through it) and completes member
names with Tab.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QAbstractScrollArea, QLineEdit, QListView, QWidget

from teahouse.gui.delegates import MessageDelegate
from teahouse.gui.models import WINDOW, MessageModel

FOLLOW_SLACK = 4
"""Pixels from the bottom that still count as "at the bottom"."""
TRIM_SLACK = 200
"""Rows past :data:`~teahouse.gui.models.WINDOW` before the window is trimmed."""


class ConversationView(QListView):
    """A list view of one conversation at a time (see the module doc)."""

    older_wanted = Signal()
    """The user reached the top and nothing older is kept: ask the server."""
    link_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # First: the setters below may already lay items out through the delegate.
        self.delegate = MessageDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.verticalScrollBar().setSingleStep(20)
        self.follow = True
        """Stick to the newest line (the user is at the bottom)."""
        self._from_bottom: int | None = None
        """While older rows are put above: keep this distance from the bottom."""
        self._adjusting = False
        self._trim_pending = False
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._value_changed)
        bar.sliderPressed.connect(self._user_scrolls)

    # -- model -----------------------------------------------------------------------

    def message_model(self) -> MessageModel | None:
        model = self.model()
        return model if isinstance(model, MessageModel) else None

    def show_model(self, model: MessageModel) -> None:
        """Show another conversation, at its newest line."""
        old = self.message_model()
        if old is not None:
            old.rowsAboutToBeInserted.disconnect(self._rows_coming)
            old.rowsInserted.disconnect(self._rows_inserted)
        self.follow = True
        self._from_bottom = None
        model.trim()
        self.setModel(model)
        model.rowsAboutToBeInserted.connect(self._rows_coming)
        model.rowsInserted.connect(self._rows_inserted)
        self.scrollToBottom()

    def _rows_coming(self, parent: QModelIndex, first: int, last: int) -> None:
        if first == 0 and not self.follow:
            bar = self.verticalScrollBar()
            self._from_bottom = bar.maximum() - bar.value()

    def _rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        model = self.message_model()
        if (
            self.follow
            and model is not None
            and model.rowCount() > WINDOW + TRIM_SLACK
            and not self._trim_pending
        ):
            # Not from inside the model's signal: other listeners still handle it.
            self._trim_pending = True
            QTimer.singleShot(0, self._trim)

    def batch_done(self) -> None:
        """Lines were just added: trim the window now, before the view lays it out."""
        self._trim()

    def _trim(self) -> None:
        self._trim_pending = False
        model = self.message_model()
        if model is not None and self.follow:
            model.trim()

    def doItemsLayout(self) -> None:  # noqa: N802
        self.delegate.set_width(self.viewport().width())
        super().doItemsLayout()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        self.delegate.set_width(self.viewport().width())
        super().resizeEvent(event)

    # -- scrolling -------------------------------------------------------------------

    def _range_changed(self, low: int, high: int) -> None:
        bar = self.verticalScrollBar()
        self._adjusting = True
        try:
            if self.follow:
                bar.setValue(high)
            elif self._from_bottom is not None:
                bar.setValue(high - self._from_bottom)
        finally:
            self._adjusting = False

    def _value_changed(self, value: int) -> None:
        if self._adjusting:
            return
        bar = self.verticalScrollBar()
        self.follow = value >= bar.maximum() - FOLLOW_SLACK
        if self.follow:
            self._from_bottom = None
        if value <= bar.minimum() and bar.maximum() > 0:
            self.reached_top()

    def _user_scrolls(self) -> None:
        self._from_bottom = None

    def reached_top(self) -> None:
        """Show older rows: those kept in memory first, else ask for history."""
        model = self.message_model()
        if model is None:
            return
        self.follow = False
        if model.hidden:
            bar = self.verticalScrollBar()
            self._from_bottom = bar.maximum() - bar.value()
            model.reveal_older()
        else:
            self.older_wanted.emit()

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - FOLLOW_SLACK

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        self._from_bottom = None
        bar = self.verticalScrollBar()
        if event.angleDelta().y() > 0 and bar.value() <= bar.minimum():
            self.reached_top()  # the content may not even fill the view
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_selection()
            return
        self._from_bottom = None
        super().keyPressEvent(event)

    # -- links and copying -----------------------------------------------------------

    def link_at(self, pos: QPoint) -> str | None:
        return self.delegate.link_at(self.indexAt(pos), pos)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        over_link = self.link_at(event.position().toPoint()) is not None
        self.viewport().setCursor(
            Qt.CursorShape.PointingHandCursor if over_link else Qt.CursorShape.ArrowCursor
        )
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            url = self.link_at(event.position().toPoint())
            if url is not None:
                self.link_activated.emit(url)
                QDesktopServices.openUrl(QUrl(url))
                return
        super().mouseReleaseEvent(event)

    def copy_selection(self) -> None:
        indexes: list[QModelIndex | QPersistentModelIndex] = sorted(
            self.selectedIndexes(), key=lambda i: i.row()
        )
        lines = [str(i.data(Qt.ItemDataRole.DisplayRole)) for i in indexes]
        if lines:
            QGuiApplication.clipboard().setText("\n".join(lines))


class InputLine(QLineEdit):
    """The line you type in (see the module doc). ``submitted`` carries the line."""

    submitted = Signal(str)
    MAX_HISTORY = 500

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: list[str] = []
        self._pos = 0
        self._draft = ""
        self.complete_names: Callable[[], list[str]] = list
        self.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        line = self.text()
        if not line.strip():
            return
        if not self.history or self.history[-1] != line:
            self.history.append(line)
            del self.history[: -self.MAX_HISTORY]
        self._pos = len(self.history)
        self._draft = ""
        self.clear()
        self.submitted.emit(line)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key == Qt.Key.Key_Up:
            self._walk(-1)
        elif key == Qt.Key.Key_Down:
            self._walk(+1)
        elif key == Qt.Key.Key_Tab and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self._complete()
        else:
            super().keyPressEvent(event)

    def event(self, event: object) -> bool:
        # Tab would move the focus away before keyPressEvent sees it.
        if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Tab:
            if event.type() == QKeyEvent.Type.KeyPress:
                self.keyPressEvent(event)
            return True
        return super().event(event)  # type: ignore[arg-type]

    def _walk(self, step: int) -> None:
        if not self.history:
            return
        if self._pos == len(self.history):
            self._draft = self.text()
        self._pos = max(0, min(len(self.history), self._pos + step))
        self.setText(self.history[self._pos] if self._pos < len(self.history) else self._draft)

    def _complete(self) -> None:
        text = self.text()[: self.cursorPosition()]
        word_start = text.rfind(" ") + 1
        word = text[word_start:]
        if not word:
            return
        matches = [n for n in self.complete_names() if n.lower().startswith(word.lower())]
        if len(matches) != 1:
            return
        suffix = ": " if word_start == 0 else " "
        rest = self.text()[self.cursorPosition() :]
        self.setText(text[:word_start] + matches[0] + suffix + rest)
        self.setCursorPosition(word_start + len(matches[0]) + len(suffix))
