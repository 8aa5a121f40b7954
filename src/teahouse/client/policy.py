"""The client's decisions as pure functions: heartbeat, backoff, resume cursors, limits.

Nothing here does I/O or reads a clock; time and randomness are passed in, so the unit
tests drive them by hand. :mod:`teahouse.client.connection` and
:mod:`teahouse.client.client` only schedule what these functions decide.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

from teahouse.protocol import frames as f

DEFAULT_MAX_FRAME = 1 << 20
"""The largest server frame accepted before ``welcome`` says more (a security limit)."""
_MAX_BACKOFF_EXPONENT = 62


class HeartbeatAction(enum.Enum):
    NOTHING = "nothing"
    PING = "ping"
    """The server has been silent for ``interval``: send a ``ping`` now."""
    DEAD = "dead"
    """The server has been silent for ``timeout``: the connection is dead."""


def heartbeat_action(
    *,
    interval: float,
    timeout: float,
    now: float,
    last_received: float,
    last_ping: float | None,
) -> tuple[HeartbeatAction, float]:
    """What to do about the server's silence at ``now``, and when to ask again.

    The client pings once the server has been silent for ``interval`` seconds (and again
    every ``interval`` while the silence lasts), and declares the connection dead after
    ``timeout`` seconds without a byte. After a ``PING`` the caller records
    ``last_ping = now``. The returned time is the next moment the answer can change.
    """
    dead_at = last_received + timeout
    if now >= dead_at:
        return HeartbeatAction.DEAD, now
    if last_ping is None or last_ping < last_received:
        ping_at = last_received + interval  # no ping sent during this silence yet
    else:
        ping_at = last_ping + interval
    if now >= ping_at:
        return HeartbeatAction.PING, min(now + interval, dead_at)
    return HeartbeatAction.NOTHING, min(ping_at, dead_at)


def backoff_delay(
    attempt: int, initial: float, maximum: float, random: Callable[[], float]
) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry).

    "Full jitter": uniform in ``[0, min(maximum, initial * 2**attempt))``, so clients cut
    off together by one server restart do not all come back at the same instant.
    ``random`` returns a float in ``[0, 1)`` (``random.random``).
    """
    cap = min(maximum, initial * 2.0 ** min(max(attempt, 0), _MAX_BACKOFF_EXPONENT))
    return random() * cap


def server_frame_limit(limits: f.Limits) -> int:
    """The longest line the client accepts from a server that announced ``limits``.

    A security limit, generous on purpose: the largest legal server frame is a ``history``
    page of ``max_replay`` messages of ``max_text`` characters (4 bytes each in UTF-8,
    plus the fields around them).
    """
    return max(DEFAULT_MAX_FRAME, limits.max_replay * (limits.max_text * 4 + 1024) + 4096)


DM = None
"""The key of direct messages in :class:`Cursors` (rooms are keyed by name)."""


class Cursors:
    """The highest message id seen, per room and for direct messages.

    Ids are strictly increasing within a room (and within a user's DMs), so one integer per
    room is enough both to resume (``join since=``, ``login dm_since=``) and to drop
    duplicates: a message at or below the cursor has been seen already.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str | None, int] = {}

    @staticmethod
    def key(message: f.Message) -> str | None:
        return DM if message.dm or message.room is None else message.room

    def accept(self, message: f.Message) -> bool:
        """True (and move the cursor) if ``message`` is new; False for a duplicate."""
        key = self.key(message)
        last = self._last.get(key)
        if last is not None and message.id <= last:
            return False
        self._last[key] = message.id
        return True

    def note(self, message: f.Message) -> None:
        """Record a message seen outside the event stream (a reply to ``say``/``dm``)."""
        key = self.key(message)
        last = self._last.get(key)
        if last is None or message.id > last:
            self._last[key] = message.id

    def raise_to(self, room: str | None, message_id: int) -> None:
        """Everything up to ``message_id`` in ``room`` has been accounted for."""
        last = self._last.get(room)
        if last is None or message_id > last:
            self._last[room] = message_id

    def last(self, room: str | None) -> int | None:
        """The highest id seen in ``room`` (``DM``: direct messages), or None."""
        return self._last.get(room)


class SeenIds:
    """The last ``size`` message ids shown, so each message is shown once (bounded)."""

    __slots__ = ("_ids", "_order", "_size")

    def __init__(self, size: int = 4096) -> None:
        self._order: deque[int] = deque()
        self._ids: set[int] = set()
        self._size = size

    def add(self, message_id: int) -> bool:
        """True if ``message_id`` is new (it is remembered now)."""
        if message_id in self._ids:
            return False
        self._ids.add(message_id)
        self._order.append(message_id)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())
        return True

    def __contains__(self, message_id: int) -> bool:
        return message_id in self._ids
