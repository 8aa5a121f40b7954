"""Starting and stopping the servers under test, each with the settings of one scenario.

Every server runs in the foreground on 127.0.0.1 as a fresh process with its own temporary
directory (config, data, logs, pid file), its output going to a log file there, and is
stopped by its pid. Configs are written from the templates in bench/configs/ and the
settings in bench/suite.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from suite import (
    INSPIRCD,
    LABELS,
    NGIRCD,
    OPER_NAME,
    OPER_PASSWORD,
    TEAHOUSE,
    TEAHOUSE_IRC,
    Scenario,
    Setting,
)

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PROGRAMS = {INSPIRCD: "inspircd", NGIRCD: "ngircd"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def missing(server: str) -> str | None:
    """Why ``server`` cannot run here, or None."""
    program = PROGRAMS.get(server)
    if program is not None and shutil.which(program) is None:
        return f"not installed (apt-get install {program})"
    return None


def version(server: str) -> str:
    """The server's version as it reports it."""
    if server in (TEAHOUSE, TEAHOUSE_IRC):
        from importlib.metadata import version as dist_version

        return f"teahouse {dist_version('teahouse')}"
    program = PROGRAMS[server]
    if shutil.which(program) is None:
        return f"{LABELS[server]}: not installed"
    done = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


@dataclass
class Running:
    """A started server: its process, the port the load goes to, and its directory."""

    server: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    config: str
    """The config file it runs with (for results.json)."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_bytes(self) -> int:
        """Bytes of log the server wrote (its files and its stdout/stderr)."""
        total = 0
        for path in self.workdir.rglob("*"):
            if path.is_file() and (path.suffix == ".log" or ".log." in path.name):
                total += path.stat().st_size
        return total

    def stop(self) -> int | None:
        """Stop it by its pid (SIGTERM, then SIGKILL after 10 s); return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.proc.returncode


def start(server: str, scenario: Scenario) -> Running:
    """A fresh ``server`` with ``scenario``'s settings, listening on 127.0.0.1."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{server}-"))
    settings = [s for s in scenario.settings_for(server) if not s.in_template]
    try:
        if server in (TEAHOUSE, TEAHOUSE_IRC):
            return _teahouse(server, work, settings)
        if server == NGIRCD:
            return _ngircd(work, settings)
        if server == INSPIRCD:
            return _inspircd(work, settings)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    raise ValueError(server)


def _launch(server: str, cmd: list[str], work: Path, port: int, config: str) -> Running:
    with open(work / "server.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    running = Running(server, proc, port, work, config)
    try:
        wait_listening(port, proc)
    except BaseException:
        running.stop()
        raise
    return running


# -- teahouse ------------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return repr(value)


def teahouse_toml(settings: list[Setting]) -> str:
    sections: dict[str, list[str]] = {}
    for s in settings:
        section, _, key = s.key.partition(".")
        sections.setdefault(section, []).append(f"{key} = {_toml_value(s.value)}  # {s.why}")
    lines = [
        "# teahouse for `make bench`: its defaults, except these (see bench/suite.py).",
    ]
    for section, entries in sections.items():
        lines += ["", f"[{section}]", *entries]
    return "\n".join(lines) + "\n"


def _teahouse(server: str, work: Path, settings: list[Setting]) -> Running:
    config = teahouse_toml(settings)
    (work / "teahouse.toml").write_text(config)
    data = work / "var"
    base = ["--config", str(work / "teahouse.toml"), "--data-dir", str(data)]
    subprocess.run(
        [PYTHON, "-m", "teahouse", "user", "add", OPER_NAME, "--admin", "--password-stdin", *base],
        input=OPER_PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    native, irc = free_port(), free_port()
    cmd = [
        PYTHON,
        "-m",
        "teahouse",
        "serve",
        *base,
        "--port",
        str(native),
        "--irc-port",
        str(irc),
        "--web-port",
        "0",  # on, as by default, on a port of its own so runs never collide
        "--no-console",
    ]
    running = _launch(server, cmd, work, irc if server == TEAHOUSE_IRC else native, config)
    wait_listening(native if server == TEAHOUSE_IRC else irc, running.proc)
    return running


# -- the IRC peers --------------------------------------------------------------------------


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def _ngircd(work: Path, settings: list[Setting]) -> Running:
    port = free_port()
    sections: dict[str, list[str]] = {"Global": [], "Limits": [], "Options": []}
    for s in settings:
        section, _, key = s.key.partition(".")
        sections[section].append(f"# {s.why}\n{key} = {s.value}")
    root = "ServerUID = nobody\nServerGID = nogroup\n" if os.geteuid() == 0 else ""
    values = {
        "port": str(port),
        "root": root,
        "oper_password": OPER_PASSWORD,
        **{name: "\n".join(lines) for name, lines in sections.items()},
    }
    config = _fill((HERE / "configs" / "ngircd.conf.in").read_text(), values)
    (work / "ngircd.conf").write_text(config)
    cmd = ["ngircd", "-n", "-f", str(work / "ngircd.conf")]
    return _launch(NGIRCD, cmd, work, port, config)


def _inspircd(work: Path, settings: list[Setting]) -> Running:
    port = free_port()
    tags: dict[str, list[str]] = {"connect": [], "performance": []}
    for s in settings:
        tag, _, attr = s.key.partition(".")
        tags[tag].append(f'{attr}="{s.value}"')
    connect = "".join(f"\n         {attr}" for attr in tags["connect"])
    performance = f"<performance {' '.join(tags['performance'])}>" if tags["performance"] else ""
    values = {
        "port": str(port),
        "connect": connect,
        "performance": performance,
        "oper_password": OPER_PASSWORD,
        "logfile": str(work / "inspircd.log"),
        "pidfile": str(work / "inspircd.pid"),
    }
    config = _fill((HERE / "configs" / "inspircd.conf.in").read_text(), values)
    (work / "inspircd.conf").write_text(config)
    cmd = ["inspircd", "--nofork", "--runasroot", f"--config={work / 'inspircd.conf'}"]
    return _launch(INSPIRCD, cmd, work, port, config)
