"""The check that runs before Qt: a plugin that does not load names the packages to install.

The loader here is a fake that fails for chosen names (the real loader, on a machine with
the libraries hidden, is tests/integration/test_gui_xcb.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtCore", exc_type=ImportError)

from teahouse.gui.xcb_probe import XCB_LIBRARIES, XcbProblem, probe_xcb, uses_xcb

PLUGIN = Path("/opt/qt/plugins/platforms/libqxcb.so")


def failing_for(*names: str, plugin_error: str | None = None):  # type: ignore[no-untyped-def]
    """A loader that raises OSError for ``names`` (and for the plugin if any is missing)."""
    loaded: list[str] = []

    def load(name: str) -> object:
        loaded.append(name)
        if name == str(PLUGIN) and (names or plugin_error):
            raise OSError(plugin_error or f"{names[0]}: cannot open shared object file: No such")
        if name in names:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()

    load.loaded = loaded  # type: ignore[attr-defined]
    return load


def test_a_plugin_that_loads_is_no_problem_and_nothing_else_is_tried() -> None:
    load = failing_for()
    assert probe_xcb(PLUGIN, load=load) is None
    assert load.loaded == [str(PLUGIN)]


def test_no_plugin_to_check_is_no_problem() -> None:
    assert probe_xcb(None, load=failing_for("libxcb-icccm.so.4")) is None


def test_every_missing_library_is_named_with_its_package_in_one_line() -> None:
    load = failing_for("libxcb-keysyms.so.1", "libxcb-icccm.so.4", "libxcb-cursor.so.0")
    problem = probe_xcb(PLUGIN, load=load)
    assert problem is not None
    assert problem.missing == ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    assert problem.packages == ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1")
    line = problem.message()
    assert "\n" not in line
    assert line.endswith("sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1")
    assert "libxcb-icccm.so.4" in line


def test_a_library_the_table_does_not_know_is_named_from_the_loader_error() -> None:
    load = failing_for("libteahouse-fake.so.7")
    problem = probe_xcb(PLUGIN, load=load, libraries={"libxcb-icccm.so.4": "libxcb-icccm4"})
    assert problem is not None
    assert problem.missing == ("libteahouse-fake.so.7",)
    assert problem.packages == ()
    assert "libteahouse-fake.so.7" in problem.message()
    assert "apt install" not in problem.message()


def test_known_and_unknown_missing_libraries_together() -> None:
    problem = XcbProblem(
        ("libxcb-icccm.so.4", "libteahouse-fake.so.7"), ("libxcb-icccm4",), "detail"
    )
    assert problem.message().endswith(
        "sudo apt install libxcb-icccm4 (and the package that has libteahouse-fake.so.7)"
    )


def test_a_plugin_that_fails_for_another_reason_says_why() -> None:
    load = failing_for(plugin_error="libqxcb.so: undefined symbol: _ZN7QWindow4showEv")
    problem = probe_xcb(PLUGIN, load=load)
    assert problem is not None
    assert problem.missing == ()
    assert "undefined symbol: _ZN7QWindow4showEv" in problem.message()


def test_every_library_has_a_debian_package_name() -> None:
    for soname, package in XCB_LIBRARIES.items():
        assert ".so." in soname
        assert package == package.lower() and " " not in package


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, True),
        ({"XDG_SESSION_TYPE": "x11"}, True),
        ({"XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": "wayland-0"}, True),
        ({"XDG_SESSION_TYPE": "wayland"}, False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, False),
        ({"QT_QPA_PLATFORM": "xcb"}, True),
        ({"QT_QPA_PLATFORM": "xcb:dpi=96", "XDG_SESSION_TYPE": "wayland"}, True),
        ({"QT_QPA_PLATFORM": "offscreen"}, False),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, False),
        ({"QT_QPA_PLATFORM": "xcb;wayland"}, True),
    ],
)
def test_the_check_runs_only_where_qt_will_use_xcb(environ: dict[str, str], expected: bool) -> None:
    assert uses_xcb(environ) is expected
