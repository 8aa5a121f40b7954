"""Who is who, and the server: WHO, WHOIS, WHOWAS, ISON, USERHOST, LUSERS, MOTD, VERSION,
TIME, INFO, ADMIN; and the connection's own: PING, PONG, AWAY, QUIT."""

from __future__ import annotations

from teahouse import __version__
from teahouse.core.masks import glob_match
from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.render import ctime, idle_and_signon, room_of, who_flags
from teahouse.protocol.irc import IrcMessage, serialize

WHO_LIMIT = 200
"""Lines a WHO mask (not a channel) may answer: a security limit on one command's output."""


def ping(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.send(IrcMessage("PONG", (conn.server, msg.params[0]), conn.server))


def pong(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    token = msg.params[-1] if msg.params else ""
    if token.isascii() and token.isdigit() and len(token) < 20:
        conn.door.hub.pong(session, int(token))


def quit_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    reason = msg.param(0)
    shown = f"Quit: {reason}" if reason else "Client Quit"
    conn.write_raw(serialize(IrcMessage("ERROR", (f"Closing Link: {session.host} ({shown})",))))
    conn.door.hub.close_session(session, "quit", text=reason or None)


def away(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    text = msg.param(0)
    session.away = text[:200] if text else None
    if session.away is None:
        conn.numeric(n.RPL_UNAWAY, "You are no longer marked as being away")
    else:
        conn.numeric(n.RPL_NOWAWAY, "You have been marked as being away")
    line = serialize(IrcMessage("AWAY", (session.away,) if session.away else (), conn.hostmask()))
    for other in shared_irc_peers(conn, session):
        if "away-notify" in other.caps:
            other.write_raw(line)


def shared_irc_peers(conn: IrcConnection, session: Session) -> list[IrcConnection]:
    """The other IRC connections that share a room with ``session``."""
    peers: dict[int, IrcConnection] = {}
    rooms = conn.door.hub.registry.rooms
    for room_name in session.rooms:
        room = rooms.get(room_name)
        for member in room.sessions if room else ():
            other = conn.door.connections.get(member.id)
            if other is not None and other is not conn:
                peers[member.id] = other
    return list(peers.values())


# -- WHO ---------------------------------------------------------------------------------


def who_line(conn: IrcConnection, channel: str, member: Session, op: bool, voiced: bool) -> None:
    mask = conn.door.mask(member)
    username, host = mask.split("!", 1)[1].split("@", 1)
    other = conn.door.connections.get(member.id)
    realname = (other.reg.realname if other is not None else "") or member.user or "*"
    flags = who_flags(member, op, voiced, "multi-prefix" in conn.caps)
    conn.numeric(
        n.RPL_WHOREPLY,
        channel,
        username,
        host,
        conn.server,
        member.user or "*",
        flags,
        f"0 {realname}",
    )


def who(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    mask = msg.param(0, "*")
    hub = conn.door.hub
    if mask.startswith("#"):
        room_name = room_of(mask)
        room = hub.registry.rooms.get(room_name) if room_name else None
        if room is not None and ("s" not in room.modes or session in room.sessions):
            for member in hub.chat.room_state(room).members:
                assert isinstance(member.session, Session)
                who_line(conn, mask, member.session, member.op, member.voiced)
    else:
        shown = 0
        for sessions in list(hub.registry.idents.values()):
            someone = next(iter(sessions))
            if someone.user is None:
                continue
            if not (
                glob_match(mask, someone.user)
                or glob_match(mask, conn.door.mask(someone))
                or glob_match(mask, someone.host)
            ):
                continue
            channel = f"#{sorted(someone.rooms)[0]}" if someone.rooms else "*"
            who_line(conn, channel, someone, False, False)
            shown += 1
            if shown >= WHO_LIMIT:
                break
    conn.numeric(n.RPL_ENDOFWHO, mask, "End of WHO list")


# -- WHOIS, WHOWAS -------------------------------------------------------------------------


def whois(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[-1]
    hub = conn.door.hub
    sessions = hub.registry.by_name(target.split(",")[0])
    if not sessions:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        conn.numeric(n.RPL_ENDOFWHOIS, target, "End of /WHOIS list")
        return
    member = min(sessions, key=lambda s: s.connected_at)
    name = member.user or target
    mask = conn.door.mask(member)
    username, host = mask.split("!", 1)[1].split("@", 1)
    other = conn.door.connections.get(member.id)
    realname = (other.reg.realname if other is not None else "") or name
    conn.numeric(n.RPL_WHOISUSER, name, username, host, "*", realname)
    rooms = hub.registry.rooms
    shown_rooms = []
    for room_name in sorted({r for s in sessions for r in s.rooms}):
        room = rooms.get(room_name)
        if room is None:
            continue
        if "s" in room.modes and session not in room.sessions and session.role != "admin":
            continue
        op = any(hub.chat.is_op(s, room) for s in sessions if s in room.sessions)
        voiced = member.ident in room.voiced
        prefix = ("@" if op else "") + ("+" if voiced else "")
        if "multi-prefix" not in conn.caps:
            prefix = prefix[:1]
        shown_rooms.append(f"{prefix}#{room_name}")
    if shown_rooms:
        conn.numeric(n.RPL_WHOISCHANNELS, name, " ".join(shown_rooms))
    conn.numeric(n.RPL_WHOISSERVER, name, conn.server, conn.door.config.irc.network)
    if member.role == "admin":
        conn.numeric(n.RPL_WHOISOPERATOR, name, "is an IRC operator")
    if not member.guest:
        conn.numeric(n.RPL_WHOISACCOUNT, name, name, "is logged in as")
    if member.away is not None:
        conn.numeric(n.RPL_AWAY, name, member.away)
    if session.role == "admin" or session.ident == member.ident:
        conn.numeric("338", name, member.ip, "is actually using host")
    idle, signon = idle_and_signon(conn, sessions)
    conn.numeric(n.RPL_WHOISIDLE, name, idle, signon, "seconds idle, signon time")
    conn.numeric(n.RPL_ENDOFWHOIS, name, "End of /WHOIS list")


def whowas(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[0]
    count_text = msg.param(1)
    count = int(count_text) if count_text.isascii() and count_text.isdigit() else 0
    found = conn.door.whowas_of(target)
    if count > 0:
        found = found[:count]
    if not found:
        conn.numeric(n.ERR_WASNOSUCHNICK, target, "There was no such nickname")
    for entry in found:
        conn.numeric(n.RPL_WHOWASUSER, entry.nick, entry.username, entry.host, "*", entry.realname)
        conn.numeric(n.RPL_WHOISSERVER, entry.nick, conn.server, ctime(entry.left_ms / 1000))
    conn.numeric(n.RPL_ENDOFWHOWAS, target, "End of WHOWAS")


def ison(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    registry = conn.door.hub.registry
    online = []
    for word in msg.params:
        for nick in word.split():
            sessions = registry.by_name(nick)
            if sessions:
                online.append(next(iter(sessions)).user or nick)
    conn.numeric(n.RPL_ISON, " ".join(online))


def userhost(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    replies = []
    registry = conn.door.hub.registry
    for nick in msg.params[:5]:
        sessions = registry.by_name(nick)
        if sessions:
            member = next(iter(sessions))
            oper = "*" if member.role == "admin" else ""
            away = "-" if all(s.away is not None for s in sessions) else "+"
            userhost_part = conn.door.mask(member).split("!", 1)[1]
            replies.append(f"{member.user}{oper}={away}{userhost_part}")
    conn.numeric(n.RPL_USERHOST, " ".join(replies))


# -- the server ----------------------------------------------------------------------------


def motd(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    text = conn.door.config.irc.motd
    if not text:
        conn.numeric(n.ERR_NOMOTD, "MOTD File is missing")
        return
    conn.numeric(n.RPL_MOTDSTART, f"- {conn.server} Message of the day - ")
    for line in text.splitlines():
        conn.numeric(n.RPL_MOTD, f"- {line}")
    conn.numeric(n.RPL_ENDOFMOTD, "End of /MOTD command.")


def lusers(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    registry = conn.door.hub.registry
    users = sum(len(s) for s in registry.idents.values())
    unknown = len(registry.sessions) - users
    opers = sum(1 for s in registry.sessions.values() if s.role == "admin" and s.authenticated)
    highest = conn.door.highest_users(users)
    conn.numeric(n.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers")
    conn.numeric(n.RPL_LUSEROP, str(opers), "operator(s) online")
    conn.numeric(n.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    conn.numeric(n.RPL_LUSERCHANNELS, str(len(registry.rooms)), "channels formed")
    conn.numeric(n.RPL_LUSERME, f"I have {users} clients and 0 servers")
    conn.numeric(
        n.RPL_LOCALUSERS, str(users), str(highest), f"Current local users {users}, max {highest}"
    )
    conn.numeric(
        n.RPL_GLOBALUSERS, str(users), str(highest), f"Current global users {users}, max {highest}"
    )


def version(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(n.RPL_VERSION, f"teahouse-{__version__}.", conn.server, "asyncio chat server")
    conn.door.send_isupport(conn)


def time_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    now = conn.door.hub.clock.wall_ms() / 1000
    conn.numeric(n.RPL_TIME, conn.server, ctime(now))


def info(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    for line in (f"teahouse {__version__}", "A self-hosted chat server: native protocol and IRC."):
        conn.numeric(n.RPL_INFO, line)
    conn.numeric(n.RPL_ENDOFINFO, "End of /INFO list")


def admin(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(n.RPL_ADMINME, conn.server, "Administrative info")
    conn.numeric(n.RPL_ADMINLOC1, conn.door.config.irc.network)
    conn.numeric(n.RPL_ADMINLOC2, "Run with teahouse")
    conn.numeric(n.RPL_ADMINEMAIL, "Ask an operator in #lobby")
