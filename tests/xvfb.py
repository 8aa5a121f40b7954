"""The desktop client on a real X server: Xvfb, libraries hidden, and the smoke run.

- :class:`Xvfb` starts a virtual X server on the first free display (``-displayfd``), so
  Qt runs on its xcb platform as on a desktop (not ``offscreen``).
- :func:`hiding` wraps a command so that, for it alone, chosen system libraries cannot be
  loaded (``/dev/null`` bound over each file in a private mount namespace): a machine
  without ``libxcb-icccm4`` and friends, on a machine that has them. Needs root.
- :func:`run_smoke` runs ``teahouse gui`` (or the one-file build) with
  ``TEAHOUSE_GUI_SMOKE_TEST`` against a real server, and sends the message the
  application waits for once it says it joined the room (:mod:`teahouse.gui.smoke`).
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from teahouse.client import Client

# The libraries a plain Debian 12 desktop lacks for Qt's xcb plugin (Qt >= 6.5).
DESKTOP_GAPS = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
DESKTOP_GAP_PACKAGES = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"


class Xvfb:
    """A virtual X server; :attr:`display` is its ``DISPLAY`` once started."""

    def __init__(self, size: str = "1280x800x24") -> None:
        self.size = size
        self.display = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> Xvfb:
        read_end, write_end = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [
                    *("Xvfb", "-displayfd", str(write_end), "-screen", "0", self.size),
                    *("-nolisten", "tcp", "-noreset"),
                ],
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        finally:
            os.close(write_end)
        number = b""
        deadline = time.monotonic() + timeout
        try:
            while not number.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_end], [], [], left)[0]:
                    raise RuntimeError("Xvfb did not start in time")
                chunk = os.read(read_end, 16)
                if not chunk:
                    raise RuntimeError("Xvfb exited before it took a display")
                number += chunk
        finally:
            os.close(read_end)
        self.display = f":{int(number)}"
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def library_file(soname: str) -> Path | None:
    """The file the loader would open for ``soname`` (from ``ldconfig -p``), if any."""
    listing = subprocess.run(
        ["ldconfig", "-p"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    for line in listing.splitlines():
        name, _, rest = line.strip().partition(" ")
        if name == soname and "x86-64" in rest and "=>" in rest:
            return Path(rest.rpartition("=> ")[2]).resolve()
    return None


def can_hide_libraries() -> bool:
    """Whether :func:`hiding` works here (root, and mount namespaces allowed)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return done.returncode == 0


def hiding(sonames: Sequence[str], command: Sequence[str]) -> list[str]:
    """``command``, run where none of ``sonames`` loads (see the module doc).

    Libraries not installed need no hiding; with none installed this is ``command``."""
    files = [path for path in map(library_file, sonames) if path is not None]
    if not files:
        return list(command)
    mounts = " && ".join(f"mount --bind /dev/null {shlex.quote(str(p))}" for p in files)
    script = f'{mounts} && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]


def gui_environment(display: str, home: Path) -> dict[str, str]:
    """The environment of a desktop client under test: Xvfb, xcb, its own home, no keyring."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "QT_QPA_PLATFORM")
    }
    env.update(
        DISPLAY=display,
        QT_QPA_PLATFORM="xcb",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_RUNTIME_DIR=str(home / "run"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        TMPDIR=str(home / "tmp"),  # where a one-file build unpacks itself
    )
    for folder in ("run", "tmp"):
        (home / folder).mkdir(mode=0o700, parents=True, exist_ok=True)
    return env


@dataclass
class SmokeRun:
    """What a smoke run did: its exit status, its ``smoke:`` steps timed from launch."""

    status: int
    steps: dict[str, float] = field(default_factory=dict)
    stdout: list[str] = field(default_factory=list)
    stderr: str = ""

    def report(self) -> str:
        return f"exit {self.status}; stdout {self.stdout}; stderr {self.stderr!r}"


async def run_smoke(
    command: Sequence[str],
    env: Mapping[str, str],
    spec: Mapping[str, object],
    *,
    sender: Client | None = None,
    timeout: float = 60.0,
) -> SmokeRun:
    """Run ``command`` with the smoke test ``spec``; ``sender`` says ``spec["expect"]`` in
    ``spec["room"]`` once the application has joined it."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        env={**env, "TEAHOUSE_GUI_SMOKE_TEST": json.dumps(spec)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    launched = time.monotonic()
    run = SmokeRun(status=-1)
    assert proc.stdout is not None and proc.stderr is not None
    errors = asyncio.ensure_future(proc.stderr.read())
    try:
        async with asyncio.timeout(timeout):
            async for raw in proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                run.stdout.append(line)
                if line.startswith("smoke: "):
                    run.steps[line.removeprefix("smoke: ")] = time.monotonic() - launched
                if sender is not None and line == f"smoke: joined {spec['room']}":
                    await sender.say(str(spec["room"]), str(spec["expect"]))
            run.status = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        run.stderr = (await errors).decode(errors="replace")
    return run
