"""What :meth:`Client.events` yields: server frames, plus the client's own state changes.

Server frames are the msgspec structs of :mod:`teahouse.protocol.frames` as they arrived
(``Message``, ``ReplayEnd``, ``Presence``, ``TopicChanged``, ``Notice``, ``Error``, the
``Joined`` of an automatic rejoin, ...), and those of :mod:`teahouse.client.draft_frames`
(another user's ``Away``, a room's ``ModeInfo``) from a server that sends them. The client
adds frozen dataclasses for what only it knows: :class:`Connected`, :class:`Disconnected`,
:class:`Reconnecting`, :class:`EventsDropped`.
"""

from __future__ import annotations

from dataclasses import dataclass

from teahouse.client.draft_frames import DraftReply
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
Incoming = ServerFrame | DraftReply
"""A frame from the server: one of protocol v1, or of the drafts the clients already speak
(:mod:`teahouse.client.draft_frames`: ``away``, ``whois``, ``mode``)."""
ClientEvent = StateEvent | Incoming
"""Anything :meth:`Client.events` may yield."""
