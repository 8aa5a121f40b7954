"""The desktop client's entry point: `teahouse gui` (and the one-file build) runs
:func:`run_gui`, which starts Qt, the asyncio loop inside it, and the application (or
the self-driving smoke test of :mod:`teahouse.gui.smoke`)."""

from __future__ import annotations

import asyncio
import os
import sys

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from teahouse.client.attention import DesktopNotifier
from teahouse.gui import smoke
from teahouse.gui.app import GuiApp, setup_application
from teahouse.gui.connect_dialog import Defaults
from teahouse.gui.xcb_probe import check_xcb


def run_gui(defaults: Defaults | None = None) -> int:
    """Run the desktop client until the user quits; returns the exit status.

    With ``TEAHOUSE_GUI_SMOKE_TEST`` set, the application drives itself instead of waiting
    for a person (:mod:`teahouse.gui.smoke`, for tests of a build)."""
    import qasync  # type: ignore[import-untyped]

    try:
        smoke_test = smoke.from_environ(os.environ)
    except smoke.SmokeFailed as exc:
        print(f"teahouse gui: {exc}", file=sys.stderr)
        return 2
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        problem = check_xcb(os.environ)  # Qt would abort the process, naming no package
        if problem is not None:
            print(problem.message(), file=sys.stderr)
            return 1
        app = QApplication(sys.argv[:1])
    icon = setup_application(app)
    settings = QSettings()
    gui = GuiApp(settings, defaults or Defaults(), icon, DesktopNotifier())
    # Python runs signal handlers (Ctrl+C) only between bytecodes; an idle Qt loop runs
    # none, so a timer gives it the chance four times a second.
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        try:
            if smoke_test is not None:
                return runner.run(smoke.drive(gui, smoke_test))
            return runner.run(gui.run())
        except KeyboardInterrupt:
            return 130
        finally:
            wake.stop()
