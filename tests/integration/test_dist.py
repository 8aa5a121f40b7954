"""What ``make dist`` builds: the wheel, the sdist, and the one-file desktop client.

The one-file ``dist/teahouse-gui`` runs on a real X server (Xvfb, Qt's xcb platform) against
a real server, driving itself (``TEAHOUSE_GUI_SMOKE_TEST``): dialog, log in, join, a message
from another user shown, exit status 0. Where this runs as root, the system's
libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1 are hidden from it (tests/xvfb.py), as on a
plain Debian 12 desktop: it must run on the copies it carries.

The tests skip when ``make dist`` has not run; .ci/run runs it and sets
``TEAHOUSE_REQUIRE_DIST=1``, which turns a missing build into a failure. With
``TEAHOUSE_SCREENSHOTS=1`` the screenshot goes to docs/images/ (else under tmp_path).
"""

from __future__ import annotations

import os
import struct
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teahouse import __version__
from teahouse.client import Client
from tests.xvfb import DESKTOP_GAPS, Xvfb, can_hide_libraries, gui_environment, hiding, run_smoke

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
EXECUTABLE = DIST / "teahouse-gui"
IMAGES = ROOT / "docs" / "images"
PASSWORD = "tea-for-two-1"


def built(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("TEAHOUSE_REQUIRE_DIST"):
            pytest.fail(f"{path.relative_to(ROOT)} is missing: `make dist` should build it")
        pytest.skip(f"{path.relative_to(ROOT)} not built (make dist)")
    return path


@pytest.fixture
def display() -> Iterator[str]:
    try:
        server = Xvfb().start()
    except FileNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("no Xvfb in CI: .ci/run should install xvfb")
        pytest.skip("no Xvfb (apt-get install xvfb)")
    try:
        yield server.display
    finally:
        server.stop()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_one_file_client_chats_on_a_real_x_server(
    display: str, make_server: Any, tmp_path: Path
) -> None:
    executable = built(EXECUTABLE)
    assert os.access(executable, os.X_OK)
    folder = IMAGES if os.environ.get("TEAHOUSE_SCREENSHOTS") else tmp_path
    screenshot = folder / "gui-onefile-xvfb.png"
    screenshot.unlink(missing_ok=True)
    command = [str(executable)]
    if can_hide_libraries():
        command = hiding(DESKTOP_GAPS, command)
    server = make_server()
    bob = Client("127.0.0.1", server.port, "bob", PASSWORD, register=True, rooms=("lobby",))
    await bob.connect()
    spec = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": "alice",
        "password": PASSWORD,
        "register": True,
        "room": "lobby",
        "expect": "the one-file client works",
        "timeout": 90,
        "screenshot": str(screenshot),
    }
    try:
        run = await run_smoke(
            command, gui_environment(display, tmp_path / "home"), spec, sender=bob, timeout=120
        )
    finally:
        await bob.close()
    assert run.status == 0, run.report()
    assert [step for step in run.steps if not step.startswith("screenshot")] == [
        "dialog shown",
        "connected",
        "joined lobby",
        "message shown",
        "exit 0",
    ], run.report()
    assert png_size(screenshot) == (1280, 800)
    size = executable.stat().st_size
    print(
        f"\n{executable.name}: {size / 1e6:.1f} MB; dialog shown after "
        f"{run.steps['dialog shown']:.2f} s; libraries hidden: {command[0] == 'unshare'}"
    )


def test_the_wheel_holds_the_package_and_the_sdist_the_sources() -> None:
    wheel = built(DIST / f"teahouse-{__version__}-py3-none-any.whl")
    sdist = built(DIST / f"teahouse-{__version__}.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"teahouse-{__version__}.dist-info/METADATA").decode()
    assert {"teahouse/cli.py", "teahouse/gui/xcb_probe.py", "teahouse/py.typed"} <= names
    assert not any(name.startswith("tests/") for name in names)
    assert "Provides-Extra: gui" in metadata
    assert (
        "teahouse = teahouse.cli:main"
        in zipfile.ZipFile(wheel)
        .read(f"teahouse-{__version__}.dist-info/entry_points.txt")
        .decode()
    )
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "src/teahouse/gui/smoke.py", "packaging/teahouse-gui.spec"} <= members
