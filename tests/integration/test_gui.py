"""``teahouse gui`` against a real server: the real dialog and window, offscreen.

Each test runs its body as a coroutine on a qasync loop over pytest-qt's QApplication, as
the application does, and polls for what the window shows (no fixed sleeps). Other users
are :class:`teahouse.client.Client` objects on the same loop.

Screenshots: every test that takes one saves it under its tmp_path; with
``TEAHOUSE_SCREENSHOTS=1`` in the environment they go to ``docs/images/`` instead (that is
how the README's pictures are made)::

    TEAHOUSE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/integration/test_gui.py
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch a real keyring from the tests.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
qasync = pytest.importorskip("qasync")

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget  # noqa: E402

from teahouse.client import Client  # noqa: E402
from teahouse.export.render import Format  # noqa: E402
from teahouse.gui.app import GuiApp, setup_application  # noqa: E402
from teahouse.gui.connect_dialog import ConnectDialog, Defaults  # noqa: E402
from teahouse.gui.export import NAME_FILTERS  # noqa: E402
from teahouse.gui.main_window import MainWindow  # noqa: E402
from teahouse.gui.models import WINDOW, ConversationKind  # noqa: E402
from teahouse.gui.profiles import ProfileStore  # noqa: E402
from teahouse.gui.session import ChatSession  # noqa: E402
from teahouse.gui.transcript import Kind  # noqa: E402
from teahouse.gui.views import TRIM_SLACK  # noqa: E402
from teahouse.gui.wording import Field, Link  # noqa: E402

PASSWORD = "tea-for-two-1"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# Lifts the per-connection flood limits so the tests can fill rooms quickly.
FAST_LIMITS = {"frames_per_second": 5000.0, "frames_burst": 5000.0}
# Lifts the per-account storage quota (messages and bytes stored an hour): right for real
# users, in the way of a load test.
NO_QUOTA = {"messages_per_hour": 0, "bytes_per_hour": 0}


class Harness:
    """Runs a test body on a qasync loop and keeps what must be closed afterwards."""

    def __init__(self, app: QApplication, tmp_path: Path) -> None:
        self.app = app
        self.tmp_path = tmp_path
        self.settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
        self.icon = setup_application(app)
        self.clients: list[Client] = []
        self.sessions: list[ChatSession] = []
        self.widgets: list[QWidget] = []

    def run(self, body: Callable[[], Awaitable[None]]) -> None:
        async def main() -> None:
            try:
                await body()
            finally:
                await self._cleanup()

        try:
            with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(self.app)) as runner:
                runner.run(main())
        finally:
            # Qt objects must die on this thread; see teahouse.gui.profiles.off_thread.
            self.app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
            gc.collect()

    async def _cleanup(self) -> None:
        for session in self.sessions:
            await session.close()
        for client in self.clients:
            await client.close()
        for session in self.sessions:
            session.deleteLater()
        for widget in self.widgets:
            widget.hide()
            widget.deleteLater()
        await asyncio.sleep(0.05)

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    async def until(
        condition: Callable[[], object], timeout: float = 10.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def user(self, port: int, name: str, *, rooms: tuple[str, ...] = ()) -> Client:
        """Another user, registered and connected (as a plain library client)."""
        client = Client("127.0.0.1", port, name, PASSWORD, register=True, rooms=rooms)
        self.clients.append(client)
        await client.connect()
        return client

    def dialog(self, port: int, user: str, *, register: bool = True) -> ConnectDialog:
        dialog = ConnectDialog(
            self.settings,
            Defaults(host="127.0.0.1", port=port, user=user, register=register),
            icon=self.icon,
        )
        self.widgets.append(dialog)
        dialog.password.setText(PASSWORD)
        dialog.repeat.setText(PASSWORD)
        dialog.show()
        return dialog

    async def login(
        self, port: int, user: str, *, register: bool = True
    ) -> tuple[MainWindow, ChatSession]:
        """Through the real connect dialog, then the main window, as the app does."""
        dialog = self.dialog(port, user, register=register)
        await dialog.probe_keyring()
        dialog.connect_button.click()
        await self.until(lambda: dialog.result_connection is not None, what="login")
        connection = dialog.result_connection
        assert connection is not None
        session = ChatSession(connection.client)
        self.sessions.append(session)
        window = MainWindow(session, address=f"127.0.0.1:{port}", icon=self.icon)
        self.widgets.append(window)
        session.start()
        window.show()
        return window, session

    async def join(self, window: MainWindow, room: str) -> None:
        window.input.setText(f"/join {room}")
        window.input.returnPressed.emit()
        await self.until(
            lambda: window.current is not None and window.current.name == room,
            what=f"#{room} shown",
        )

    def shot(self, widget: QWidget, name: str) -> Path:
        """Save a picture of ``widget`` (see the module doc for where)."""
        folder = IMAGES if os.environ.get("TEAHOUSE_SCREENSHOTS") else self.tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.app.processEvents()
        assert widget.grab().save(str(path), "PNG"), f"could not save {path}"
        return path


@pytest.fixture
def gui(qapp: QApplication, tmp_path: Path) -> Iterator[Harness]:
    yield Harness(qapp, tmp_path)


def texts(window: MainWindow, kind: Kind = Kind.MESSAGE) -> list[str]:
    assert window.current is not None
    return [r.text for r in window.current.messages.transcript.rows if r.kind is kind]


def ids(window: MainWindow) -> list[int]:
    assert window.current is not None
    return window.current.messages.transcript.message_ids()


# -- tests --------------------------------------------------------------------------------


def test_log_in_join_send_and_receive(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        dialog = gui.dialog(server.port, "alice")
        gui.shot(dialog, "gui-connect-dialog")
        window, _ = await gui.login(server.port, "alice")
        assert window.status() == "Connected"
        assert window.stack.currentWidget() is window.empty  # no room yet: a hint

        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        await gui.until(lambda: "bob" in window.current.members, what="bob in members")  # type: ignore[union-attr]
        await bob.say("lobby", "hello alice, the kettle is on: https://example.org/tea")
        await gui.until(lambda: any("kettle" in t for t in texts(window)), what="bob's line")

        window.input.setText("hi bob")
        window.input.returnPressed.emit()
        window.input.setText("/me pours the tea")
        window.input.returnPressed.emit()
        events = bob.events()
        heard: list[str] = []

        async def bob_hears() -> None:
            async for event in events:
                text = getattr(event, "text", None)
                if getattr(event, "sender", "") == "alice" and text:
                    heard.append(text)
                if len(heard) == 2:
                    return

        await asyncio.wait_for(bob_hears(), 10)
        assert heard == ["hi bob", "/me pours the tea"]
        await gui.until(lambda: len(texts(window)) == 3, what="own lines acknowledged")
        rows = [r for r in window.current.messages.transcript.rows if r.kind is Kind.MESSAGE]  # type: ignore[union-attr]
        assert [(r.sender, r.own) for r in rows] == [
            ("bob", False),
            ("alice", True),
            ("alice", True),
        ]
        assert rows[0].mention and rows[0].links[0][2] == "https://example.org/tea"
        assert ids(window) == sorted(ids(window))
        assert not texts(window, Kind.PENDING)
        # Up walks back through what was typed.
        window.input.setFocus()
        from PySide6.QtTest import QTest

        QTest.keyClick(window.input, Qt.Key.Key_Up)
        assert window.input.text() == "/me pours the tea"
        QTest.keyClick(window.input, Qt.Key.Key_Up)
        assert window.input.text() == "hi bob"
        QTest.keyClick(window.input, Qt.Key.Key_Down)
        QTest.keyClick(window.input, Qt.Key.Key_Down)
        assert window.input.text() == ""

        # A link in a line is clickable.
        view = window.view
        model = view.message_model()
        assert model is not None
        row = next(i for i in range(model.rowCount()) if "kettle" in str(model.index(i, 0).data()))
        rect = view.visualRect(model.index(row, 0))
        text_x = rect.left() + view.delegate.text_x
        found = None
        for dx in range(0, rect.width() - view.delegate.text_x, 4):
            found = view.link_at(rect.topLeft().__class__(text_x + dx, rect.top() + 8))
            if found:
                break
        assert found == "https://example.org/tea"

        # The remembered server and user come back in a new dialog, never the password.
        again = ConnectDialog(gui.settings, icon=gui.icon)
        gui.widgets.append(again)
        assert again.server.currentText() == "127.0.0.1"
        assert again.port.value() == server.port
        assert again.user.currentText() == "alice"
        assert again.password.text() == ""
        assert "tea-for-two" not in (gui.tmp_path / "gui.ini").read_text()

    gui.run(body)


def test_unread_counts_mentions_and_direct_messages(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        window, session = await gui.login(server.port, "alice")
        await gui.join(window, "kitchen")
        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("kitchen", "lobby"))
        kitchen = session.conversation(ConversationKind.ROOM, "kitchen")
        lobby = session.conversation(ConversationKind.ROOM, "lobby")
        assert kitchen is not None and lobby is not None and window.current is lobby
        await bob.say("kitchen", "the scones are ready")
        await bob.say("kitchen", "alice, do you want jam?")
        await bob.say("kitchen", "or cream?")
        await bob.say("lobby", "hello lobby")
        await gui.until(lambda: kitchen.unread == 3, what="3 unread in #kitchen")
        assert kitchen.mentions == 1
        assert lobby.unread == 0  # it is on screen
        index = session.list_model.index_of(kitchen)
        assert "3 unread" in index.data(Qt.ItemDataRole.ToolTipRole)
        assert window.notifications[-1] == ("bob in #kitchen", "alice, do you want jam?")

        await bob.dm("alice", "psst, a secret")
        await gui.until(
            lambda: session.conversation(ConversationKind.DM, "bob") is not None,
            what="DM conversation",
        )
        dm = session.conversation(ConversationKind.DM, "bob")
        assert dm is not None
        await gui.until(lambda: dm.unread == 1 and dm.mentions == 1, what="DM unread")
        assert window.notifications[-1] == ("bob", "psst, a secret")
        gui.shot(window, "gui-unread")

        window.conversation_list.setCurrentIndex(session.list_model.index_of(kitchen))
        assert window.current is kitchen
        assert kitchen.unread == kitchen.mentions == 0
        assert texts(window)[-3:] == [
            "the scones are ready",
            "alice, do you want jam?",
            "or cream?",
        ]
        window.submit("/msg bob thanks!")
        await gui.until(lambda: window.current is dm and "thanks!" in texts(window), what="DM")

    gui.run(body)


def test_older_history_loads_on_scroll_up(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        for n in range(1, 131):
            await bob.say("lobby", f"line {n}")
        window, _ = await gui.login(server.port, "alice")
        await gui.join(window, "lobby")
        lobby = window.current
        assert lobby is not None
        await gui.until(lambda: len(ids(window)) == 50, what="the join's replay")
        assert texts(window)[0] == "line 81" and not lobby.at_start

        bar = window.view.verticalScrollBar()
        await gui.until(lambda: bar.maximum() > 0, what="a scrollable view")
        bar.setValue(bar.minimum())  # the user scrolls to the top
        await gui.until(lambda: len(ids(window)) == 130, what="one page of history")
        assert texts(window) == [f"line {n}" for n in range(1, 131)]
        assert ids(window) == sorted(set(ids(window)))
        # 30 of the asked 100 came: that was the beginning.
        assert lobby.at_start and lobby.messages.transcript.has_start()
        assert not window.view.follow  # the reader stays where they were

    gui.run(body)


def test_login_errors_show_next_to_their_field(gui: Harness, make_server: Any) -> None:
    server = make_server()

    async def body() -> None:
        await gui.user(server.port, "alice")
        dialog = gui.dialog(server.port, "alice", register=False)
        dialog.password.setText("not-the-password")
        assert await dialog.attempt() is None
        assert dialog.error_text(Field.PASSWORD) == "Wrong user name or password."
        assert dialog.error_text(Field.USER) == ""
        # Shown right under the password field, in the form.
        pw, error = dialog.password.geometry(), dialog.password_error.geometry()
        assert error.top() >= pw.bottom() and error.left() == pw.left()
        assert dialog.password_error.isVisible()
        gui.shot(dialog, "gui-connect-wrong-password")
        dialog.password.setText("x")
        dialog.password.textEdited.emit("x")
        assert dialog.error_text(Field.PASSWORD) == ""

        # Registering a name that exists: said next to the user name.
        taken = gui.dialog(server.port, "ALICE", register=True)
        assert await taken.attempt() is None
        assert taken.error_text(Field.USER).startswith("This name is taken")

        # Too short a password when registering.
        weak = gui.dialog(server.port, "carol", register=True)
        weak.password.setText("short")
        weak.repeat.setText("short")
        assert await weak.attempt() is None
        assert weak.error_text(Field.PASSWORD).startswith("This password is too weak")

        # Failures beyond the free attempts are throttled: a countdown, Connect disabled.
        dialog.password.setText("still-wrong-1")
        for _ in range(4):
            await dialog.attempt()
            if "Try again in" in dialog.error_text(Field.PASSWORD):
                break
        assert "Too many attempts. Try again in" in dialog.error_text(Field.PASSWORD)
        assert not dialog.connect_button.isEnabled()
        await gui.until(dialog.connect_button.isEnabled, timeout=10, what="countdown")
        assert dialog.error_text(Field.PASSWORD) == "You can try again now."

    gui.run(body)


def test_forced_disconnect_shows_reconnecting_then_every_missed_message_once(
    gui: Harness, make_server: Any
) -> None:
    server = make_server(heartbeat={"interval": 0.5, "timeout": 1.5}, limits=FAST_LIMITS)

    async def body() -> None:
        window, session = await gui.login(server.port, "alice")
        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        for n in range(1, 6):
            await bob.say("lobby", f"before {n}")
        await gui.until(lambda: len(ids(window)) == 5, what="the first lines")

        server.proc.send_signal(signal.SIGSTOP)  # the server stops answering heartbeats
        try:
            await gui.until(
                lambda: window.status().startswith("Reconnecting"),
                timeout=8,
                what="reconnecting",
            )
            assert session.link is Link.RECONNECTING and window.banner.isVisible()
            assert any("Connection lost" in t for t in texts(window, Kind.SYSTEM))
            # What alice types now waits, on screen, until the link is back.
            window.submit("did I miss anything?")
            # Bob speaks while alice is cut off (his client retries with nonces, too).
            says = [asyncio.ensure_future(bob.say("lobby", f"missed {n}")) for n in range(1, 8)]
            await asyncio.sleep(0.3)
            gui.shot(window, "gui-reconnecting")
        finally:
            server.proc.send_signal(signal.SIGCONT)
        await asyncio.wait_for(asyncio.gather(*says), 20)
        expected = [f"before {n}" for n in range(1, 6)] + [f"missed {n}" for n in range(1, 8)]
        await gui.until(
            lambda: all(t in texts(window) for t in [*expected, "did I miss anything?"]),
            timeout=20,
            what="every missed line",
        )
        await gui.until(lambda: window.status() == "Connected", what="connected again")
        shown = texts(window)
        for line in [*expected, "did I miss anything?"]:
            assert shown.count(line) == 1, line
        assert ids(window) == sorted(set(ids(window)))
        assert not texts(window, Kind.PENDING)
        assert any(t.startswith("Back online") for t in texts(window, Kind.SYSTEM))

    gui.run(body)


def test_a_burst_is_shown_in_full_without_freezing(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS, storage=NO_QUOTA)
    count = 3000

    async def body() -> None:
        window, session = await gui.login(server.port, "alice")
        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        await gui.until(lambda: "bob" in window.current.members, what="bob")  # type: ignore[union-attr]
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start()
        start = session.messages_shown
        await asyncio.gather(*(bob.say("lobby", f"burst {n}") for n in range(count)))
        await gui.until(lambda: session.messages_shown - start >= count, timeout=30, what="burst")
        await asyncio.sleep(0.1)
        timer.stop()
        longest = max(b - a for a, b in itertools.pairwise(ticks))
        assert longest < 0.5, f"the window froze for {longest * 1000:.0f} ms"
        burst = [t for t in texts(window) if t.startswith("burst ")]
        assert burst == [f"burst {n}" for n in range(count)]
        # The view lays out only the newest lines; the rest waits in memory above them.
        model = window.view.message_model()
        assert model is not None
        assert model.rowCount() <= WINDOW + TRIM_SLACK and model.hidden > 0
        assert window.view.at_bottom()
        shown = model.rowCount()
        bar = window.view.verticalScrollBar()
        bar.setValue(bar.minimum())  # scrolling up brings them back, without the server
        await gui.until(lambda: model.rowCount() > shown, what="older rows from memory")
        assert not window.current.loading_older  # type: ignore[union-attr]

    gui.run(body)


EARLIER = [
    ("bob", "has anyone tried the new oolong from the market?"),
    ("carol", "yes! smoky, a bit like lapsang but gentler"),
    ("erin", "I'm more of a sencha person, but I'd try it"),
    ("dave", "steep it at 90°C for three minutes, not longer, or it turns bitter"),
    ("bob", "noted"),
    ("carol", "speaking of which, the cake rota for next week is pinned in #garden"),
    (
        "erin",
        "I can't do Tuesday, can someone swap with me? Thursday or Friday works, and I "
        "promise the lemon drizzle will be worth the wait this time",
    ),
    ("dave", "I'll take Tuesday"),
    ("erin", "you're a star"),
]


def test_main_window_with_a_busy_room(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS)
    script = [
        ("carol", "morning all ☀"),
        ("bob", "morning! who put the kettle on?"),
        ("dave", "/me puts the kettle on"),
        ("carol", "release notes for 0.1 are up: https://example.org/teahouse/0.1"),
        ("bob", "nice, reconnects are seamless now"),
        ("erin", "alice, did you get the invite for Sunday?"),
        ("alice", "I did, thanks! I'll bring the good teapot"),
        ("dave", "I can bring scones"),
        ("carol", "and I bring clotted cream, obviously"),
        ("bob", "let's settle the eternal question: jam first or cream first?"),
        ("erin", "cream first. this is not up for debate, and I will defend it to the end"),
        ("dave", "/me slowly backs away from the table"),
        ("alice", "jam first, always. that's how they do it in Cornwall"),
        ("carol", "here we go again"),
    ]

    async def body() -> None:
        others = {}
        for name in ("bob", "carol", "dave", "erin"):
            others[name] = await gui.user(server.port, name, rooms=("lobby", "garden"))
        await others["carol"].topic("lobby", "tea, cake and gossip · be kind")
        for name, text in EARLIER:  # what the room said before alice came in
            await others[name].say("lobby", text)
        window, session = await gui.login(server.port, "alice")
        await gui.join(window, "garden")
        await gui.join(window, "lobby")
        lobby = window.current
        assert lobby is not None
        for name, text in script:
            if name == "alice":
                await session.send(lobby, text)  # as the input line does
            else:
                await others[name].say("lobby", text)
        await others["bob"].say("garden", "alice, the roses are out")
        await others["erin"].say("garden", "come and see them")
        await others["dave"].dm("alice", "psst: the scones are a surprise")
        await gui.until(lambda: texts(window)[-1] == "here we go again", what="the script")
        await gui.until(lambda: window.current.members.rowCount() == 5, what="members")  # type: ignore[union-attr]
        await gui.until(
            lambda: session.conversation(ConversationKind.DM, "dave") is not None, what="DM"
        )
        await asyncio.sleep(0.3)
        gui.shot(window, "gui-main-window")

    gui.run(body)


def test_join_dialog_and_admin_panel(gui: Harness, make_server: Any) -> None:
    server = make_server(
        limits=FAST_LIMITS, admin={"initial_user": "root", "initial_password": PASSWORD}
    )

    async def body() -> None:
        bob = await gui.user(server.port, "bob", rooms=("kitchen",))
        await bob.topic("kitchen", "scones and jam")
        window, session = await gui.login(server.port, "root", register=False)
        assert session.is_admin and window.admin_menu.menuAction().isVisible()

        dialog = window.open_join_dialog()
        await gui.until(lambda: dialog.model.rowCount() == 1, what="the room list")
        assert dialog.model.item(0, 0).text() == "#kitchen"
        assert dialog.model.item(0, 2).text() == "scones and jam"
        dialog.table.selectRow(0)
        dialog.join_button.click()
        await gui.until(lambda: window.current is not None, what="joined from the dialog")
        assert window.current is not None and window.current.name == "kitchen"
        assert window.topic.full_text() == "scones and jam"

        panel = window.open_admin_panel()
        await gui.until(lambda: panel.who_model.rowCount() == 2, what="who")
        panel.target.setText("bob")
        panel.reason.setText("time for bed")
        events = bob.events()
        panel.kick_button.click()
        await gui.until(lambda: "kicked bob" in panel.log.toPlainText(), what="kick result")

        async def kicked() -> None:
            async for event in events:
                if getattr(event, "reason", None) == "kicked":
                    return

        await asyncio.wait_for(kicked(), 5)
        panel.broadcast_text.setText("the shop closes at five")
        panel.broadcast_button.click()
        await gui.until(
            lambda: any("the shop closes at five" in t for t in texts(window, Kind.SYSTEM)),
            what="broadcast shown",
        )

    gui.run(body)


def test_topic_part_and_quit_from_the_input_line(gui: Harness, make_server: Any) -> None:
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        window, session = await gui.login(server.port, "alice")
        await gui.join(window, "lobby")
        lobby = window.current
        assert lobby is not None
        window.submit("/topic scones at four")  # alice came first: she is the operator
        await gui.until(lambda: window.topic.full_text() == "scones at four", what="topic")
        assert "alice set the topic: scones at four" in texts(window, Kind.SYSTEM)
        window.submit("/frobnicate")
        assert texts(window, Kind.SYSTEM)[-1].startswith("unknown command /frobnicate")
        window.submit("/part")
        await gui.until(lambda: window.current is None, what="parted")
        assert session.conversation(ConversationKind.ROOM, "lobby") is None
        assert window.stack.currentWidget() is window.empty
        # Remembered for the next login: no rooms now.
        assert ProfileStore(gui.settings).rooms("127.0.0.1", server.port, "alice") == []
        window.submit("/quit off to bed")
        assert await asyncio.wait_for(window.outcome, 5) == "quit"
        await gui.until(lambda: session.link is Link.OFFLINE, what="offline")

    gui.run(body)


def test_save_the_open_conversation(gui: Harness, make_server: Any, tmp_path: Path) -> None:
    """Chat > Save conversation as…: the file dialog, then the transcript, private."""
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        window, _ = await gui.login(server.port, "alice")
        assert window.open_save_dialog() is None  # nothing open yet
        assert window.statusBar().currentMessage() == "Open a conversation to save it."
        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        await bob.say("lobby", "<script>alert(1)</script>")
        await bob.say("lobby", "/me pours the tea")
        await gui.until(lambda: len(ids(window)) == 2, what="bob's lines")

        window.save_action.trigger()
        dialog = next(w for w in window.findChildren(QFileDialog) if w.isVisible())
        assert dialog.acceptMode() is QFileDialog.AcceptMode.AcceptSave
        assert dialog.selectedNameFilter() == NAME_FILTERS[Format.HTML]
        dialog.selectNameFilter(NAME_FILTERS[Format.TEXT])
        dialog.filterSelected.emit(NAME_FILTERS[Format.TEXT])
        dialog.selectFile(str(tmp_path / "lobby"))  # no suffix: the chosen filter's
        dialog.accept()
        saved = tmp_path / "lobby.txt"
        await gui.until(saved.exists, what="the saved file")
        lines = saved.read_text().splitlines()
        assert [line.split("] ", 1)[1] for line in lines] == [
            "<bob> <script>alert(1)</script>",
            "* bob pours the tea",
        ]
        assert saved.stat().st_mode & 0o777 == 0o600
        assert window.statusBar().currentMessage() == f"Saved 2 messages to {saved}"

    gui.run(body)


def test_tls_needs_a_trusted_certificate(gui: Harness, make_server: Any, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "cert.pem")
    cert.private_key_pem.write_to_path(tmp_path / "key.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    tls = {"cert": str(tmp_path / "cert.pem"), "key": str(tmp_path / "key.pem")}
    server = make_server(tls={**tls, "native_port": 0, "irc_port": 0})
    port = server.doors["native_tls"]

    async def body() -> None:
        dialog = gui.dialog(port, "alice")
        dialog.tls.setChecked(True)
        dialog.port.setValue(port)
        assert await dialog.attempt() is None
        assert "not trusted" in dialog.error_text(Field.TLS)
        dialog.ca_file.setText(str(tmp_path / "ca.pem"))
        connection = await dialog.attempt()
        assert connection is not None and connection.client.user == "alice"
        gui.clients.append(connection.client)
        remembered = ProfileStore(gui.settings).find("127.0.0.1", port)
        assert remembered is not None and remembered.tls
        assert remembered.ca_file == str(tmp_path / "ca.pem")

    gui.run(body)


def test_the_application_from_dialog_to_quit(gui: Harness, make_server: Any) -> None:
    """``teahouse gui`` as a whole (GuiApp): the dialog, the window, /quit, exit status 0."""
    server = make_server()

    async def body() -> None:
        app = GuiApp(gui.settings, Defaults(host="127.0.0.1", port=server.port), gui.icon)
        running = asyncio.ensure_future(app.run())

        def top(kind: type[QWidget]) -> Any:
            return next(
                (w for w in gui.app.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
                None,
            )

        await gui.until(lambda: top(ConnectDialog) is not None, what="the dialog")
        dialog = top(ConnectDialog)
        dialog.register_mode.setChecked(True)
        dialog.user.setEditText("alice")
        dialog.password.setText(PASSWORD)
        dialog.repeat.setText(PASSWORD)
        dialog.connect_button.click()
        await gui.until(lambda: top(MainWindow) is not None, what="the window")
        window = top(MainWindow)
        await gui.join(window, "lobby")
        window.submit("/quit")
        assert await asyncio.wait_for(running, 10) == 0
        assert ProfileStore(gui.settings).rooms("127.0.0.1", server.port, "alice") == ["lobby"]

    gui.run(body)
