"""A real terminal IRC client (irssi, from Debian) driven in tmux against a real server.

irssi connects as a guest, joins #lobby and says a line; a native user in the room sees it
and answers; the answer shows on irssi's screen. Skipped where irssi or tmux is missing
(.ci/run installs both, so CI runs it; under CI=true a missing one is a failure).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RawClient
from tests.tmux import Tmux

PASSWORD = "correct-horse-1"
NICK = "IrssiUser"

_missing = [tool for tool in ("irssi", "tmux") if shutil.which(tool) is None]


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
