"""Who is who, and the server: WHO, WHOIS, WHOWAS, ISON, USERHOST, LUSERS, MOTD, VERSION,
TIME, INFO, ADMIN; and the connection's own: PING, PONG, AWAY, QUIT."""

from __future__ import annotations

from teahouse import __version__
from teahouse.core.masks import glob_match
from teahouse.core.rooms import clean_reason
from teahouse.core.session import Session, oldest
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.render import ctime, idle_and_signon, room_of, who_flags
from teahouse.protocol.irc import IrcMessage, serialize

WHO_LIMIT = 200
"""Lines a WHO mask (not a channel) may answer: a security limit on one command's output."""
MONITOR_LIMIT = 100
"""Nicks one client may MONITOR (ISUPPORT MONITOR): a security limit."""


def ping(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params:
        conn.numeric(n.ERR_NOORIGIN, "No origin specified")
        return
    pong = IrcMessage("PONG", (conn.server, msg.params[0]), conn.server)
    outbox = conn.door.hub.outbox
    if not outbox.holding:
        conn.send(pong)
        return
    # Messages sent before this PING still wait for their commit: the PONG goes after
    # them, so a client that PINGs to synchronise (as test suites and bots do) has seen
    # everything sent before it, as on a server that delivers at once.
    outbox.in_order(conn.later(lambda: conn.send(pong)))


def pong(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    token = msg.params[-1] if msg.params else ""
    numeric = token.isascii() and token.isdigit() and len(token) < 20
    if numeric and conn.door.hub.pong(session, int(token)):
        conn.rested()


def quit_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    reason = clean_reason(msg.param(0), formatting=True)
    shown = f"Quit: {reason}" if reason else "Client Quit"
    conn.write_raw(serialize(IrcMessage("ERROR", (f"Closing Link: {session.host} ({shown})",))))
    conn.door.hub.close_session(session, "quit", text=reason)


def away(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.door.hub.rooms.set_away(session, msg.param(0) or None, formatting=True)
    if session.away is None:
        conn.numeric(n.RPL_UNAWAY, "You are no longer marked as being away")
    else:
        conn.numeric(n.RPL_NOWAWAY, "You have been marked as being away")
    line = conn.door.encoder_for(frozenset({"away-notify"})).away(session)
    shared = {id(peer) for peer in shared_irc_peers(conn, session)}
    for watcher in conn.door.watchers_of(session.user or ""):
        caps = watcher.caps
        if id(watcher) not in shared and "extended-monitor" in caps and "away-notify" in caps:
            watcher.write_raw(line)


def setname(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """IRCv3 setname: change one's real name; peers with ``setname`` are told."""
    name = msg.params[0][:200]
    conn.reg.realname = name
    line = serialize(IrcMessage("SETNAME", (name,), conn.hostmask()))
    if "setname" in conn.caps:
        conn.write_raw(line)
    told = {conn}
    for other in shared_irc_peers(conn, session):
        if "setname" in other.caps:
            other.write_raw(line)
            told.add(other)
    for watcher in conn.door.watchers_of(session.user or ""):
        caps = watcher.caps
        if watcher not in told and "extended-monitor" in caps and "setname" in caps:
            watcher.write_raw(line)


def monitor(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """IRCv3 MONITOR: be told when nicks come online and go."""
    sub = msg.params[0]
    door = conn.door
    if sub in ("+", "-"):
        if len(msg.params) < 2:
            conn.numeric(n.ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters")
            return
        nicks = [t for t in msg.params[1].split(",") if t]
        if sub == "-":
            for nick in nicks:
                door.monitor(conn, nick, False)
            return
        online, offline = [], []
        for nick in nicks:
            if not door.monitor(conn, nick, True):
                rest = ",".join(nicks[nicks.index(nick) :])
                conn.numeric("734", str(MONITOR_LIMIT), rest, "Monitor list is full")
                break
            sessions = door.hub.registry.by_name(nick)
            if sessions:
                online.append(door.mask(oldest(sessions)))
            else:
                offline.append(nick)
        for mask in online:
            conn.numeric("730", mask)
        for nick in offline:
            conn.numeric("731", nick)
    elif sub.upper() == "C":
        door.monitor_clear(conn)
    elif sub.upper() == "L":
        names = sorted(conn.monitoring or ())
        for i in range(0, len(names), 20):
            conn.numeric("732", ",".join(names[i : i + 20]))
        conn.numeric("733", "End of MONITOR list")
    elif sub.upper() == "S":
        for nick in sorted(conn.monitoring or ()):
            sessions = door.hub.registry.by_name(nick)
            if sessions:
                conn.numeric("730", door.mask(oldest(sessions)))
            else:
                conn.numeric("731", nick)


def shared_irc_peers(conn: IrcConnection, session: Session) -> list[IrcConnection]:
    """The other IRC connections that share a room with ``session``."""
    peers: dict[int, IrcConnection] = {}
    rooms = conn.door.hub.registry.rooms
    for room_name in session.rooms:
        room = rooms.get(room_name)
        for member in room.sessions if room else ():
            other = conn.door.connection_of(member)
            if other is not None and other is not conn:
                peers[member.id] = other
    return list(peers.values())


# -- WHO ---------------------------------------------------------------------------------

WHOX_FIELDS = "tcuihsnfdlaor"
"""WHOX fields in the order they are answered, whatever order they were asked in."""


def _who_fields(conn: IrcConnection, channel: str, member: Session, flags: str) -> dict[str, str]:
    mask = conn.door.mask(member)
    username, host = mask.split("!", 1)[1].split("@", 1)
    hub = conn.door.hub
    idle = int(member.idle(hub.clock.monotonic()))
    return {
        "c": channel,
        "u": username,
        "i": "255.255.255.255" if member.ip != host else member.ip,
        "h": host,
        # One server: its name says nothing a client needs, and "*" keeps topology out.
        "s": "*",
        "n": member.user or "*",
        "f": flags,
        "d": "0",
        "l": str(idle),
        "a": "0" if member.guest else (member.user or "0"),
        "o": "n/a",
        "r": conn.door.realname(member),
    }


def who_line(
    conn: IrcConnection,
    channel: str,
    member: Session,
    op: bool,
    voiced: bool,
    whox: tuple[str, str] | None = None,
) -> None:
    other = conn.door.connection_of(member)
    bot = other is not None and "B" in other.umodes
    flags = who_flags(member, op, voiced, "multi-prefix" in conn.caps) + ("B" if bot else "")
    fields = _who_fields(conn, channel, member, flags)
    if whox is None:
        conn.numeric(
            n.RPL_WHOREPLY,
            fields["c"],
            fields["u"],
            fields["h"],
            fields["s"],
            fields["n"],
            flags,
            f"0 {fields['r']}",
        )
        return
    wanted, token = whox
    params = [token if f == "t" else fields[f] for f in WHOX_FIELDS if f in wanted]
    if params and "r" not in wanted and params[-1] == "":
        params[-1] = "*"
    conn.numeric("354", *params)


def _whox(arg: str) -> tuple[str, str] | None:
    """``%tcn,42`` -> (``"tcn"``, ``"42"``); None for a plain WHO."""
    if not arg.startswith("%"):
        return None
    fields, _, token = arg[1:].partition(",")
    return fields, token[:3] or "0"


def who(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    mask = msg.param(0, "*")
    whox = _whox(msg.param(1))
    hub = conn.door.hub
    if mask.startswith("#"):
        room_name = room_of(mask)
        room = hub.registry.rooms.get(room_name) if room_name else None
        if room is not None and ("s" not in room.modes or session in room.sessions):
            channel = f"#{room.name}"
            for member in hub.rooms.room_state(room).members:
                assert isinstance(member.session, Session)
                who_line(conn, channel, member.session, member.op, member.voiced, whox)
    else:
        exact = hub.registry.by_name(mask) if "*" not in mask and "?" not in mask else set()
        if exact:
            someone = oldest(exact)
            _who_user(conn, session, someone, whox)
        else:
            shown = 0
            for _, sessions in hub.registry.identities():
                someone = oldest(sessions)
                if someone.user is None or not _who_matches(conn, mask, someone):
                    continue
                if _invisible(conn, someone) and not _shares_room(session, someone):
                    continue
                _who_user(conn, session, someone, whox)
                shown += 1
                if shown >= WHO_LIMIT:
                    break
    conn.numeric(n.RPL_ENDOFWHO, mask, "End of WHO list")


def _who_matches(conn: IrcConnection, mask: str, someone: Session) -> bool:
    return (
        glob_match(mask, someone.user or "")
        or glob_match(mask, conn.door.mask(someone))
        or glob_match(mask, someone.host)
        or glob_match(mask, conn.door.realname(someone))
    )


def _invisible(conn: IrcConnection, someone: Session) -> bool:
    other = conn.door.connection_of(someone)
    return other is not None and "i" in other.umodes


def _shares_room(session: Session, someone: Session) -> bool:
    return (
        session.ident == someone.ident
        or session.role == "admin"
        or bool(session.rooms & someone.rooms)
    )


def _who_user(
    conn: IrcConnection, session: Session, someone: Session, whox: tuple[str, str] | None
) -> None:
    """A user found by nick or mask: the line names a shared channel, or none."""
    rooms = conn.door.hub.registry.rooms
    shared = sorted(session.rooms & someone.rooms)
    if shared:
        room = rooms[shared[0]]
        op = conn.door.hub.rooms.is_op(someone, room)
        who_line(conn, f"#{room.name}", someone, op, someone.ident in room.voiced, whox)
    else:
        who_line(conn, "*", someone, False, False, whox)


# -- WHOIS, WHOWAS -------------------------------------------------------------------------


def whois(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[-1]
    hub = conn.door.hub
    sessions = hub.registry.by_name(target.split(",")[0])
    if not sessions:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        conn.numeric(n.RPL_ENDOFWHOIS, target, "End of /WHOIS list")
        return
    member = oldest(sessions)
    name = member.user or target
    mask = conn.door.mask(member)
    username, host = mask.split("!", 1)[1].split("@", 1)
    other = conn.door.connection_of(member)
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
        op = any(hub.rooms.is_op(s, room) for s in sessions if s in room.sessions)
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
    if other is not None and "B" in other.umodes:
        conn.numeric("335", name, "is a bot")
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
    users = registry.authed_sessions
    unknown = len(registry.sessions) - users
    opers = conn.door.opers_online()
    highest = conn.door.highest_users(users)
    conn.numeric(n.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers")
    conn.numeric(n.RPL_LUSEROP, str(opers), "operator(s) online")
    conn.numeric(n.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    conn.numeric(n.RPL_LUSERCHANNELS, str(len(registry.rooms)), "channels formed")
    conn.numeric(n.RPL_LUSERME, f"I have {users} clients and 0 servers")
    # The short forms (Modern): the peak is real, and only the text carries it.
    conn.numeric(n.RPL_LOCALUSERS, f"Current local users {users}, max {highest}")
    conn.numeric(n.RPL_GLOBALUSERS, f"Current global users {users}, max {highest}")


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


def links(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """One server, and its links are nobody's business: the list is empty."""
    conn.numeric("365", "*", "End of /LINKS list")


def admin(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(n.RPL_ADMINME, conn.server, "Administrative info")
    conn.numeric(n.RPL_ADMINLOC1, conn.door.config.irc.network)
    conn.numeric(n.RPL_ADMINLOC2, "Run with teahouse")
    conn.numeric(n.RPL_ADMINEMAIL, "Ask an operator in #lobby")
