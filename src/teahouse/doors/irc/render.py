"""Hub results rendered as IRC replies: JOIN, topic, NAMES, WHO and WHOIS lines."""

from __future__ import annotations

import time
from collections.abc import Set as AbstractSet

from teahouse.core.results import Member, RoomState
from teahouse.core.session import Session, oldest
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.protocol.irc import IrcMessage
from teahouse.protocol.names import is_room_name

NAMES_WIDTH = 400
"""Bytes of names per 353 line, leaving room for the prefix and the channel."""


def room_of(channel: str) -> str | None:
    """``#Lobby`` -> ``lobby``; None when it is not a channel teahouse can have."""
    if not channel.startswith("#"):
        return None
    room = channel[1:].lower()
    return room if is_room_name(room) else None


def prefixes(member: Member, conn: IrcConnection) -> str:
    multi = "multi-prefix" in conn.caps
    out = ("@" if member.op else "") + ("+" if member.voiced else "")
    return out if multi else out[:1]


def send_names(conn: IrcConnection, channel: str, state: RoomState, end: bool = True) -> None:
    long_form = "userhost-in-names" in conn.caps
    symbol = "@" if "s" in state.modes else "="
    line: list[str] = []
    size = 0
    for member in state.members:
        session = member.session
        assert isinstance(session, Session)
        name = conn.door.mask(session) if long_form else member.name
        entry = prefixes(member, conn) + name
        if size + len(entry) + 1 > NAMES_WIDTH and line:
            conn.numeric(n.RPL_NAMREPLY, symbol, channel, " ".join(line))
            line, size = [], 0
        line.append(entry)
        size += len(entry) + 1
    if line:
        conn.numeric(n.RPL_NAMREPLY, symbol, channel, " ".join(line))
    if end:
        conn.numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")


def send_topic(conn: IrcConnection, channel: str, state: RoomState, always: bool) -> None:
    if state.topic:
        conn.numeric(n.RPL_TOPIC, channel, state.topic)
        when = str(state.topic_ms // 1000 or state.created_ms // 1000)
        conn.numeric(n.RPL_TOPICWHOTIME, channel, conn.door.mask_of(state.topic_by), when)
    elif always:
        conn.numeric(n.RPL_NOTOPIC, channel, "No topic is set")


def send_join(conn: IrcConnection, session: Session, channel: str, state: RoomState) -> None:
    """What a client sees when it joins: its own JOIN, the topic, the names."""
    encoder = conn.door.encoder_for(conn.caps)
    conn.write_raw(encoder.presence(state.name, session, "joined", None))
    send_topic(conn, channel, state, always=False)
    send_names(conn, channel, state)


def who_flags(member: Session, op: bool, voiced: bool, multi: bool) -> str:
    flags = "G" if member.away is not None else "H"
    if member.role == "admin":
        flags += "*"
    prefix = ("@" if op else "") + ("+" if voiced else "")
    return flags + (prefix if multi else prefix[:1])


def idle_and_signon(conn: IrcConnection, sessions: AbstractSet[Session]) -> tuple[str, str]:
    hub = conn.door.hub
    now = hub.clock.monotonic()
    idle = int(min(s.idle(now) for s in sessions))
    first = oldest(sessions)
    signon = int((hub.clock.wall_ms() - (now - first.connected_at) * 1000) / 1000)
    return str(idle), str(signon)


def ctime(seconds: float) -> str:
    return time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(seconds))


def send_line(conn: IrcConnection, command: str, *params: str) -> None:
    conn.send(IrcMessage(command, (conn.me, *params), conn.server))
