"""Shared fixtures: a real teahouse server in a subprocess, and a raw native-protocol client."""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Cheap argon2 parameters: the tests exercise the hashing path, not its cost.
FAST_HASH = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}

TEAHOUSE_BIN = os.environ.get("TEAHOUSE_BIN", "")
"""Another build's ``teahouse`` executable (``/tmp/oldmain/.venv/bin/teahouse``): the
servers and commands of the tests run it instead of this checkout, to check that a test
fails on an older server. Unset in normal runs."""

_CONFIG_KEYS = """
import json, msgspec
from teahouse.config import Config
print(json.dumps({s.name: [k.name for k in msgspec.structs.fields(s.type)]
                  for s in msgspec.structs.fields(Config)}))
"""


def teahouse_command(*words: str) -> list[str]:
    """The command line that runs ``teahouse WORDS``: this checkout, or ``TEAHOUSE_BIN``."""
    if TEAHOUSE_BIN:
        return [TEAHOUSE_BIN, *words]
    return [sys.executable, "-m", "teahouse", *words]


@functools.cache
def _other_build() -> tuple[bool, dict[str, list[str]]]:
    """What the ``TEAHOUSE_BIN`` build knows: whether ``serve`` takes ``--web-port``, and its
    configuration sections and keys (an older build refuses keys it does not know)."""
    helps = subprocess.run(
        teahouse_command("serve", "--help"), capture_output=True, text=True, timeout=60
    )
    python = Path(TEAHOUSE_BIN).with_name("python")
    keys = subprocess.run(
        [str(python), "-c", _CONFIG_KEYS], capture_output=True, text=True, timeout=60, check=True
    )
    return "--web-port" in helps.stdout, json.loads(keys.stdout)


def known_sections(sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The configuration without what the ``TEAHOUSE_BIN`` build does not know (an older
    build refuses to start on an unknown key): the test then shows what that build does
    without the setting. Unchanged in normal runs."""
    if not TEAHOUSE_BIN:
        return sections
    known = _other_build()[1]
    return {
        name: {k: v for k, v in values.items() if k in known[name]}
        for name, values in sections.items()
        if name in known
    }


def _web_port_args() -> list[str]:
    if TEAHOUSE_BIN and not _other_build()[0]:
        return []  # a build from before the web door
    return ["--web-port", "0"]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in known_sections(sections).items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ServerProcess:
    """A `teahouse serve` subprocess on 127.0.0.1 and an ephemeral port."""

    data_dir: Path
    config_path: Path
    proc: subprocess.Popen[str] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    irc_port: int = 0
    doors: dict[str, int] = field(default_factory=dict)
    stderr_path: Path | None = None
    extra_args: list[str] = field(default_factory=list)

    def start(self, timeout: float = 20.0) -> ServerProcess:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr_path = self.data_dir.parent / f"server-{time.monotonic_ns()}.log"
        err = open(self.stderr_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            teahouse_command(
                "serve",
                "--config",
                str(self.config_path),
                "--data-dir",
                str(self.data_dir),
                "--port",
                "0",
                "--irc-port",
                "0",
                *_web_port_args(),
                "--no-console",
                *self.extra_args,
            ),
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        err.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                self.proc.stdout.close()
                raise RuntimeError(f"server exited early:\n{self.log()}")
            if line.startswith("teahouse listening "):
                doors = dict(word.split("=", 1) for word in line.split()[2:])
                self.doors = {name: int(addr.rpartition(":")[2]) for name, addr in doors.items()}
                self.host, _, port = doors["native"].rpartition(":")
                self.port = int(port)
                if "irc" in doors:
                    self.irc_port = int(doors["irc"].rpartition(":")[2])
                return self
        raise RuntimeError(f"server did not start in time:\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.stderr_path.read_text() if self.stderr_path else ""

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def admin(self, *words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            teahouse_command("admin", "--data-dir", str(self.data_dir), "--json", *words),
            capture_output=True,
            text=True,
            timeout=30,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """Factory: ``make_server(heartbeat={"interval": 0.5}, limits={...})`` -> started server."""
    servers: list[ServerProcess] = []

    def factory(**sections: dict[str, Any]) -> ServerProcess:
        merged: dict[str, dict[str, Any]] = {
            "accounts": dict(FAST_HASH),
            "log": {"level": "info"},
            "tls": {"web_port": 0},  # with a certificate, the web door's TLS port too
        }
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        n = len(servers)
        config = write_config(tmp_path / f"teahouse-{n}.toml", merged)
        server = ServerProcess(data_dir=tmp_path / f"var-{n}", config_path=config)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop(signal.SIGKILL if server.proc and server.proc.poll() is None else 0)


@pytest.fixture
def server(make_server: Any) -> ServerProcess:
    """A server with default settings (fast hashing)."""
    return make_server()  # type: ignore[no-any-return]


class RawClient:
    """A bare native-protocol client for protocol-level tests: JSON lines over TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, host: str = "127.0.0.1", local_ip: str | None = None
    ) -> RawClient:
        local = (local_ip, 0) if local_ip else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local, limit=1 << 22)
        return cls(reader, writer)

    async def send(self, **frame: Any) -> None:
        self.writer.write(json.dumps(frame).encode() + b"\n")
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise EOFError("server closed the connection")
        frame: dict[str, Any] = json.loads(line)
        return frame

    async def recv_until(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """Skip frames until one of type ``kind`` (answering pings on the way)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            frame = await self.recv(max(left, 0.01))
            if frame["type"] == "ping" and kind != "ping":
                await self.send(type="pong", t=frame["t"])
                continue
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (frames before EOF are read away)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        return True

    async def login(
        self, user: str, password: str, register: bool = False, **extra: Any
    ) -> dict[str, Any]:
        await self.send(type="hello", proto=1, client="tests")
        await self.send(
            type="register" if register else "login", user=user, password=password, **extra
        )
        await self.recv_until("welcome")
        frame = await self.recv()
        return frame

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@pytest.fixture
async def raw() -> AsyncIterator[Any]:
    """Factory of raw clients, all closed at the end of the test."""
    clients: list[RawClient] = []

    async def connect(port: int, local_ip: str | None = None) -> RawClient:
        client = await RawClient.connect(port, local_ip=local_ip)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection built (the imported modules: Qt, Textual, hypothesis, the test
    functions and their parameters) out of the collector's view: the collection at each
    test's end then walks only what the tests made, not the whole heap again each time."""
    gc.collect()
    gc.freeze()


def pytest_sessionfinish(session: pytest.Session) -> None:
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect at each test's end, so a leaked socket is reported against its own test."""
    yield
    gc.collect()


async def next_event(client: Any, kind: type[Any], timeout: float = 5.0, **match: Any) -> Any:
    """Skip a ``teahouse.client.Client``'s events until one of type ``kind`` whose fields
    equal ``match``."""
    async with asyncio.timeout(timeout):
        async for event in client.events():
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event
    raise AssertionError(f"the event stream ended before a {kind.__name__} {match}")
