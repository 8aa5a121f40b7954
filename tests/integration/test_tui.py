"""The full-screen terminal client (``teahouse chat``) driven by Textual's pilot, against a
real server: log in, join, talk, unread counts, history, a wrong password, a forced
disconnect and the resume after it.

The helpers at the top are shared with test_tui_burst.py. Screenshots go to the test's
temporary directory; run with ``TEAHOUSE_SCREENSHOTS=1`` to refresh docs/images/tui-*.svg
(and .png when cairosvg or rsvg-convert is available).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, Label, OptionList, Static

from teahouse.client import Client, Message, Presence
from teahouse.client.tui import ChatApp
from teahouse.client.tui.app import LoginScreen
from tests.integration.test_client_resume import Relay

PASSWORD = "correct-horse-1"
SIZE = (120, 32)
FAST_CLIENT = {"backoff_initial": 0.05, "backoff_max": 0.2}
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@asynccontextmanager
async def running(app: ChatApp, size: tuple[int, int] = SIZE) -> AsyncIterator[Pilot[int]]:
    """Run ``app`` headless; the client is closed at the end whatever happened."""
    try:
        async with app.run_test(size=size) as pilot:
            yield pilot
    finally:
        if app.client is not None:
            await app.client.close()


def make_app(port: int, user: str, password: str = PASSWORD, **kwargs: Any) -> ChatApp:
    kwargs.setdefault("client_options", FAST_CLIENT)
    return ChatApp("127.0.0.1", port, user, password, **kwargs)


async def until(
    pilot: Pilot[int], check: Callable[[], object], what: str, timeout: float = 10.0
) -> None:
    """Let the app run until ``check()`` is true; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def connected(pilot: Pilot[int], app: ChatApp) -> None:
    await until(pilot, lambda: app.model.status.state == "connected", "connected")


async def type_line(pilot: Pilot[int], text: str, *, keys: bool = False) -> None:
    """Put ``text`` in the input line (typed key by key with ``keys``) and press Enter."""
    await pilot.click("#input")
    if keys:
        await pilot.press(*text, "enter")
        return
    box = pilot.app.query_one("#input", Input)
    box.value = text
    box.cursor_position = len(text)
    await pilot.press("enter")


def screen_lines(app: ChatApp) -> list[str]:
    """The conversation as drawn: the log widget's lines."""
    return [strip.text for strip in app.log_widget.lines]


def messages(app: ChatApp, key: str) -> list[Message]:
    """The messages the model holds for conversation ``key``."""
    conv = app.model.conversations.get(key)
    if conv is None:
        return []
    return [line.message for line in conv.lines if line.message is not None]


def texts(app: ChatApp, key: str) -> list[str]:
    return [m.text for m in messages(app, key)]


def status_line(app: ChatApp) -> str:
    return str(app.query_one("#status", Static).render())


def sidebar(app: ChatApp) -> list[str]:
    rooms = app.query_one("#rooms", OptionList)
    return [str(rooms.get_option_at_index(i).prompt) for i in range(rooms.option_count)]


def members_pane(app: ChatApp) -> list[str]:
    members = app.query_one("#members", OptionList)
    return [str(members.get_option_at_index(i).prompt) for i in range(members.option_count)]


async def library_client(port: int, user: str, **kwargs: Any) -> Client:
    client = Client("127.0.0.1", port, user, PASSWORD, register=True, **kwargs)
    await client.connect()
    return client


async def next_message(client: Client, text: str, timeout: float = 5.0) -> Message:
    async with asyncio.timeout(timeout):
        async for event in client.events():
            if isinstance(event, Message) and event.text == text:
                return event
    raise AssertionError(f"no message {text!r}")


def save_screenshot(app: ChatApp, name: str, tmp: Path) -> Path:
    """Save an SVG screenshot in ``tmp``; with ``TEAHOUSE_SCREENSHOTS=1`` also into
    docs/images, plus a PNG when cairosvg or rsvg-convert is there to make one."""
    svg = Path(app.save_screenshot(f"{name}.svg", path=str(tmp)))
    assert svg.stat().st_size > 1000
    if os.environ.get("TEAHOUSE_SCREENSHOTS") != "1":
        return svg
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    target = DOCS_IMAGES / svg.name
    shutil.copyfile(svg, target)
    png = target.with_suffix(".png")
    try:
        import cairosvg  # type: ignore[import-not-found]

        cairosvg.svg2png(url=str(target), write_to=str(png))
    except ImportError:
        if shutil.which("rsvg-convert"):
            subprocess.run(["rsvg-convert", "-o", str(png), str(target)], check=True)
    return target


# -- the tests ------------------------------------------------------------------------------


async def test_log_in_join_send_and_receive(server: Any) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    app = make_app(server.port, "alice", register=True)
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: "● connected" in status_line(app), "the status line")
            assert "alice@127.0.0.1" in status_line(app)
            await type_line(pilot, "/join lobby")
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby shown")
            await until(pilot, lambda: any("bob" in m for m in members_pane(app)), "bob listed")
            assert any(line.startswith("#lobby") for line in sidebar(app))

            await bob.say("lobby", "hi alice")
            await until(pilot, lambda: any("hi alice" in ln for ln in screen_lines(app)), "hi")
            await type_line(pilot, "hello bob", keys=True)
            said = await next_message(bob, "hello bob")
            assert said.sender == "alice"
            await until(pilot, lambda: any("hello bob" in ln for ln in screen_lines(app)), "echo")
            await type_line(pilot, "/me pours tea")
            assert (await next_message(bob, "/me pours tea")).sender == "alice"
            await until(
                pilot, lambda: any("alice pours tea" in ln for ln in screen_lines(app)), "me"
            )
            assert sum("hello bob" in ln for ln in screen_lines(app)) == 1
            assert "rtt" in status_line(app)

            # Input history: Up goes back through what was typed, Down comes back.
            box = app.query_one("#input", Input)
            await pilot.press("up")
            assert box.value == "/me pours tea"
            await pilot.press("up", "up")
            assert box.value == "/join lobby"
            await pilot.press("down", "down", "down")
            assert box.value == ""

            await type_line(pilot, "/quit see you")
            await until(pilot, lambda: app.return_code is not None, "the app to end")
        assert app.return_code == 0
        async with asyncio.timeout(5):
            async for event in bob.events():
                if isinstance(event, Presence) and event.user == "alice":
                    assert (event.state, event.reason) == ("left", "quit")
                    break
    finally:
        await bob.close()


async def test_unread_counts_mentions_and_switching(server: Any, tmp_path: Path) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby", "tea"])
    carol = await library_client(server.port, "carol", rooms=["lobby"])
    await bob.topic("lobby", "tea, cake and gossip")
    app = make_app(server.port, "alice", register=True, rooms=["lobby", "tea"])
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby shown first")
            await until(pilot, lambda: "#tea" in app.model.conversations, "#tea joined")
            await bob.say("tea", "anyone here?")
            await bob.say("tea", "alice: the kettle is on")
            await bob.say("tea", "third")
            await bob.dm("alice", "psst")
            tea = app.model.conversations["#tea"]
            await until(pilot, lambda: tea.unread == 3, "3 unread in #tea")
            assert tea.mentioned
            await until(pilot, lambda: any(s.startswith("#tea") for s in sidebar(app)), "#tea")
            await until(
                pilot,
                lambda: any(
                    s.startswith("#tea") and s.rstrip().endswith("3") for s in sidebar(app)
                ),
                "the count in the sidebar",
            )
            await until(pilot, lambda: any(s.startswith("@bob") for s in sidebar(app)), "@bob")
            assert app.model.conversations["@bob"].unread == 1
            assert app.model.conversations["@bob"].mentioned
            assert not any("kettle" in ln for ln in screen_lines(app))  # not in #lobby

            # A busy room for the screenshot.
            for who, text in [
                (bob, "good morning, teahouse"),
                (carol, "morning! the oolong is brewing"),
                (bob, "/me passes the biscuits"),
                (carol, "alice, are you coming on Sunday?"),
                (
                    bob,
                    "a long line, to show how the client wraps text under the text column "
                    "instead of under the time and the names, which stay a clean column",
                ),
            ]:
                await who.say("lobby", text)
            await type_line(pilot, "yes, I'll bring scones")
            await until(pilot, lambda: any("scones" in ln for ln in screen_lines(app)), "scones")
            await until(pilot, lambda: len(members_pane(app)) == 3, "3 members")
            # bob made #lobby: its operator, marked "@".
            assert [m.split()[-1] for m in members_pane(app)] == ["alice", "@bob", "carol"]
            topic = str(app.query_one("#topic", Static).render())
            assert "#lobby" in topic and "tea, cake and gossip" in topic
            await pilot.pause(0.2)
            save_screenshot(app, "tui-main", tmp_path)

            # Keyboard: Ctrl+N to the next conversation; its unread count goes.
            await pilot.press("ctrl+n")
            assert app.model.current == "#tea" and tea.unread == 0 and not tea.mentioned
            await until(pilot, lambda: any("kettle" in ln for ln in screen_lines(app)), "#tea")
            await pilot.press("ctrl+p")
            assert app.model.current == "#lobby"
            await pilot.press("alt+down", "alt+down")
            assert app.model.current == "@bob"
            await until(pilot, lambda: any("psst" in ln for ln in screen_lines(app)), "the DM")
            await pilot.press("alt+up")
            assert app.model.current == "#tea"
            # Mouse: click #lobby in the sidebar (row 1, under the server pane).
            await pilot.click("#rooms", offset=(3, 1))
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby clicked")
            assert app.focused is not None and app.focused.id == "rooms"
            # Tab moves the focus between panes; Enter in the sidebar opens a conversation.
            await pilot.press("tab")
            assert app.focused is not None and app.focused.id == "log"
            await pilot.press("shift+tab")
            assert app.focused is not None and app.focused.id == "rooms"
            await pilot.press("down", "enter")
            assert app.model.current == "#tea"
            # A DM typed in a direct conversation goes to that user.
            await pilot.click("#rooms", offset=(3, 3))
            assert app.model.current == "@bob"
            await type_line(pilot, "see you there")
            assert (await next_message(bob, "see you there")).dm
    finally:
        await bob.close()
        await carol.close()


async def test_history_command_and_scrolling_up(server: Any) -> None:
    bob = await library_client(server.port, "bob", rooms=["lobby"])
    for i in range(60):
        await bob.say("lobby", f"msg {i}")
    app = make_app(server.port, "alice", register=True, rooms=["lobby"])
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            # The join replays the newest 50 (context: not counted as unread).
            await until(pilot, lambda: len(texts(app, "#lobby")) == 50, "the replay")
            assert texts(app, "#lobby")[0] == "msg 10"
            await type_line(pilot, "/history 5")
            await until(pilot, lambda: len(texts(app, "#lobby")) == 55, "5 older")
            assert texts(app, "#lobby")[:6] == [f"msg {i}" for i in range(5, 11)]
            await until(pilot, lambda: any(ln.endswith("msg 5") for ln in screen_lines(app)), "5")
            lines = screen_lines(app)
            at = [i for i, ln in enumerate(lines) if "│ msg " in ln]
            assert [lines[i].rsplit("│ ", 1)[1] for i in at] == [f"msg {i}" for i in range(5, 60)]
            # PageUp at the top of the log loads older messages from the server.
            await pilot.click("#log")
            for _ in range(10):
                await pilot.press("pageup")
            await until(pilot, lambda: len(texts(app, "#lobby")) == 60, "scroll-up history")
            assert texts(app, "#lobby") == [f"msg {i}" for i in range(60)]
            await until(pilot, lambda: any(ln.endswith("msg 0") for ln in screen_lines(app)), "0")
            assert sum(ln.endswith("│ msg 7") for ln in screen_lines(app)) == 1
    finally:
        await bob.close()


async def test_a_wrong_password_is_said_plainly_and_can_be_retyped(
    server: Any, tmp_path: Path
) -> None:
    await (await library_client(server.port, "alice")).close()
    app = make_app(server.port, "alice", "wrong-password-9")
    async with running(app) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), "the login screen")
        error = app.screen.query_one("#login-error", Label)
        assert "Wrong user name or password" in str(error.render())
        await until(pilot, lambda: "offline" in status_line(app), "offline in the status line")
        save_screenshot(app, "tui-login", tmp_path)
        await pilot.press(*PASSWORD, "enter")
        await connected(pilot, app)
        await until(pilot, lambda: not isinstance(app.screen, LoginScreen), "the main screen")
        assert app.client is not None and app.client.user == "alice"


async def test_forced_disconnect_shows_reconnecting_then_missed_messages_once(
    make_server: Any, tmp_path: Path
) -> None:
    server = make_server(heartbeat={"interval": 0.5, "timeout": 1.5})
    bob = await library_client(server.port, "bob", rooms=["lobby"], **FAST_CLIENT)
    app = make_app(server.port, "alice", register=True, rooms=["lobby"])
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby")
            await bob.say("lobby", "before")
            await until(pilot, lambda: "before" in texts(app, "#lobby"), "before")

            async def say_all(lines: list[str]) -> list[Message]:
                return [await bob.say("lobby", line) for line in lines]

            missed = [f"missed {i}" for i in range(5)]
            seen: list[str] = []
            server.proc.send_signal(signal.SIGSTOP)
            try:
                says = asyncio.create_task(say_all(missed))  # queued while the server sleeps

                def reconnecting() -> bool:
                    seen.append(status_line(app))
                    return "reconnecting" in seen[-1]

                await until(pilot, reconnecting, "the status to say reconnecting", timeout=6)
                await type_line(pilot, "said while away")  # waits for the new session
                await until(pilot, lambda: "1 sending" in status_line(app), "sending")
                assert "connection lost (heartbeat_timeout)" in " ".join(screen_lines(app))
                save_screenshot(app, "tui-reconnecting", tmp_path)
                await asyncio.sleep(0.3)
            finally:
                server.proc.send_signal(signal.SIGCONT)
            async with asyncio.timeout(20):
                sent = await says
            want = ["before", *missed, "said while away"]
            await until(
                pilot,
                lambda: sorted(texts(app, "#lobby")) == sorted(want),
                "every message",
                timeout=20,
            )
            await until(pilot, lambda: "● connected" in status_line(app), "connected again")
            await pilot.pause(0.5)  # a duplicate arriving late would show now
            got = texts(app, "#lobby")
            assert sorted(got) == sorted(want), got
            assert [t for t in got if t.startswith("missed")] == missed
            ids = [m.id for m in messages(app, "#lobby")]
            assert len(set(ids)) == len(ids)
            assert {m.id for m in sent} <= set(ids)
            drawn = screen_lines(app)
            for text in want:
                assert sum(ln.endswith("│ " + text) for ln in drawn) == 1, text
            assert any("reconnecting" in s for s in seen)
            assert "reconnected; catching up" in " ".join(drawn)
            page = await bob.history("lobby")
            assert [m.text for m in page.messages].count("said while away") == 1
    finally:
        await bob.close()


async def test_messages_missed_while_cut_off_come_back_through_the_replay(
    make_server: Any,
) -> None:
    server = make_server(heartbeat={"interval": 0.3, "timeout": 1.0})
    link = await Relay(server.port).start()
    bob = await library_client(server.port, "bob", rooms=["lobby", "tea"], **FAST_CLIENT)
    app = ChatApp(
        "127.0.0.1",
        link.port,
        "alice",
        PASSWORD,
        register=True,
        rooms=["lobby", "tea"],
        client_options=FAST_CLIENT,
    )
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.conversations.get("#tea"), "#tea")
            await bob.say("lobby", "seen")
            await until(pilot, lambda: "seen" in texts(app, "#lobby"), "seen")

            link.blackhole()
            await until(pilot, lambda: app.model.status.state == "reconnecting", "reconnecting")
            # The server dropped alice too: what bob says now only comes back by replay.
            async with asyncio.timeout(5):
                async for event in bob.events():
                    if isinstance(event, Presence) and (event.user, event.state) == (
                        "alice",
                        "left",
                    ):
                        break
            missed = [await bob.say("lobby", f"missed {i}") for i in range(3)]
            await bob.say("tea", "alice: missed in tea")
            await bob.dm("alice", "dm while away")
            link.heal()

            await until(pilot, lambda: len(texts(app, "#lobby")) == 4, "the lobby replay")
            await until(pilot, lambda: texts(app, "@bob") == ["dm while away"], "the DM")
            await until(pilot, lambda: texts(app, "#tea") == ["alice: missed in tea"], "#tea")
            await pilot.pause(0.5)
            lobby = messages(app, "#lobby")
            assert [(m.text, m.replay) for m in lobby] == [
                ("seen", False),
                *((m.text, True) for m in missed),
            ]
            # What was missed in rooms not on screen counts as unread, the mention too.
            tea = app.model.conversations["#tea"]
            assert (tea.unread, tea.mentioned) == (1, True)
            assert app.model.conversations["@bob"].unread == 1
            assert app.model.status.state == "connected"
    finally:
        await bob.close()
        await link.stop()


async def test_a_replay_cut_short_after_a_reconnect_is_filled_from_history(
    make_server: Any,
) -> None:
    server = make_server(heartbeat={"interval": 0.3, "timeout": 1.0}, limits={"max_replay": 3})
    link = await Relay(server.port).start()
    bob = await library_client(server.port, "bob", rooms=["lobby"], **FAST_CLIENT)
    app = ChatApp(
        "127.0.0.1",
        link.port,
        "alice",
        PASSWORD,
        register=True,
        rooms=["lobby"],
        client_options=FAST_CLIENT,
    )
    try:
        async with running(app) as pilot:
            await connected(pilot, app)
            await bob.say("lobby", "seen")
            await until(pilot, lambda: "seen" in texts(app, "#lobby"), "seen")
            link.blackhole()
            await until(pilot, lambda: app.model.status.state == "reconnecting", "reconnecting")
            async with asyncio.timeout(5):
                async for event in bob.events():
                    if isinstance(event, Presence) and (event.user, event.state) == (
                        "alice",
                        "left",
                    ):
                        break
            missed = [f"missed {i}" for i in range(8)]
            for text in missed:
                await bob.say("lobby", text)
            link.heal()
            # The replay brings the newest 3; the app pages the 5 before them in.
            await until(pilot, lambda: texts(app, "#lobby") == ["seen", *missed], "no gap")
            await pilot.pause(0.3)
            assert texts(app, "#lobby") == ["seen", *missed]
            drawn = [ln.rsplit("│ ", 1)[-1] for ln in screen_lines(app) if "│ missed" in ln]
            assert drawn == missed
            assert any("5 missed messages fetched" in ln for ln in screen_lines(app))
    finally:
        await bob.close()
        await link.stop()


async def test_a_status_tick_while_the_app_closes_is_harmless(server: Any) -> None:
    # Seen under load: the status timer fired while run_test tore the screen down.
    app = make_app(server.port, "alice", register=True)
    async with running(app) as pilot:
        await connected(pilot, app)
        await app.screen.query_one("#status").remove()
        app._draw_status()
