"""A program in a private tmux server, for tests that drive real terminal programs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid


class Tmux:
    """One session in a tmux server of its own (its own socket), ``width`` x ``height``."""

    def __init__(self, name: str, width: int = 160, height: int = 48) -> None:
        self.socket = f"teahouse-test-{name}-{uuid.uuid4().hex[:8]}"
        self.session = name
        self.size = (str(width), str(height))
        # Without COLUMNS and LINES (a pytest-xdist worker has 80 and 24): a program that
        # reads them, as Textual does, would take them over the size of its tmux window.
        inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.env = {**inherited, "TERM": "xterm-256color", "LANG": "C.UTF-8"}

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=self.env,
            check=True,
        )
        return done.stdout

    def start(self, command: list[str]) -> None:
        width, height = self.size
        self.run("new-session", "-d", "-s", self.session, "-x", width, "-y", height, *command)

    def type(self, text: str) -> None:
        """Type ``text`` literally, then Enter."""
        self.run("send-keys", "-t", self.session, "-l", text)
        self.run("send-keys", "-t", self.session, "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    async def wait_for(self, *texts: str, timeout: float = 15.0) -> str:
        """The screen once it shows every one of ``texts`` at once; AssertionError with the
        screen otherwise."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            await asyncio.sleep(0.1)
        raise AssertionError(f"{texts!r} not on screen within {timeout} s:\n{screen}")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            env=self.env,
            check=False,
        )
