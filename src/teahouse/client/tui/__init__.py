"""``teahouse chat`` on a terminal: a full-screen Textual client (``--plain`` for line mode).

Panes: conversations (rooms and direct messages, with unread counts and mention marks),
the conversation, its members, the input line with ``/`` commands and history, and a
status line (connected / reconnecting in N s / offline, heartbeat round trip).
:class:`ChatApp` is the app, :mod:`.model` what it shows as plain data, :mod:`.render`
how it is drawn, :mod:`.commands` the input line.
"""

from __future__ import annotations

import gc
import logging
import ssl

from teahouse.client.attention import DesktopNotifier
from teahouse.client.settings import ChatSettings, default_path
from teahouse.client.tui.app import ChatApp

__all__ = ["ChatApp", "run_tui", "tune_gc"]

GC_THRESHOLDS = (10_000, 10, 10)
"""Python's default (700, 10, 10) runs a collection every 700 new objects; a burst of
messages makes millions (frames, Rich segments), and the full collections they trigger
stalled the screen for 50 to 100 ms. 10 000 halves the time to drain a 10 000-message
burst and keeps the longest stall near 30 ms (see tests/integration/test_tui_burst.py)."""


def tune_gc() -> tuple[int, int, int]:
    """Collect garbage less often (see :data:`GC_THRESHOLDS`); returns the old thresholds."""
    old = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return old


def run_tui(
    host: str,
    port: int,
    user: str,
    password: str,
    register: bool,
    rooms: list[str],
    *,
    tls: ssl.SSLContext | None = None,
    invite: str | None = None,
) -> int:
    """Run the full-screen client until /quit; the process exit status (see :class:`ChatApp`)."""
    # Log records written to the terminal would tear the screen; the app shows what matters.
    logging.getLogger("teahouse.client").addHandler(logging.NullHandler())
    tune_gc()
    app = ChatApp(
        host,
        port,
        user,
        password,
        register=register,
        rooms=rooms,
        tls=tls,
        invite=invite,
        settings=ChatSettings.load(default_path()),
        notifier=DesktopNotifier(),
    )
    status = app.run()
    return status if status is not None else 1
