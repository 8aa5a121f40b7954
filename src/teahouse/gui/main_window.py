"""The main window: conversations on the left, the conversation in the middle, members on
the right, the input line below it, and the connection in the status bar.

Every label that can show text from the server (the topic, the server's name, the reason a
connection ended) is a plain-text label: Qt would otherwise read a topic that looks like
HTML as HTML (see :mod:`teahouse.gui.markup`).
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QFont, QIcon, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from teahouse.client import ClientError, ServerError
from teahouse.client.attention import DesktopNotifier
from teahouse.export.render import Format
from teahouse.gui import commands as c
from teahouse.gui import export
from teahouse.gui.delegates import ConversationDelegate
from teahouse.gui.dialogs import AdminPanel, JoinRoomDialog
from teahouse.gui.markup import notification_text, tooltip_html
from teahouse.gui.models import CONVERSATION_ROLE, Conversation, ConversationKind, MemberModel
from teahouse.gui.session import ChatSession
from teahouse.gui.transcript import Tone
from teahouse.gui.views import ConversationView, InputLine
from teahouse.gui.wording import (
    Link,
    describe_disconnect,
    describe_error,
    rtt_text,
    status_text,
    whois_text,
)
from teahouse.protocol.names import is_room_name, is_user_name

LINK_COLOURS = {Link.CONNECTED: "#27ae60", Link.RECONNECTING: "#e67e22", Link.OFFLINE: "#c0392b"}


def plain_label(text: str = "") -> QLabel:
    """A label that shows its text as it is, never as HTML (see the module doc)."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when it does not fit."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(40)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(tooltip_html(text) if text else "")
        self._refit()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._refit()

    def _refit(self) -> None:
        self.setText(
            self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, self.width())
        )


class MainWindow(QMainWindow):
    """The chat window for one :class:`ChatSession`.

    ``outcome`` resolves when the window is done: ``"quit"`` (the user closed it or typed
    ``/quit``) or ``"switch"`` (the user wants the connect dialog again). Notifications go
    to the system tray when there is one, else through ``notifier`` (``notify-send``, off
    by default), and the window asks for attention either way.
    """

    def __init__(
        self,
        session: ChatSession,
        *,
        address: str = "",
        icon: QIcon | None = None,
        notifier: DesktopNotifier | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.notifier = notifier or DesktopNotifier(command=[])
        self.address = address
        self.icon = icon or QIcon()
        self.current: Conversation | None = None
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.notifications: list[tuple[str, str]] = []
        self.links_opened: list[str] = []
        self._closing = False
        self._leaving: asyncio.Task[None] | None = None
        self._join_dialog: JoinRoomDialog | None = None
        self._admin_panel: AdminPanel | None = None
        self.whois_box: QMessageBox | None = None
        """The last "who is this?" answer shown."""
        if icon is not None:
            self.setWindowIcon(icon)
        self.resize(1120, 720)
        self._build()
        self._menus()
        self._tray = self._make_tray()
        self._wire()
        self._update_status()
        self._show_empty()

    # -- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)

        # left: conversations
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 8, 0, 0)
        me = plain_label(f"  {self.session.me}")
        bold = QFont(me.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.1)
        me.setFont(bold)
        left_layout.addWidget(me)
        self.conversation_list = QListView()
        self.conversation_list.setModel(self.session.list_model)
        self.conversation_list.setItemDelegate(ConversationDelegate(self.conversation_list))
        self.conversation_list.setFrameShape(QFrame.Shape.NoFrame)
        self.conversation_list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        left_layout.addWidget(self.conversation_list, 1)
        left.setMinimumWidth(150)

        # middle: topic bar, banner, conversation, input
        middle = QWidget()
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.setSpacing(0)
        bar = QFrame()
        bar.setObjectName("topicBar")
        bar.setStyleSheet(
            "#topicBar { border-bottom: 1px solid palette(mid); background: palette(window); }"
        )
        bar_layout = QHBoxLayout(bar)
        bar_layout.setContentsMargins(12, 8, 12, 8)
        self.title = plain_label()
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.15)
        self.title.setFont(title_font)
        self.modes = plain_label()
        self.modes.setStyleSheet("color: palette(placeholder-text);")
        self.modes.setToolTip("The room's modes (/mode; /help)")
        self.topic = ElidedLabel()
        self.topic.setStyleSheet("color: palette(placeholder-text);")
        bar_layout.addWidget(self.title)
        bar_layout.addWidget(self.modes)
        bar_layout.addWidget(self.topic, 1)
        middle_layout.addWidget(bar)

        self.banner = plain_label()
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setStyleSheet(
            "background: #fdebd0; color: #7e5109; padding: 5px; border-bottom: 1px solid #f0b27a;"
        )
        self.banner.hide()
        middle_layout.addWidget(self.banner)

        self.stack = QStackedWidget()
        self.view = ConversationView()
        self.empty = QLabel(
            "You are not in any room yet.\n\nPress Ctrl+J to pick one, or type /join lobby below."
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        middle_layout.addWidget(self.stack, 1)

        input_frame = QFrame()
        input_frame.setObjectName("inputFrame")
        input_frame.setStyleSheet("#inputFrame { border-top: 1px solid palette(mid); }")
        input_layout = QHBoxLayout(input_frame)
        input_layout.setContentsMargins(10, 8, 10, 8)
        self.input = InputLine()
        self.input.complete_names = self._member_names
        input_layout.addWidget(self.input)
        middle_layout.addWidget(input_frame)

        # right: members
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 8, 0, 0)
        self.members_title = plain_label("  Members")
        self.members_title.setStyleSheet("color: palette(placeholder-text);")
        right_layout.addWidget(self.members_title)
        self.member_list = QListView()
        self.member_list.setFrameShape(QFrame.Shape.NoFrame)
        self.member_list.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.member_list.setToolTip(
            "Double-click a name to talk to them directly; right-click for more"
        )
        self.member_list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        right_layout.addWidget(self.member_list, 1)
        right.setMinimumWidth(130)

        splitter.addWidget(left)
        splitter.addWidget(middle)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 760, 160])
        self.setCentralWidget(splitter)

        status = self.statusBar()
        self.link_label = QLabel()  # rich text for the coloured dot: its text is escaped
        self.link_label.setTextFormat(Qt.TextFormat.RichText)
        self.rtt_label = plain_label()
        self.server_label = plain_label()
        self.away_label = plain_label()
        self.away_label.setStyleSheet("color: #b9770e;")
        status.addWidget(self.link_label, 1)
        status.addPermanentWidget(self.away_label)
        status.addPermanentWidget(self.rtt_label)
        status.addPermanentWidget(self.server_label)

    def _menus(self) -> None:
        chat = self.menuBar().addMenu("&Chat")
        self.join_action = QAction("&Join a room…", self)
        self.join_action.setShortcut(QKeySequence("Ctrl+J"))
        self.dm_action = QAction("&Direct message…", self)
        self.dm_action.setShortcut(QKeySequence("Ctrl+D"))
        self.leave_action = QAction("&Leave this conversation", self)
        self.leave_action.setShortcut(QKeySequence("Ctrl+W"))
        self.save_action = QAction("&Save conversation as…", self)
        self.save_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        self.switch_action = QAction("&Connect to another server…", self)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        for action in (self.join_action, self.dm_action, self.leave_action, self.save_action):
            chat.addAction(action)
        chat.addSeparator()
        chat.addAction(self.switch_action)
        chat.addAction(self.quit_action)
        status_menu = self.menuBar().addMenu("&Status")
        self.available_action = QAction("&Available", self)
        self.away_action = QAction("A&way…", self)
        for action in (self.available_action, self.away_action):
            action.setCheckable(True)
            status_menu.addAction(action)
        self.available_action.setChecked(True)
        self.admin_menu = self.menuBar().addMenu("&Admin")
        self.admin_action = QAction("Admin &panel…", self)
        self.admin_menu.addAction(self.admin_action)
        help_menu = self.menuBar().addMenu("&Help")
        commands = QAction("&Commands", self)
        help_menu.addAction(commands)
        commands.triggered.connect(lambda: self._run(c.Help()))

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(self.icon, self)
        tray.setToolTip("teahouse")
        tray.activated.connect(lambda _: self._raise_window())
        tray.show()
        return tray

    def _raise_window(self) -> None:
        self.showNormal()
        self.activateWindow()

    def _wire(self) -> None:
        s = self.session
        s.opened.connect(self._opened)
        s.closed.connect(self._closed)
        s.topic_changed.connect(self._topic_changed)
        s.changed.connect(self._update_status)
        s.notified.connect(self._notify)
        s.announced.connect(self._announced)
        s.finished.connect(self._finished)
        s.applied.connect(lambda _: self.view.batch_done())
        s.list_model.modelReset.connect(self._reselect)
        selection = self.conversation_list.selectionModel()
        selection.currentChanged.connect(self._picked)
        self.view.older_wanted.connect(self._older_wanted)
        self.view.link_activated.connect(self.links_opened.append)
        self.input.submitted.connect(self.submit)
        self.member_list.doubleClicked.connect(self._member_clicked)
        self.member_list.customContextMenuRequested.connect(self._member_menu_requested)
        self.available_action.triggered.connect(lambda: self._run(c.SetAway(None)))
        self.away_action.triggered.connect(self._ask_away)
        self.join_action.triggered.connect(self.open_join_dialog)
        self.dm_action.triggered.connect(self._ask_dm)
        self.leave_action.triggered.connect(lambda: self._run(c.Part(None)))
        self.switch_action.triggered.connect(lambda: self._finish("switch"))
        self.quit_action.triggered.connect(self.close)
        self.admin_action.triggered.connect(self.open_admin_panel)
        self.save_action.triggered.connect(self.open_save_dialog)
        self._clock = QTimer(self)
        self._clock.setInterval(250)
        self._clock.timeout.connect(self._update_status)
        self._clock.start()

    # -- conversations ---------------------------------------------------------------

    def _set_members(self, model: MemberModel | None) -> None:
        """Show ``model`` in the member list, and follow its size in the title."""
        old = self.member_list.model()
        if isinstance(old, MemberModel):
            for signal in (old.rowsInserted, old.rowsRemoved, old.modelReset):
                signal.disconnect(self._members_changed)
        self.member_list.setModel(model)
        if model is not None:
            for signal in (model.rowsInserted, model.rowsRemoved, model.modelReset):
                signal.connect(self._members_changed)

    def _members_changed(self) -> None:
        if self.current is not None:
            self._topic_changed(self.current)

    def show_conversation(self, conversation: Conversation | None) -> None:
        """Show ``conversation`` in the middle (None: the "join a room" hint)."""
        if conversation is None:
            self._show_empty()
            return
        self.current = conversation
        self.stack.setCurrentWidget(self.view)
        self.view.show_model(conversation.messages)
        self._set_members(conversation.members)
        self.session.set_current(conversation)
        index = self.session.list_model.index_of(conversation)
        if self.conversation_list.currentIndex() != index:
            self.conversation_list.setCurrentIndex(index)
        self._topic_changed(conversation)
        self.input.setPlaceholderText(f"Message {conversation.title}  ·  /help for commands")
        self._update_title()
        self.input.setFocus()

    def _show_empty(self) -> None:
        self.current = None
        self.session.set_current(None)
        self.stack.setCurrentWidget(self.empty)
        self.title.setText("teahouse")
        self.modes.hide()
        self.topic.set_full_text("")
        self._set_members(None)
        self.members_title.setText("  Members")
        self.input.setPlaceholderText("/join ROOM  ·  /help for commands")
        self._update_title()

    def _opened(self, conversation: Conversation, focus: bool) -> None:
        if focus or self.current is None:
            self.show_conversation(conversation)

    def _closed(self, conversation: Conversation) -> None:
        if conversation is self.current:
            remaining = self.session.conversations()
            self.show_conversation(remaining[0] if remaining else None)

    def _reselect(self) -> None:
        if self.current is not None:
            index = self.session.list_model.index_of(self.current)
            self.conversation_list.setCurrentIndex(index)

    def _picked(self, index: QModelIndex | QPersistentModelIndex, _: object = None) -> None:
        conversation = index.data(CONVERSATION_ROLE) if index.isValid() else None
        if isinstance(conversation, Conversation) and conversation is not self.current:
            self.show_conversation(conversation)

    def _topic_changed(self, conversation: Conversation) -> None:
        if conversation is not self.current:
            return
        self.title.setText(conversation.title)
        modes = conversation.modes if conversation.modes.strip("+") else ""
        self.modes.setText(modes)
        self.modes.setVisible(bool(modes))
        if conversation.kind is ConversationKind.ROOM:
            self.topic.set_full_text(conversation.topic or "no topic")
            count = conversation.members.rowCount()
            self.members_title.setText(f"  Members — {count}")
        else:
            self.topic.set_full_text("direct conversation")
            self.members_title.setText("  Members")

    def _member_names(self) -> list[str]:
        return self.current.members.names() if self.current is not None else []

    def _member_clicked(self, index: QModelIndex) -> None:
        name = index.data(Qt.ItemDataRole.DisplayRole)
        if isinstance(name, str) and name.lower() != self.session.me.lower():
            self.session.open_dm(name)

    # -- the member list's menu ---------------------------------------------------------

    def member_menu(self, name: str) -> QMenu:
        """The actions on a member of the open conversation (right-click): talk, who is
        this, and for a room's operators (and admins) kick from the room."""
        s = self.session
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        talk = menu.addAction("Talk directly")
        talk.setEnabled(name.lower() != s.me.lower())
        talk.triggered.connect(lambda: s.open_dm(name))
        menu.addAction("Who is this?").triggered.connect(lambda: self.show_whois(name))
        conversation = self.current
        if conversation is not None and conversation.kind is ConversationKind.ROOM:
            kick = menu.addAction("Kick from room…")
            kick.setEnabled(s.may_kick(conversation) and name.lower() != s.me.lower())
            kick.triggered.connect(lambda: self.ask_kick(name))
        return menu

    def _member_menu_requested(self, pos: QPoint) -> None:
        index = self.member_list.indexAt(pos)
        name = index.data(Qt.ItemDataRole.DisplayRole) if index.isValid() else None
        if isinstance(name, str):
            self.member_menu(name).popup(self.member_list.viewport().mapToGlobal(pos))

    def show_whois(self, name: str) -> None:
        """Ask the server who ``name`` is; the answer opens in a small window."""

        async def ask() -> None:
            try:
                info = await self.session.whois(name)
            except ServerError as exc:
                text = describe_error(exc.code, exc.message)
            except ClientError as exc:
                text = f"No answer: {exc}"
            else:
                text = whois_text(info)
            box = QMessageBox(self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.setWindowTitle(f"Who is {name}?")
            box.setTextFormat(Qt.TextFormat.PlainText)  # it quotes the server
            box.setText(text)
            box.setStandardButtons(QMessageBox.StandardButton.Close)
            self.whois_box = box
            box.open()  # modeless: no nested event loop

        self.session.spawn(ask(), self.current)

    def ask_kick(self, name: str) -> QInputDialog:
        """Ask why, then kick ``name`` from the open room."""
        dialog = QInputDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle(f"Kick {name}")
        room = self.current.title if self.current is not None else "the room"
        dialog.setLabelText(f"Remove {name} from {room}. Reason (optional, they see it):")
        dialog.textValueSelected.connect(lambda why: self._run(c.Kick(name, why.strip() or None)))
        dialog.open()  # modeless: no nested event loop
        return dialog

    def _ask_away(self) -> None:
        self.away_action.setChecked(self.session.away_text is not None)
        dialog = QInputDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setWindowTitle("Away")
        dialog.setLabelText("Away message (the members of your rooms see it):")
        dialog.setTextValue(self.session.away_text or "away")
        dialog.textValueSelected.connect(lambda text: self._run(c.SetAway(text.strip() or "away")))
        dialog.open()

    def _older_wanted(self) -> None:
        conversation = self.current
        if conversation is not None and not conversation.at_start:
            self.session.spawn(self.session.load_older(conversation), conversation)

    # -- input -----------------------------------------------------------------------

    def submit(self, line: str) -> None:
        """Handle a line typed in the input (text to say, or a ``/`` command)."""
        command = c.parse_input(line)
        if command is not None:
            self._run(command)

    def _say_here(self, text: str, tone: Tone = Tone.INFO) -> None:
        if self.current is not None:
            self.session.system(self.current, text, tone)
        else:
            self.statusBar().showMessage(text, 8000)

    def _run(self, command: c.Command) -> None:
        s = self.session
        conversation = self.current
        match command:
            case c.Say(text=text):
                if conversation is None:
                    self._say_here("Join a room first: /join lobby", Tone.BAD)
                elif conversation.kind is ConversationKind.ROOM and not conversation.joined:
                    self._say_here(
                        f"You are not in #{conversation.name}: /join {conversation.name}",
                        Tone.BAD,
                    )
                else:
                    s.spawn(s.send(conversation, text), conversation)
            case c.Join(room=room, key=key):
                if not is_room_name(room):
                    self._say_here(
                        f"{room!r} is not a room name: 1 to 50 lower-case letters, digits, _ or -.",
                        Tone.BAD,
                    )
                else:
                    s.spawn(s.join(room, key), conversation)
            case c.Part(room=room):
                target = s.conversation(ConversationKind.ROOM, room) if room else conversation
                if target is None:
                    self._say_here("Nothing to leave.", Tone.BAD)
                else:
                    s.spawn(s.part(target), target)
            case c.Msg(user=user, text=text):
                if not is_user_name(user):
                    self._say_here(f"{user!r} is not a user name.", Tone.BAD)
                    return
                dm = s.open_dm(user)
                if text:
                    s.spawn(s.send(dm, text), dm)
            case c.SetTopic(room=room, text=text):
                target = s.conversation(ConversationKind.ROOM, room) if room else conversation
                if target is None or target.kind is not ConversationKind.ROOM:
                    self._say_here("Topics are for rooms: /topic #room text", Tone.BAD)
                else:
                    s.spawn(s.set_topic(target, text), target)
            case c.Quit(reason=reason):
                self._finish("quit", reason)
            case c.ListRooms():
                self.open_join_dialog()
            case c.Who():
                if conversation is not None:
                    s.spawn(s.refresh_members(conversation), conversation)
            case c.SetAway(text=text):
                s.spawn(s.set_away(text), conversation)
            case c.Whois(user=user):
                self.show_whois(user)
            case c.Kick() | c.Invite() | c.Mode() | c.RoomCommand():
                self._run_in_room(command, conversation)
            case c.Highlight(word=None):
                words = ", ".join(repr(w) for w in s.highlights) or "none"
                self._say_here(f"Your name mentions you, and these words: {words}")
            case c.Highlight(word=str(word)):
                if word.lower() in (w.lower() for w in s.highlights):
                    self._say_here(f"{word!r} is a highlight word already.")
                else:
                    s.set_highlights([*s.highlights, word])
                    self._say_here(f"Lines with {word!r} now mention you.")
            case c.Unhighlight(word=word):
                kept = [w for w in s.highlights if w.lower() != word.lower()]
                if len(kept) == len(s.highlights):
                    self._say_here(f"{word!r} was not a highlight word.", Tone.BAD)
                else:
                    s.set_highlights(kept)
                    self._say_here(f"{word!r} no longer mentions you.")
            case c.Help():
                lines = "\n".join(f"{usage:22} {what}" for usage, what in c.HELP)
                if conversation is not None:
                    for usage, what in c.HELP:
                        s.system(conversation, f"{usage} — {what}")
                else:
                    self.statusBar().showMessage(lines.replace("\n", "  ·  "), 15000)
            case c.Invalid(message=message):
                self._say_here(message, Tone.BAD)

    def _run_in_room(self, command: c.Command, conversation: Conversation | None) -> None:
        """The commands about the open room: kick, invite, mode, room."""
        s = self.session
        if conversation is None or conversation.kind is not ConversationKind.ROOM:
            self._say_here("That is for rooms: open one first.", Tone.BAD)
            return
        match command:
            case c.Kick(user=user, reason=reason):
                if not is_user_name(user):
                    self._say_here(f"{user!r} is not a user name.", Tone.BAD)
                else:
                    s.spawn(s.kick(conversation, user, reason), conversation)
            case c.Invite(user=user):
                if not is_user_name(user):
                    self._say_here(f"{user!r} is not a user name.", Tone.BAD)
                else:
                    s.spawn(s.invite(conversation, user), conversation)
            case c.Mode(changes=changes, args=args):
                s.spawn(s.mode(conversation, changes, list(args)), conversation)
            case c.RoomCommand(action=action):
                s.spawn(s.room_action(conversation, action), conversation)
            case _:
                pass

    # -- dialogs ---------------------------------------------------------------------

    def open_join_dialog(self) -> JoinRoomDialog:
        if self._join_dialog is None:
            self._join_dialog = JoinRoomDialog(self.session, self)
            self._join_dialog.join_requested.connect(lambda room: self._run(c.Join(room)))
        self._join_dialog.show()
        self._join_dialog.raise_()
        self._join_dialog.refresh()
        return self._join_dialog

    def open_admin_panel(self) -> AdminPanel:
        if self._admin_panel is None:
            self._admin_panel = AdminPanel(self.session, self)
        self._admin_panel.show()
        self._admin_panel.raise_()
        self._admin_panel.refresh()
        return self._admin_panel

    def open_save_dialog(self) -> QFileDialog | None:
        """Ask where to save the open conversation (see :mod:`teahouse.gui.export`)."""
        conversation = self.current
        if conversation is None:
            self.statusBar().showMessage("Open a conversation to save it.", 8000)
            return None
        dialog = QFileDialog(self, f"Save {conversation.title}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(list(export.NAME_FILTERS.values()))
        dialog.setDefaultSuffix(Format.HTML.suffix.lstrip("."))
        dialog.selectFile(export.suggested_stem(conversation, datetime.now()))
        dialog.filterSelected.connect(
            lambda chosen: dialog.setDefaultSuffix(
                export.choose_format("", chosen).suffix.lstrip(".")
            )
        )
        dialog.fileSelected.connect(
            lambda path: self.save_conversation(
                conversation, Path(path), export.choose_format(path, dialog.selectedNameFilter())
            )
        )
        dialog.open()  # modeless: no nested event loop
        return dialog

    def save_conversation(self, conversation: Conversation, path: Path, fmt: Format) -> None:
        """Write what ``conversation`` holds to ``path``; say how it went in the status bar."""
        try:
            count = export.save_conversation(conversation, self.session.me, path, fmt)
        except OSError as exc:
            self._say_here(f"Could not save {path}: {exc.strerror or exc}", Tone.BAD)
            return
        plural = "" if count == 1 else "s"
        self.statusBar().showMessage(f"Saved {count} message{plural} to {path}", 8000)

    def _ask_dm(self) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Direct message")
        dialog.setLabelText("Talk to (user name):")
        dialog.textValueSelected.connect(lambda name: self._run(c.Msg(name.strip(), None)))
        dialog.open()  # modeless: no nested event loop

    # -- status and notifications ----------------------------------------------------

    def _update_status(self) -> None:
        s = self.session
        text = status_text(
            s.link, now=time.monotonic(), retry_at=s.retry_at, attempt=s.attempt, reason=s.reason
        )
        colour = LINK_COLOURS[s.link]
        self.link_label.setText(f"<span style='color:{colour}'>●</span> {html.escape(text)}")
        self.link_label.setProperty("plain", text)
        self.rtt_label.setText(rtt_text(s.rtt) + "  ")
        server = s.server or "teahouse"
        self.server_label.setText(f"{server} at {self.address}  " if self.address else server)
        self.admin_menu.menuAction().setVisible(s.is_admin)
        away = s.away_text
        self.away_label.setText(f"Away: {away}  " if away else "")
        self.away_action.setChecked(away is not None)
        self.available_action.setChecked(away is None)
        if s.link is Link.CONNECTED:
            self.banner.hide()
        else:
            why = describe_disconnect(s.reason) if s.reason else ""
            head = "Connection lost" if s.link is Link.RECONNECTING else "Offline"
            self.banner.setText(f"{head}{': ' + why if why else ''}  ·  {text}")
            self.banner.show()

    def status(self) -> str:
        """The connection state as the status bar shows it (plain text)."""
        return str(self.link_label.property("plain"))

    def _update_title(self) -> None:
        where = f" — {self.current.title}" if self.current is not None else ""
        self.setWindowTitle(f"teahouse{where} — {self.session.me}@{self.address}")

    def _notify(self, title: str, text: str, conversation: object) -> None:
        self.notifications.append((title, text))
        active = self.isActiveWindow()
        if active and (conversation is None or conversation is self.current):
            return  # on screen already (an announcement is in the current conversation)
        if self._tray is not None:
            self._tray.showMessage(
                notification_text(title), notification_text(text), self.icon, 6000
            )
        else:
            self.notifier.notify(title, text)  # escapes for itself; nothing without one
        if not active:
            QApplication.alert(self, 0)

    def _announced(self, line: str) -> None:
        if self.current is None:  # no conversation shows it: the status bar does
            self.statusBar().showMessage(line, 60_000)

    def _finished(self) -> None:
        self._update_status()
        self.input.setPlaceholderText("Offline. Chat ▸ Connect to another server… to come back.")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        if event.type() == QEvent.Type.ActivationChange:
            self.session.window_active = self.isActiveWindow()
            if self.session.window_active:
                self.session.mark_read(self.current)
        super().changeEvent(event)

    # -- leaving ---------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.outcome.done():
            event.accept()
            return
        event.ignore()
        self._finish("quit")

    def _finish(self, outcome: str, reason: str | None = None) -> None:
        if self._closing:
            return
        self._closing = True
        self.hide()

        async def leave() -> None:
            try:
                async with asyncio.timeout(3):
                    await self.session.quit(reason)
            except TimeoutError:
                await self.session.close()
            finally:
                if self._tray is not None:
                    self._tray.hide()
                if not self.outcome.done():
                    self.outcome.set_result(outcome)
                self.close()

        self._leaving = asyncio.get_running_loop().create_task(leave())
