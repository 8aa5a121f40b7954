"""``teahouse chat`` in a real terminal (tmux): full screen by default, line mode with --plain.

Skipped where tmux is missing (.ci/run installs it; under CI=true a missing tmux fails).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.tmux import Tmux

PASSWORD = "correct-horse-1"

if shutil.which("tmux") is None and os.environ.get("CI") != "true":
    pytest.skip("tmux is not installed", allow_module_level=True)


def start_showing_exit(term: Tmux, argv: list[str]) -> None:
    """Run ``argv``; its exit status stays on screen after it ends."""
    term.start(["sh", "-c", f"{shlex.join(argv)}; echo EXIT=$?; sleep 30"])


@pytest.fixture
def terminal() -> Iterator[Tmux]:
    term = Tmux("tui", 120, 32)
    yield term
    term.kill()


def chat_argv(port: int, user: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "teahouse", "chat", f"127.0.0.1:{port}", "--user", user, *extra]


async def test_chat_on_a_terminal_is_full_screen(server: Any, raw: Any, terminal: Tmux) -> None:
    bob = await raw(server.port)
    assert (await bob.login("bob", PASSWORD, register=True))["type"] == "authed"
    await bob.send(type="join", room="lobby")
    await bob.recv_until("replay_end", room="lobby")

    start_showing_exit(terminal, chat_argv(server.port, "carol", "--register", "--room", "lobby"))
    await terminal.wait_for("Password:")
    terminal.type(PASSWORD)
    await terminal.wait_for("Again:")
    terminal.type(PASSWORD)
    # Connected first, then the room joined and shown: the screen may be between the two.
    screen = await terminal.wait_for("● connected", "#lobby ›")
    assert "carol@127.0.0.1" in screen

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
    server: Any, raw: Any, terminal: Tmux
) -> None:
    start_showing_exit(
        terminal, chat_argv(server.port, "dave", "--register", "--plain", "--room", "lobby")
    )
    await terminal.wait_for("Password:")
    terminal.type(PASSWORD)
    await terminal.wait_for("Again:")
    terminal.type(PASSWORD)
    await terminal.wait_for("/help lists the commands")
    screen = await terminal.wait_for("-- connected as dave")
    assert "● connected" not in screen
    terminal.type("/quit")
    await terminal.wait_for("EXIT=0")
