"""`teahouse export` beside a running server, and the HTML page in a real browser.

Screenshot: with ``TEAHOUSE_SCREENSHOTS=1`` the browser test saves its picture to
``docs/images/export-transcript.png`` (else under its tmp_path)::

    TEAHOUSE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/integration/test_export.py -k browser
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from teahouse.export import TranscriptMessage, render_html
from tests.unit.export.pagecheck import HOSTILE, assert_inert, messages, parse, shown_text

PASSWORD = "correct-horse-1"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# What the protocol lets through: no control characters (the unit tests cover those).
SENT = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "\u202egnp.exe and back",
    "w" * 4000,
    "tea at https://example.org/tea?a=1&b=2 (ask for oolong)",
]


async def teahouse_export(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``teahouse export`` in a subprocess (in a thread: the test's loop keeps running)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "teahouse", "export", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def frame_as_line(frame: dict[str, Any]) -> dict[str, Any]:
    """A ``message`` frame as a JSON Lines transcript writes it."""
    return {k: v for k, v in frame.items() if k not in ("type", "ref", "dm")}


async def test_export_while_the_server_runs(server: Any, raw: Any, tmp_path: Path) -> None:
    alice = await raw(server.port)
    assert (await alice.login("alice", PASSWORD, register=True))["type"] == "authed"
    bob = await raw(server.port)
    assert (await bob.login("bob", PASSWORD, register=True))["type"] == "authed"
    for client in (alice, bob):
        await client.send(type="join", room="lobby")
        await client.recv_until("replay_end", room="lobby")

    room_frames: list[dict[str, Any]] = []
    for n, text in enumerate(SENT):
        await alice.send(type="say", room="lobby", text=text, ref=n)
        room_frames.append(await alice.recv_until("message", ref=n))
    await bob.send(type="say", room="lobby", text="/me pours the tea", ref="me")
    room_frames.append(await bob.recv_until("message", ref="me"))
    await alice.send(type="dm", to="bob", text="psst <b>bob</b>", ref="dm")
    dm_frame = await alice.recv_until("message", ref="dm")

    # JSON Lines on stdout: exactly the frames the clients saw.
    done = await teahouse_export(server.data_dir, "--room", "lobby", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        frame_as_line(f) for f in room_frames
    ]

    # HTML into a private file.
    page = tmp_path / "lobby.html"
    done = await teahouse_export(server.data_dir, "--room", "lobby", "-o", str(page))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    root = parse(page.read_text(encoding="utf-8"))
    assert_inert(root)
    shown = [shown_text(b) for b in messages(root)]
    # The direction override never got in: the server cleans text as it keeps it.
    assert shown == [*SENT[:3], "gnp.exe and back", *SENT[4:], "bob pours the tea"]
    assert [a.attrib["href"] for a in root.iter("a")] == ["https://example.org/tea?a=1&b=2"]

    # The direct conversation, as text, whichever way the names are given.
    done = await teahouse_export(server.data_dir, "--dm", "BOB", "alice", "--format", "text")
    assert done.returncode == 0, done.stderr
    stamp = dm_frame["ts"][:19].replace("T", " ")
    assert done.stdout == f"[{stamp}] <alice> psst <b>bob</b>\n"

    # A time range that holds nothing, and a room that does not exist.
    done = await teahouse_export(server.data_dir, "--room", "lobby", "--to", "2000-01-01")
    assert (done.returncode, done.stdout) == (0, "")
    done = await teahouse_export(server.data_dir, "--room", "attic")
    assert done.returncode == 1 and done.stderr == "Error: no such room: attic\n"

    # The server went on meanwhile: no lock was held.
    await alice.send(type="say", room="lobby", text="still here", ref="after")
    assert (await alice.recv_until("message", ref="after"))["text"] == "still here"
    assert server.proc.poll() is None

    # A reader that stops early (| head) is no error, with more than a pipe holds (64 KiB).
    await alice.send(type="join", room="bulk")
    await alice.recv_until("replay_end", room="bulk")
    for n in range(25):
        await alice.send(type="say", room="bulk", text=f"{n} " + "tea " * 999, ref=f"b{n}")
        await alice.recv_until("message", ref=f"b{n}")
    pipeline = await asyncio.to_thread(
        subprocess.run,
        f"{sys.executable} -m teahouse export --data-dir {server.data_dir} --room bulk"
        " | head -c 100 > /dev/null; echo ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pipeline.stdout.strip() == "0" and pipeline.stderr == ""

    # And after the server has stopped.
    assert server.stop() == 0
    done = await teahouse_export(server.data_dir, "--room", "lobby", "--format", "text")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("<alice> still here")


# -- a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
T0 = 1_795_507_200_000  # 2026-11-24T08:00:00Z
MIN = 60_000


def sample() -> list[TranscriptMessage]:
    """A morning in #lobby, with some trouble in it (for the docs' picture too)."""
    lines = [
        (0, "alice", "good morning! the kettle is on", False),
        (2, "bob", "morning. is there oolong left?", False),
        (3, "alice", "half a tin: https://example.org/teas/oolong", False),
        (5, "carol", "joins with scones", True),
        (9, "mallory", "<script>alert('hi')</script><img src=x onerror=alert(1)>", False),
        (
            10,
            "mallory",
            "\x1b[31mred text\x1b[0m and \x1b]8;;https://evil.example/\x07a link",
            False,
        ),
        (11, "mallory", "\u202eexe.ppa_gnp", False),
        (12, "bob", "nice try, mallory", False),
        (24 * 60 + 30, "dana", "صباح الخير! هل الشاي ما زال ساخنا؟", False),
        (24 * 60 + 31, "alice", "pours another pot", True),
        (24 * 60 + 32, "alice", "dana: yes, and there is jasmine too", False),
    ]
    return [
        TranscriptMessage(i, who, text, T0 + minute * MIN, room="lobby", action=action)
        for i, (minute, who, text, action) in enumerate(lines, 101)
    ]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")
def test_the_page_in_a_browser(tmp_path: Path) -> None:
    hostile = [
        TranscriptMessage(i, "mallory", text, T0 + i, room="lobby")
        for i, text in enumerate(HOSTILE, 1)
    ]
    page = tmp_path / "page.html"
    page.write_text(render_html([*sample(), *hostile], "#lobby"), encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    # The DOM the browser built from the page: only the renderer's elements, every text.
    dom = parse(done.stdout)
    assert_inert(dom)
    assert len(messages(dom)) == len(sample()) + len(HOSTILE)

    shot_page = tmp_path / "lobby.html"
    shot_page.write_text(
        render_html(
            sample(),
            "#lobby",
            ["From 2026-11-24 to 2026-11-25 (UTC)", "Exported 2026-11-25 12:00 UTC"],
        ),
        encoding="utf-8",
    )
    folder = IMAGES if os.environ.get("TEAHOUSE_SCREENSHOTS") else tmp_path
    shot = folder / "export-transcript.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,700", shot_page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
