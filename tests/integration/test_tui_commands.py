"""The terminal client's rough edges, against a real server (and one hostile server):
Tab completion, the IRC-style commands (away, whois, mode, kick, invite, keys, room
registration; and what an older server without them gets), the ignore list, where an
announcement goes, the bell and notifications, and text that must never drive the
terminal, in the full-screen client and in line mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.events import AppBlur, AppFocus
from textual.widgets import Input, Label

from teahouse.client import AwayChanged, Client, Error, Invited, ModeChanged, Presence, ServerError
from teahouse.client.attention import DesktopNotifier
from teahouse.client.printable import printable
from teahouse.client.settings import ChatSettings
from teahouse.client.tui.app import LoginScreen
from teahouse.client.tui.model import SERVER
from tests.conftest import next_event
from tests.integration.test_tui import (
    PASSWORD,
    connected,
    library_client,
    make_app,
    members_pane,
    running,
    screen_lines,
    texts,
    type_line,
    until,
)

ADMIN = {"admin": {"initial_user": "root", "initial_password": PASSWORD}}


def notes(app: Any, key: str) -> list[str]:
    conv = app.model.conversations.get(key)
    return [] if conv is None else [ln.text for ln in conv.lines if ln.message is None]


def recorder(tmp_path: Path) -> tuple[DesktopNotifier, Path]:
    """A notifier whose notify-send is a script that writes down its arguments."""
    out = tmp_path / "notified.jsonl"
    script = tmp_path / "notify-send.py"
    script.write_text(
        "import json, sys\n"
        f"with open({str(out)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    return DesktopNotifier([sys.executable, str(script)], min_interval=0), out


def notified(out: Path) -> list[list[str]]:
    if not out.exists():
        return []
    return [json.loads(line)[2:] for line in out.read_text().splitlines()]


async def test_tab_completes_names_and_the_input_keeps_its_draft(server: Any) -> None:
    others = [await library_client(server.port, n, rooms=["lobby"]) for n in ("bob", "Bobby")]
    dave = await library_client(server.port, "dave")
    app = make_app(server.port, "alice", register=True, rooms=["lobby"])
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: len(members_pane(app)) == 3, "3 members")
            await dave.dm("alice", "hello from elsewhere")
            await until(pilot, lambda: "@dave" in app.model.conversations, "the DM")
            box = app.query_one("#input", Input)
            await pilot.click("#input")
            await pilot.press(*"hi b", "tab")
            assert box.value == "hi bob " and box.cursor_position == 7
            await pilot.press("tab")
            assert box.value == "hi Bobby "
            await pilot.press("tab")
            assert box.value == "hi bob "
            assert app.focused is box  # Tab did not move the focus
            await pilot.press("t", "h", "e", "r", "e", "enter")
            await next_message_text(others[0], "hi bob there")

            await pilot.press("b", "tab")
            assert box.value == "bob: "  # at the start of the line: "name: "
            box.value = ""
            await pilot.press(*"/msg d", "tab")
            assert box.value == "/msg dave "  # after /msg: every name known, not just #lobby
            box.value = ""
            await pilot.press(*"/who", "tab")
            assert box.value == "/who "
            await pilot.press("tab")
            assert box.value == "/whois "

            # Back to the input: the draft is kept, not selected (a key would replace it).
            box.value = "a draft"
            box.cursor_position = len(box.value)
            await pilot.click("#log")
            assert app.focused is not None and app.focused.id == "log"
            await pilot.click("#input")
            assert app.focused is box and box.selection.is_empty and box.value == "a draft"
            box.cursor_position = len(box.value)
            await pilot.press("shift+tab")
            assert app.focused is not box
            while app.focused is not box:
                await pilot.press("tab")
            assert box.selection.is_empty
            await pilot.press("x")
            assert box.value == "a draftx"
            # In an empty line Tab still moves to the next pane.
            box.value = ""
            await pilot.press("tab")
            assert app.focused is not box
    finally:
        for client in [*others, dave]:
            await client.close()


async def next_message_text(client: Client, text: str) -> None:
    async with asyncio.timeout(5):
        async for event in client.events():
            if getattr(event, "text", None) == text:
                return


async def test_away_whois_mode_invite_kick_and_room_get_the_servers_answers(
    server: Any,
) -> None:
    app = make_app(server.port, "alice", register=True, rooms=["tea"])
    bob = carol = None
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#tea", "#tea shown")
            bob = await library_client(server.port, "bob", rooms=["tea"])
            carol = await library_client(server.port, "carol")
            await until(pilot, lambda: len(members_pane(app)) == 2, "bob here")
            # alice made #tea, so she is its operator: "@" in the member pane.
            assert [m.split()[-1] for m in members_pane(app)] == ["@alice", "bob"]

            await type_line(pilot, "/away making tea")
            told = await next_event(bob, AwayChanged, user="alice")
            assert told.text == "making tea"
            await until(pilot, lambda: app.model.status.away == "making tea", "away")
            await bob.away("lunch")
            await until(pilot, lambda: ("bob", "away") in app.model.members(), "bob away")

            await type_line(pilot, "/whois bob")
            await until(pilot, lambda: "  away: lunch" in notes(app, "#tea"), "whois")
            said = notes(app, "#tea")
            at = said.index("bob is online through the native protocol")
            assert said[at + 1 : at + 3] == ["  rooms: #tea", "  away: lunch"]
            assert said[at + 3].startswith("  idle: ")
            assert not any(n.startswith("  address:") for n in said)  # for admins only
            await type_line(pilot, "/whois nobody")
            await until(pilot, lambda: "There is no such user." in notes(app, "#tea"), "nobody")

            await type_line(pilot, "/mode +k sesame")
            changed = await next_event(bob, ModeChanged, room="tea")
            assert (changed.changes, changed.args, changed.by) == ("+k", ["sesame"], "alice")
            await until(pilot, lambda: any("you set +k" in n for n in notes(app, "#tea")), "+k")
            assert "k" in app.model.conversations["#tea"].modes
            await type_line(pilot, "/mode")
            await until(
                pilot, lambda: any(n.startswith("#tea modes: +") for n in notes(app, "#tea")), "?"
            )
            [asked] = [n for n in notes(app, "#tea") if n.startswith("#tea modes: ")]
            assert asked.endswith(" sesame")  # an operator sees the key

            await type_line(pilot, "/back")
            back = await next_event(bob, AwayChanged, user="alice")
            assert back.text is None
            await until(pilot, lambda: "you are back" in notes(app, "#tea"), "back")
            assert app.model.status.away is None
            await type_line(pilot, "/nick alicia")

            await type_line(pilot, "/invite carol")
            invited = await next_event(carol, Invited)
            assert (invited.room, invited.by) == ("tea", "alice")
            await until(pilot, lambda: "you invited carol to #tea" in notes(app, "#tea"), "inv")

            await type_line(pilot, "/kick bob go away")
            gone = await next_event(bob, Presence, user="bob", state="left")
            assert (gone.reason, gone.by, gone.text) == ("kicked", "alice", "go away")
            line = "bob was kicked by you: go away"
            await until(pilot, lambda: line in notes(app, "#tea"), "the kick")
            await until(pilot, lambda: len(members_pane(app)) == 1, "bob gone")
            assert "tea" not in bob.rooms_joined
            with pytest.raises(ServerError) as keyless:
                await bob.join("tea")
            assert keyless.value.code == "forbidden"
            await bob.join("tea", "sesame")
            await until(pilot, lambda: len(members_pane(app)) == 2, "bob back with the key")
            with pytest.raises(ServerError) as not_op:
                await bob.kick("tea", "alice")
            assert not_op.value.code == "forbidden"

            await type_line(pilot, "/room register")
            await until(pilot, lambda: "#tea is registered to you now" in notes(app, "#tea"), "reg")
            await type_line(pilot, "/room info #tea")
            await until(
                pilot, lambda: notes(app, "#tea").count("#tea is registered to alice") == 2, "info"
            )
            said = notes(app, "#tea")
            assert said.count(line) == 1  # the kicker's reply and the room's presence: one line
            assert any("account alice, and an account keeps its name" in n for n in said)
            # The session goes on as before.
            await type_line(pilot, "still here")
            await next_message_text(bob, "still here")
            assert app.model.status.state == "connected"
    finally:
        for other in (bob, carol):
            if other is not None:
                await other.close()


async def test_an_admin_kills_and_whois_shows_the_address(make_server: Any) -> None:
    server = make_server(**ADMIN)
    bob = await library_client(server.port, "bob", rooms=["lobby", "tea"], reconnect=False)
    app = make_app(server.port, "root", rooms=["lobby"])
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await type_line(pilot, "/whois bob")
            await until(
                pilot, lambda: any(n.startswith("  address:") for n in notes(app, "#lobby")), "who"
            )
            said = notes(app, "#lobby")
            assert "  rooms: #lobby, #tea" in said
            assert "  address: 127.0.0.1" in said
            await type_line(pilot, "/kill bob time for bed")
            error = await next_event(bob, Error, code="kicked")
            assert error.message == "time for bed"
            await until(
                pilot, lambda: any("disconnected from" in n for n in notes(app, "#lobby")), "kill"
            )
            assert "kicked bob (1 connection): disconnected from the server" in notes(app, "#lobby")
    finally:
        await bob.close()


async def test_ignore_hides_a_user_and_is_remembered(server: Any, tmp_path: Path) -> None:
    path = tmp_path / "config" / "chat.json"
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    carol = await library_client(server.port, "carol", rooms=["lobby"])
    app = make_app(
        server.port, "alice", register=True, rooms=["lobby"], settings=ChatSettings.load(path)
    )
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await type_line(pilot, "/ignore BOB")
            await until(pilot, path.exists, "the settings saved")
            await bob.say("lobby", "buy cheap tea")
            await bob.dm("alice", "psst, cheap tea")
            await carol.say("lobby", "hello alice")
            await until(pilot, lambda: "hello alice" in texts(app, "#lobby"), "carol")
            await pilot.pause(0.2)
            assert texts(app, "#lobby") == ["hello alice"]
            assert "@bob" not in app.model.conversations
            await type_line(pilot, "/ignore")
            await until(pilot, lambda: "ignoring: BOB" in notes(app, "#lobby"), "the list")
        saved = json.loads(path.read_text())
        assert saved["ignore"] == {f"127.0.0.1:{server.port}": ["BOB"]}

        again = make_app(server.port, "alice", rooms=["lobby"], settings=ChatSettings.load(path))
        async with running(again) as pilot:
            await connected(pilot, again)
            await until(pilot, lambda: "#lobby" in again.model.conversations, "#lobby")
            await bob.say("lobby", "still selling")
            await carol.say("lobby", "and me")
            await until(pilot, lambda: "and me" in texts(again, "#lobby"), "carol again")
            assert "still selling" not in texts(again, "#lobby")
            await type_line(pilot, "/unignore bob")
            await until(
                pilot, lambda: "no longer ignoring bob" in notes(again, "#lobby"), "unignore"
            )
            await bob.say("lobby", "back in favour")
            await until(pilot, lambda: "back in favour" in texts(again, "#lobby"), "bob shown")
        assert json.loads(path.read_text())["ignore"] == {}
    finally:
        await bob.close()
        await carol.close()


async def test_an_announcement_lands_in_the_server_pane_marked(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server(**ADMIN)
    root = Client("127.0.0.1", server.port, "root", PASSWORD)
    await root.connect()
    notifier, out = recorder(tmp_path)
    app = make_app(server.port, "alice", register=True, rooms=["lobby"], notifier=notifier)
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby shown")
            await root.admin("broadcast", text="maintenance at noon")
            server_pane = app.model.conversations[SERVER]
            await until(pilot, lambda: server_pane.unread == 1, "an unread mark")
            assert server_pane.mentioned and app.model.current == "#lobby"
            assert "announcement from root: maintenance at noon" in notes(app, SERVER)
            assert not any("maintenance" in line for line in screen_lines(app))
            await until(pilot, lambda: app.bells == 1, "the bell")
            notifier.close()
            assert notified(out) == [["announcement from root", "maintenance at noon"]]
            await pilot.press("ctrl+p")  # up the sidebar, to the server pane
            assert app.model.current == SERVER and server_pane.unread == 0
            await until(
                pilot, lambda: any("maintenance" in ln for ln in screen_lines(app)), "shown"
            )
    finally:
        await root.close()


async def test_mentions_and_direct_messages_ring_and_notify_when_not_looking(
    server: Any, tmp_path: Path
) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby", "tea"])
    notifier, out = recorder(tmp_path)
    settings = ChatSettings.load(tmp_path / "chat.json")
    app = make_app(
        server.port,
        "alice",
        register=True,
        rooms=["lobby", "tea"],
        settings=settings,
        notifier=notifier,
    )
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: "#tea" in app.model.conversations, "#tea")
            await type_line(pilot, "/highlight scones")
            await until(pilot, lambda: settings.highlight == ["scones"], "the word")
            # Looking at #lobby in a focused terminal: marked, but no bell.
            await bob.say("lobby", "fresh scones in the lobby")
            await until(pilot, lambda: "fresh scones in the lobby" in texts(app, "#lobby"), "1")
            await pilot.pause(0.1)
            assert app.bells == 0 and notified(out) == []
            assert app.model.conversations["#lobby"].lines[-1].mention
            # A mention in another room: the bell and a notification.
            await bob.say("tea", "alice, the kettle")
            await until(pilot, lambda: app.bells == 1, "a bell")
            await until(pilot, lambda: len(notified(out)) == 1, "a notification")
            notifier.close()  # one notify-send at a time: let this one end
            assert notified(out)[0] == ["bob in #tea", "alice, the kettle"]
            # The terminal loses the focus: even this conversation needs the bell now.
            app.post_message(AppBlur())
            await until(pilot, lambda: not app.app_focus, "blurred")
            app._last_bell = None  # the bell is rate-limited to one a second
            await bob.say("lobby", "SCONES are gone")
            await until(pilot, lambda: app.bells == 2, "a second bell")
            await until(pilot, lambda: len(notified(out)) == 2, "a second notification")
            notifier.close()
            app.post_message(AppFocus())
            await bob.dm("alice", "<b>psst</b>")
            await until(pilot, lambda: len(notified(out)) == 3, "the DM notified")
            assert notified(out)[-1] == ["bob", "&lt;b&gt;psst&lt;/b&gt;"]
            # Plain chatter notifies nobody.
            await bob.say("tea", "just chatting")
            await until(pilot, lambda: "just chatting" in texts(app, "#tea"), "chatter")
            await pilot.pause(0.1)
            notifier.close()
            assert len(notified(out)) == 3
    finally:
        await bob.close()


async def test_markup_in_a_message_is_shown_as_typed(server: Any) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    app = make_app(server.port, "alice", register=True, rooms=["lobby"])
    hostile = "[bold red]x[/] [link=https://e.example]y[/link] [/]"
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby")
            await bob.say("lobby", hostile)
            await bob.topic("lobby", "[reverse]topic[/reverse]")
            await until(pilot, lambda: any(ln.endswith(hostile) for ln in screen_lines(app)), "it")
            await until(
                pilot,
                lambda: "[reverse]topic[/reverse]" in str(app.query_one("#topic").render()),
                "the topic, as typed",
            )
    finally:
        await bob.close()


# -- a hostile server ---------------------------------------------------------------------

EVIL = "\x1b[2J\x1b]0;pwned\x07\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x9b31m \x00"


class HostileServer:
    """A server that speaks just enough of the protocol to log a client in, and sends
    escape sequences in every text field, as a compromised or buggy server could."""

    def __init__(self, login_error: str | None = None) -> None:
        self.login_error = login_error
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)

        def send(**frame: Any) -> None:
            writer.write(json.dumps(frame).encode() + b"\n")

        try:
            while line := await reader.readline():
                frame = json.loads(line)
                ref = frame.get("ref")
                match frame["type"]:
                    case "hello":
                        send(
                            type="welcome",
                            proto=1,
                            server="evil\x1b[5m/1.0",
                            heartbeat={"interval": 20, "timeout": 60},
                            limits={
                                "max_frame": 65536,
                                "max_frame_preauth": 4096,
                                "max_text": 4096,
                                "max_replay": 500,
                            },
                            registration="open",
                        )
                    case "login" | "register":
                        if self.login_error:
                            send(type="error", code="banned", message=self.login_error, fatal=True)
                            writer.close()
                            return
                        send(type="authed", user=frame["user"], role="user")
                        send(type="replay_end", count=0, truncated=False, dm=True, last_id=0)
                    case "join":
                        room = frame["room"]
                        send(
                            type="joined",
                            room=room,
                            topic="t" + EVIL,
                            members=["evil" + EVIL],
                            ref=ref,
                        )
                        send(
                            type="message",
                            id=1,
                            room=room,
                            text="hi " + EVIL,
                            ts="2026-11-25T12:00:00.000Z",
                            **{"from": "mal\x1b[8mory"},
                        )
                        send(type="replay_end", room=room, count=1, truncated=False)
                        send(type="notice", text="notice " + EVIL, by="root")
                        send(type="presence", room=room, user="x" + EVIL, state="joined")
                    case "ping":
                        send(type="pong", t=frame["t"], ref=ref)
                    case "quit":
                        send(type="bye", ref=ref)
                        writer.close()
                        return
                    case "whois" | "away" | "mode" | "kick" | "invite" | "room":
                        send(type="error", code="unknown_type", message="?", fatal=False, ref=ref)
                    case _:
                        send(
                            type="error",
                            code="forbidden",
                            message="no " + EVIL,
                            fatal=False,
                            ref=ref,
                        )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass


@asynccontextmanager
async def hostile(login_error: str | None = None) -> AsyncIterator[HostileServer]:
    server = await HostileServer(login_error).start()
    try:
        yield server
    finally:
        await server.stop()


BAD = ("\x1b", "\x07", "\x00", "\x9b")


async def test_escape_sequences_from_the_server_never_reach_the_terminal() -> None:
    async with hostile() as evil:
        app = make_app(evil.port, "alice", rooms=["lobby"])
        async with running(app, size=(300, 40)) as pilot:  # wide: no line is wrapped
            await connected(pilot, app)
            await until(pilot, lambda: texts(app, "#lobby"), "the message")
            await type_line(pilot, "/whois bob")
            await type_line(pilot, "/rooms")
            await until(pilot, lambda: any("Forbidden" in n for n in notes(app, "#lobby")), "rooms")
            await pilot.pause(0.1)
            shown = screen_lines(app) + members_pane(app)
            shown += [str(app.query_one(w).render()) for w in ("#topic", "#status", "#prompt")]
            await pilot.press("ctrl+p")
            assert app.model.current == SERVER
            await until(pilot, lambda: any("announcement" in ln for ln in screen_lines(app)), "*")
            shown += screen_lines(app)
            assert not [line for line in shown if any(c in line for c in BAD)]
            assert any(
                "hi ^[[2J^[]0;pwned^G^[]8;;https://evil.example^[\\click" in s for s in shown
            )
            assert any("mal^[[8mory" in s for s in shown)
            assert any("announcement from root: notice ^[[2J" in s for s in shown)
            assert any("evil^[[5m/1.0" in s for s in shown)
            assert any("Forbidden: no ^[[2J" in s for s in shown)


async def test_an_older_server_without_the_commands_is_said_plainly() -> None:
    """A server that answers ``unknown_type`` (teahouse before these frames)."""
    async with hostile() as evil:
        app = make_app(evil.port, "alice", rooms=["lobby"])
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby")
            for line in ["/away tea", "/whois bob", "/mode", "/kick bob", "/invite bob", "/room"]:
                await type_line(pilot, line)
            await until(pilot, lambda: any("/room" in n for n in notes(app, "#lobby")), "all")
            said = notes(app, "#lobby")
            for command in ("away", "kick", "invite", "room"):
                assert f"this server does not support /{command} yet" in said
            assert "this server does not support /whois yet" in said  # nobody shares a room
            assert "this server does not support /mode yet (IRC users can set room modes)" in said
            assert app.model.status.away is None and app.model.status.state == "connected"


async def test_a_login_error_is_shown_as_text() -> None:
    message = "[link=https://evil.example]click[/link] [bold]now[/bold]\x1b[2J"
    async with hostile(login_error=message) as evil:
        app = make_app(evil.port, "alice")
        async with running(app) as pilot:
            await until(
                pilot,
                lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login-error"),
                "the login screen",
            )
            shown = str(app.screen.query_one("#login-error", Label).render())
            assert "[link=https://evil.example]click[/link] [bold]now[/bold]^[[2J" in shown


async def run_plain(port: int, script: str, tmp_path: Path, user: str = "alice") -> str:
    """``teahouse chat --plain`` fed ``script`` (after the password); its output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teahouse",
        "chat",
        f"127.0.0.1:{port}",
        "--user",
        user,
        "--password-stdin",
        "--plain",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")},
    )
    try:
        async with asyncio.timeout(30):
            out, err = await proc.communicate(f"{PASSWORD}\n{script}".encode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_line_mode_shows_escapes_visibly(tmp_path: Path) -> None:
    async with hostile() as evil:
        out = await run_plain(evil.port, "/join lobby\n/away tea\n/quit\n", tmp_path)
    assert not any(c in out for c in BAD), repr(out)
    lines = out.splitlines()
    assert any(ln.endswith("#lobby <mal^[[8mory> hi " + printable(EVIL)) for ln in lines), lines
    assert "^[[2J^[]0;pwned^G^[]8;;https://evil.example^[\\click" in printable(EVIL)
    assert any("!! announcement from root: notice ^[[2J" in ln for ln in lines)
    assert "-- this server does not support /away yet" in lines


async def test_line_mode_actions_and_commands(server: Any, tmp_path: Path) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    await (await library_client(server.port, "alice")).close()
    keeper = await library_client(server.port, "keeper", rooms=["vault"])
    await keeper.mode("vault", "+k", ["sesame"])
    await bob.say("lobby", "/me waves")
    try:
        script = (
            "/join lobby\n/me pours tea\n/ignore bob\n/ignore\n/whois bob\n"
            "/kick bob\n/nick alicia\n/mode\n/away brb\n/back\n"
            "/join vault\n/join vault sesame\n/quit\n"
        )
        out = await run_plain(server.port, script, tmp_path)
        lines = out.splitlines()
        assert any(ln.endswith("#lobby * bob waves") for ln in lines), lines
        assert any(ln.endswith("#lobby * alice pours tea") for ln in lines), lines
        assert "-- ignoring bob" in lines and "-- ignoring: bob" in lines
        at = lines.index("-- bob is online through the native protocol")
        assert lines[at + 1] == "--   rooms: #lobby"
        assert "!! forbidden: you are not a room operator" in lines  # bob made #lobby
        assert any("an account keeps its name" in ln for ln in lines)
        assert any(ln.startswith("-- #lobby modes: +") for ln in lines), lines
        assert "-- you are away: brb" in lines and "-- you are back" in lines
        assert "!! forbidden: vault needs a key" in lines
        assert any(ln.startswith("-- joined #vault (2 here") for ln in lines), lines
        saved = json.loads((tmp_path / "xdg" / "teahouse" / "chat.json").read_text())
        assert saved["ignore"] == {f"127.0.0.1:{server.port}": ["bob"]}
        said = await next_event(bob, Presence, user="alice", state="left")
        assert said.reason == "quit"
    finally:
        await bob.close()
        await keeper.close()


async def test_line_mode_kicks_invites_and_registers_a_room(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server(**ADMIN)  # an admin is an operator of every room
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    carol = await library_client(server.port, "carol")
    try:
        script = (
            "/join lobby\n/kick bob out you go\n/invite carol\n/room register\n/whois bob\n/quit\n"
        )
        out = await run_plain(server.port, script, tmp_path, user="root")
        lines = out.splitlines()
        assert lines.count("-- bob was kicked from #lobby by you: out you go") == 1, lines
        assert "-- you invited carol to #lobby" in lines
        assert "-- #lobby is registered to you now" in lines
        assert "-- #lobby is registered to root" in lines
        at = lines.index("-- bob is online through the native protocol")
        assert lines[at + 1] == "--   rooms: none you can see"  # kicked out of #lobby
        assert any(ln.startswith("--   address: 127.0.0.1") for ln in lines), lines
        kicked = await next_event(bob, Presence, user="bob", reason="kicked")
        assert (kicked.by, kicked.text) == ("root", "out you go")
        invited = await next_event(carol, Invited)
        assert (invited.room, invited.by) == ("lobby", "root")
    finally:
        for client in (bob, carol):
            await client.close()
