"""Getting the user's attention: highlight words, and desktop notifications.

:func:`highlights` decides whether a line mentions you: your name, or one of your
highlight words, as a whole word (``alice:``, ``@alice`` and ``hi Alice!`` do;
``malice`` and ``alice_2`` do not), case-insensitively as names compare.

:class:`DesktopNotifier` shows a desktop notification through ``notify-send`` (libnotify,
which speaks ``org.freedesktop.Notifications``) when it is installed, and does nothing at
all when it is not: notifications are a comfort, never a requirement. Both clients use it.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence

from teahouse.client.printable import printable

log = logging.getLogger("teahouse.client")

_NAME_CHARS = r"\w\-\[\]\\^{}|"
"""Characters of a user name (see teahouse.protocol.names), plus letters of any script: a
word glued to more of them is another word."""

MAX_BODY = 300
"""Characters of a message shown in a notification (the rest is cut with an ellipsis)."""


@functools.lru_cache(maxsize=16)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True) if w)
    if not alternatives:
        return None
    return re.compile(rf"(?<![{_NAME_CHARS}])(?:{alternatives})(?![{_NAME_CHARS}])", re.I)


def highlights(text: str, me: str, words: Iterable[str] = ()) -> bool:
    """True if ``text`` names ``me`` or one of ``words`` as a whole word."""
    pattern = _pattern(tuple(w for w in (me, *words) if w.strip()))
    return pattern is not None and pattern.search(text) is not None


class DesktopNotifier:
    """Desktop notifications through ``notify-send``, silently absent without it.

    At most one notification every ``min_interval`` seconds, and one ``notify-send`` at a
    time: the notifications a burst would have shown are counted and said in the next one
    ("and 4 more"). ``command`` is the program and its leading arguments (tests pass their
    own); None looks for ``notify-send`` on ``PATH``. Text from the server is made safe
    first: control characters visible (:func:`~teahouse.client.chat.printable`), and the
    body escaped, because notification servers read it as a subset of HTML (a ``<a href>``
    or ``<img>`` in a message must stay text).
    """

    def __init__(
        self,
        command: Sequence[str] | None = None,
        *,
        app_name: str = "teahouse",
        min_interval: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if command is None:
            found = shutil.which("notify-send")
            command = [found] if found else []
        self.command = list(command)
        self.app_name = app_name
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None
        self._held = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self.sent = 0
        """Notifications handed to ``notify-send`` so far."""

    @property
    def available(self) -> bool:
        return bool(self.command)

    def notify(self, title: str, body: str) -> bool:
        """Show ``title`` and ``body``; False when it was held back (or impossible)."""
        if not self.command:
            return False
        now = self._clock()
        busy = self._proc is not None and self._proc.poll() is None
        if busy or (self._last is not None and now - self._last < self.min_interval):
            self._held += 1
            return False
        body = printable(body)
        if len(body) > MAX_BODY:
            body = body[: MAX_BODY - 1] + "…"
        if self._held:
            body += f" (and {self._held} more)"
        argv = [
            *self.command,
            f"--app-name={self.app_name}",
            "--",  # a title or body that starts with "-" is not an option
            printable(title),
            html.escape(body, quote=False),
        ]
        try:
            self._proc = subprocess.Popen(  # a fixed program, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            log.info("desktop notifications are off: %s", exc)
            self.command = []
            return False
        self._last = now
        self._held = 0
        self.sent += 1
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Wait (briefly) for the last ``notify-send`` to finish, so none is left behind."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
