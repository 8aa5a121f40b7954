"""The IRC-style commands both terminal clients offer beyond talking: ``/away``, ``/whois``,
``/nick``, ``/kick`` and ``/mode``, mapped to what the native protocol has.

- ``/away [TEXT]`` and ``/whois NICK`` and ``/mode`` send the draft frames of
  :mod:`teahouse.client.draft_frames`; a server without them answers ``unknown_type``,
  which becomes "this server does not support /away yet". ``/whois`` then falls back, for
  an admin, to the operator command ``who`` (address, rooms, idle time), and for anyone
  else says which of your rooms the user is in.
- ``/kick NICK [REASON]``: native teahouse has no room kick; an admin's ``kick`` operator
  command disconnects the user from the whole server, and the answer says so.
- ``/nick NEW``: an account keeps its name; only IRC guests change nick.

Each function returns the lines to show (plain text straight from the server: the caller
makes it printable) and raises :class:`~teahouse.client.errors.ClientError` for the
failures the caller already reports (``forbidden``, ``no_such_user``, offline...).
"""

from __future__ import annotations

from collections.abc import Iterable

from teahouse.client import draft_frames as d
from teahouse.client.client import Client
from teahouse.client.errors import ServerError
from teahouse.protocol.names import is_room_name, is_user_name

DOORS = {"native": "the native protocol", "irc": "IRC", "web": "the web"}


def unsupported(command: str) -> str:
    return f"this server does not support /{command} yet"


def _is_unknown_type(exc: ServerError) -> bool:
    return exc.code == "unknown_type"


def _seconds(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    return "?"


# -- /away -------------------------------------------------------------------------------


async def set_away(client: Client, text: str | None) -> d.Away | None:
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


def away_line(frame: d.Away, me: str) -> str:
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
        where = ", ".join("#" + r for r in rooms)
        return [unsupported("whois") + f"; {nick} is in {where} with you"]
    return [unsupported("whois")]


def whois_lines(info: d.WhoisInfo) -> list[str]:
    """The answer to ``whois``, as lines."""
    name = info.user
    if not info.online:
        return [f"{name} is not online"]
    role = f" ({info.role})" if info.role and info.role != "user" else ""
    head = f"{name}{role} is online"
    if info.door:
        head += f" through {DOORS.get(info.door, info.door)}"
    if info.idle is not None:
        head += f", idle {_seconds(info.idle)}"
    lines = [head]
    if info.away:
        lines.append(f"{name} is away: {info.away}")
    rooms = ", ".join("#" + r for r in info.rooms)
    lines.append(f"{name} is in {rooms}" if rooms else f"{name} is in no room")
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
            parts.append(f"through {DOORS.get(door, door)}")
        parts.append(f"idle {_seconds(row.get('idle'))}")
        if row.get("connected_since"):
            parts.append(f"since {row.get('connected_since')}")
        rooms = row.get("rooms")
        if isinstance(rooms, list):
            parts.append("rooms " + (", ".join("#" + str(r) for r in rooms) or "none"))
        lines.append(", ".join(parts))
    return lines or [f"{nick} is not online"]


# -- /nick, /kick -------------------------------------------------------------------------


def nick(me: str, new: str) -> list[str]:
    """``/nick NEW``: not possible for an account, and why."""
    return [
        f"you are logged in to the account {me}, and an account keeps its name: "
        f"log in as another account to be {new}. (Only IRC guests can change nick.)"
    ]


NO_ROOM_KICK = (
    "native teahouse has no room kick yet: only an admin can /kick, "
    "and that disconnects the user from the whole server"
)


async def kick(client: Client, target: str, reason: str | None) -> list[str]:
    """``/kick NICK [REASON]``: an admin's ``kick`` (the user leaves the server)."""
    if not is_user_name(target):
        return [f"{target!r} is not a user name"]
    if client.role != "admin":
        return [NO_ROOM_KICK]
    if reason:
        result = await client.admin("kick", user=target, reason=reason)
    else:
        result = await client.admin("kick", user=target)
    return [f"{result.text}: disconnected from the server (native teahouse has no room kick)"]


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


def mode_line(info: d.ModeInfo, me: str) -> str:
    """``#lobby modes: +kt secret``, ``alice set +k secret on #lobby (modes now +kt)``."""
    modes = info.modes or ""
    now = modes if modes.strip("+") else "none"
    if info.changes is None:
        return f"#{info.room} modes: {now}"
    who = "you" if info.by is None or info.by.lower() == me.lower() else info.by
    change = " ".join([info.changes, *(info.args or [])])
    if info.modes is None:
        return f"{who} set {change} on #{info.room}"
    return f"{who} set {change} on #{info.room} (modes now: {now})"
