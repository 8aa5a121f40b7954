"""Channel commands: JOIN, PART, TOPIC, NAMES, LIST, MODE, KICK, INVITE.

Every change goes through the hub (so native members see it too); these functions turn
IRC parameters into hub calls and the hub's results into numerics.
"""

from __future__ import annotations

from teahouse.core.masks import glob_match
from teahouse.core.rooms import clean_reason
from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.render import room_of, send_join, send_names, send_topic
from teahouse.errors import ChatError, NoSuchRoom
from teahouse.protocol.irc import IrcMessage
from teahouse.protocol.modes import MODE_LETTERS, takes_argument

MAX_MODES = 4
"""Mode changes with an argument taken from one MODE line (ISUPPORT MODES)."""
MAX_NAMES = 8
"""Channels one NAMES may ask for (ISUPPORT TARGMAX)."""
MAX_KICKS = 4
"""Users one KICK may remove (ISUPPORT TARGMAX)."""
LIST_NUMERICS = {
    "b": (n.RPL_BANLIST, n.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": ("348", "349", "End of Channel Exception List"),
    "I": ("346", "347", "End of Channel Invite Exception List"),
}


def join(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if msg.params[0] == "0":
        for joined in sorted(session.rooms):
            part_one(conn, session, f"#{joined}", "Left all channels")
        return
    keys = msg.param(1).split(",") if len(msg.params) > 1 else []
    rooms = conn.door.hub.rooms
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
            result = rooms.join(session, room_name, key=key, replay=False)
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
        conn.door.hub.rooms.part(session, room_name, reason or None, formatting=True)
    except ChatError as exc:
        conn.chat_error(session, "PART", channel, exc)
        return
    shown = clean_reason(reason, formatting=True) if reason else None
    params = (channel, shown) if shown else (channel,)
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
    rooms = conn.door.hub.rooms
    live = conn.door.hub.registry.rooms.get(room_name)
    if live is None:
        # On IRC a channel nobody is in does not exist (the room lives on in the store).
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    if len(msg.params) == 1:
        if "s" in live.modes and session not in live.sessions and session.role != "admin":
            conn.numeric(n.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            return
        send_topic(conn, channel, rooms.room_state(live), always=True)
        return
    text, by, ts = rooms.set_topic(session, room_name, msg.params[1], formatting=True)
    encoder = conn.door.encoder_for(conn.caps)
    conn.write_raw(encoder.topic(room_name, text, by, ts))


def names(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    rooms = conn.door.hub.rooms
    if not msg.params:
        conn.numeric(n.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    channels = [c for c in msg.params[0].split(",") if c][:MAX_NAMES]
    for channel in channels:
        room_name = room_of(channel)
        live = conn.door.hub.registry.rooms.get(room_name) if room_name else None
        if room_name is None or live is None or not _visible(session, live.sessions, live.modes):
            continue
        send_names(conn, channel, rooms.room_state(live), end=False)
    conn.numeric(n.RPL_ENDOFNAMES, ",".join(channels) or "*", "End of /NAMES list")


def _visible(session: Session, members: set[Session], modes: set[str]) -> bool:
    return "s" not in modes or session in members or session.role == "admin"


class ListFilter:
    """``LIST`` conditions (ELIST=MNU): ``#a,#b`` names, ``*glob*`` masks, ``!*glob*``
    negated masks, ``>n`` and ``<n`` member counts; all must hold."""

    def __init__(self, words: str) -> None:
        self.names: set[str] = set()
        self.globs: list[str] = []
        self.not_globs: list[str] = []
        self.more_than: int | None = None
        self.fewer_than: int | None = None
        for word in words.split(","):
            bound = word[1:]
            if word[:1] in ("<", ">") and bound.isascii() and bound.isdigit() and len(word) < 9:
                if word[0] == ">":
                    self.more_than = int(bound)
                else:
                    self.fewer_than = int(bound)
            elif word.startswith("!"):
                self.not_globs.append(word[1:])
            elif "*" in word or "?" in word:
                self.globs.append(word)
            elif word:
                self.names.add(word.lower())

    def __call__(self, name: str, count: int) -> bool:
        if self.names and name.lower() not in self.names:
            return False
        if self.more_than is not None and not count > self.more_than:
            return False
        if self.fewer_than is not None and not count < self.fewer_than:
            return False
        if any(not glob_match(g, name) for g in self.globs):
            return False
        return not any(glob_match(g, name) for g in self.not_globs)


def list_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    wanted = ListFilter(msg.param(0))
    conn.numeric(n.RPL_LISTSTART, "Channel", "Users  Name")
    rooms = conn.door.hub.rooms
    after: str | None = None
    while True:
        page = rooms.list_rooms(session, after)
        for room in page.rooms:
            channel = f"#{room.name}"
            # On IRC a channel nobody is in does not exist.
            if room.members == 0 or not wanted(channel, room.members):
                continue
            conn.numeric(n.RPL_LIST, channel, str(room.members), room.topic)
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
    if live is None and not hub.rooms.exists(room_name):
        conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        return
    if len(msg.params) == 1:
        state = hub.rooms.state_of(session, room_name)
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
    listed = changes.lstrip("+")
    if listed in LIST_NUMERICS and not args:
        item, end, text = LIST_NUMERICS[listed]
        for entry in hub.rooms.mode_list(session, room_name, listed):
            conn.numeric(item, target, str(entry.mask), entry.by, str(entry.at_ms // 1000))
        conn.numeric(end, target, text)
        return
    wanted: list[tuple[str, str, str | None]] = []
    sign = "+"
    with_args = 0
    for ch in changes:
        if ch in "+-":
            sign = ch
            continue
        arg: str | None = None
        if takes_argument(sign, ch):
            if not args:
                if ch in LIST_NUMERICS:
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
        if ch not in MODE_LETTERS:
            conn.numeric(n.ERR_UNKNOWNMODE, ch, "is unknown mode char to me")
            continue
        wanted.append((sign, ch, arg))
    if not wanted:
        return
    try:
        change, refused = hub.rooms.set_modes(session, room_name, wanted)
    except ChatError as exc:
        if isinstance(exc, NoSuchRoom):
            conn.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        else:
            conn.chat_error(session, "MODE", target, exc)
        return
    for letter, arg, why in refused:
        if why == "not_in_room" and not hub.registry.by_name(arg or ""):
            conn.numeric(n.ERR_NOSUCHNICK, arg or "*", "No such nick/channel")
        elif why == "not_in_room":
            conn.numeric(n.ERR_USERNOTINCHANNEL, arg or "*", target, "They aren't on that channel")
        elif why == "bad_arg" and letter == "k":
            conn.numeric("696", target, "k", "*", "Invalid key")
        elif why == "guest":
            text = "Guests cannot be channel operators here; they must log in to an account"
            conn.numeric("696", target, letter, arg or "*", text)
        elif why == "owner":
            conn.numeric(n.ERR_CHANOPRIVSNEEDED, target, "The channel's owner keeps operator")
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
    if len(msg.params) == 1:
        flags = "".join(sorted(conn.umodes | ({"o"} if session.role == "admin" else set())))
        conn.numeric(n.RPL_UMODEIS, "+" + flags)
        return
    applied = ""
    sign = "+"
    last = ""
    unknown = False
    for ch in msg.params[1]:
        if ch in "+-":
            sign = ch
            continue
        if ch in "iBw":
            if ch == "w":
                continue  # wallops reach operators only; nothing to switch
            present = ch in conn.umodes
            if (sign == "+") == present:
                continue
            conn.umodes = conn.umodes | {ch} if sign == "+" else conn.umodes - {ch}
        elif ch == "o" and sign == "-" and session.role == "admin":
            session.role = "user"  # de-opering oneself is allowed, opering is OPER's job
        elif ch == "o":
            continue
        else:
            unknown = True
            continue
        if sign != last:
            applied += sign
            last = sign
        applied += ch
    if unknown:
        conn.numeric(n.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if applied:
        conn.send(IrcMessage("MODE", (conn.me, applied), conn.hostmask()))


# -- kicks and invites -----------------------------------------------------------------


def kick(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    channels = msg.params[0].split(",")
    targets = [t for t in msg.params[1].split(",") if t][:MAX_KICKS]
    reason = msg.param(2) or None
    rooms = conn.door.hub.registry.rooms
    for i, target in enumerate(targets):
        # One channel for every user, or channel i for user i.
        channel = channels[0] if len(channels) == 1 else channels[i] if i < len(channels) else ""
        room_name = room_of(channel)
        if room_name is None or room_name not in rooms:
            conn.numeric(n.ERR_NOSUCHCHANNEL, channel or "*", "No such channel")
            continue
        try:
            victim, text = conn.door.hub.rooms.kick(
                session, room_name, target, reason, formatting=True
            )
        except ChatError as exc:
            conn.chat_error(session, "KICK", channel, exc, target)
            continue
        encoder = conn.door.encoder_for(conn.caps)
        conn.write_raw(
            encoder.presence(
                room_name, victim, "left", "kicked", online=True, by=session.user, text=text
            )
        )


def invite(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params:
        for room in sorted(conn.door.hub.registry.rooms.values(), key=lambda r: r.name):
            if session.ident in room.invited:
                conn.numeric("336", f"#{room.name}")
        conn.numeric("337", "End of INVITE list")
        return
    if len(msg.params) < 2:
        conn.numeric(n.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    target, channel = msg.params[0], msg.params[1]
    hub = conn.door.hub
    if not hub.registry.by_name(target):
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    room_name = room_of(channel)
    if room_name is None or not hub.rooms.exists(room_name):
        conn.numeric(n.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return
    try:
        shown = hub.rooms.invite(session, room_name, target)
    except ChatError as exc:
        if exc.detail == "already":
            conn.numeric(n.ERR_USERONCHANNEL, target, channel, "is already on channel")
        else:
            conn.chat_error(session, "INVITE", channel, exc)
        return
    conn.numeric(n.RPL_INVITING, shown, channel)
