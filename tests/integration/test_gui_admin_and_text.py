"""``teahouse gui`` against a real server: the admin panel's bans, unban and door column;
a room operator's member menu (who is this, kick from the room), away, modes; where an
announcement goes; highlight words; and text from the server that looks like HTML (it
must stay text)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
pytest.importorskip("qasync")

from PySide6.QtCore import QSettings, Qt

from teahouse.client import AdminResult, AwayChanged, Client, Presence, ServerError
from teahouse.gui.app import load_highlights, save_highlights
from teahouse.gui.models import AWAY_ROLE, OPERATOR_ROLE, ConversationKind
from teahouse.gui.transcript import Kind
from tests.conftest import next_event
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
        assert bob_row[2] == "native"  # the server says how each session came in
        assert bob_row[4] == "kitchen"
        # The other doors:
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
        assert ip_row[1] == "10.9.8.7/32"  # the server keeps an address ban as a network
        assert ip_row[2][:2] == "20"  # a date, not "until lifted"

        panel.target.clear()
        row = next(r for r in range(2) if panel.bans_model.item(r, 1).text() == "bob")
        panel.bans_table.selectRow(row)
        assert panel.target.text() == "bob"
        panel.unban_button.click()
        await gui.until(lambda: "unban: unbanned bob" in panel.log.toPlainText(), what="unban")
        await gui.until(lambda: panel.bans_model.rowCount() == 1, what="the list refreshed")
        again = await gui.user(server.port, "bob2")  # registering still works
        await again.close()
        back = Client("127.0.0.1", server.port, "bob", PASSWORD)
        gui.clients.append(back)
        await back.connect()  # bob may come back

    gui.run(body)


def test_a_room_operator_kicks_from_the_member_menu_and_asks_who(
    gui: Harness,  # noqa: F811
    make_server: Any,
) -> None:
    server = make_server(limits=FAST_LIMITS)

    async def body() -> None:
        window, _ = await gui.login(server.port, "alice")
        await gui.join(window, "tea")  # the first in a new room: its operator
        bob = await gui.user(server.port, "bob", rooms=("tea",))
        carol = await gui.user(server.port, "carol", rooms=("tea",))
        tea = window.current
        assert tea is not None
        members = tea.members
        await gui.until(lambda: "carol" in members, what="bob and carol")
        row = {name: members.index(i, 0) for i, name in enumerate(members.names())}
        assert row["alice"].data(OPERATOR_ROLE) and not row["bob"].data(OPERATOR_ROLE)
        assert window.modes.text().startswith("+") and window.modes.isVisibleTo(window)

        await bob.away("lunch")
        await gui.until(lambda: members.away_text("bob") == "lunch", what="bob away")
        assert "away: lunch" in row["bob"].data(Qt.ItemDataRole.ToolTipRole)
        assert row["bob"].data(AWAY_ROLE) == "lunch"

        menu = window.member_menu("bob")
        actions = {a.text(): a for a in menu.actions()}
        assert list(actions) == ["Talk directly", "Who is this?", "Kick from room…"]
        assert actions["Kick from room…"].isEnabled()
        actions["Who is this?"].trigger()
        await gui.until(lambda: window.whois_box is not None, what="the answer")
        assert window.whois_box is not None
        shown = window.whois_box.text().splitlines()
        assert shown[:3] == [
            "bob is online through the native protocol",
            "rooms: #tea",
            "away: lunch",
        ]
        assert shown[3].startswith("idle: ")
        assert window.whois_box.textFormat() == Qt.TextFormat.PlainText

        dialog = window.ask_kick("bob")
        dialog.setTextValue("too loud")
        dialog.accept()
        kicked = await next_event(bob, Presence, user="bob", reason="kicked")
        assert (kicked.by, kicked.text) == ("alice", "too loud")
        line = "Bob was kicked by you: too loud"
        await gui.until(lambda: line in texts(window, Kind.SYSTEM), what="the kick said")
        await gui.until(lambda: "bob" not in members, what="bob gone")
        await asyncio.sleep(0.2)  # the room's presence and the reply: one line
        assert texts(window, Kind.SYSTEM).count(line) == 1

        window.submit("/away brewing")
        told = await next_event(carol, AwayChanged, user="alice")
        assert told.text == "brewing"
        await gui.until(lambda: window.away_label.text().strip() == "Away: brewing", what="away")
        assert window.away_action.isChecked() and not window.available_action.isChecked()
        assert members.away_text("alice") == "brewing"
        window.available_action.trigger()
        back = await next_event(carol, AwayChanged, user="alice")
        assert back.text is None
        await gui.until(lambda: window.away_label.text() == "", what="back")

        window.submit("/mode +m")
        await gui.until(lambda: "m" in window.modes.text(), what="+m shown")
        assert any(t.startswith("You set +m on #tea") for t in texts(window, Kind.SYSTEM))
        window.submit("/mode -o alice")  # no longer an operator: no kicking
        await gui.until(lambda: not members.is_operator("alice"), what="-o")
        assert not {a.text(): a for a in window.member_menu("carol").actions()}[
            "Kick from room…"
        ].isEnabled()
        window.submit("/kick carol")
        await gui.until(
            lambda: any("not a room operator" in t for t in texts(window, Kind.SYSTEM)),
            what="forbidden",
        )
        assert "carol" in members

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
