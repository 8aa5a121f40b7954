"""``teahouse chat`` in a real terminal (tmux): full screen by default, line mode with --plain.

Skipped where tmux is missing (.ci/run installs it; under CI=true a missing tmux fails).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PASSWORD = "correct-horse-1"

if shutil.which("tmux") is None and os.environ.get("CI") != "true":
    pytest.skip("tmux is not installed", allow_module_level=True)


class Terminal:
    """One program in a private tmux server (its own socket), 120x32."""

    def __init__(self) -> None:
        self.socket = f"teahouse-tui-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=self.env,
            check=True,
        )
        return done.stdout

    def start(self, argv: list[str]) -> None:
        # The exit status stays on screen after the program ends.
        line = f"{shlex.join(argv)}; echo EXIT=$?; sleep 30"
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "32", "sh", "-c", line)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)
        self.tmux("send-keys", "-t", "t", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    async def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            await asyncio.sleep(0.1)
        raise AssertionError(f"{text!r} not on screen within {timeout} s:\n{screen}")

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            env=self.env,
            check=False,
        )


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.close()


def chat_argv(port: int, user: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "teahouse", "chat", f"127.0.0.1:{port}", "--user", user, *extra]


async def test_chat_on_a_terminal_is_full_screen(server: Any, raw: Any, terminal: Terminal) -> None:
    bob = await raw(server.port)
    assert (await bob.login("bob", PASSWORD, register=True))["type"] == "authed"
    await bob.send(type="join", room="lobby")
    await bob.recv_until("replay_end", room="lobby")

    terminal.start(chat_argv(server.port, "carol", "--register", "--room", "lobby"))
    await terminal.wait_for("Password:")
    terminal.type(PASSWORD)
    await terminal.wait_for("Again:")
    terminal.type(PASSWORD)
    screen = await terminal.wait_for("● connected")
    assert "#lobby ›" in screen and "carol@127.0.0.1" in screen

    terminal.type("hello from a terminal")
    said = await bob.recv_until("message", room="lobby")
    assert (said["from"], said["text"]) == ("carol", "hello from a terminal")
    await bob.send(type="say", room="lobby", text="hi carol")
    screen = await terminal.wait_for("hi carol")
    assert "carol │ hello from a terminal" in screen and "bob │ hi carol" in screen

    terminal.type("/quit")
    await terminal.wait_for("EXIT=0")
    left = await bob.recv_until("presence", state="left")
    assert (left["user"], left["reason"]) == ("carol", "quit")


async def test_plain_keeps_the_line_mode_on_a_terminal(
    server: Any, raw: Any, terminal: Terminal
) -> None:
    terminal.start(chat_argv(server.port, "dave", "--register", "--plain", "--room", "lobby"))
    await terminal.wait_for("Password:")
    terminal.type(PASSWORD)
    await terminal.wait_for("Again:")
    terminal.type(PASSWORD)
    await terminal.wait_for("/help lists the commands")
    screen = await terminal.wait_for("-- connected as dave")
    assert "● connected" not in screen
    terminal.type("/quit")
    await terminal.wait_for("EXIT=0")
