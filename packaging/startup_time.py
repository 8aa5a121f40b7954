"""Time from launch to the connect dialog on screen, for docs/clients.md.

    .venv/bin/python packaging/startup_time.py [--runs 7] [COMMAND ...]

Starts a virtual X server (Xvfb, Qt's xcb platform), then launches COMMAND (by default
``dist/teahouse-gui``) ``--runs`` times, one after the other, each with
``TEAHOUSE_GUI_SMOKE_TEST={}``: the application prints ``smoke: dialog shown`` once the
connect dialog's window is exposed on the X server, then closes it and exits. The time is
taken by this script from just before the launch to the moment it reads that line, so it
includes everything a person waits for (a one-file build unpacking itself, Python starting,
the imports, Qt connecting to the display). Prints the median, the fastest and the slowest.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_end,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    while not number.endswith(b"\n"):  # all of it: Xvfb dies if the pipe closes too soon
        if not select.select([read_end], [], [], 15)[0]:
            raise SystemExit("Xvfb did not start")
        chunk = os.read(read_end, 16)
        if not chunk:
            raise SystemExit("Xvfb exited before it took a display")
        number += chunk
    os.close(read_end)
    display = f":{int(number)}"
    return xvfb, display


def one_run(command: list[str], env: dict[str, str]) -> float:
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    shown = None
    for line in proc.stdout:
        if line.strip() == "smoke: dialog shown" and shown is None:
            shown = time.monotonic() - started
    if proc.wait(60) != 0 or shown is None:
        raise SystemExit(f"{command[0]} failed (exit {proc.returncode})")
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("command", nargs="*", default=[str(ROOT / "dist" / "teahouse-gui")])
    args = parser.parse_args()
    xvfb, display = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "DISPLAY": display,
                "QT_QPA_PLATFORM": "xcb",
                "HOME": home,
                "XDG_CONFIG_HOME": f"{home}/.config",
                "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
                "TEAHOUSE_GUI_SMOKE_TEST": json.dumps({}),
            }
            env.pop("WAYLAND_DISPLAY", None)
            times = [one_run(args.command, env) for _ in range(args.runs)]
    finally:
        xvfb.terminate()
        xvfb.wait()
    print(
        f"{' '.join(args.command)}: connect dialog shown after {statistics.median(times):.2f} s"
        f" (median of {len(times)}; fastest {min(times):.2f} s, slowest {max(times):.2f} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
