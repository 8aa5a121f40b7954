"""The IRC-style commands both terminal clients offer beyond talking, mapped to the native
protocol, and the words they show: ``/away``, ``/whois``, ``/mode``, ``/kick``,
``/invite``, ``/join ROOM KEY``, ``/room``, ``/kill`` and ``/nick``.

- ``/away [TEXT]``, ``/whois NICK``, ``/mode``, ``/kick``, ``/invite`` and ``/room`` send
  their frames. An older server that does not have them answers ``unknown_type``, which
  becomes "this server does not support /away yet"; ``/whois`` then falls back, for an
  admin, to the operator command ``who`` (address, rooms, idle time), and for anyone else
  says which of your rooms the user is in.
- ``/kick NICK [REASON]`` removes the user from a room (room operators); ``/kill NICK
  [REASON]`` is an admin's operator command ``kick``, which disconnects the user from the
  whole server.
- ``/nick NEW``: an account keeps its name; only IRC guests change nick.

The functions return the lines to show (plain text straight from the server: the caller
makes it printable) or the server's reply, and raise
:class:`~teahouse.client.errors.ClientError` for the failures the caller already reports
(``forbidden``, ``no_such_user``, ``not_in_room``...).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from teahouse.client.client import Client
from teahouse.client.errors import ServerError
from teahouse.protocol import frames as f
from teahouse.protocol.modes import takes_argument
from teahouse.protocol.names import is_room_name, is_user_name

DOORS = {"native": "the native protocol", "irc": "IRC", "web": "the web"}
RoomAction = Literal["info", "register", "drop"]
ROOM_ACTIONS: dict[str, RoomAction] = {"info": "info", "register": "register", "drop": "drop"}


def unsupported(command: str) -> str:
    return f"this server does not support /{command} yet"


def _is_unknown_type(exc: ServerError) -> bool:
    return exc.code == "unknown_type"


def _seconds(value: object) -> str:
    """``0.4 s``, ``12 s``, ``3 min 5 s``, ``2 h 4 min``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "?"
    if value < 10:
        return f"{value:.1f} s"
    total = round(value)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(total // 60, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _rooms(rooms: Iterable[str]) -> str:
    return ", ".join("#" + r for r in rooms)


# -- /away -------------------------------------------------------------------------------


async def set_away(client: Client, text: str | None) -> f.AwayChanged | None:
    """Set yourself away (``text``) or back (None); None when the server cannot."""
    try:
        return await client.away(text)
    except ServerError as exc:
        if _is_unknown_type(exc):
            return None
        raise


async def away(client: Client, text: str | None) -> list[str]:
    """``/away TEXT`` (away) or ``/away`` (back)."""
    reply = await set_away(client, text)
    return [away_line(reply, client.user) if reply is not None else unsupported("away")]


def away_line(frame: f.AwayChanged, me: str) -> str:
    """``you are away: lunch``, ``bob is back``."""
    who = "you are" if frame.user.lower() == me.lower() else f"{frame.user} is"
    return f"{who} away: {frame.text}" if frame.text else f"{who} back"


# -- /whois ------------------------------------------------------------------------------


async def whois(client: Client, nick: str, shared_rooms: Iterable[str] = ()) -> list[str]:
    """``/whois NICK``: the server's answer, or what can be known without it."""
    if not is_user_name(nick):
        return [f"{nick!r} is not a user name"]
    try:
        return whois_lines(await client.whois(nick))
    except ServerError as exc:
        if not _is_unknown_type(exc):
            raise
    if client.role == "admin":
        return [
            unsupported("whois") + "; from the operator command who:",
            *await _admin_who(client, nick),
        ]
    rooms = sorted(shared_rooms)
    if rooms:
        return [unsupported("whois") + f"; {nick} is in {_rooms(rooms)} with you"]
    return [unsupported("whois")]


def door_words(door: str | None) -> str:
    """``irc`` -> ``IRC``; ``native,web`` (two sessions) -> ``the native protocol and the web``."""
    names = [DOORS.get(d, d) for d in (door or "").split(",") if d]
    if len(names) <= 1:
        return names[0] if names else ""
    return ", ".join(names[:-1]) + " and " + names[-1]


def whois_lines(info: f.WhoisInfo) -> list[str]:
    """The answer to ``whois``, one fact a line: who and how they came in, then their
    rooms, away text, idle time and (for admins) address."""
    name = info.user
    if not info.online:
        return [f"{name} is not online"]
    role = f" ({info.role})" if info.role and info.role != "user" else ""
    head = f"{name}{role} is online"
    if info.door:
        head += f" through {door_words(info.door)}"
    if info.guest:
        head += ", as a guest (no account)"
    rooms = _rooms(info.rooms)
    lines = [head, f"  rooms: {rooms}" if rooms else "  rooms: none you can see"]
    if info.away:
        lines.append(f"  away: {info.away}")
    if info.idle is not None:
        lines.append(f"  idle: {_seconds(info.idle)}")
    if info.address:
        lines.append(f"  address: {info.address}")
    return lines


async def _admin_who(client: Client, nick: str) -> list[str]:
    result = await client.admin("who")
    rows = result.data if isinstance(result.data, list) else []
    lines = []
    for row in rows:
        if not isinstance(row, dict) or str(row.get("user", "")).lower() != nick.lower():
            continue
        parts = [f"{row.get('user')}: {row.get('address', '?')}"]
        door = row.get("door")
        if isinstance(door, str):
            parts.append(f"through {door_words(door)}")
        parts.append(f"idle {_seconds(row.get('idle'))}")
        if row.get("connected_since"):
            parts.append(f"since {row.get('connected_since')}")
        rooms = row.get("rooms")
        if isinstance(rooms, list):
            parts.append("rooms " + (_rooms(str(r) for r in rooms) or "none"))
        lines.append(", ".join(parts))
    return lines or [f"{nick} is not online"]


# -- /nick, /kick, /kill, /invite -------------------------------------------------------------


def nick(me: str, new: str) -> list[str]:
    """``/nick NEW``: not possible for an account, and why."""
    return [
        f"you are logged in to the account {me}, and an account keeps its name: "
        f"log in as another account to be {new}. (Only IRC guests can change nick.)"
    ]


def kick_words(words: list[str], rest: str) -> tuple[str, str | None] | str:
    """``/kick NICK [REASON]`` (and ``/kill``) as (nick, reason), or why not."""
    if not words:
        return "who? /kick NICK [REASON]"
    target = words[0]
    if not is_user_name(target):
        return f"{target!r} is not a user name"
    reason = rest.split(None, 1)[1].strip() if len(words) > 1 else None
    return target, reason or None


async def kick(client: Client, room: str, target: str, reason: str | None) -> f.Presence | None:
    """``/kick NICK [REASON]`` in ``room``: the server's ``left`` presence, or None when
    the server has no room kick."""
    try:
        return await client.kick(room, target, reason)
    except ServerError as exc:
        if _is_unknown_type(exc):
            return None
        raise


async def kill(client: Client, target: str, reason: str | None) -> list[str]:
    """``/kill NICK [REASON]``: an admin's operator command ``kick`` (the user leaves the
    server, every room and every connection)."""
    if client.role != "admin":
        return [
            "only an admin can /kill (disconnect a user from the server); /kick NICK "
            "removes a user from a room you operate"
        ]
    if reason:
        result = await client.admin("kick", user=target, reason=reason)
    else:
        result = await client.admin("kick", user=target)
    return [f"{result.text}: disconnected from the server"]


def kick_line(presence: f.Presence, me: str, *, room: bool = True) -> str:
    """``bob was kicked from #lobby by alice: flooding`` (``room`` False: without ``from
    #lobby``, for a line in the room itself); ``you were kicked ...`` when it is you. The
    reason is left out when it is only the kicker's name (the server's default)."""
    low = presence.user.lower()
    who = "you were" if low == me.lower() else f"{presence.user} was"
    where = f" from #{presence.room}" if room else ""
    by = presence.by or "an operator"
    if presence.by is not None and presence.by.lower() == me.lower():
        by = "you"
    text = presence.text or ""
    why = f": {text}" if text and text.lower() != (presence.by or "").lower() else ""
    return f"{who} kicked{where} by {by}{why}"


async def invite(client: Client, room: str, target: str) -> list[str]:
    """``/invite NICK [#ROOM]``: let ``target`` into ``room``."""
    if not is_user_name(target):
        return [f"{target!r} is not a user name"]
    try:
        reply = await client.invite(room, target)
    except ServerError as exc:
        if _is_unknown_type(exc):
            return [unsupported("invite")]
        raise
    return [f"you invited {reply.user} to #{reply.room}"]


def invited_line(frame: f.Invited, me: str) -> str:
    """``alice invited you to #tea: /join tea`` (or, for your own, whom you invited)."""
    if frame.user.lower() == me.lower():
        return f"{frame.by} invited you to #{frame.room}: /join {frame.room}"
    return f"{frame.by} invited {frame.user} to #{frame.room}"


# -- /join ROOM [KEY], /room ----------------------------------------------------------------


def join_words(words: list[str]) -> tuple[str, str | None] | str:
    """``/join ROOM [KEY]`` as (room, key), or why not."""
    if not words:
        return "which room? /join ROOM [KEY]"
    room = words[0].removeprefix("#")
    if not is_room_name(room):
        return f"{words[0]!r} is not a room name"
    return room, (words[1] if len(words) > 1 else None)


ROOM_USAGE = "/room [info|register|drop] [#ROOM]"


def room_words(words: list[str], current_room: str | None) -> tuple[str, RoomAction] | str:
    """``/room``, ``/room register``, ``/room info #tea`` as (room, action), or why not."""
    action: RoomAction = "info"
    room = current_room
    for word in words:
        if word.lower() in ROOM_ACTIONS:
            action = ROOM_ACTIONS[word.lower()]
        elif word.startswith("#") or is_room_name(word):
            room = word.removeprefix("#")
        else:
            return f"{word!r}? {ROOM_USAGE}"
    if room is None:
        return f"which room? {ROOM_USAGE}"
    if not is_room_name(room):
        return f"{room!r} is not a room name"
    return room, action


async def room_action(client: Client, room: str, action: RoomAction) -> list[str]:
    """``/room``: a room's owner, operators and modes; ``register`` and ``drop``."""
    try:
        reply = await client.room(room, action)
    except ServerError as exc:
        if _is_unknown_type(exc):
            return [unsupported("room")]
        raise
    lines = room_lines(reply)
    if action == "register":
        lines.insert(0, f"#{reply.room} is registered to you now")
    elif action == "drop":
        lines.insert(0, f"#{reply.room} is no longer registered")
    return lines


def room_lines(info: f.RoomInfoReply) -> list[str]:
    """The answer to ``room``, as lines."""
    if info.registered:
        head = f"#{info.room} is registered" + (f" to {info.owner}" if info.owner else "")
    else:
        head = f"#{info.room} is not registered"
    ops = ", ".join(info.operators) or "none listed"
    modes = info.modes if info.modes.strip("+") else "none"
    lines = [head, f"  operators: {ops}", f"  modes: {modes}"]
    if info.topic:
        lines.append(f"  topic: {info.topic}")
    return lines


# -- /mode --------------------------------------------------------------------------------

MODE_USAGE = "/mode [#ROOM] [+/-MODES [ARGS...]]"


def parse_mode(
    words: list[str], current_room: str | None
) -> tuple[str, str | None, list[str]] | str:
    """``/mode`` words as (room, changes or None to ask, args), or a sentence saying why not.

    ``/mode`` and ``/mode #lobby`` ask; ``/mode +k secret`` changes the current room.
    """
    room = current_room
    rest = words
    if rest and rest[0].startswith("#"):
        room, rest = rest[0][1:], rest[1:]
    if room is None:
        return f"which room? {MODE_USAGE}"
    if not is_room_name(room):
        return f"{room!r} is not a room name"
    if not rest:
        return room, None, []
    changes = rest[0]
    if changes[0] not in "+-" or not all(ch.isalpha() or ch in "+-" for ch in changes):
        return f"user modes are not supported; {MODE_USAGE}"
    return room, changes, rest[1:]


async def mode(client: Client, room: str, changes: str | None, args: list[str]) -> list[str]:
    """``/mode``: ask or change a room's modes."""
    try:
        reply = await client.mode(room, changes, args)
    except ServerError as exc:
        if _is_unknown_type(exc):
            return [unsupported("mode") + " (IRC users can set room modes)"]
        raise
    return [mode_line(reply, client.user)]


def mode_line(info: f.ModeChanged, me: str) -> str:
    """``#lobby modes: +kt secret``, ``alice set +k secret on #lobby (modes now +kt)``."""
    modes = info.modes or ""
    now = " ".join([modes, *(info.params or [])]) if modes.strip("+") else "none"
    if info.changes is None:
        return f"#{info.room} modes: {now}"
    who = "you" if info.by is None or info.by.lower() == me.lower() else info.by
    change = " ".join([info.changes, *(info.args or [])])
    if info.modes is None:
        return f"{who} set {change} on #{info.room}"
    return f"{who} set {change} on #{info.room} (modes now: {now})"


def operator_changes(info: f.ModeChanged) -> list[tuple[str, bool]]:
    """The ``+o``/``-o`` of a mode change: (name, now an operator), in order."""
    letters: list[tuple[str, str]] = []
    sign = "+"
    for ch in info.changes or "":
        if ch in "+-":
            sign = ch
        else:
            letters.append((sign, ch))

    # A "-k" carries the old key or nothing: the arguments left over say which.
    spare = len(info.args) - sum(takes_argument(s, c) for s, c in letters if (s, c) != ("-", "k"))
    args = iter(info.args)
    found: list[tuple[str, bool]] = []
    for sign, ch in letters:
        if (sign, ch) == ("-", "k"):
            if spare > 0:
                spare -= 1
                next(args, None)
            continue
        arg = next(args, None) if takes_argument(sign, ch) else None
        if ch == "o" and arg is not None:
            found.append((arg, sign == "+"))
    return found
