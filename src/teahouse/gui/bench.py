"""How the desktop client keeps up with a burst: ``python -m teahouse.gui.bench``.

It starts a teahouse server on 127.0.0.1 (an ephemeral port, a temporary data directory,
flood limits lifted), opens the real main window logged in as ``viewer`` with the room
``bench`` on screen, and has another process send ``--messages`` (10,000) messages into
the room as fast as the server takes them, all pipelined. It reports:

- **drain**: from the first burst message shown to the last one shown (and from the moment
  the sender started);
- **longest stall**: the longest time the Qt thread did not get back to its event loop,
  measured by a 5 ms timer (a stall is the gap between two ticks, less the 5 ms); the
  count of ticks later than 50 ms and 100 ms;
- **synthetic**: the same count of messages handed to the window at once, without the
  network (the GUI's own cost, worst case: all of it queued in one instant).

It uses the offscreen Qt platform unless ``--platform`` says otherwise (``xcb`` to watch it
on a desktop). Figures depend on the machine; run it a few times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PASSWORD = "bench-password-1"
ROOM = "bench"
TICK_MS = 5


# -- the sender (a separate process, so that it does not share the window's thread) ---------


async def _sender(port: int, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 24)

    def send(**frame: Any) -> None:
        writer.write(json.dumps(frame).encode() + b"\n")

    async def until(kind: str, **match: Any) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await reader.readline())
            if frame["type"] == "ping":
                send(type="pong", t=frame["t"])
            elif frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame
            elif frame["type"] == "error":
                raise SystemExit(f"sender: {frame}")

    send(type="hello", proto=1, client="bench-sender")
    send(type="register", user="sender", password=PASSWORD)
    await until("authed")
    send(type="join", room=ROOM)
    await until("replay_end", room=ROOM)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start = time.perf_counter()
    lines = b"".join(
        json.dumps({"type": "say", "room": ROOM, "text": f"burst line {n}", "ref": n}).encode()
        + b"\n"
        for n in range(1, count + 1)
    )
    writer.write(lines)
    await writer.drain()
    await until("message", ref=count)
    print(json.dumps({"sender_s": time.perf_counter() - start}), flush=True)
    send(type="quit")
    writer.close()


# -- the window's side ------------------------------------------------------------------


@dataclass
class Result:
    messages: int
    drain_s: float
    """First burst message shown to the last one shown."""
    from_start_s: float
    """Sender started to the last message shown."""
    sender_s: float
    """Sender started to the server's acknowledgement of its last message."""
    longest_stall_ms: float
    stalls_over_50ms: int
    stalls_over_100ms: int
    synthetic_drain_s: float
    synthetic_longest_stall_ms: float


class StallMeter:
    """A 5 ms Qt timer; a late tick means the Qt thread was busy that long."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(max(0.0, now - self._last - TICK_MS / 1000))
        self._last = now

    def longest_ms(self) -> float:
        return max(self.gaps, default=0.0) * 1000

    def over(self, ms: float) -> int:
        return sum(1 for gap in self.gaps if gap * 1000 > ms)


def _start_server(data: Path) -> tuple[subprocess.Popen[str], int]:
    config = data / "bench.toml"
    config.write_text(
        "[accounts]\nargon2_memory_kib = 1024\nargon2_time_cost = 1\nargon2_parallelism = 1\n"
        "[limits]\nframes_per_second = 1000000.0\nframes_burst = 1000000.0\n"
        "bytes_per_second = 1000000000.0\nbytes_burst = 1000000000.0\n"
        "output_high_water = 67108864\n"
        '[log]\nlevel = "warning"\nfile = false\n'
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "teahouse",
            "serve",
            "--config",
            str(config),
            "--data-dir",
            str(data / "var"),
            "--port",
            "0",
            "--no-irc",
            "--no-web",
            "--no-console",
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("teahouse listening "):
            doors = dict(word.split("=", 1) for word in line.split()[2:])
            return proc, int(doors["native"].rpartition(":")[2])
    proc.wait()
    raise SystemExit("the server did not start")


async def _measure(port: int, count: int, sender: subprocess.Popen[str]) -> Result:
    """Run the burst through the window; ``sender`` waits for a line on its stdin."""
    from teahouse.client import Client
    from teahouse.gui.app import make_icon
    from teahouse.gui.main_window import MainWindow
    from teahouse.gui.session import ChatSession
    from teahouse.protocol import frames as f

    client = Client("127.0.0.1", port, "viewer", PASSWORD, register=True, rooms=[ROOM])
    await client.connect()
    session = ChatSession(client)
    window = MainWindow(session, address=f"127.0.0.1:{port}", icon=make_icon())
    session.setParent(window)
    session.start()
    window.show()
    while window.current is None:
        await asyncio.sleep(0.01)
    meter = StallMeter()
    base = session.messages_shown
    first: list[float] = []

    def shown(_: int) -> None:
        if not first:
            first.append(time.perf_counter())

    session.applied.connect(shown)
    meter.start()
    go = time.perf_counter()
    assert sender.stdin is not None
    sender.stdin.write("go\n")
    sender.stdin.flush()
    deadline = go + 300
    while session.messages_shown - base < count:
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {session.messages_shown - base} of {count} shown in 300 s")
        await asyncio.sleep(0.005)
    last = time.perf_counter()
    await asyncio.sleep(0.3)  # the last layout and paint count as stalls too
    meter.stop()
    network = (meter.longest_ms(), meter.over(50), meter.over(100))

    # The same burst without the network: every message queued at one instant.
    synthetic = [
        f.Message(id=10**9 + n, sender="ghost", text=f"synthetic line {n}", ts=_now(), room=ROOM)
        for n in range(count)
    ]
    base = session.messages_shown
    meter.start()
    start = time.perf_counter()
    session.feed(list(synthetic))
    while session.messages_shown - base < count:
        await asyncio.sleep(0.002)
    synthetic_s = time.perf_counter() - start
    await asyncio.sleep(0.3)
    meter.stop()

    await session.quit()
    window.deleteLater()
    return Result(
        messages=count,
        drain_s=last - first[0],
        from_start_s=last - go,
        sender_s=0.0,
        longest_stall_ms=network[0],
        stalls_over_50ms=network[1],
        stalls_over_100ms=network[2],
        synthetic_drain_s=synthetic_s,
        synthetic_longest_stall_ms=meter.longest_ms(),
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def run(count: int) -> Result:
    import gc

    import qasync  # type: ignore[import-untyped]
    from PySide6.QtWidgets import QApplication

    from teahouse.gui.app import setup_application

    data = Path(tempfile.mkdtemp(prefix="teahouse-gui-bench-"))
    server, port = _start_server(data)
    try:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            app = QApplication(sys.argv[:1])
        setup_application(app)
        sender = subprocess.Popen(
            [sys.executable, "-m", "teahouse.gui.bench", "--sender", str(port), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sender.stdout is not None
        if sender.stdout.readline().strip() != "ready":
            raise SystemExit("the sender did not start")
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            result = runner.run(_measure(port, count, sender))
        gc.collect()
        result.sender_s = float(json.loads(sender.stdout.readline())["sender_s"])
        sender.wait(30)
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m teahouse.gui.bench", description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--platform", default=None, help="Qt platform [offscreen]")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sender", nargs=2, metavar=("PORT", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sender:
        asyncio.run(_sender(int(args.sender[0]), int(args.sender[1])))
        return 0
    os.environ["QT_QPA_PLATFORM"] = args.platform or os.environ.get("QT_QPA_PLATFORM", "offscreen")
    result = run(args.messages)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    r = result
    print(f"burst of {r.messages} messages through a real server (127.0.0.1):")
    print(f"  sender's last message acknowledged  {r.sender_s * 1000:8.0f} ms after it started")
    print(f"  drain (first to last shown)         {r.drain_s * 1000:8.0f} ms")
    print(f"  sender started to last shown        {r.from_start_s * 1000:8.0f} ms")
    print(f"  longest UI stall                    {r.longest_stall_ms:8.1f} ms")
    print(f"  stalls over 50 ms / over 100 ms     {r.stalls_over_50ms:5d} / {r.stalls_over_100ms}")
    print("the same burst handed to the window at once (no network):")
    print(f"  drain                               {r.synthetic_drain_s * 1000:8.0f} ms")
    print(f"  longest UI stall                    {r.synthetic_longest_stall_ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
