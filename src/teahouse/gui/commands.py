"""The input line's ``/`` commands, parsed into values (pure; no Qt, no network).

A line that does not start with ``/`` is said in the current conversation; ``//text``
says ``/text``. :func:`parse_input` never raises: a malformed command comes back as
:class:`Invalid` with a sentence for the user.
"""

from __future__ import annotations

from dataclasses import dataclass

from teahouse.client import operations as ops
from teahouse.gui.markup import ACTION_PREFIX


@dataclass(frozen=True, slots=True)
class Say:
    """Say ``text`` in the current conversation (an action is text starting ``/me ``)."""

    text: str


@dataclass(frozen=True, slots=True)
class Join:
    room: str
    key: str | None = None
    """The room's key, for a room that has one (mode ``k``)."""


@dataclass(frozen=True, slots=True)
class Part:
    """Leave ``room`` (None: the current one)."""

    room: str | None


@dataclass(frozen=True, slots=True)
class Msg:
    """Open the direct conversation with ``user`` and, if ``text`` is set, send it."""

    user: str
    text: str | None


@dataclass(frozen=True, slots=True)
class SetTopic:
    """Set the topic of ``room`` (None: the current one); ``text`` may be empty."""

    room: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Quit:
    reason: str | None


@dataclass(frozen=True, slots=True)
class ListRooms:
    """Open the "join a room" dialog."""


@dataclass(frozen=True, slots=True)
class Who:
    """Refresh the member list of the current room."""


@dataclass(frozen=True, slots=True)
class SetAway:
    """Be away with ``text``; None: back."""

    text: str | None


@dataclass(frozen=True, slots=True)
class Whois:
    user: str


@dataclass(frozen=True, slots=True)
class Kick:
    """Remove ``user`` from the current room (room operators)."""

    user: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Invite:
    """Let ``user`` into the current room."""

    user: str


@dataclass(frozen=True, slots=True)
class Mode:
    """Ask the current room's modes (``changes`` None), or change them."""

    changes: str | None
    args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomCommand:
    """The current room's owner and operators (``info``); ``register`` or ``drop`` it."""

    action: ops.RoomAction


@dataclass(frozen=True, slots=True)
class Highlight:
    """Mark lines with ``word`` as mentioning you (None: list the words)."""

    word: str | None


@dataclass(frozen=True, slots=True)
class Unhighlight:
    word: str


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Invalid:
    """A command the user got wrong; ``message`` says how to get it right."""

    message: str


Command = (
    Say
    | Join
    | Part
    | Msg
    | SetTopic
    | Quit
    | ListRooms
    | Who
    | SetAway
    | Whois
    | Kick
    | Invite
    | Mode
    | RoomCommand
    | Highlight
    | Unhighlight
    | Help
    | Invalid
)

HELP = (
    ("/join ROOM [KEY]", "join a room (it is created if new); KEY for a room with a key"),
    ("/part [ROOM]", "leave a room, or close a direct conversation"),
    ("/msg USER [TEXT]", "open a direct conversation, and send TEXT"),
    ("/me ACTION", "say what you do: /me pours the tea"),
    ("/topic [#ROOM] TEXT", "set the topic (room operators and admins)"),
    ("/rooms", "list the rooms to join"),
    ("/who", "refresh the member list"),
    ("/whois USER", "who a user is: online, rooms, away, idle, how they came in"),
    ("/away [TEXT]", "set yourself away; /away alone (or /back): back"),
    ("/kick USER [REASON]", "room operators: remove a user from this room"),
    ("/invite USER", "let a user into this room (an invite-only one too)"),
    ("/mode [+/-MODES [ARGS]]", "see or change this room's modes"),
    ("/room [info|register|drop]", "this room's owner and operators; register it as yours"),
    ("/highlight [WORD]", "lines with WORD mention you too (alone: the list)"),
    ("/unhighlight WORD", "stop that"),
    ("/quit [REASON]", "leave teahouse"),
    ("//TEXT", "say a line that starts with /"),
)


def room_name(word: str) -> str:
    """``#Lobby`` and ``lobby`` both name the room ``lobby`` (room names are lower-case)."""
    return word.removeprefix("#").lower()


def parse_input(line: str) -> Command | None:
    """The command typed in ``line``; None for a blank line (nothing to do)."""
    if not line.strip():
        return None
    if line.startswith("//"):
        return Say(line[1:])
    if not line.startswith("/"):
        return Say(line)
    name, _, rest = line[1:].partition(" ")
    name = name.lower()
    rest = rest.strip()
    match name:
        case "me":
            if not rest:
                return Invalid("/me needs an action: /me pours the tea")
            return Say(ACTION_PREFIX + rest)
        case "join" | "j":
            words = rest.split()
            if not 1 <= len(words) <= 2:
                return Invalid("/join needs a room name (and its key, if it has one): /join lobby")
            return Join(room_name(words[0]), words[1] if len(words) == 2 else None)
        case "part" | "leave" | "close":
            return Part(room_name(rest.split()[0]) if rest else None)
        case "msg" | "query" | "dm":
            user, _, text = rest.partition(" ")
            if not user:
                return Invalid("/msg needs a user name: /msg bob hello")
            return Msg(user, text.strip() or None)
        case "topic":
            if rest.startswith("#"):
                room, _, text = rest.partition(" ")
                return SetTopic(room_name(room), text.strip())
            return SetTopic(None, rest)
        case "quit" | "exit":
            return Quit(rest or None)
        case "rooms" | "list":
            return ListRooms()
        case "who" | "names":
            return Who()
        case "whois":
            if not rest or " " in rest:
                return Invalid("/whois needs one user name: /whois bob")
            return Whois(rest)
        case "away":
            return SetAway(rest or None)
        case "back":
            return SetAway(None)
        case "kick":
            user, _, reason = rest.partition(" ")
            if not user:
                return Invalid("/kick needs a user name: /kick bob [reason]")
            return Kick(user, reason.strip() or None)
        case "invite":
            if not rest or " " in rest:
                return Invalid("/invite needs one user name: /invite bob")
            return Invite(rest)
        case "mode":
            words = rest.split()
            if not words:
                return Mode(None)
            if words[0][0] not in "+-" or not all(ch.isalpha() or ch in "+-" for ch in words[0]):
                return Invalid("/mode changes a room's modes: /mode +k secret, /mode -k")
            return Mode(words[0], tuple(words[1:]))
        case "room":
            action = ops.ROOM_ACTIONS.get(rest.lower() or "info")
            if action is None:
                return Invalid("/room info, /room register or /room drop")
            return RoomCommand(action)
        case "highlight":
            return Highlight(rest or None)
        case "unhighlight":
            if not rest:
                return Invalid("/unhighlight needs the word: /unhighlight scones")
            return Unhighlight(rest)
        case "help" | "?":
            return Help()
        case _:
            return Invalid(f"unknown command /{name}; /help lists them (//{name} says it)")
