"""Painting: conversation lines and the side list's entries with their unread badges.

A conversation line is three columns, as in HexChat or WeeChat: the time, the sender
(right-aligned, in a colour that is stable per name), and the text, which wraps under
itself. Links are underlined and clickable (:meth:`MessageDelegate.link_at`); your own
lines have a tint, lines that mention you an amber one with a bar at the left edge.

Sizes are measured once per row and width (:attr:`teahouse.gui.transcript.Row.size`), so a
relayout of many rows costs a dictionary look-up each, not a text layout.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextLayout,
    QTextLine,
    QTextOption,
)
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from teahouse.gui.markup import ACTION_PREFIX, clock, day_label, is_action, sender_colour
from teahouse.gui.models import (
    CONVERSATION_ROLE,
    HEADER_ROLE,
    ROW_ROLE,
    Conversation,
    MessageModel,
    is_dark,
)
from teahouse.gui.transcript import Kind, Row, Tone

Index = QModelIndex | QPersistentModelIndex

PAD_X = 10
PAD_Y = 3
GAP = 10
NICK_CHARS = "abcdefghijkl"
"""The sender column is as wide as this in bold (longer names are elided)."""


def _mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way to ``b``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


class MessageDelegate(QStyledItemDelegate):
    """Paints the rows of a :class:`~teahouse.gui.models.MessageModel` in ``view``."""

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view
        self.today = date.today
        self._viewport_width = view.viewport().width()
        self._font_key = ""
        self._update_fonts()

    # -- geometry --------------------------------------------------------------------

    def _update_fonts(self) -> None:
        font = self.view.font()
        key = font.key()
        if key == self._font_key:
            return
        self._font_key = key
        self.font = QFont(font)
        self.bold = QFont(font)
        self.bold.setBold(True)
        self.italic = QFont(font)
        self.italic.setItalic(True)
        self.small = QFont(font)
        self.small.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        self.small_bold = QFont(self.small)
        self.small_bold.setBold(True)
        fm = QFontMetrics(self.font)
        self.metrics = fm
        self.italic_metrics = QFontMetrics(self.italic)
        self.line_height = fm.height()
        self.time_w = QFontMetrics(self.small).horizontalAdvance("00:00") + GAP
        self.nick_w = QFontMetrics(self.bold).horizontalAdvance(NICK_CHARS)
        self.text_x = PAD_X + self.time_w + self.nick_w + GAP

    def set_width(self, width: int) -> None:
        """The viewport's width (the view says it before each layout: cheaper than asking)."""
        self._viewport_width = width

    def text_width(self) -> int:
        return max(60, self.view.viewport().width() - self.text_x - PAD_X)

    def _shown_text(self, row: Row) -> tuple[str, int]:
        """The text as painted, and the shift of the original text's indexes in it."""
        if row.kind in (Kind.MESSAGE, Kind.PENDING) and is_action(row.text):
            return f"{row.sender} {row.text[len(ACTION_PREFIX) :]}", len(row.sender) + 1 - len(
                ACTION_PREFIX
            )
        return row.text, 0

    def _layout(self, row: Row, width: int) -> QTextLayout:
        text, shift = self._shown_text(row)
        action = row.kind in (Kind.MESSAGE, Kind.PENDING) and is_action(row.text)
        font = self.italic if action or row.kind is Kind.SYSTEM else self.font
        layout = QTextLayout(text, font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        ranges = []
        dark = is_dark()
        if action:
            name = QTextLayout.FormatRange()
            name.start, name.length = 0, len(row.sender)
            fmt = QTextCharFormat()
            fmt.setFontWeight(QFont.Weight.Bold)
            fmt.setForeground(QColor(sender_colour(row.sender, dark=dark)))
            name.format = fmt
            ranges.append(name)
        link_colour = self.view.palette().color(QPalette.ColorRole.Link)
        for start, end, _ in row.links:
            if start + shift < 0:
                continue
            link = QTextLayout.FormatRange()
            link.start, link.length = start + shift, end - start
            fmt = QTextCharFormat()
            fmt.setFontUnderline(True)
            fmt.setForeground(link_colour)
            link.format = fmt
            ranges.append(link)
        if ranges:
            layout.setFormats(ranges)
        layout.beginLayout()
        y = 0.0
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            line.setPosition(QPointF(0, y))
            y += line.height()
        layout.endLayout()
        return layout

    def _height(self, row: Row) -> int:
        match row.kind:
            case Kind.DAY:
                return self.line_height + 18
            case Kind.START:
                return self.line_height * 2 + 16
            case _:
                width = self.text_width()
                text, _ = self._shown_text(row)
                italic = row.kind is Kind.SYSTEM or is_action(row.text)
                metrics = self.italic_metrics if italic else self.metrics
                # Most lines fit on one line: measuring the width is 10x cheaper than a layout.
                if metrics.horizontalAdvance(text) < width - 2:
                    return self.line_height + 2 * PAD_Y
                layout = self._layout(row, width)
                return round(layout.boundingRect().height()) + 2 * PAD_Y

    def _row(self, index: Index) -> Row:
        # Straight from the model: index.data() would cross into C++ and back for each row.
        model = index.model()
        if isinstance(model, MessageModel):
            return model.row_at(index)
        row: Row = index.data(ROW_ROLE)
        return row

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        row = self._row(index)
        width = self._viewport_width
        if row.size[0] != width:
            self._update_fonts()
            row.size = (width, self._height(row))
        return QSize(width, row.size[1])

    # -- painting --------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        row = self._row(index)
        self._update_fonts()
        rect: QRect = option.rect
        palette = self.view.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        faint = _mix(text, base, 0.55)
        painter.save()
        try:
            match row.kind:
                case Kind.DAY:
                    self._paint_day(painter, rect, row, faint)
                case Kind.START:
                    painter.setFont(self.italic)
                    painter.setPen(faint)
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, row.text)
                case _:
                    self._paint_line(painter, option, rect, row, base, text, faint)
        finally:
            painter.restore()

    def _paint_day(self, painter: QPainter, rect: QRect, row: Row, faint: QColor) -> None:
        label = day_label(row.when.date(), self.today()) if row.when else ""
        painter.setFont(self.small_bold)
        fm = QFontMetrics(self.small_bold)
        width = fm.horizontalAdvance(label) + 24
        mid = rect.center().y()
        painter.setPen(_mix(faint, self.view.palette().color(QPalette.ColorRole.Base), 0.5))
        left = rect.center().x() - width // 2
        painter.drawLine(rect.left() + PAD_X, mid, left, mid)
        painter.drawLine(left + width, mid, rect.right() - PAD_X, mid)
        painter.setPen(faint)
        painter.drawText(
            QRect(left, rect.top(), width, rect.height()), Qt.AlignmentFlag.AlignCenter, label
        )

    def _paint_line(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        rect: QRect,
        row: Row,
        base: QColor,
        text: QColor,
        faint: QColor,
    ) -> None:
        dark = is_dark()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        highlight = self.view.palette().color(QPalette.ColorRole.Highlight)
        if selected:
            painter.fillRect(rect, _mix(base, highlight, 0.25))
        elif row.mention and not row.own:
            painter.fillRect(rect, _mix(base, QColor("#f5b041"), 0.22 if dark else 0.18))
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor("#e67e22"))
        elif row.own:
            painter.fillRect(rect, _mix(base, highlight, 0.08))
        top = rect.top() + PAD_Y
        first_line = QRect(rect.left(), top, rect.width(), self.line_height)
        # time
        painter.setFont(self.small)
        painter.setPen(faint)
        stamp = "…" if row.kind is Kind.PENDING else (clock(row.when) if row.when else "")
        painter.drawText(
            first_line.adjusted(PAD_X, 0, 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            stamp,
        )
        # sender column
        nick_rect = QRect(rect.left() + PAD_X + self.time_w, top, self.nick_w, self.line_height)
        align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if row.kind is Kind.SYSTEM:
            painter.setFont(self.bold)
            painter.setPen(self._tone(row.tone, faint))
            painter.drawText(nick_rect, align, "—")
        elif is_action(row.text):
            painter.setFont(self.bold)
            painter.setPen(faint)
            painter.drawText(nick_rect, align, "*")
        else:
            painter.setFont(self.bold)
            colour = QColor(sender_colour(row.sender, dark=dark))
            painter.setPen(faint if row.kind is Kind.PENDING else colour)
            name = QFontMetrics(self.bold).elidedText(
                row.sender, Qt.TextElideMode.ElideMiddle, self.nick_w
            )
            painter.drawText(nick_rect, align, name)
        # text
        layout = self._layout(row, self.text_width())
        if row.kind is Kind.SYSTEM:
            painter.setPen(self._tone(row.tone, faint))
        elif row.kind is Kind.PENDING:
            painter.setPen(QColor("#c0392b") if row.failed else faint)
        else:
            painter.setPen(text)
        layout.draw(painter, QPointF(rect.left() + self.text_x, top))

    @staticmethod
    def _tone(tone: Tone, faint: QColor) -> QColor:
        if tone is Tone.GOOD:
            return QColor("#27ae60")
        if tone is Tone.BAD:
            return QColor("#c0392b")
        return faint

    # -- links -----------------------------------------------------------------------

    def link_at(self, index: Index, pos: QPoint) -> str | None:
        """The URL under ``pos`` (viewport coordinates) in the row at ``index``, if any."""
        if not index.isValid():
            return None
        row = self._row(index)
        if row.kind not in (Kind.MESSAGE, Kind.SYSTEM) or not row.links:
            return None
        rect = self.view.visualRect(index)
        x = pos.x() - rect.left() - self.text_x
        y = pos.y() - rect.top() - PAD_Y
        if x < 0 or y < 0:
            return None
        layout = self._layout(row, self.text_width())
        _, shift = self._shown_text(row)
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            if line.y() <= y < line.y() + line.height():
                if x > line.naturalTextWidth():
                    return None
                cursor = line.xToCursor(x, QTextLine.CursorPosition.CursorBetweenCharacters)
                for start, end, url in row.links:
                    if start + shift <= cursor < end + shift:
                        return url
                return None
        return None


class ConversationDelegate(QStyledItemDelegate):
    """The side list: section headers, names, and an unread badge (red when it mentions you)."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        fm = QFontMetrics(option.font)
        if index.data(HEADER_ROLE):
            return QSize(120, fm.height() + 14)
        return QSize(120, fm.height() + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rect: QRect = option.rect
        palette: QPalette = option.palette
        font = QFont(option.font)
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        painter.save()
        try:
            if index.data(HEADER_ROLE):
                font.setBold(True)
                font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
                font.setCapitalization(QFont.Capitalization.AllUppercase)
                painter.setFont(font)
                painter.setPen(_mix(text, base, 0.5))
                painter.drawText(
                    rect.adjusted(12, 6, -8, 0),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    index.data(Qt.ItemDataRole.DisplayRole),
                )
                return
            conv: Conversation = index.data(CONVERSATION_ROLE)
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            if selected:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
                painter.drawRoundedRect(rect.adjusted(4, 1, -4, -1), 5, 5)
                text = palette.color(QPalette.ColorRole.HighlightedText)
            badge = ""
            if conv.unread or conv.mentions:
                count = conv.unread or conv.mentions
                badge = str(count) if count < 1000 else "999+"
                font.setBold(True)
            if not conv.joined and conv.kind.value == "room":
                font.setItalic(True)
                text = _mix(text, base, 0.45)
            painter.setFont(font)
            fm = QFontMetrics(font)
            badge_w = fm.horizontalAdvance(badge) + 12 if badge else 0
            if badge:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                pill = QRect(
                    rect.right() - 10 - badge_w, rect.top() + 4, badge_w, rect.height() - 8
                )
                painter.setPen(Qt.PenStyle.NoPen)
                colour = QColor("#e74c3c") if conv.mentions else _mix(base, text, 0.45)
                painter.setBrush(colour)
                painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
                painter.setPen(QColor("white"))
                painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, badge)
            painter.setPen(text)
            prefix = "#" if conv.kind.value == "room" else "@"
            label = fm.elidedText(
                f"{prefix} {conv.name}", Qt.TextElideMode.ElideRight, rect.width() - 36 - badge_w
            )
            painter.drawText(
                rect.adjusted(16, 0, -16 - badge_w, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                label,
            )
        finally:
            painter.restore()
