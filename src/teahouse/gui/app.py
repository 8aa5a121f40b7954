"""``teahouse gui``: the application, its event loop, and the way from dialog to window."""

from __future__ import annotations

import asyncio
import gc
import json

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QLinearGradient, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import QApplication

from teahouse.client.attention import DesktopNotifier
from teahouse.gui.connect_dialog import ConnectDialog, Defaults
from teahouse.gui.main_window import MainWindow
from teahouse.gui.profiles import ProfileStore
from teahouse.gui.session import ChatSession

ORGANIZATION = "teahouse"
APPLICATION = "teahouse-gui"
HIGHLIGHT_KEY = "chat/highlight"
"""QSettings key of the highlight words (a JSON list of strings)."""


def load_highlights(settings: QSettings) -> list[str]:
    """The highlight words remembered in ``settings`` ([] when none or unreadable)."""
    try:
        words = json.loads(str(settings.value(HIGHLIGHT_KEY, "[]")))
    except ValueError:
        return []
    return [w for w in words if isinstance(w, str) and w.strip()] if isinstance(words, list) else []


def save_highlights(settings: QSettings, words: list[str]) -> None:
    settings.setValue(HIGHLIGHT_KEY, json.dumps(words))
    settings.sync()


def make_icon() -> QIcon:
    """The application icon, drawn (no image files to ship): a cup on a green tile."""
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        s = size / 64
        gradient = QLinearGradient(QPointF(0, 0), QPointF(0, size))
        gradient.setColorAt(0, QColor("#3fa56b"))
        gradient.setColorAt(1, QColor("#23744a"))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(gradient)
        p.drawRoundedRect(QRectF(0, 0, size, size), 14 * s, 14 * s)
        p.setBrush(QColor("white"))
        cup = QPainterPath()
        cup.moveTo(14 * s, 26 * s)
        cup.lineTo(44 * s, 26 * s)
        cup.cubicTo(44 * s, 44 * s, 38 * s, 50 * s, 29 * s, 50 * s)
        cup.cubicTo(20 * s, 50 * s, 14 * s, 44 * s, 14 * s, 26 * s)
        p.drawPath(cup)
        pen = p.pen()
        pen.setColor(QColor("white"))
        pen.setWidthF(4 * s)
        pen.setStyle(Qt.PenStyle.SolidLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(QRectF(40 * s, 30 * s, 10 * s, 10 * s))
        p.drawLine(QPointF(24 * s, 12 * s), QPointF(24 * s, 20 * s))
        p.drawLine(QPointF(33 * s, 10 * s), QPointF(33 * s, 20 * s))
        p.end()
        icon.addPixmap(pixmap)
    return icon


def setup_application(app: QApplication) -> QIcon:
    """Names (for QSettings), the Fusion style (same look everywhere), the icon."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("teahouse")
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)  # the asyncio loop decides when we are done
    font = app.font()
    if font.pointSizeF() < 10:
        font = QFont(font)
        font.setPointSizeF(10)
        app.setFont(font)
    icon = make_icon()
    app.setWindowIcon(icon)
    return icon


class GuiApp:
    """Connect dialog, then the main window, then again if the user switches server."""

    def __init__(
        self,
        settings: QSettings,
        defaults: Defaults,
        icon: QIcon,
        notifier: DesktopNotifier | None = None,
    ) -> None:
        self.settings = settings
        self.defaults = defaults
        self.icon = icon
        self.store = ProfileStore(settings)
        self.notifier = notifier or DesktopNotifier(command=[])

    async def run(self) -> int:
        defaults = self.defaults
        while True:
            dialog = ConnectDialog(self.settings, defaults, icon=self.icon)
            connection = await dialog.run()
            dialog.deleteLater()
            if connection is None:
                return 0
            session = ChatSession(connection.client)
            session.highlights = tuple(load_highlights(self.settings))
            host, port, user = connection.host, connection.port, connection.client.user
            session.rooms_changed.connect(
                lambda rooms, h=host, p=port, u=user: self.store.set_rooms(h, p, u, rooms)
            )
            session.highlights_changed.connect(lambda words: save_highlights(self.settings, words))
            window = MainWindow(
                session, address=f"{host}:{port}", icon=self.icon, notifier=self.notifier
            )
            session.setParent(window)  # destroyed with it, on this thread
            session.start()
            window.show()
            outcome = await window.outcome
            window.deleteLater()
            self.notifier.close()
            await asyncio.sleep(0)
            gc.collect()  # here, not in some worker thread (see profiles.off_thread)
            if outcome != "switch":
                return 0
            defaults = Defaults()
