"""teahouse.client: an asyncio client library for native protocol v1, and ``teahouse chat``.

::

    from teahouse.client import Client, Message

    async with Client("localhost", 6680, "alice", password, rooms=["lobby"]) as chat:
        await chat.say("lobby", "hello")
        async for event in chat.events():
            if isinstance(event, Message):
                print(event.room, event.sender, event.text)

:class:`Client` reconnects by itself, resumes without gaps or duplicates, retries ``say``
and ``dm`` safely (nonces), and keeps the heartbeat. See :mod:`teahouse.client.client` for
the full contract, :mod:`teahouse.client.errors` for the errors it raises, and
:mod:`teahouse.client.events` for what :meth:`Client.events` yields. The frames are
those of :mod:`teahouse.protocol.frames`, re-exported here.
"""

from __future__ import annotations

from teahouse.client.client import Client, EventStream, State
from teahouse.client.errors import (
    ClientClosed,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    LoginFailed,
    ProtocolViolation,
    ServerError,
)
from teahouse.client.events import (
    ClientEvent,
    Connected,
    Disconnected,
    EventsDropped,
    Incoming,
    Reconnecting,
    StateEvent,
)
from teahouse.protocol.frames import (
    AdminResult,
    AwayChanged,
    Bye,
    Error,
    HistoryPage,
    Invited,
    Joined,
    Members,
    Message,
    ModeChanged,
    Notice,
    Parted,
    Presence,
    ReplayEnd,
    RoomInfo,
    RoomInfoReply,
    RoomList,
    ServerFrame,
    TopicChanged,
    WhoisInfo,
)

__all__ = [
    "AdminResult",
    "AwayChanged",
    "Bye",
    "Client",
    "ClientClosed",
    "ClientError",
    "ClientEvent",
    "ConnectFailed",
    "Connected",
    "ConnectionLost",
    "Disconnected",
    "Error",
    "EventStream",
    "EventsDropped",
    "HistoryPage",
    "Incoming",
    "Invited",
    "Joined",
    "LoginFailed",
    "Members",
    "Message",
    "ModeChanged",
    "Notice",
    "Parted",
    "Presence",
    "ProtocolViolation",
    "Reconnecting",
    "ReplayEnd",
    "RoomInfo",
    "RoomInfoReply",
    "RoomList",
    "ServerError",
    "ServerFrame",
    "State",
    "StateEvent",
    "TopicChanged",
    "WhoisInfo",
]
