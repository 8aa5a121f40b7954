"""Operator commands through all three entrances: admin socket, admin frames, console."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "correct-horse-1"


def teahouse(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teahouse", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_admin_socket_is_private_and_answers(server: Any, raw: Any) -> None:
    mode = stat.S_IMODE(os.stat(server.data_dir / "admin.sock").st_mode)
    assert mode == 0o600
    c = await raw(server.port)
    await c.login("bob", PASSWORD, register=True)
    await c.send(type="join", room="lobby")
    await c.recv_until("replay_end", room="lobby")
    who = server.admin("who")
    assert who.returncode == 0
    rows = json.loads(who.stdout)["data"]
    assert rows[0]["user"] == "bob" and rows[0]["rooms"] == ["lobby"]
    assert rows[0]["address"].startswith("127.0.0.1:")
    kicked = server.admin("kick", "bob", "enough")
    assert kicked.returncode == 0
    err = await c.recv_until("error")
    assert err["code"] == "kicked" and err["message"] == "enough" and err["fatal"] is True
    assert await c.closed()
    missing = server.admin("kick", "bob")
    assert missing.returncode == 1 and json.loads(missing.stdout)["code"] == "no_such_user"
    plain = teahouse("admin", "--data-dir", str(server.data_dir), "stats")
    assert plain.returncode == 0 and "connections" in plain.stdout


async def test_user_commands_work_with_and_without_a_running_server(
    server: Any, raw: Any, tmp_path: Path
) -> None:
    # Running: goes through the admin socket.
    added = teahouse(
        "user",
        "add",
        "root",
        "--admin",
        "--password-stdin",
        "--data-dir",
        str(server.data_dir),
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    c = await raw(server.port)
    assert (await c.login("root", PASSWORD))["role"] == "admin"
    # Not running: straight on the database.
    offline = tmp_path / "offline"
    added = teahouse(
        "user", "add", "ops", "--password-stdin", "--data-dir", str(offline), stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stderr
    role = teahouse("user", "role", "ops", "admin", "--data-dir", str(offline))
    assert role.returncode == 0, role.stderr
    listing = teahouse("user", "list", "--data-dir", str(offline))
    assert "ops" in listing.stdout and "admin" in listing.stdout
    weak = teahouse(
        "user", "add", "weakling", "--password-stdin", "--data-dir", str(offline), stdin="abc\n"
    )
    assert weak.returncode != 0 and "weak_password" in weak.stderr
    audit = (offline / "audit.log").read_text() if (offline / "audit.log").exists() else ""
    assert PASSWORD not in audit


async def test_admin_frames_for_admins_and_forbidden_for_others(server: Any, raw: Any) -> None:
    teahouse(
        "user",
        "add",
        "root",
        "--admin",
        "--password-stdin",
        "--data-dir",
        str(server.data_dir),
        stdin=PASSWORD + "\n",
    )
    admin = await raw(server.port)
    await admin.login("root", PASSWORD)
    user = await raw(server.port)
    await user.login("mallory", PASSWORD, register=True)
    await user.recv()
    await user.send(type="admin", cmd="kick", args={"user": "root"}, ref="x")
    err = await user.recv_until("error")
    assert err["code"] == "forbidden" and err["ref"] == "x" and err["fatal"] is False

    await admin.send(type="admin", cmd="mute", args={"user": "mallory", "duration": "1h"}, ref=1)
    result = await admin.recv_until("admin_result")
    assert result["ref"] == 1 and result["cmd"] == "mute"
    await user.send(type="join", room="lobby")
    await user.recv_until("replay_end", room="lobby")
    await user.send(type="say", room="lobby", text="spam", ref="s")
    assert (await user.recv_until("error"))["code"] == "forbidden"

    await admin.send(type="admin", cmd="broadcast", args={"text": "maintenance at noon"}, ref=2)
    notice = await user.recv_until("notice")
    assert notice == {"type": "notice", "text": "maintenance at noon", "by": "root"}

    await admin.send(type="admin", cmd="ban", args={"target": "mallory", "reason": "spam"}, ref=3)
    assert (await admin.recv_until("admin_result", ref=3))["cmd"] == "ban"
    err = await user.recv_until("error")
    assert err["code"] == "banned" and err["fatal"] is True
    again = await raw(server.port)
    assert (await again.login("mallory", PASSWORD))["code"] == "banned"

    await admin.send(type="admin", cmd="stats", ref=4)
    stats = await admin.recv_until("admin_result")
    assert stats["data"]["sessions"] >= 1 and stats["data"]["rss_bytes"] > 0
    audit = (server.data_dir / "audit.log").read_text()
    assert '"cmd": "ban"' in audit and '"actor": "root"' in audit
    assert '"entrance": "native"' in audit


async def test_ip_ban_refuses_at_accept(server: Any, raw: Any) -> None:
    assert server.admin("ban", "127.0.0.9", "10m", "abuse").returncode == 0
    c = await raw(server.port, local_ip="127.0.0.9")
    err = await c.recv()
    assert err["code"] == "banned" and err["fatal"] is True
    ok = await raw(server.port, local_ip="127.0.0.10")
    await ok.send(type="ping", t=1)
    assert (await ok.recv())["type"] == "pong"
    assert server.admin("unban", "127.0.0.9").returncode == 0
    c = await raw(server.port, local_ip="127.0.0.9")
    await c.send(type="ping", t=1)
    assert (await c.recv())["type"] == "pong"


def _read_until(fd: int, needle: bytes, timeout: float = 15.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not seen; got {seen[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


@pytest.mark.timeout(60)
def test_console_on_a_tty_runs_operator_commands(tmp_path: Path) -> None:
    from tests.conftest import FAST_HASH, write_config

    config = write_config(tmp_path / "t.toml", {"accounts": dict(FAST_HASH)})
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "teahouse",
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "var"),
            "--port",
            "0",
            "--irc-port",
            "0",
        ],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        env={**os.environ, "TERM": "dumb"},
    )
    os.close(slave)
    try:
        _read_until(master, b"teahouse> ")
        os.write(master, b"user add ops correct-horse-1\r")
        _read_until(master, b"added user ops")
        os.write(master, b"stats\r")
        _read_until(master, b"messages_per_s")
        os.write(master, b"nonsense\r")
        _read_until(master, b"unknown command")
        os.write(master, b"shutdown 1\r")
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    audit = (tmp_path / "var" / "audit.log").read_text()
    assert '"entrance": "console"' in audit and "correct-horse-1" not in audit
