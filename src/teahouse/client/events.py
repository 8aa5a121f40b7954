"""What :meth:`Client.events` yields: server frames, plus the client's own state changes.

Server frames are the msgspec structs of :mod:`teahouse.protocol.frames` as they arrived
(``Message``, ``ReplayEnd``, ``Presence``, ``TopicChanged``, ``Notice``, ``Error``, the
``Joined`` of an automatic rejoin, another user's ``AwayChanged``, a room's
``ModeChanged``, ...). The client
adds frozen dataclasses for what only it knows: :class:`Connected`, :class:`Disconnected`,
:class:`Reconnecting`, :class:`EventsDropped`.
"""

from __future__ import annotations

from dataclasses import dataclass

from teahouse.protocol.frames import ServerFrame


@dataclass(frozen=True, slots=True)
class Connected:
    """A session is authenticated. ``reconnect`` is False for the first one.

    After a reconnect the rooms are being rejoined: their ``Joined`` frames and any missed
    messages follow as events.
    """

    user: str
    role: str
    server: str
    reconnect: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended. ``reason`` is a wire error code when the server sent a fatal
    error (``kicked``, ``server_shutdown``, ...), else what the client saw
    (``heartbeat_timeout``, ``eof``, ``reset``, ``closed``, ...).

    ``will_reconnect`` is False when this is the end: :meth:`Client.close` was called, or the
    server refused us for good (``banned``, ``bad_credentials`` on a reconnect, ...).
    """

    reason: str
    will_reconnect: bool


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The next connection attempt (``attempt`` counts from 1) starts in ``delay`` seconds."""

    delay: float
    attempt: int


@dataclass(frozen=True, slots=True)
class EventsDropped:
    """``count`` events were dropped here because the event queue was full.

    Requests and heartbeats were not affected. Dropped messages are still on the server:
    page back with :meth:`Client.history` to get them.
    """

    count: int


StateEvent = Connected | Disconnected | Reconnecting | EventsDropped
Incoming = ServerFrame
"""A frame from the server."""
ClientEvent = StateEvent | Incoming
"""Anything :meth:`Client.events` may yield."""
