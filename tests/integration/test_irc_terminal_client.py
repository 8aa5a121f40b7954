"""A real terminal IRC client (irssi, from Debian) driven in tmux against a real server.

irssi connects as a guest, joins #lobby and says a line; a native user in the room sees it
and answers; the answer shows on irssi's screen. Skipped where irssi or tmux is missing
(.ci/run installs both, so CI runs it; under CI=true a missing one is a failure).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RawClient

PASSWORD = "correct-horse-1"
NICK = "IrssiUser"

_missing = [tool for tool in ("irssi", "tmux") if shutil.which(tool) is None]


class Tmux:
    """A private tmux server (its own socket) with one session running one program."""

    def __init__(self, name: str) -> None:
        self.socket = f"teahouse-test-{name}-{uuid.uuid4().hex[:8]}"
        self.session = "irc"
        self.env = {**os.environ, "TERM": "xterm-256color", "LANG": "C.UTF-8"}

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
        self.run("new-session", "-d", "-s", self.session, "-x", "160", "-y", "48", *command)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.session, "-l", text)
        self.run("send-keys", "-t", self.session, "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    async def wait_for(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            await asyncio.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen within {timeout}s:\n{screen}")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=10,
            env=self.env,
            check=False,
        )


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if _missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(_missing)} missing in CI: .ci/run should install them")
        pytest.skip(f"{', '.join(_missing)} not installed (apt-get install irssi tmux)")
    t = Tmux("irssi")
    try:
        yield t
    finally:
        t.kill()


def irssi_home(tmp_path: Path) -> Path:
    """A config dir with no networks, servers or autoconnects: only what the test types."""
    home = tmp_path / "irssi"
    home.mkdir()
    (home / "config").write_text(
        "settings = {\n"
        '  core = { real_name = "Irssi Tester"; user_name = "irssi"; nick = "' + NICK + '"; };\n'
        # irssi's own flood queue (a command every 2.2 s after a burst) would make this slow.
        '  "irc/core" = { cmd_queue_speed = "10msec"; cmds_max_at_once = "50"; };\n'
        '  "fe-common/core" = { autocreate_windows = "yes"; };\n'
        "};\n"
        "servers = ( );\n"
        "chatnets = { };\n"
        "channels = ( );\n"
    )
    return home


async def test_irssi_and_a_native_user_talk_in_lobby(
    server: Any, raw: Any, tmux: Tmux, tmp_path: Path
) -> None:
    nat: RawClient = await raw(server.port)
    await nat.login("Nat", PASSWORD, register=True)
    await nat.send(type="join", room="lobby")
    await nat.recv_until("replay_end", room="lobby")

    home = irssi_home(tmp_path)
    tmux.start(["irssi", f"--home={home}", f"--config={home / 'config'}", "-!", "-n", NICK])
    await tmux.wait_for("Irssi")  # the client is up
    tmux.type(f"/connect 127.0.0.1 {server.irc_port}")
    await tmux.wait_for("Welcome to the teahouse IRC network")
    await tmux.wait_for("End of /MOTD")

    tmux.type("/join #lobby")
    joined = await nat.recv_until("presence", timeout=10, user=NICK)
    assert joined["state"] == "joined"
    await tmux.wait_for("#lobby")

    tmux.type("hello from irssi")
    said = await nat.recv_until("message", timeout=10, room="lobby", **{"from": NICK})
    assert said["text"] == "hello from irssi"

    await nat.send(type="say", room="lobby", text="hello irssi, native here")
    screen = await tmux.wait_for("hello irssi, native here")
    line = next(x for x in screen.splitlines() if "hello irssi, native here" in x)
    assert "Nat" in line  # shown as said by Nat

    tmux.type("/quit leaving")
    left = await nat.recv_until("presence", timeout=10, user=NICK)
    assert left["state"] == "left"
