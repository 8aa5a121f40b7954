"""The input line of the terminal client: ``/`` commands, input history, Tab completion,
errors in plain words.

Pure: parsing and wording only. The app runs what :func:`parse` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from teahouse.client.errors import ClientError, ConnectFailed, ServerError

HELP = """\
/join ROOM [KEY]     join a room and show it (KEY: for a room with a key)
/part [ROOM]         leave a room (default: this one)
/msg USER TEXT       send a direct message
/query USER          open a direct conversation with USER
/me TEXT             an action: "* alice waves"
/topic [#ROOM] TEXT  set a room's topic
/history [N]         load N (default 50) older messages of this room
/rooms               list the rooms on the server
/who [ROOM]          who is in a room
/whois USER          who a user is: online, rooms, away, how they came in
/away [TEXT]         set yourself away; /away alone (or /back): back
/nick NEW            (an account keeps its name; only IRC guests change nick)
/kick USER [REASON]  room operators: remove a user from this room
/invite USER [#ROOM] let a user into a room (an invite-only one too)
/mode [#ROOM] [+/-MODES [ARGS]]  see or change a room's modes
/room [info|register|drop] [#ROOM]  owner, operators, modes; register it as yours
/kill USER [REASON]  admins: disconnect a user from the whole server
/ignore [USER]       hide a user's messages and notices (alone: the list)
/unignore USER       show them again
/highlight [WORD]    mark lines with WORD as mentioning you (alone: the list)
/unhighlight WORD    stop marking them
/close               close this conversation (leaves a room)
/quit [REASON]       leave
Any other line is said here ("//text" says "/text").
Keys: Tab completes a name or a command (again: the next match; in an empty line: next
pane), Ctrl+N / Ctrl+P or Alt+Down / Alt+Up next / previous conversation, Up / Down
input history, PageUp / PageDown scroll (PageUp at the top loads older messages),
Ctrl+Q quit."""

DEFAULT_HISTORY = 50

COMMANDS = frozenset(
    {
        "join",
        "part",
        "msg",
        "query",
        "me",
        "topic",
        "history",
        "rooms",
        "who",
        "whois",
        "away",
        "back",
        "nick",
        "kick",
        "kill",
        "invite",
        "mode",
        "room",
        "ignore",
        "unignore",
        "highlight",
        "unhighlight",
        "close",
        "quit",
        "help",
    }
)

NICK_COMMANDS = frozenset({"msg", "query", "whois", "kick", "kill", "invite", "ignore", "unignore"})
"""Commands whose first argument is a user name: Tab completes it from every known name."""


@dataclass(frozen=True, slots=True)
class Command:
    """``/name rest``: ``args`` is ``rest`` split on whitespace."""

    name: str
    rest: str

    @property
    def args(self) -> list[str]:
        return self.rest.split()


@dataclass(frozen=True, slots=True)
class Say:
    """A line to say in the current conversation."""

    text: str


def parse(line: str) -> Command | Say | None:
    """What an input line asks for; None for a blank line.

    ``/word rest`` is a command (the name lower-cased, ``/exit`` is ``/quit``); ``//text``
    says ``/text``; anything else is said.
    """
    stripped = line.strip()
    if not stripped:
        return None
    if stripped.startswith("/") and not stripped.startswith("//"):
        word, _, rest = stripped[1:].partition(" ")
        name = word.lower()
        return Command("quit" if name == "exit" else name, rest.strip())
    return Say(stripped.removeprefix("/") if stripped.startswith("//") else stripped)


def room_name(word: str) -> str:
    """``#lobby`` and ``lobby`` both name room ``lobby``."""
    return word.removeprefix("#")


class InputHistory:
    """Lines typed before, for Up/Down (newest last), like a shell's.

    :meth:`older` and :meth:`newer` move through them; the line being typed when you first
    press Up is kept and comes back when you go down past the newest.
    """

    def __init__(self, size: int = 500) -> None:
        self._lines: list[str] = []
        self._size = size
        self._at: int | None = None
        self._draft = ""

    def add(self, line: str) -> None:
        """Remember a submitted line (not a blank one, nor the same line twice in a row)."""
        self._at = None
        if not line.strip() or (self._lines and self._lines[-1] == line):
            return
        self._lines.append(line)
        if len(self._lines) > self._size:
            del self._lines[0]

    def older(self, current: str) -> str | None:
        """The line before; None at the oldest (leave the input as it is)."""
        if not self._lines:
            return None
        if self._at is None:
            self._draft = current
            self._at = len(self._lines)
        if self._at == 0:
            return None
        self._at -= 1
        return self._lines[self._at]

    def newer(self) -> str | None:
        """The line after, or the draft past the newest; None when not browsing."""
        if self._at is None:
            return None
        self._at += 1
        if self._at >= len(self._lines):
            self._at = None
            return self._draft
        return self._lines[self._at]


@dataclass(slots=True)
class _Cycle:
    before: str
    after: str
    matches: list[str]
    suffix: str
    index: int = 0
    produced: tuple[str, int] = ("", 0)


class Completer:
    """Tab completion of names and commands, as irssi and WeeChat do it.

    :meth:`complete` completes the word before the cursor: a ``/command`` at the start of
    the line, else a name from ``names(before)`` (``before`` is the line up to the word,
    so the app can offer room members in a sentence and every known name after ``/msg``).
    A name at the start of the line gets ``": "``, elsewhere ``" "``. Tab again right away
    replaces it with the next match, round and round; any other change starts afresh.
    """

    def __init__(self) -> None:
        self._cycle: _Cycle | None = None

    def complete(
        self, value: str, cursor: int, names: Callable[[str], list[str]]
    ) -> tuple[str, int] | None:
        """The new line and cursor position, or None when nothing matches."""
        cycle = self._cycle
        if cycle is not None and (value, cursor) == cycle.produced:
            cycle.index = (cycle.index + 1) % len(cycle.matches)
        else:
            cycle = self._start(value, cursor, names)
            self._cycle = cycle
            if cycle is None:
                return None
        done = cycle.before + cycle.matches[cycle.index] + cycle.suffix
        cycle.produced = (done + cycle.after, len(done))
        return cycle.produced

    def reset(self) -> None:
        self._cycle = None

    @staticmethod
    def _start(value: str, cursor: int, names: Callable[[str], list[str]]) -> _Cycle | None:
        head = value[:cursor]
        start = head.rfind(" ") + 1
        word = head[start:]
        if word.startswith("@"):  # "@bob": complete the name, keep the @
            start, word = start + 1, word[1:]
        if not word:
            return None
        before, after = value[:start], value[cursor:]
        if start == 0 and word.startswith("/"):
            pool = ["/" + name for name in COMMANDS]
            suffix = " "
        else:
            pool = names(before)
            suffix = ": " if start == 0 else " "
        low = word.lower()
        matches = sorted({n for n in pool if n.lower().startswith(low)}, key=str.lower)
        if not matches:
            return None
        if after.startswith(" "):
            suffix = suffix.rstrip(" ")
        return _Cycle(before, after, matches, suffix)


def completes_any_name(before: str) -> bool:
    """True when the word being completed is the user argument of a command like ``/msg``
    (every known name fits), not a word of a sentence (the room's members fit)."""
    words = before.split()
    return len(words) == 1 and words[0].startswith("/") and words[0][1:].lower() in NICK_COMMANDS


_PLAIN = {
    "bad_credentials": "Wrong user name or password.",
    "user_taken": "That user name is taken: choose another, or log in instead of registering.",
    "registration_closed": (
        "This server does not take new accounts (or the invite code is missing, unknown or used)."
    ),
    "no_such_room": "There is no such room.",
    "no_such_user": "There is no such user.",
    "unknown_type": "This server does not support that yet.",
}


def plain_error(exc: ClientError) -> str:
    """An error from the client library, said for people."""
    if isinstance(exc, ServerError):
        if exc.code == "throttled":
            wait = f"{exc.retry_after:.0f} s" if exc.retry_after else "a moment"
            return f"Too many attempts: wait {wait}, then try again."
        if exc.code in _PLAIN:
            return _PLAIN[exc.code]
        if exc.code == "not_in_room":
            return f"Not in the room: {exc.message}."
        if exc.code in ("weak_password", "invalid_name", "invalid_field", "forbidden", "banned"):
            label = exc.code.replace("_", " ")
            return f"{label[0].upper()}{label[1:]}: {exc.message}"
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, ConnectFailed):
        return f"Cannot reach the server: {exc}"
    return str(exc)
