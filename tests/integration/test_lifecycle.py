"""Dead peers, garbage floods, kill -9, shutdown: what the server releases and keeps."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PASSWORD = "correct-horse-1"


def stats(server: Any) -> dict[str, Any]:
    answer = server.admin("stats")
    assert answer.returncode == 0, answer.stderr
    data: dict[str, Any] = json.loads(answer.stdout)["data"]
    return data


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_silent_peer_is_closed_within_timeout_and_everything_is_freed(
    make_server: Any, raw: Any
) -> None:
    server = make_server(heartbeat={"interval": 0.3, "timeout": 1.0})
    watcher = await raw(server.port)
    await watcher.login("watcher", PASSWORD, register=True)
    await watcher.send(type="join", room="lobby")
    await watcher.recv_until("replay_end", room="lobby")
    baseline_fds = server.fd_count()

    silent = await raw(server.port)
    await silent.login("silent", PASSWORD, register=True)
    await silent.send(type="join", room="lobby")
    await silent.recv_until("replay_end", room="lobby")
    await watcher.recv_until("presence", state="joined")
    assert server.fd_count() == baseline_fds + 1
    went_silent = time.monotonic()
    # From now on `silent` reads nothing and answers no ping; its socket stays open.

    left = await watcher.recv_until("presence", state="left", timeout=5)
    elapsed = time.monotonic() - went_silent
    assert left["user"] == "silent" and left["reason"] == "timeout"
    assert elapsed <= 1.0 + 1.0, elapsed
    # The fd goes within a loop round of the close (well under the 1 s the contract allows).
    await wait_for(lambda: server.fd_count() == baseline_fds, timeout=0.5)
    # The server told it why (best effort) and closed the socket.
    frames = []
    while True:
        try:
            frames.append(await silent.recv(timeout=2))
        except EOFError:
            break
    assert frames[-1]["code"] == "heartbeat_timeout" and frames[-1]["fatal"] is True
    assert {f["type"] for f in frames[:-1]} <= {"ping"}
    s = stats(server)
    assert s["sessions"] == 1 and s["authenticated"] == 1


async def test_a_client_that_answers_pings_stays(make_server: Any, raw: Any) -> None:
    server = make_server(heartbeat={"interval": 0.2, "timeout": 0.6})
    c = await raw(server.port)
    await c.login("alive", PASSWORD, register=True)
    await c.recv()  # replay_end
    pings = 0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        frame = await c.recv(timeout=1)
        assert frame["type"] == "ping", frame
        await c.send(type="pong", t=frame["t"])
        pings += 1
    assert pings >= 5


async def test_garbage_flood_from_200_clients_leaves_nothing_behind(server: Any) -> None:
    baseline_fds = server.fd_count()
    rng = random.Random(7)

    async def attacker(i: int) -> None:
        local = f"127.0.{1 + i // 100}.{1 + i % 100}"
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", server.port, local_addr=(local, 0)
        )
        try:
            writer.write(rng.randbytes(32 * 1024))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass

    for batch in range(4):
        await asyncio.gather(*(attacker(batch * 50 + i) for i in range(50)))
    await wait_for(lambda: server.fd_count() == baseline_fds, timeout=5)
    s = stats(server)
    assert s["sessions"] == 0 and s["connections"] == 0
    assert s["connections_total"] >= 200
    # Still serving people.
    c = await asyncio.open_connection("127.0.0.1", server.port)
    c[1].write(b'{"type":"ping","t":1}\n')
    assert json.loads(await asyncio.wait_for(c[0].readline(), 5)) == {"type": "pong", "t": 1}
    c[1].close()


async def test_kill_9_during_writes_keeps_every_acknowledged_message(
    make_server: Any, raw: Any
) -> None:
    server = make_server(limits={"frames_per_second": 0, "bytes_per_second": 0})
    c = await raw(server.port)
    await c.login("writer", PASSWORD, register=True)
    await c.send(type="join", room="log")
    await c.recv_until("replay_end", room="log")
    acked: list[int] = []

    async def reader() -> None:
        try:
            while True:
                frame = await c.recv(timeout=5)
                if frame["type"] == "message":
                    acked.append(frame["id"])
        except (EOFError, ConnectionError, TimeoutError):
            return

    task = asyncio.create_task(reader())
    killed = False
    for i in range(5000):
        try:
            await c.send(type="say", room="log", text=f"line {i}", ref=i)
        except ConnectionError:
            break
        if i % 10 == 0:
            await asyncio.sleep(0.001)
        if not killed and len(acked) >= 300:
            os.kill(server.pid, signal.SIGKILL)  # while messages are still in flight
            killed = True
    assert killed
    await task
    assert len(acked) >= 100
    server.proc.wait()
    server.start()
    d = await raw(server.port)
    await d.login("writer", PASSWORD)
    stored: list[int] = []
    before = None
    while True:
        await d.send(
            type="history", room="log", limit=500, **({"before": before} if before else {})
        )
        page = await d.recv_until("history")
        ids = [m["id"] for m in page["messages"]]
        if not ids:
            break
        stored = ids + stored
        before = ids[0]
    assert set(acked) <= set(stored)
    assert stored == sorted(set(stored))


async def test_sigterm_sends_server_shutdown_and_exits_zero(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.login("alice", PASSWORD, register=True)
    await c.recv()
    server.proc.send_signal(signal.SIGTERM)
    err = await c.recv_until("error")
    assert err["code"] == "server_shutdown" and err["fatal"] is True
    assert await c.closed()
    assert server.proc.wait(10) == 0
    assert not (server.data_dir / "admin.sock").exists()


async def test_a_second_data_dir_user_is_refused(server: Any) -> None:
    from tests.conftest import ServerProcess

    twin = ServerProcess(data_dir=server.data_dir, config_path=server.config_path)
    try:
        twin.start(timeout=10)
    except RuntimeError as exc:
        assert "another teahouse server" in str(exc)
    else:
        twin.stop()
        raise AssertionError("two servers shared one data dir")


async def test_a_member_that_never_reads_is_dropped_as_slow_consumer(
    make_server: Any, raw: Any
) -> None:
    server = make_server(
        limits={"output_high_water": 65536, "frames_per_second": 0, "bytes_per_second": 0}
    )
    sender = await raw(server.port)
    await sender.login("talker", PASSWORD, register=True)
    sleeper = await raw(server.port)
    await sleeper.login("sleeper", PASSWORD, register=True)
    for c in (sleeper, sender):
        await c.send(type="join", room="busy")
        await c.recv_until("replay_end", room="busy")
    # Shrink the sleeper's receive buffer so the server's output queue is what fills up.
    sleeper.writer.transport.pause_reading()
    baseline_rss = server.rss_kib()
    text = "x" * 4000
    left = None
    for i in range(3000):
        await sender.send(type="say", room="busy", text=text, ref=i)
        if i % 20 == 0:
            while True:  # keep the sender itself a good reader
                frame = await sender.recv(timeout=5)
                if frame["type"] == "presence" and frame["state"] == "left":
                    left = frame
                if frame.get("ref") == i:
                    break
        if left is not None:
            break
    assert left is not None and left["user"] == "sleeper" and left["reason"] == "slow_consumer"
    s = stats(server)
    assert s["sessions"] == 1
    # Bounded by the mark (plus the kernel's socket buffers), not by what was sent.
    assert server.rss_kib() - baseline_rss < 16 * 1024


def test_servers_on_free_ports_take_free_ports_for_every_door(tmp_path: Path) -> None:
    """``--port 0 --irc-port 0`` (as test harnesses start servers): the web door, left at its
    default port, takes a free one too, so two such servers run side by side."""
    procs = []
    try:
        for n in range(2):
            data = tmp_path / f"var{n}"
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "teahouse",
                        "serve",
                        "--data-dir",
                        str(data),
                        "--port",
                        "0",
                        "--irc-port",
                        "0",
                        "--no-console",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            deadline = time.monotonic() + 30
            line = ""
            while time.monotonic() < deadline and "web=" not in line:
                line = proc.stdout.readline()
                assert line or proc.poll() is None, "the server exited"
            assert "web=127.0.0.1:" in line and ":6690" not in line, line
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
