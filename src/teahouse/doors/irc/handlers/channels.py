"""Channel commands: JOIN, PART, TOPIC, NAMES, LIST, MODE, KICK, INVITE.

Every change goes through the hub (so native members see it too); these functions turn
IRC parameters into hub calls and the hub's results into numerics.
"""

from __future__ import annotations

from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.render import room_of, send_join, send_names, send_topic
from teahouse.errors import ChatError, NoSuchRoom
from teahouse.protocol.irc import IrcMessage

MAX_MODES = 4
"""Mode changes with an argument taken from one MODE line (ISUPPORT MODES)."""


def join(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if msg.params[0] == "0":
        for joined in sorted(session.rooms):
            part_one(conn, session, f"#{joined}", "Left all channels")
        return
    keys = msg.param(1).split(",") if len(msg.params) > 1 else []
    chat = conn.door.hub.chat
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
        key = keys[i] if i < len(keys) and keys[i] else None
        try:
            result = chat.join(session, room_name, key=key, replay=False)
        except ChatError as exc:
            conn.chat_error(session, "JOIN", channel, exc)
            continue
        send_join(conn, session, channel, result.room)


def part_one(conn: IrcConnection, session: Session, channel: str, reason: str) -> None:
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    try:
        conn.door.hub.chat.part(session, room_name, reason or None)
    except ChatError as exc:
        conn.chat_error(session, "PART", channel, exc)
        return
    params = (channel, reason) if reason else (channel,)
    conn.send(IrcMessage("PART", params, conn.hostmask()))


def part(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    for channel in msg.params[0].split(","):
        if channel:
            part_one(conn, session, channel, msg.param(1))


def topic(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    channel = msg.params[0]
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    chat = conn.door.hub.chat
    if len(msg.params) == 1:
        try:
            chat.check_history_access(session, room_name)
            state = chat.state_of(session, room_name)
        except ChatError as exc:
            conn.chat_error(session, "TOPIC", channel, exc)
            return
        send_topic(conn, channel, state, always=True)
        return
    text, by, ts = chat.set_topic(session, room_name, msg.params[1])
    encoder = conn.door.encoder_for(conn.caps)
    conn.write_raw(encoder.topic(room_name, text, by, ts))


def names(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    chat = conn.door.hub.chat
    if not msg.params:
        conn.numeric(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for channel in msg.params[0].split(","):
        room_name = room_of(channel)
        live = conn.door.hub.registry.rooms.get(room_name) if room_name else None
        if room_name is None or live is None or not _visible(session, live.sessions, live.modes):
            conn.numeric(n.RPL_ENDOFNAMES, channel, "End of /NAMES list")
            continue
        send_names(conn, channel, chat.room_state(live))


def _visible(session: Session, members: set[Session], modes: set[str]) -> bool:
    return "s" not in modes or session in members or session.role == "admin"


def list_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    wanted = (
        {room_of(c) for c in msg.param(0).split(",")}
        if msg.params and msg.params[0].startswith("#")
        else None
    )
    conn.numeric(n.RPL_LISTSTART, "Channel", "Users  Name")
    chat = conn.door.hub.chat
    after: str | None = None
    while True:
        page = chat.list_rooms(session, after)
        for room in page.rooms:
            if wanted is not None and room.name not in wanted:
                continue
            if room.members == 0 and wanted is None:
                continue
            conn.numeric(n.RPL_LIST, f"#{room.name}", str(room.members), room.topic)
        if page.next_after is None:
            break
        after = page.next_after
    conn.numeric(n.RPL_LISTEND, "End of /LIST")


# -- modes ---------------------------------------------------------------------------------


def mode(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[0]
    if not target.startswith("#"):
        user_mode(conn, session, msg)
        return
    room_name = room_of(target)
    hub = conn.door.hub
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        return
    live = hub.registry.rooms.get(room_name)
    if live is None and not hub.chat.exists(room_name):
        conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        return
    if len(msg.params) == 1:
        state = hub.chat.state_of(session, room_name)
        params = [state.modes]
        member = live is not None and session in live.sessions
        if state.key is not None:
            params.append(state.key if member else "<key>")
        if state.limit is not None:
            params.append(str(state.limit))
        conn.numeric(n.RPL_CHANNELMODEIS, target, *params)
        conn.numeric(n.RPL_CREATIONTIME, target, str(state.created_ms // 1000))
        return
    changes = msg.params[1]
    args = list(msg.params[2:])
    if changes.lstrip("+") == "b" and not args:
        for ban in hub.chat.bans_of(session, room_name):
            conn.numeric(n.RPL_BANLIST, target, str(ban.mask), ban.by, str(ban.at_ms // 1000))
        conn.numeric(n.RPL_ENDOFBANLIST, target, "End of channel ban list")
        return
    wanted: list[tuple[str, str, str | None]] = []
    sign = "+"
    with_args = 0
    for ch in changes:
        if ch in "+-":
            sign = ch
            continue
        takes = ch in "ovbk" or (ch == "l" and sign == "+")
        arg: str | None = None
        if takes:
            if not args:
                if ch == "b":
                    continue  # "+b" alone is a list query, handled above
                if ch == "k" and sign == "-":
                    wanted.append((sign, ch, None))
                    continue
                conn.numeric(n.ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                continue
            if with_args >= MAX_MODES:
                continue
            with_args += 1
            arg = args.pop(0)
        if ch not in "imnstklovb":
            conn.numeric(n.ERR_UNKNOWNMODE, ch, "is unknown mode char to me")
            continue
        wanted.append((sign, ch, arg))
    if not wanted:
        return
    try:
        change, refused = hub.chat.set_modes(session, room_name, wanted)
    except ChatError as exc:
        if isinstance(exc, NoSuchRoom):
            conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        else:
            conn.chat_error(session, "MODE", target, exc)
        return
    for letter, arg, why in refused:
        if why == "not_in_room":
            conn.numeric(n.ERR_USERNOTINCHANNEL, arg or "*", target, "They aren't on that channel")
        elif why == "bad_arg" and letter == "k":
            conn.numeric("696", target, "k", arg or "*", "Invalid key")
        elif why == "full":
            conn.numeric("478", target, arg or "*", "Channel ban list is full")
    if change:
        conn.write_raw(conn.door.encoder_for(conn.caps).mode(room_name, session.user or "", change))


def user_mode(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[0]
    if session.key is None or target.lower() != session.key:
        if conn.door.hub.registry.by_name(target):
            conn.numeric(n.ERR_USERSDONTMATCH, "Cannot change mode for other users")
        else:
            conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    flags = "+i" + ("o" if session.role == "admin" else "")
    if len(msg.params) == 1:
        conn.numeric(n.RPL_UMODEIS, flags)
        return
    change = msg.params[1]
    if any(ch not in "+-iwo" for ch in change):
        conn.numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
        return
    if "-" in change and "o" in change.split("-", 1)[1] and session.role == "admin":
        session.role = "user"  # de-opering oneself is allowed, opering is OPER's job
        conn.send(IrcMessage("MODE", (conn.me, "-o"), conn.hostmask()))


# -- kicks and invites -----------------------------------------------------------------


def kick(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    channel = msg.params[0]
    room_name = room_of(channel)
    if room_name is None:
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    reason = msg.param(2) or None
    for target in msg.params[1].split(","):
        try:
            conn.door.hub.chat.kick(session, room_name, target, reason)
        except ChatError as exc:
            conn.chat_error(session, "KICK", channel, exc, target)


def invite(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target, channel = msg.params[0], msg.params[1]
    hub = conn.door.hub
    if not hub.registry.by_name(target):
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    room_name = room_of(channel)
    if room_name is None or not hub.chat.exists(room_name):
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    try:
        shown = hub.chat.invite(session, room_name, target)
    except ChatError as exc:
        if exc.detail == "already":
            conn.numeric(n.ERR_USERONCHANNEL, target, channel, "is already on channel")
        else:
            conn.chat_error(session, "INVITE", channel, exc)
        return
    conn.numeric(n.RPL_INVITING, shown, channel)
