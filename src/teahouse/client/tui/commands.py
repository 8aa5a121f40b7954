"""The input line of the terminal client: ``/`` commands, input history, errors in plain words.

Pure: parsing and wording only. The app runs what :func:`parse` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from teahouse.client.errors import ClientError, ConnectFailed, ServerError

HELP = """\
/join ROOM           join a room and show it
/part [ROOM]         leave a room (default: this one)
/msg USER TEXT       send a direct message
/query USER          open a direct conversation with USER
/me TEXT             an action: "* alice waves"
/topic [#ROOM] TEXT  set a room's topic
/history [N]         load N (default 50) older messages of this room
/rooms               list the rooms on the server
/who [ROOM]          who is in a room
/close               close this conversation (leaves a room)
/quit [REASON]       leave
Any other line is said here ("//text" says "/text").
Keys: Ctrl+N / Ctrl+P or Alt+Down / Alt+Up next / previous conversation, Tab next pane,
Up / Down input history, PageUp / PageDown scroll (PageUp at the top loads older messages),
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
        "close",
        "quit",
        "help",
    }
)


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


_PLAIN = {
    "bad_credentials": "Wrong user name or password.",
    "user_taken": "That user name is taken: choose another, or log in instead of registering.",
    "registration_closed": (
        "This server does not take new accounts (or the invite code is missing, unknown or used)."
    ),
    "not_in_room": "You are not in that room: /join it first.",
    "no_such_room": "There is no such room.",
    "no_such_user": "There is no such user.",
}


def plain_error(exc: ClientError) -> str:
    """An error from the client library, said for people."""
    if isinstance(exc, ServerError):
        if exc.code == "throttled":
            wait = f"{exc.retry_after:.0f} s" if exc.retry_after else "a moment"
            return f"Too many attempts: wait {wait}, then try again."
        if exc.code in _PLAIN:
            return _PLAIN[exc.code]
        if exc.code in ("weak_password", "invalid_name", "invalid_field", "forbidden", "banned"):
            label = exc.code.replace("_", " ")
            return f"{label[0].upper()}{label[1:]}: {exc.message}"
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, ConnectFailed):
        return f"Cannot reach the server: {exc}"
    return str(exc)
