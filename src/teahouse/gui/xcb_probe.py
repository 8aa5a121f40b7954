"""Before Qt starts: will its xcb platform plugin load here? If not, say what to install.

Qt loads its platform plugin inside ``QApplication()``. When a system library that the xcb
plugin links is missing (on a plain Debian 12 desktop: ``libxcb-icccm4``,
``libxcb-keysyms1``; for Qt >= 6.5 also ``libxcb-cursor0``), Qt prints a paragraph that
names the wrong library or none ("Could not load the Qt platform plugin xcb ...") and
aborts the process. pip cannot install those libraries: they are the distribution's. So
``teahouse gui`` asks first: it loads the plugin as Qt would (``dlopen``); if that fails, it
loads each library of :data:`XCB_LIBRARIES` to name every missing one (the loader names only
the first) and prints one line with the packages to install (:meth:`XcbProblem.message`).

Nothing here creates a Qt object; loading the plugin early costs nothing, since Qt loads the
same file a moment later and the loader hands back the copy already in memory.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}
"""The system libraries that Qt's xcb plugin (``libqxcb.so``, ``libQt6XcbQpa.so.6``) and the
Qt libraries under it link, by soname, with the Debian 12 / Ubuntu package of each: read with
``ldd`` from PySide6 6.11. A library missing from this table is still found (the plugin then
fails to load, and the loader's error names it), just without a package name."""

Loader = Callable[[str], object]
"""Loads a shared library by path or soname; raises OSError when it cannot (ctypes.CDLL)."""

_CANNOT_OPEN = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")


@dataclass(frozen=True)
class XcbProblem:
    """Qt's xcb plugin cannot load: which libraries are missing, and why the plugin failed."""

    missing: tuple[str, ...]
    """The sonames that do not load, in :data:`XCB_LIBRARIES` order (unknown ones last)."""
    packages: tuple[str, ...]
    """The Debian/Ubuntu packages that hold the known ones."""
    detail: str
    """The loader's own error for the plugin."""

    def message(self) -> str:
        """One line for the terminal: what is missing and the command that installs it."""
        head = "teahouse gui: Qt cannot open a window"
        if not self.missing:
            return f"{head}: its xcb platform plugin does not load ({self.detail})"
        line = f"{head}: its xcb platform plugin needs {', '.join(self.missing)}, not installed"
        if self.packages:
            line += f"; on Debian/Ubuntu: sudo apt install {' '.join(self.packages)}"
        unknown = [name for name in self.missing if name not in XCB_LIBRARIES]
        if unknown:
            line += f" (and the package that has {', '.join(unknown)})"
        return line


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Whether Qt will start on its xcb (X11) platform with this environment.

    ``QT_QPA_PLATFORM`` decides when set (its first choice); otherwise Qt picks Wayland in a
    Wayland session and xcb elsewhere. In a Wayland session we stay out of Qt's way: it may
    never need xcb there."""
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0].strip() == "xcb"
    session = environ.get("XDG_SESSION_TYPE", "")
    if session == "wayland":
        return False
    return session == "x11" or not environ.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    """The xcb platform plugin of the Qt that PySide6 loads, or None if it has none."""
    from PySide6.QtCore import QLibraryInfo

    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    path = plugins / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def _dlopen(name: str) -> object:
    return ctypes.CDLL(name)


def _loads(load: Loader, name: str) -> bool:
    try:
        load(name)
    except OSError:
        return False
    return True


def probe_xcb(
    plugin: Path | None,
    *,
    load: Loader = _dlopen,
    libraries: Mapping[str, str] = XCB_LIBRARIES,
) -> XcbProblem | None:
    """None if ``plugin`` loads (or there is none to check), else what stops it.

    ``load`` and ``libraries`` are there for tests: a loader that fails for chosen names."""
    if plugin is None:
        return None
    try:
        load(str(plugin))
    except OSError as exc:
        detail = str(exc)
    else:
        return None
    missing = [name for name in libraries if not _loads(load, name)]
    named = _CANNOT_OPEN.search(detail)
    if named is not None and named.group(1) not in missing:
        missing.append(named.group(1))
    packages = tuple(dict.fromkeys(libraries[name] for name in missing if name in libraries))
    return XcbProblem(tuple(missing), tuple(sorted(packages)), detail)


def check_xcb(environ: Mapping[str, str]) -> XcbProblem | None:
    """The check ``teahouse gui`` runs before it creates the QApplication."""
    if not uses_xcb(environ):
        return None
    return probe_xcb(xcb_plugin())
