"""A run of the real application with no one at the keyboard: the check of a build.

With ``TEAHOUSE_GUI_SMOKE_TEST`` set to a JSON object (:class:`SmokeTest`), ``teahouse gui``
(or the one-file ``teahouse-gui``) drives itself through its own widgets, as a person
would: it waits for the connect dialog, fills it in and clicks Connect, types
``/join ROOM`` in the main window, waits until a message with the text ``expect`` is in
that room's view, optionally saves a screenshot of the whole screen, and closes the window.
The exit status is then the application's own (0), or 1 with one line on stderr that says
which step did not happen in time (or what the dialog said instead).

Each step prints a line on stdout as it happens (``smoke: dialog shown``, ``smoke:
connected``, ``smoke: joined ROOM``, ``smoke: message shown``), so a launcher can time
them; with no ``host``, the run stops at ``dialog shown`` (start-up time).

It is for tests of a build (``tests/integration/test_dist.py``): the password is in the
environment, so point it at a test server only.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO, TypeVar

import msgspec
import shiboken6
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from teahouse.gui.connect_dialog import ConnectDialog
from teahouse.gui.main_window import MainWindow
from teahouse.gui.models import ConversationKind
from teahouse.gui.transcript import Kind
from teahouse.gui.wording import Field

ENV = "TEAHOUSE_GUI_SMOKE_TEST"
POLL = 0.02
"""Seconds between two looks at the widgets."""

_W = TypeVar("_W", bound=QWidget)
_T = TypeVar("_T")


class SmokeTest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to do (the JSON object in ``TEAHOUSE_GUI_SMOKE_TEST``)."""

    host: str | None = None
    """The server; None: stop as soon as the connect dialog is shown."""
    port: int = 6680
    user: str = ""
    password: str = ""
    register: bool = False
    """Create the account instead of logging in."""
    room: str = "lobby"
    expect: str = ""
    """The text of the message to wait for in ``room``."""
    timeout: float = 30.0
    """Seconds for the whole run."""
    screenshot: str | None = None
    """Where to save a PNG of the screen once the message is shown."""


class Runnable(Protocol):
    """What the smoke test drives: the application (``GuiApp``), typed by what is used so
    this module does not import the one that starts it."""

    async def run(self) -> int: ...


class SmokeFailed(Exception):
    """A step did not happen; the message says which (one line)."""


def from_environ(environ: Mapping[str, str]) -> SmokeTest | None:
    """The smoke test asked for, or None; raises SmokeFailed if the JSON is wrong."""
    text = environ.get(ENV)
    if not text:
        return None
    try:
        return msgspec.json.decode(text, type=SmokeTest)
    except msgspec.DecodeError as exc:
        raise SmokeFailed(f"{ENV} is not a valid smoke test: {exc}") from None


def _shown(kind: type[_W]) -> _W | None:
    """A visible top-level widget of ``kind`` whose window the display has put on screen."""
    for widget in QApplication.topLevelWidgets():
        handle = widget.windowHandle()
        if (
            isinstance(widget, kind)
            and widget.isVisible()
            and handle is not None
            and handle.isExposed()
        ):
            return widget
    return None


class _Driver:
    def __init__(self, spec: SmokeTest, running: asyncio.Future[int], out: TextIO) -> None:
        self.spec = spec
        self.running = running
        self.out = out
        self.waiting = "the application to start"

    def say(self, step: str) -> None:
        print(f"smoke: {step}", file=self.out, flush=True)

    async def until(self, what: str, probe: Callable[[], _T | None]) -> _T:
        """Poll ``probe`` until it returns something; fail if the application ended first."""
        self.waiting = what
        while True:
            found = probe()
            if found is not None:
                return found
            if self.running.done():
                raise SmokeFailed(f"the application ended while waiting for {what}")
            await asyncio.sleep(POLL)

    async def run(self) -> None:
        spec = self.spec
        dialog = await self.until("the connect dialog", lambda: _shown(ConnectDialog))
        self.say("dialog shown")
        if spec.host is None:
            dialog.reject()
            return
        dialog.server.setEditText(spec.host)
        dialog.port.setValue(spec.port)
        (dialog.register_mode if spec.register else dialog.login_mode).setChecked(True)
        dialog.user.setEditText(spec.user)
        dialog.password.setText(spec.password)
        dialog.repeat.setText(spec.password)
        dialog.connect_button.click()

        def logged_in() -> MainWindow | None:
            if dialog.result_connection is not None or not shiboken6.isValid(dialog):
                return _shown(MainWindow)  # the dialog is done (and soon deleted)
            for field in Field:
                if text := dialog.error_text(field):
                    raise SmokeFailed(f"the connect dialog says: {text}")
            return _shown(MainWindow)

        window = await self.until("the main window (logging in)", logged_in)
        self.say("connected")
        window.submit(f"/join {spec.room}")
        room = await self.until(
            f"room {spec.room} shown",
            lambda: (
                window.current
                if window.current is not None
                and window.current.kind is ConversationKind.ROOM
                and window.current.name == spec.room
                and window.current.joined
                else None
            ),
        )
        self.say(f"joined {spec.room}")

        def message_in_view() -> bool | None:
            if window.view.model() is not room.messages:
                return None
            model = room.messages
            rows = (model.row_at(model.index(i)) for i in range(model.rowCount()))
            shown = any(row.kind is Kind.MESSAGE and row.text == spec.expect for row in rows)
            return True if shown else None

        await self.until(f"the message {spec.expect!r} in {spec.room}", message_in_view)
        self.say("message shown")
        if spec.screenshot:
            await asyncio.sleep(0.3)  # one more paint of the new line
            self.screenshot(spec.screenshot)
        window.close()

    def screenshot(self, path: str) -> None:
        """The whole screen as the display server has it (not Qt's own rendering)."""
        screen = QGuiApplication.primaryScreen()
        if screen is None or not screen.grabWindow(0).save(path, "PNG"):
            raise SmokeFailed(f"could not save a screenshot to {path}")
        self.say(f"screenshot {path}")


async def drive(gui: Runnable, spec: SmokeTest, out: TextIO = sys.stdout) -> int:
    """Run ``gui`` and the smoke test beside it; the exit status (see the module doc)."""
    started = time.monotonic()
    running = asyncio.ensure_future(gui.run())
    driver = _Driver(spec, running, out)
    try:
        async with asyncio.timeout(spec.timeout):
            await driver.run()
            driver.waiting = "the application to quit"
            status = await running
    except TimeoutError:
        print(
            f"teahouse gui smoke test: timed out after {time.monotonic() - started:.1f} s"
            f" waiting for {driver.waiting}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except SmokeFailed as exc:
        print(f"teahouse gui smoke test: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if not running.done():
            running.cancel()
    driver.say(f"exit {status}")
    return status
