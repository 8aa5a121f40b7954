"""``teahouse gui`` against a real server: the admin panel's bans, unban and door column;
where an announcement goes; highlight words; and text from the server that looks like HTML
(it must stay text)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
pytest.importorskip("qasync")

from PySide6.QtCore import QSettings, Qt

from teahouse.client import AdminResult, Client, ServerError
from teahouse.gui.app import load_highlights, save_highlights
from teahouse.gui.models import ConversationKind
from teahouse.gui.transcript import Kind
from tests.integration.test_gui import (
    FAST_LIMITS,
    PASSWORD,
    Harness,
    gui,  # noqa: F401 (the fixture)
    texts,
)

ADMIN = {"initial_user": "root", "initial_password": PASSWORD}


def cells(model: Any) -> list[list[str]]:
    return [
        [model.item(r, c).text() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_the_admin_panel_lists_bans_unbans_and_has_a_door_column(
    gui: Harness,  # noqa: F811
    make_server: Any,
) -> None:
    server = make_server(limits=FAST_LIMITS, admin=ADMIN)

    async def body() -> None:
        await gui.user(server.port, "bob", rooms=("kitchen",))
        window, _ = await gui.login(server.port, "root", register=False)
        panel = window.open_admin_panel()
        await gui.until(lambda: panel.who_model.rowCount() == 2, what="who")
        headers = [
            panel.who_model.headerData(i, Qt.Orientation.Horizontal)
            for i in range(panel.who_model.columnCount())
        ]
        assert headers == ["User", "Role", "Door", "Address", "Rooms", "Idle"]
        bob_row = next(row for row in cells(panel.who_model) if row[0] == "bob")
        assert bob_row[2] == "—"  # this server does not say yet
        assert bob_row[4] == "kitchen"
        # What the panel shows once the server sends the door of each session:
        panel.fill_who(
            AdminResult(
                cmd="who",
                text="",
                data=[
                    {"user": "bob", "role": "user", "door": "irc", "rooms": ["tea"], "idle": 1},
                    {"user": "carol", "role": "user", "door": "native", "rooms": [], "idle": 2},
                    {"user": "dave", "role": "user", "door": "web", "rooms": [], "idle": 3},
                ],
            )
        )
        assert [row[2] for row in cells(panel.who_model)] == ["IRC", "native", "web"]
        assert cells(panel.bans_model) == []

        panel.target.setText("bob")
        panel.reason.setText("spam")
        panel.ban_button.click()
        await gui.until(lambda: panel.bans_model.rowCount() == 1, what="the ban listed")
        assert cells(panel.bans_model) == [["user", "bob", "until lifted", "spam", "root"]]
        with pytest.raises(ServerError) as refused:
            await Client("127.0.0.1", server.port, "bob", PASSWORD, reconnect=False).connect()
        assert refused.value.code == "banned"

        panel.target.setText("10.9.8.7")
        panel.reason.clear()
        panel.duration.setText("2h")
        panel.ban_button.click()
        await gui.until(lambda: panel.bans_model.rowCount() == 2, what="the address ban")
        ip_row = next(row for row in cells(panel.bans_model) if row[0] == "ip")
        assert ip_row[1] == "10.9.8.7" and ip_row[2][:2] == "20"  # a date, not "until lifted"

        panel.target.clear()
        row = next(r for r in range(2) if panel.bans_model.item(r, 1).text() == "bob")
        panel.bans_table.selectRow(row)
        assert panel.target.text() == "bob"
        panel.unban_button.click()
        await gui.until(lambda: "unban: unbanned user bob" in panel.log.toPlainText(), what="unban")
        await gui.until(lambda: panel.bans_model.rowCount() == 1, what="the list refreshed")
        again = await gui.user(server.port, "bob2")  # registering still works
        await again.close()
        back = Client("127.0.0.1", server.port, "bob", PASSWORD)
        gui.clients.append(back)
        await back.connect()  # bob may come back

    gui.run(body)


def test_announcements_highlights_and_html_looking_text(
    gui: Harness,  # noqa: F811
    make_server: Any,
) -> None:
    server = make_server(limits=FAST_LIMITS, admin=ADMIN)

    async def body() -> None:
        root = Client("127.0.0.1", server.port, "root", PASSWORD)
        gui.clients.append(root)
        await root.connect()
        window, session = await gui.login(server.port, "alice")
        assert window.current is None
        await root.admin("broadcast", text="<b>maintenance</b> at noon")
        await gui.until(lambda: window.notifications, what="the announcement")
        assert window.notifications[-1] == ("Announcement from root", "<b>maintenance</b> at noon")
        shown = window.statusBar().currentMessage()
        assert shown == "Announcement from root: <b>maintenance</b> at noon"  # no room open

        await gui.join(window, "lobby")
        bob = await gui.user(server.port, "bob", rooms=("lobby",))
        hostile = "<img src='/no/such.png'><b>bold</b> & <a href='https://evil.example'>x</a>"
        await bob.topic("lobby", hostile)
        await gui.until(lambda: window.topic.full_text() == hostile, what="the topic")
        assert window.topic.textFormat() == Qt.TextFormat.PlainText
        assert window.title.textFormat() == Qt.TextFormat.PlainText
        assert window.topic.toolTip().startswith("<qt>&lt;img src='/no/such.png'&gt;&lt;b&gt;")
        lobby = session.conversation(ConversationKind.ROOM, "lobby")
        assert lobby is not None
        tip = session.list_model.index_of(lobby).data(Qt.ItemDataRole.ToolTipRole)
        assert "&lt;a href=" in tip and "<a href" not in tip
        assert "<b>bold</b>" in texts(window, Kind.SYSTEM)[-1]  # as text, in the line

        await root.admin("broadcast", text="back at one")
        await gui.until(
            lambda: "Announcement from root: back at one" in texts(window, Kind.SYSTEM),
            what="the announcement in the open room",
        )

        saved: list[list[str]] = []
        session.highlights_changed.connect(saved.append)
        window.submit("/highlight scones")
        assert session.highlights == ("scones",) and saved == [["scones"]]
        await bob.say("lobby", "fresh Scones on the table")
        await bob.say("lobby", "sconesy is no word")
        await gui.until(lambda: "sconesy is no word" in texts(window), what="bob's lines")
        rows = [r for r in lobby.messages.transcript.rows if r.kind is Kind.MESSAGE]
        assert [r.mention for r in rows[-2:]] == [True, False]
        window.submit("/unhighlight SCONES")
        assert session.highlights == () and saved[-1] == []

        settings = QSettings(str(gui.tmp_path / "h.ini"), QSettings.Format.IniFormat)
        assert load_highlights(settings) == []
        save_highlights(settings, ["scones", "kettle"])
        assert load_highlights(settings) == ["scones", "kettle"]
        await asyncio.sleep(0)

    gui.run(body)
