"""IRC command handlers: one function per command, registered in ``HANDLERS``.

Each handler gets the connection, its hub session and the parsed message. It calls the
hub for anything that changes shared state and writes numerics for the answer. A
:class:`~teahouse.errors.ChatError` it lets out is turned into the numeric a client
expects by the connection.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from teahouse import __version__
from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import HANDLERS, SUPPORTED_CAPS, Handler, IrcConnection, room_of
from teahouse.errors import ChatError
from teahouse.protocol.irc import IrcMessage, serialize
from teahouse.protocol.names import fold_user, is_user_name

MAX_SASL = 400
"""Bytes per AUTHENTICATE chunk (IRCv3 SASL)."""
MAX_SASL_TOTAL = 4096
"""A security limit on the whole SASL payload."""


def handler(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


def need(conn: IrcConnection, msg: IrcMessage, count: int) -> bool:
    """True when ``msg`` has at least ``count`` parameters; else answers 461."""
    if len(msg.params) >= count and all(msg.params[:count]):
        return True
    conn.numeric(n.ERR_NEEDMOREPARAMS, msg.command, "Not enough parameters")
    return False


# -- registration ------------------------------------------------------------------------


@handler("CAP")
def cap(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    sub = msg.param(0).upper()
    if sub == "LS":
        version = int(msg.param(1) or "0") if msg.param(1).isdigit() else 0
        conn.cap_version = max(conn.cap_version, version)
        if not conn.registered:
            conn.negotiating = True
        items = [
            f"{name}={value}" if value and conn.cap_version >= 302 else name
            for name, value in sorted(SUPPORTED_CAPS.items())
        ]
        conn.send(IrcMessage("CAP", (conn.me, "LS", " ".join(items)), conn.server))
    elif sub == "LIST":
        conn.send(IrcMessage("CAP", (conn.me, "LIST", " ".join(sorted(conn.caps))), conn.server))
    elif sub == "REQ":
        if not conn.registered:
            conn.negotiating = True
        wanted = msg.param(1).split()
        adds = {w for w in wanted if not w.startswith("-")}
        drops = {w[1:] for w in wanted if w.startswith("-")}
        if not wanted or not (adds | drops) <= set(SUPPORTED_CAPS):
            conn.send(IrcMessage("CAP", (conn.me, "NAK", msg.param(1)), conn.server))
            return
        conn.set_caps(frozenset((conn.caps | adds) - drops))
        conn.send(IrcMessage("CAP", (conn.me, "ACK", msg.param(1)), conn.server))
    elif sub == "END":
        if not conn.registered:
            conn.negotiating = False
            conn.try_register(session)
    else:
        conn.numeric("410", sub or "*", "Invalid CAP command")


@handler("PASS")
def pass_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if conn.registered:
        conn.numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
    elif need(conn, msg, 1):
        conn.password = msg.params[0]


@handler("NICK")
def nick(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params or not msg.params[0]:
        conn.numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    wanted = msg.params[0]
    if not is_user_name(wanted) or fold_user(wanted) in ("nickserv", "chanserv"):
        conn.numeric(n.ERR_ERRONEUSNICKNAME, wanted, "Erroneous nickname")
        return
    if not conn.registered:
        if conn.hub.users.get(fold_user(wanted)) and not session.authenticated:
            holders = conn.hub.users[fold_user(wanted)]
            if any(s.guest for s in holders):
                conn.numeric(n.ERR_NICKNAMEINUSE, wanted, "Nickname is already in use")
                return
        conn.nick = wanted
        conn.try_register(session)
        return
    if wanted == conn.nick:
        return
    if not session.guest:
        if fold_user(wanted) == session.key:
            conn.send(IrcMessage("NICK", (wanted,), conn.hostmask()))  # case only
            conn.nick = wanted
            return
        conn.numeric(
            n.ERR_ERRONEUSNICKNAME, wanted, "Your nick is your account name; it cannot change"
        )
        return
    try:
        conn.hub.rename_guest(session, wanted)
    except ChatError as exc:
        conn.numeric(n.ERR_NICKNAMEINUSE, wanted, exc.message)
        return
    conn.nick = wanted


@handler("USER")
def user(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if conn.registered:
        conn.numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    if not need(conn, msg, 4):
        return
    conn.username = (
        "".join(ch for ch in msg.params[0] if ch.isalnum() or ch in "-_.")[:32] or "user"
    )
    conn.realname = msg.params[3]
    conn.try_register(session)


@handler("AUTHENTICATE")
def authenticate(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if "sasl" not in conn.caps:
        conn.numeric(n.ERR_UNKNOWNCOMMAND, "AUTHENTICATE", "Unknown command")
        return
    if session.authenticated and not session.guest:
        conn.numeric(n.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    arg = msg.param(0)
    if arg == "*":
        conn.sasl_mech, conn.sasl_buffer = None, ""
        conn.numeric(n.ERR_SASLABORTED, "SASL authentication aborted")
        return
    if conn.sasl_mech is None:
        if arg.upper() != "PLAIN":
            conn.numeric(n.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
            conn.numeric(n.ERR_SASLFAIL, "SASL authentication failed")
            return
        conn.sasl_mech = "PLAIN"
        conn.send(IrcMessage("AUTHENTICATE", ("+",)))
        return
    if len(arg) > MAX_SASL:
        conn.sasl_mech, conn.sasl_buffer = None, ""
        conn.numeric(n.ERR_SASLTOOLONG, "SASL message too long")
        return
    if arg != "+":
        conn.sasl_buffer += arg
    if len(conn.sasl_buffer) > MAX_SASL_TOTAL:
        conn.sasl_mech, conn.sasl_buffer = None, ""
        conn.numeric(n.ERR_SASLTOOLONG, "SASL message too long")
        return
    if len(arg) == MAX_SASL:
        return  # more chunks follow
    payload, conn.sasl_buffer, conn.sasl_mech = conn.sasl_buffer, "", None
    try:
        fields = base64.b64decode(payload, validate=True).decode().split("\0")
    except (binascii.Error, UnicodeDecodeError):
        fields = []
    if len(fields) != 3:
        conn.numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        return
    authz, authc, password = fields
    account = authc or authz

    def ok() -> None:
        name = session.user or account
        conn.numeric(n.RPL_LOGGEDIN, conn.hostmask(name), name, f"You are now logged in as {name}")
        conn.numeric(n.RPL_SASLSUCCESS, "SASL authentication successful")
        if conn.registered and name != conn.nick:  # a guest who logs in later: the nick follows
            conn.send(IrcMessage("NICK", (name,), conn.hostmask()))
            conn.nick = name

    def failed(exc: ChatError) -> None:
        conn.numeric(n.ERR_SASLFAIL, f"SASL authentication failed ({exc.code})")

    conn.start(
        session,
        conn.hub.login(session, account, password, None, None, replay_dms=False),
        then=ok,
        on_error=failed,
    )


@handler("REGISTER")
def register(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """IRCv3 draft/account-registration: ``REGISTER <account> <email|*> <password>``."""
    if not need(conn, msg, 3):
        return
    account, _, password = msg.params[0], msg.params[1], msg.params[2]
    if account == "*":
        account = conn.nick or ""
    if session.authenticated and not session.guest:
        conn.send(
            IrcMessage(
                "FAIL",
                ("REGISTER", "ALREADY_AUTHENTICATED", account, "You are logged in"),
                conn.server,
            )
        )
        return

    def ok() -> None:
        name = session.user or account
        conn.send(IrcMessage("REGISTER", ("SUCCESS", name, "Account created"), conn.server))
        conn.numeric(n.RPL_LOGGEDIN, conn.hostmask(name), name, f"You are now logged in as {name}")
        if conn.registered and name != conn.nick:
            conn.send(IrcMessage("NICK", (name,), conn.hostmask()))
            conn.nick = name

    def failed(exc: ChatError) -> None:
        code = {
            "user_taken": "ACCOUNT_EXISTS",
            "invalid_name": "BAD_ACCOUNT_NAME",
            "weak_password": "UNACCEPTABLE_PASSWORD",
            "registration_closed": "DISALLOWED",
        }.get(exc.code, "TEMPORARILY_UNAVAILABLE")
        conn.send(IrcMessage("FAIL", ("REGISTER", code, account, exc.message), conn.server))

    conn.start(
        session,
        conn.hub.register(session, account, password, None, None, replay_dms=False),
        then=ok,
        on_error=failed,
    )


@handler("PING")
def ping(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params:
        conn.numeric(n.ERR_NOORIGIN, "No origin specified")
        return
    conn.send(IrcMessage("PONG", (conn.server, msg.params[0]), conn.server))


@handler("PONG")
def pong(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    token = msg.params[-1] if msg.params else ""
    if token.isdigit():
        conn.hub.pong(session, int(token))


@handler("QUIT")
def quit_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    reason = msg.param(0) or "Client Quit"
    conn.write_raw(
        serialize(IrcMessage("ERROR", (f"Closing Link: {session.ip} (Quit: {reason})",)))
    )
    conn.hub.close_session(session, "quit")


# -- channels ----------------------------------------------------------------------------


def names_of(conn: IrcConnection, room_name: str) -> list[str]:
    room = conn.hub.rooms.get(room_name)
    if room is None:
        return []
    multi = "multi-prefix" in conn.caps
    long_form = "userhost-in-names" in conn.caps
    out = []
    seen: set[str] = set()
    for member in room.sessions:
        if member.key in seen:
            continue
        seen.add(member.key)
        prefix = ""
        if conn.hub.is_room_op(member, room):
            prefix += "@"
        if member.key in room.voiced and (multi or not prefix):
            prefix += "+"
        if not multi:
            prefix = prefix[:1]
        name = conn.hub.hostmask(member) if long_form else (member.user or "?")
        out.append(prefix + name)
    return sorted(out, key=lambda s: s.lstrip("@+").lower())


def _names_lines(conn: IrcConnection, channel: str, room_name: str) -> list[str]:
    """The members of a room as 353 payloads that each fit in one IRC line."""
    lines: list[str] = []
    line: list[str] = []
    size = 0
    for name in names_of(conn, room_name):
        line.append(name)
        size += len(name) + 1
        if size > 400:
            lines.append(" ".join(line))
            line, size = [], 0
    if line:
        lines.append(" ".join(line))
    return lines


def send_names(conn: IrcConnection, channel: str, room_name: str) -> None:
    for line in _names_lines(conn, channel, room_name):
        conn.numeric(n.RPL_NAMREPLY, "=", channel, line)
    conn.numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")


def send_topic(conn: IrcConnection, channel: str, room_name: str, always: bool) -> None:
    room = conn.hub.rooms.get(room_name)
    record = conn.hub.store.get_room(room_name) if room is None else None
    topic = room.topic if room is not None else (record.topic if record else "")
    by = room.topic_by if room is not None else (record.topic_by if record else "")
    if topic:
        conn.numeric(n.RPL_TOPIC, channel, topic)
        conn.numeric(n.RPL_TOPICWHOTIME, channel, by or conn.server, str(int(time.time())))
    elif always:
        conn.numeric(n.RPL_NOTOPIC, channel, "No topic is set")


@handler("JOIN")
def join(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    if msg.params[0] == "0":
        for joined in sorted(session.rooms):
            part_one(conn, session, f"#{joined}", "Left all channels")
        return
    keys = msg.param(1).split(",") if len(msg.params) > 1 else []
    for i, channel in enumerate(msg.params[0].split(",")):
        if not channel:
            continue
        room_name = room_of(channel)
        if room_name is None:
            if channel.startswith("#"):
                conn.numeric(n.ERR_BADCHANMASK, channel, "Bad channel mask")
            else:
                conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
            continue
        if room_name in session.rooms:
            continue
        assert room_name is not None
        try:
            conn.hub.join(session, room_name, None, None, key=keys[i] if i < len(keys) else None)
        except ChatError as exc:
            conn._chat_error(session, "JOIN", IrcMessage("JOIN", (f"#{room_name}",)), exc)
            continue
        chan = f"#{room_name}"
        conn.write_raw(session.encoder.presence(room_name, session.user or conn.me, "joined", None))
        send_topic(conn, chan, room_name, always=False)
        send_names(conn, chan, room_name)


def part_one(conn: IrcConnection, session: Session, channel: str, reason: str) -> None:
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    try:
        conn.hub.part(session, room_name, None)
    except ChatError as exc:
        conn._chat_error(session, "PART", IrcMessage("PART", (channel,)), exc)
        return
    params = (f"#{room_name}", reason) if reason else (f"#{room_name}",)
    conn.send(IrcMessage("PART", params, conn.hostmask()))


@handler("PART")
def part(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if need(conn, msg, 1):
        for channel in msg.params[0].split(","):
            if channel:
                part_one(conn, session, channel, msg.param(1))


@handler("PRIVMSG", "NOTICE")
def privmsg(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params or not msg.params[0]:
        if msg.command == "PRIVMSG":
            conn.numeric(n.ERR_NORECIPIENT, f"No recipient given ({msg.command})")
        return
    if len(msg.params) < 2 or not msg.params[1]:
        if msg.command == "PRIVMSG":
            conn.numeric(n.ERR_NOTEXTTOSEND, "No text to send")
        return
    for given in msg.params[0].split(",")[:4]:
        target = given.lstrip("@+")
        try:
            conn.say(session, target, msg.params[1], msg.command)
        except ChatError as exc:
            if msg.command == "PRIVMSG":  # NOTICE never gets an automatic answer
                conn._chat_error(session, "PRIVMSG", IrcMessage("PRIVMSG", (target,)), exc)


@handler("TAGMSG")
def tagmsg(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """Client-only tags (typing notices) are accepted and not relayed."""


@handler("TOPIC")
def topic(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    channel = msg.params[0]
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    if len(msg.params) == 1:
        if conn.hub.store.get_room(room_name) is None:
            conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
            return
        send_topic(conn, channel, room_name, always=True)
        return
    if room_name not in session.rooms and session.role != "admin":
        if conn.hub.store.get_room(room_name) is None:
            conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        else:
            conn.numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        return
    conn.hub.set_topic(session, room_name, msg.params[1], None)


@handler("NAMES")
def names(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params:
        for room_name in sorted(conn.hub.rooms):
            for line in _names_lines(conn, f"#{room_name}", room_name):
                conn.numeric(n.RPL_NAMREPLY, "=", f"#{room_name}", line)
        conn.numeric(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for channel in msg.params[0].split(","):
        room_name = room_of(channel)
        if room_name is None or room_name not in conn.hub.rooms:
            conn.numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")
        else:
            send_names(conn, channel, room_name)


@handler("LIST")
def list_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    wanted = (
        {room_of(c) for c in msg.param(0).split(",")}
        if msg.params and msg.params[0].startswith("#")
        else None
    )
    conn.numeric(n.RPL_LISTSTART, "Channel", "Users  Name")
    for name, count, text in conn.hub.room_summaries():
        if wanted is not None and name not in wanted:
            continue
        if count == 0 and wanted is None:
            continue
        conn.numeric(n.RPL_LIST, f"#{name}", str(count), text)
    conn.numeric(n.RPL_LISTEND, "End of /LIST")


def who_line(conn: IrcConnection, channel: str, member: Session) -> None:
    other = conn._door.connections.get(member.id)
    flags = "G" if other is not None and other.away is not None else "H"
    if member.role == "admin":
        flags += "*"
    room = conn.hub.rooms.get(channel[1:]) if channel.startswith("#") else None
    if room is not None and conn.hub.is_room_op(member, room):
        flags += "@"
    elif room is not None and member.key in room.voiced:
        flags += "+"
    realname = other.realname if other is not None else (member.user or "")
    username = (other.username if other is not None else None) or member.user or "?"
    conn.numeric(
        n.RPL_WHOREPLY,
        channel,
        username,
        member.ip,
        conn.server,
        member.user or "?",
        flags,
        f"0 {realname or member.user}",
    )


@handler("WHO")
def who(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    mask = msg.param(0, "*")
    if mask.startswith("#"):
        room_name = room_of(mask)
        room = conn.hub.rooms.get(room_name) if room_name else None
        if room is not None:
            seen: set[str | None] = set()
            for member in sorted(room.sessions, key=lambda s: s.key or ""):
                if member.key not in seen:
                    seen.add(member.key)
                    who_line(conn, mask, member)
    else:
        sessions = conn.hub.users.get(fold_user(mask), set())
        for member in list(sessions)[:1]:
            channel = f"#{sorted(member.rooms)[0]}" if member.rooms else "*"
            who_line(conn, channel, member)
    conn.numeric(n.RPL_ENDOFWHO, mask, "End of /WHO list")


@handler("WHOIS")
def whois(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    target = msg.params[-1]
    sessions = conn.hub.users.get(fold_user(target))
    if not sessions:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        conn.numeric(n.RPL_ENDOFWHOIS, target, "End of /WHOIS list")
        return
    member = next(iter(sessions))
    name = member.user or target
    other = conn._door.connections.get(member.id)
    realname = other.realname if other is not None and other.realname else name
    username = other.username if other is not None and other.username else name
    conn.numeric(n.RPL_WHOISUSER, name, username, member.ip, "*", realname)
    rooms = sorted({r for s in sessions for r in s.rooms})
    if rooms:
        conn.numeric(n.RPL_WHOISCHANNELS, name, " ".join(f"#{r}" for r in rooms))
    conn.numeric(n.RPL_WHOISSERVER, name, conn.server, "teahouse")
    if member.role == "admin":
        conn.numeric(n.RPL_WHOISOPERATOR, name, "is an IRC operator")
    if not member.guest:
        conn.numeric(n.RPL_WHOISACCOUNT, name, name, "is logged in as")
    away = conn._door.away_of(name)
    if away is not None:
        conn.numeric(n.RPL_AWAY, name, away)
    now = conn.hub.clock.monotonic()
    idle = int(min(now - s.last_received for s in sessions))
    signon = int(time.time() - (now - member.connected_at))
    conn.numeric(n.RPL_WHOISIDLE, name, str(idle), str(signon), "seconds idle, signon time")
    conn.numeric(n.RPL_ENDOFWHOIS, name, "End of /WHOIS list")


@handler("WHOWAS")
def whowas(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    target = msg.params[0]
    found = [w for w in conn._door.whowas if fold_user(w[0]) == fold_user(target)]
    if not found:
        conn.numeric(n.ERR_WASNOSUCHNICK, target, "There was no such nickname")
    for name, username, host, realname in found[:10]:
        conn.numeric(n.RPL_WHOWASUSER, name, username, host, "*", realname or name)
    conn.numeric(n.RPL_ENDOFWHOWAS, target, "End of WHOWAS")


@handler("ISON")
def ison(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    online = [
        next(iter(conn.hub.users[fold_user(nick)])).user or nick
        for word in msg.params
        for nick in word.split()
        if conn.hub.users.get(fold_user(nick))
    ]
    conn.numeric(n.RPL_ISON, " ".join(online))


@handler("USERHOST")
def userhost(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    replies = []
    for nick in msg.params[:5]:
        sessions = conn.hub.users.get(fold_user(nick))
        if sessions:
            member = next(iter(sessions))
            oper = "*" if member.role == "admin" else ""
            away = "-" if conn._door.away_of(nick) is not None else "+"
            replies.append(f"{member.user}{oper}={away}{member.user}@{member.ip}")
    conn.numeric(n.RPL_USERHOST, " ".join(replies))


@handler("AWAY")
def away(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    text = msg.param(0)
    conn.away = text[:200] if text else None
    if conn.away is None:
        conn.numeric(n.RPL_UNAWAY, "You are no longer marked as being away")
    else:
        conn.numeric(n.RPL_NOWAWAY, "You have been marked as being away")
    notify = IrcMessage("AWAY", (conn.away,) if conn.away else (), conn.hostmask())
    line = serialize(notify)
    for other in shared_irc_peers(conn, session):
        if "away-notify" in other.caps:
            other.write_raw(line)


def shared_irc_peers(conn: IrcConnection, session: Session) -> list[IrcConnection]:
    peers: dict[int, IrcConnection] = {}
    for room_name in session.rooms:
        room = conn.hub.rooms.get(room_name)
        for member in room.sessions if room else ():
            other = conn._door.connections.get(member.id)
            if other is not None and other is not conn:
                peers[member.id] = other
    return list(peers.values())


# -- modes, operators ----------------------------------------------------------------------


@handler("MODE")
def mode(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 1):
        return
    target = msg.params[0]
    if not target.startswith("#"):
        if fold_user(target) != session.key:
            conn.numeric(n.ERR_USERSDONTMATCH, "Cannot change mode for other users")
            return
        flags = "+i" + ("o" if session.role == "admin" else "")
        if len(msg.params) > 1:
            change = msg.params[1]
            if any(ch not in "+-iw" for ch in change):
                conn.numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
            return
        conn.numeric(n.RPL_UMODEIS, flags)
        return
    room_name = room_of(target)
    room = conn.hub.rooms.get(room_name) if room_name else None
    if room is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        return
    if len(msg.params) == 1:
        params = [room.mode_string()]
        if room.key is not None:
            params.append(room.key if session in room.sessions else "<key>")
        if room.limit is not None:
            params.append(str(room.limit))
        conn.numeric(n.RPL_CHANNELMODEIS, target, *params)
        conn.numeric(n.RPL_CREATIONTIME, target, str(room.created_ms // 1000))
        return
    changes = msg.params[1]
    args = list(msg.params[2:])
    if changes in ("b", "+b") and not args:
        for mask, by, at in room.bans:
            conn.numeric(n.RPL_BANLIST, target, mask, by, str(at // 1000))
        conn.numeric(n.RPL_ENDOFBANLIST, target, "End of channel ban list")
        return
    if not conn.hub.is_room_op(session, room):
        conn.numeric(n.ERR_CHANOPRIVSNEEDED, target, "You're not channel operator")
        return
    applied_flags = ""
    applied_args: list[str] = []
    sign = "+"
    last_sign = ""
    for ch in changes:
        if ch in "+-":
            sign = ch
            continue
        arg: str | None = None
        if ch in "ovbk" or (ch == "l" and sign == "+"):
            if not args:
                if ch == "b":
                    continue
                conn.numeric(n.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                continue
            arg = args.pop(0)
        if ch in "imnt":
            (room.modes.add if sign == "+" else room.modes.discard)(ch)
        elif ch == "k":
            room.key = arg if sign == "+" else None
        elif ch == "l":
            if sign == "+":
                if arg is None or not arg.isdigit() or int(arg) <= 0:
                    continue
                room.limit = int(arg)
            else:
                room.limit = None
        elif ch in "ov":
            assert arg is not None
            key = fold_user(arg)
            if not any(s.key == key for s in room.sessions):
                conn.numeric(n.ERR_USERNOTINCHANNEL, arg, target, "They aren't on that channel")
                continue
            group = room.ops if ch == "o" else room.voiced
            (group.add if sign == "+" else group.discard)(key)
        elif ch == "b":
            assert arg is not None
            if sign == "+":
                if len(room.bans) < 100 and all(b[0] != arg for b in room.bans):
                    room.bans.append((arg, session.user or "?", conn.hub.clock.wall_ms()))
            else:
                room.bans[:] = [b for b in room.bans if b[0] != arg]
        else:
            conn.numeric(n.ERR_UNKNOWNMODE, ch, "is unknown mode char to me")
            continue
        if sign != last_sign:
            applied_flags += sign
            last_sign = sign
        applied_flags += ch
        if arg is not None:
            applied_args.append(arg)
    if applied_flags:
        line = serialize(
            IrcMessage("MODE", (target, applied_flags, *applied_args), conn.hostmask())
        )
        conn.write_raw(line)
        for member in room.sessions:
            other = conn._door.connections.get(member.id)
            if other is not None and other is not conn:
                other.write_raw(line)


@handler("KICK")
def kick(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 2):
        return
    channel = msg.params[0]
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    for target in msg.params[1].split(","):
        conn.hub.kick_from_room(session, room_name, target, msg.param(2) or session.user or "")


@handler("INVITE")
def invite(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 2):
        return
    target, channel = msg.params[0], msg.params[1]
    sessions = conn.hub.users.get(fold_user(target))
    if not sessions:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    room_name = room_of(channel)
    room = conn.hub.rooms.get(room_name) if room_name else None
    if room is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    if session not in room.sessions:
        conn.numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        return
    if any(s in room.sessions for s in sessions):
        conn.numeric(n.ERR_USERONCHANNEL, target, channel, "is already on channel")
        return
    if "i" in room.modes and not conn.hub.is_room_op(session, room):
        conn.numeric(n.ERR_CHANOPRIVSNEEDED, channel, "You're not channel operator")
        return
    room.invited.add(fold_user(target))
    conn.numeric(n.RPL_INVITING, next(iter(sessions)).user or target, channel)
    line = serialize(IrcMessage("INVITE", (target, channel), conn.hostmask()))
    for other in conn._door.irc_connections_of(target):
        other.write_raw(line)


@handler("OPER")
def oper(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not need(conn, msg, 2):
        return
    name, password = msg.params[0], msg.params[1]
    account = conn.hub.store.get_account(name)

    async def check() -> None:
        ok = await conn.hub.hasher.verify(account.password_hash if account else None, password)
        # As on IRC servers, an oper block is separate from the nick: any connection that
        # knows an admin account's password may become an operator.
        if not ok or account is None or account.role != "admin":
            raise BadOper()

    def granted() -> None:
        session.role = "admin"
        conn.numeric(n.RPL_YOUREOPER, "You are now an IRC operator")
        conn.send(IrcMessage("MODE", (conn.me, "+o"), conn.server))

    conn.start(
        session,
        check(),
        then=granted,
        on_error=lambda exc: conn.numeric(n.ERR_PASSWDMISMATCH, "Password incorrect"),
    )


class BadOper(ChatError):
    code = "forbidden"


@handler("KILL")
def kill(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if session.role != "admin":
        conn.numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    if not need(conn, msg, 1):
        return
    target = msg.params[0]
    if conn.hub.kick(target, f"Killed by {session.user}: {msg.param(1)}") == 0:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")


@handler("WALLOPS")
def wallops(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if session.role != "admin":
        conn.numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    if not need(conn, msg, 1):
        return
    line = serialize(IrcMessage("WALLOPS", (msg.params[0],), conn.hostmask()))
    for other in conn._door.connections.values():
        if other.session is not None and other.session.role == "admin":
            other.write_raw(line)


# -- server queries ------------------------------------------------------------------------


@handler("MOTD")
def motd(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    text = conn._door.config.irc.motd
    if not text:
        conn.numeric(n.ERR_NOMOTD, "MOTD File is missing")
        return
    conn.numeric(n.RPL_MOTDSTART, f"- {conn.server} Message of the day - ")
    for line in text.splitlines():
        conn.numeric(n.RPL_MOTD, f"- {line}")
    conn.numeric(n.RPL_ENDOFMOTD, "End of /MOTD command.")


@handler("LUSERS")
def lusers(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    hub = conn.hub
    users = len(hub.users)
    unknown = sum(1 for s in hub.sessions.values() if not s.authenticated)
    opers = sum(1 for s in hub.sessions.values() if s.role == "admin")
    conn.numeric(n.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers")
    conn.numeric(n.RPL_LUSEROP, str(opers), "operator(s) online")
    conn.numeric(n.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    conn.numeric(n.RPL_LUSERCHANNELS, str(len(hub.rooms)), "channels formed")
    conn.numeric(n.RPL_LUSERME, f"I have {users} clients and 0 servers")
    conn.numeric(n.RPL_LOCALUSERS, str(users), "1000", f"Current local users {users}, max 1000")
    conn.numeric(n.RPL_GLOBALUSERS, str(users), "1000", f"Current global users {users}, max 1000")


@handler("VERSION")
def version(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(n.RPL_VERSION, f"teahouse-{__version__}.", conn.server, "asyncio chat server")
    for chunk in conn._door.isupport_chunks():
        conn.numeric(n.RPL_ISUPPORT, *chunk, "are supported by this server")


@handler("TIME")
def time_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(
        n.RPL_TIME, conn.server, time.strftime("%A %B %d %Y -- %H:%M:%S UTC", time.gmtime())
    )


@handler("INFO")
def info(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    for line in (f"teahouse {__version__}", "A self-hosted chat server: native protocol and IRC."):
        conn.numeric(n.RPL_INFO, line)
    conn.numeric(n.RPL_ENDOFINFO, "End of /INFO list")


@handler("ADMIN")
def admin(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    conn.numeric(n.RPL_ADMINME, conn.server, "Administrative info")
    conn.numeric(n.RPL_ADMINLOC1, conn._door.config.irc.network)
    conn.numeric(n.RPL_ADMINLOC2, "Run with teahouse")
    conn.numeric(n.RPL_ADMINEMAIL, "Ask an operator in #lobby")


# -- history -------------------------------------------------------------------------------


def _msgref(value: str) -> int | None:
    if value == "*":
        return None
    kind, _, ref = value.partition("=")
    number = ref.split("-", 1)[0]  # pieces of a split message are N-2, N-3, ...
    if kind == "msgid" and number.isdigit():
        return int(number)
    raise ValueError(value)


@handler("CHATHISTORY")
def chathistory(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """IRCv3 draft/chathistory for channels: LATEST, BEFORE, AFTER, BETWEEN (msgid refs)."""
    if not need(conn, msg, 3):
        return
    sub, target = msg.params[0].upper(), msg.params[1]
    cap = conn._door.config.limits.max_replay
    room_name = room_of(target)
    if room_name is None or conn.hub.store.get_room(room_name) is None:
        conn.send(
            IrcMessage(
                "FAIL",
                ("CHATHISTORY", "INVALID_TARGET", sub, target, "No such channel"),
                conn.server,
            )
        )
        return
    try:
        conn.hub.check_history_access(session, room_name)
    except ChatError as exc:
        conn.send(
            IrcMessage(
                "FAIL", ("CHATHISTORY", "INVALID_TARGET", sub, target, exc.message), conn.server
            )
        )
        return
    try:
        last = msg.params[-1]
        limit = min(int(last), cap) if last.isdigit() else cap
        store = conn.hub.store
        if sub == "LATEST":
            after = _msgref(msg.params[2])
            page = store.room_after(room_name, after or 0, limit)
        elif sub == "BEFORE":
            page = store.room_before(room_name, _msgref(msg.params[2]), limit)
        elif sub == "AFTER":
            page = store.room_since(room_name, _msgref(msg.params[2]) or 0, limit)
        elif sub == "BETWEEN" and len(msg.params) >= 5:
            a, b = _msgref(msg.params[2]) or 0, _msgref(msg.params[3]) or 0
            low, high = min(a, b), max(a, b)
            page = store.room_since(room_name, low, limit)
            page.messages[:] = [m for m in page.messages if m.id < high]
        else:
            conn.send(
                IrcMessage(
                    "FAIL",
                    ("CHATHISTORY", "INVALID_PARAMS", sub, "Unknown subcommand"),
                    conn.server,
                )
            )
            return
    except ValueError:
        conn.send(
            IrcMessage(
                "FAIL", ("CHATHISTORY", "INVALID_PARAMS", sub, "Bad message reference"), conn.server
            )
        )
        return
    encoder = conn._door.encoder_for(conn.caps | {"server-time", "message-tags"})
    batch = "batch" in conn.caps
    ref = f"h{session.id}x{len(page.messages)}"
    if batch:
        conn.write_raw(
            serialize(IrcMessage("BATCH", (f"+{ref}", "chathistory", target), conn.server))
        )
    for message in page.messages:
        data = encoder.privmsg_lines(message, target, "PRIVMSG")
        if batch:
            data = b"".join(
                b"@batch=" + ref.encode() + b";" + line[1:] + b"\r\n"
                for line in data.split(b"\r\n")
                if line
            )
        conn.write_raw(data)
    if batch:
        conn.write_raw(serialize(IrcMessage("BATCH", (f"-{ref}",), conn.server)))
