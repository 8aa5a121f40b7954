"""The terminal client under a 10,000-message burst: everything arrives, nothing freezes.

Measured (printed with ``pytest -s``): how long the client takes to show the whole burst
once the server has sent it, and the longest stall of the event loop while it does (a
stall is time in which no key would be handled and nothing redrawn). The bounds asserted
are loose on purpose, for a busy CI machine; the figures are what to look at.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import Any

import pytest

from teahouse.client.tui import tune_gc
from teahouse.client.tui.app import LOG_LINES
from teahouse.client.tui.model import MAX_LINES

from .test_tui import PASSWORD, connected, make_app, running, screen_lines, until

BURST = 10_000

SENDER = r"""
import json, socket, sys, threading
port, count, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sock = socket.create_connection(("127.0.0.1", port))
reader = sock.makefile("rb")

def send(**frame):
    sock.sendall(json.dumps(frame).encode() + b"\n")

def until(kind, **match):
    while True:
        frame = json.loads(reader.readline())
        if frame["type"] == "ping":
            send(type="pong", t=frame["t"])
        elif frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame

send(type="hello", proto=1)
send(type="register", user="bob", password=password)
until("authed")
send(type="join", room="lobby")
until("replay_end", room="lobby")
print("ready", flush=True)
sys.stdin.readline()
# Read the echoes while writing, or the server would drop bob as a slow reader.
echoes = threading.Thread(target=lambda: [until("message") for _ in range(count)])
echoes.start()
sock.sendall(b"".join(
    json.dumps({"type": "say", "room": "lobby", "text": f"burst {i}"}).encode() + b"\n"
    for i in range(count)
))
echoes.join()
print("done", flush=True)
"""
"""Bob, in a process of his own so that his work does not count in the client's stalls."""


@pytest.fixture(params=["tuned-gc", "default-gc"])
def gc_mode(request: pytest.FixtureRequest) -> Any:
    """``teahouse chat`` tunes the garbage collector (:func:`tune_gc`); measure both."""
    old = gc.get_threshold()
    if request.param == "tuned-gc":
        tune_gc()
    yield request.param
    gc.set_threshold(*old)


async def test_a_10000_message_burst_is_shown_without_freezing(
    make_server: Any, gc_mode: str
) -> None:
    # One sender makes the burst, so the server's per-connection rate limit is lifted, and
    # the per-account storage quota (2000 messages an hour by default).
    server = make_server(
        limits={"frames_per_second": 0, "bytes_per_second": 0},
        storage={"messages_per_hour": 0, "bytes_per_hour": 0},
    )
    bob = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SENDER,
        str(server.port),
        str(BURST),
        PASSWORD,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert bob.stdin is not None and bob.stdout is not None
    app = make_app(server.port, "alice", register=True, rooms=["lobby"])
    loop = asyncio.get_running_loop()
    try:
        assert await asyncio.wait_for(bob.stdout.readline(), 20) == b"ready\n"
        async with running(app, size=(120, 40)) as pilot:
            await connected(pilot, app)
            await until(pilot, lambda: app.model.current == "#lobby", "#lobby")
            await pilot.pause(0.2)
            lobby = app.model.conversations["#lobby"]
            final = f"burst {BURST - 1}"

            def newest() -> str | None:
                """The text of the newest message (notes, as bob leaving, may follow it)."""
                for line in reversed(lobby.lines):
                    if line.message is not None:
                        return line.message.text
                return None

            marks: dict[str, float] = {}
            worst = 0.0
            done = False

            async def watch() -> None:
                """The event loop's longest stall; when the first and last messages came."""
                nonlocal worst
                tick = 0.002
                last = loop.time()
                while not done:
                    await asyncio.sleep(tick)
                    now = loop.time()
                    worst = max(worst, now - last - tick)
                    last = now
                    if "first" not in marks and lobby.newest_id is not None:
                        marks["first"] = now
                    if "last" not in marks and newest() == final:
                        marks["last"] = now

            watcher = asyncio.create_task(watch())
            start = loop.time()
            bob.stdin.write(b"go\n")
            await bob.stdin.drain()
            await until(
                pilot, lambda: newest() == final and lobby.fresh == 0, "the burst", timeout=90
            )
            shown = loop.time()
            done = True
            await watcher
            assert await asyncio.wait_for(bob.stdout.readline(), 30) == b"done\n"

            drawn = screen_lines(app)
            assert any(line.endswith(final) for line in drawn[-3:])
            assert len(drawn) <= LOG_LINES
            held = [ln.message for ln in lobby.lines if ln.message is not None]
            assert MAX_LINES - 5 <= len(held) <= MAX_LINES  # a few notes share the lines
            assert [m.text for m in held] == [f"burst {i}" for i in range(BURST)][-len(held) :]
            ids = [m.id for m in held]
            assert ids == sorted(set(ids))
            assert not any("dropped" in ln.text for ln in lobby.lines if ln.message is None)
            assert app.model.status.state == "connected"

            drain = shown - marks["first"]
            print(
                f"\nTUI burst of {BURST} ({gc_mode}): first message in the client "
                f"{(marks['first'] - start) * 1000:.0f} ms after the send, "
                f"the whole burst drawn {drain:.2f} s after the first "
                f"({BURST / drain:.0f} msg/s), {(shown - marks['last']) * 1000:.0f} ms after "
                f"the last arrived; longest event-loop stall {worst * 1000:.0f} ms"
            )
            assert drain < 60
            assert worst < 1.0
    finally:
        if bob.returncode is None:
            bob.kill()
        await bob.wait()
