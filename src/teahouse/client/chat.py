"""``teahouse chat``: a line-mode terminal client on top of :class:`teahouse.client.Client`.

On a terminal it reads lines with prompt_toolkit (incoming traffic is printed above the
prompt; a bottom toolbar shows the connection state and the heartbeat round trip). When
stdin is not a terminal it reads plain lines from stdin and prints plain lines, so scripts
and tests can drive it through a pipe::

    printf 'secret-pw\\n/join lobby\\nhello\\n/quit\\n' |
        teahouse chat host:6680 --user alice --password-stdin

Commands: ``/join ROOM [KEY]``, ``/part [ROOM]``, ``/msg USER TEXT``, ``/me ACTION``,
``/rooms``, ``/who [ROOM]``, ``/history [N]``, ``/topic [#ROOM] TEXT``, ``/away [TEXT]``,
``/back``, ``/whois USER``, ``/nick``, ``/kick USER [REASON]``, ``/invite USER [#ROOM]``,
``/mode ...``, ``/room [info|register|drop] [#ROOM]``, ``/kill USER [REASON]``,
``/ignore [USER]``, ``/unignore USER``, ``/quit [REASON]``, ``/help``. Any other line is
said in the current room (start it with ``//`` to say a line that begins with ``/``). End
of input quits.

Everything the server sends passes through :func:`printable` before it is printed: a
message cannot move the cursor, change colours, set the window title or hide a link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

from teahouse.client import operations as ops
from teahouse.client.client import Client
from teahouse.client.errors import ClientClosed, ClientError, ServerError
from teahouse.client.events import (
    ClientEvent,
    Connected,
    Disconnected,
    EventsDropped,
    Reconnecting,
)
from teahouse.client.policy import SeenIds
from teahouse.client.printable import printable
from teahouse.client.settings import ChatSettings, default_path
from teahouse.protocol import frames as f
from teahouse.protocol.names import is_user_name

HELP = """\
commands:
  /join ROOM [KEY]    join a room (it becomes the current room); KEY for a room with one
  /part [ROOM]        leave a room (default: the current one)
  /msg USER TEXT      send a direct message
  /me ACTION          say what you do: "* alice waves"
  /rooms              list the rooms
  /who [ROOM]         who is in a room
  /whois USER         who a user is (online, rooms, away)
  /history [N]        show N (default 20) older messages of the current room
  /topic [#ROOM] TEXT set a room's topic
  /away [TEXT]        set yourself away (without TEXT, or /back: back)
  /mode [#ROOM] [+/-MODES [ARGS]]  see or change a room's modes
  /kick USER [REASON] room operators: remove a user from the current room
  /invite USER [#ROOM]  let a user into a room (an invite-only one too)
  /room [info|register|drop] [#ROOM]  a room's owner and operators; register it as yours
  /kill USER [REASON] admins: disconnect a user from the whole server
  /ignore [USER]      hide a user's messages (without USER: list); /unignore USER
  /quit [REASON]      leave
anything else is said in the current room ("//text" says "/text")"""

DEFAULT_HISTORY = 20

# -- formatting (pure) --------------------------------------------------------------------


def clock(ts: str) -> str:
    """``HH:MM`` in local time from a message's ISO 8601 UTC ``ts``."""
    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%H:%M")
    except ValueError:
        return "--:--"


def room_of(word: str) -> str:
    """``#lobby`` and ``lobby`` both name room ``lobby``."""
    return word.removeprefix("#")


ACTION_PREFIX = "/me "
"""A message whose text starts with this is an action (``/me waves``), as IRC's CTCP ACTION."""


def format_message(message: f.Message, me: str) -> str:
    """``[10:00] #lobby <alice> hi``; DMs as ``[10:00] *alice* hi`` / ``-> *bob* hi``.

    An action (``/me waves``) is ``[10:00] #lobby * alice waves``; as a direct message
    ``[10:00] (*) alice waves``, or ``-> *bob* * alice waves`` when it is yours.
    """
    when = f"[{clock(message.ts)}]"
    sender, text = printable(message.sender), printable(message.text)
    if text.startswith(ACTION_PREFIX):
        action = f"* {sender} {text[len(ACTION_PREFIX) :]}"
        if message.dm or message.room is None:
            if message.sender.lower() == me.lower():
                return f"{when} -> *{printable(message.to or '')}* {action}"
            return f"{when} (*) {action[2:]}"
        return f"{when} #{printable(message.room)} {action}"
    if message.dm or message.room is None:
        if message.sender.lower() == me.lower():
            return f"{when} -> *{printable(message.to or '')}* {text}"
        return f"{when} *{sender}* {text}"
    return f"{when} #{printable(message.room)} <{sender}> {text}"


def _lines(text: str) -> str:
    """A multi-line text from the server (an operator command's answer), each line
    printable: its own newlines stay line breaks, nothing else does."""
    return "\n".join(printable(line) for line in text.split("\n"))


def format_event(event: ClientEvent, me: str) -> str | None:
    """One line for an event, or None for events not worth a line."""
    p = printable
    match event:
        case f.Message():
            return format_message(event, me)
        case f.Joined(room=room, topic=topic, members=members):
            line = f"-- joined #{p(room)} ({len(members)} here: {p(', '.join(members))})"
            return line + (f"\n-- topic of #{p(room)}: {p(topic)}" if topic else "")
        case f.Parted(room=room):
            return f"-- left #{p(room)}"
        case f.Presence(state="left", reason="kicked", by=str()):
            return "-- " + p(ops.kick_line(event, me))
        case f.Presence(room=room, user=user, state=state, reason=reason):
            verb = "joined" if state == "joined" else "left"
            return f"-- {p(user)} {verb} #{p(room)}" + (f" ({p(reason)})" if reason else "")
        case f.Invited():
            return "-- " + p(ops.invited_line(event, me))
        case f.TopicChanged(room=room, text=text, by=by):
            if not text:
                return f"-- {p(by)} cleared the topic of #{p(room)}"
            return f"-- {p(by)} set the topic of #{p(room)}: {p(text)}"
        case f.Notice(text=text, by=by, room=room, to=to):
            if room is not None:
                return f"-- #{p(room)} -{p(by)}- {p(text)}"
            if to is not None:
                return f"-- -{p(by)}- {p(text)}"
            return f"!! announcement from {p(by)}: {p(text)}"
        case f.Error(code=code, message=message):
            return f"!! {p(code)}: {p(message)}"
        case f.ReplayEnd(truncated=True, room=room, oldest_id=oldest):
            if room is None:
                return "-- more direct messages were waiting than shown"
            return f"-- #{p(room)}: older messages not shown (before id {oldest}); /history"
        case f.AdminResult(text=text):
            return _lines(text)
        case f.AwayChanged(user=user) if user.lower() == me.lower():
            return "-- " + p(ops.away_line(event, me))  # said again after a reconnect
        case f.AwayChanged():
            return None  # another user's away state: /whois tells it
        case f.ModeChanged():
            return "-- " + p(ops.mode_line(event, me))
        case Connected(user=user, server=server, reconnect=again):
            return f"-- {'reconnected' if again else 'connected'} as {p(user)} ({p(server)})"
        case Disconnected(reason=reason, will_reconnect=will):
            return f"-- disconnected ({p(reason)})" + ("; reconnecting" if will else "")
        case Reconnecting(delay=delay, attempt=attempt):
            return f"-- reconnecting in {delay:.1f} s (attempt {attempt})"
        case EventsDropped(count=count):
            return f"!! {count} events dropped (output too slow); /history to catch up"
        case _:
            return None


class ChatUI:
    """The commands and the output of ``teahouse chat``, independent of the terminal.

    Every line goes to ``out`` through :func:`printable` (a second guard: the formatting
    already made each field printable). ``settings`` hold the ignore list (not saved when
    its ``path`` is None).
    """

    def __init__(
        self,
        client: Client,
        out: Callable[[str], None],
        settings: ChatSettings | None = None,
    ) -> None:
        self.client = client
        self._print = out
        self.settings = settings or ChatSettings()
        self.server = f"{client.host}:{client.port}"
        self.current: str | None = None
        self._printed = SeenIds()
        self._oldest: dict[str, int] = {}
        self._kicks: deque[tuple[str, str, str]] = deque(maxlen=16)
        """Kicks shown lately: the kicker gets the reply to ``kick`` and the room's
        presence too, and one line is enough."""

    @property
    def me(self) -> str:
        return self.client.user

    def out(self, text: str) -> None:
        for line in text.split("\n"):
            self._print(printable(line))

    def ignoring(self, event: ClientEvent) -> bool:
        """True for a message or notice from a user on the ignore list."""
        match event:
            case f.Message(sender=who) | f.Notice(by=who):
                return who.lower() != self.me.lower() and who.lower() in self.settings.ignored(
                    self.server
                )
            case _:
                return False

    def show(self, event: ClientEvent) -> None:
        if isinstance(event, f.Message):
            if not self._printed.add(event.id):
                return
            if event.room is not None and not event.dm:
                self._oldest[event.room] = min(event.id, self._oldest.get(event.room, event.id))
        if isinstance(event, f.Joined) and self.current is None:
            self.current = event.room
        if isinstance(event, f.Presence) and event.reason == "kicked" and event.by:
            kick = (event.room, event.user.lower(), event.by.lower())
            if kick in self._kicks:
                return
            self._kicks.append(kick)
        if self.ignoring(event):
            return
        line = format_event(event, self.me)
        if line is not None:
            self.out(line)

    def toolbar(self) -> str:
        rtt = self.client.rtt
        if rtt is None:
            ping = "rtt -"
        else:
            ping = f"rtt {rtt * 1000:.1f} ms" if rtt < 0.01 else f"rtt {rtt * 1000:.0f} ms"
        room = f"#{self.current}" if self.current else "no room"
        where = f"{self.client.host}:{self.client.port}"
        return f" {self.me} @ {where} | {self.client.state.value} | {ping} | {room} "

    def prompt(self) -> str:
        return f"[#{self.current}] " if self.current else "> "

    async def handle(self, line: str) -> bool:
        """Run one input line; False when the user quits."""
        line = line.strip()
        if not line:
            return True
        try:
            if line.startswith("/") and not line.startswith("//"):
                word, _, rest = line[1:].partition(" ")
                return await self._command(word.lower(), rest.strip())
            await self._say(line.removeprefix("/"))
        except ServerError as exc:
            self.out(f"!! {printable(exc.code)}: {printable(exc.message)}")
        except ClientClosed:
            return False
        except ClientError as exc:
            self.out(f"!! {printable(str(exc))}")
        return True

    async def _say(self, text: str) -> None:
        if self.current is None:
            self.out("!! join a room first: /join ROOM")
            return
        self.show(await self.client.say(self.current, text))

    def _notes(self, lines: list[str]) -> None:
        for line in lines:
            self.out("-- " + printable(line))

    async def _command(self, word: str, rest: str) -> bool:
        client = self.client
        args = rest.split()
        room: str | None
        match word:
            case "quit" | "exit":
                await client.quit(rest or None)
                return False
            case "join":
                joining = ops.join_words(args)
                if isinstance(joining, str):
                    self.out("!! " + joining)
                    return True
                joined = await client.join(*joining)
                self.show(joined)
                self.current = joined.room
            case "part":
                room = room_of(args[0]) if args else self.current
                if room is None:
                    self.out("!! not in a room")
                    return True
                self.show(await client.part(room))
                if room == self.current:
                    others = sorted(client.rooms_joined)
                    self.current = others[0] if others else None
            case "msg" if len(args) >= 2:
                text = rest.split(None, 1)[1]
                self.show(await client.dm(args[0], text))
            case "me" if rest:
                await self._say(ACTION_PREFIX + rest)
            case "away":
                self._notes(await ops.away(client, rest or None))
            case "back":
                self._notes(await ops.away(client, None))
            case "whois" if args:
                self._notes(await ops.whois(client, args[0]))
            case "nick" if args:
                self._notes(ops.nick(self.me, args[0]))
            case "kick" | "kill":
                await self._kick(word, args, rest)
            case "invite" if args:
                room = room_of(args[1]) if len(args) > 1 else self.current
                if room is None:
                    self.out("!! which room? /invite USER #ROOM")
                    return True
                self._notes(await ops.invite(client, room, args[0]))
            case "room":
                asked = ops.room_words(args, self.current)
                if isinstance(asked, str):
                    self.out("!! " + asked)
                    return True
                self._notes(await ops.room_action(client, *asked))
            case "mode":
                parsed = ops.parse_mode(args, self.current)
                if isinstance(parsed, str):
                    self.out("!! " + parsed)
                    return True
                self._notes(await ops.mode(client, *parsed))
            case "ignore" | "unignore":
                self._ignore(word, args)
            case "rooms":
                listing = await client.rooms()
                if not listing.rooms:
                    self.out("-- no rooms yet")
                for info in listing.rooms:
                    topic = f": {printable(info.topic)}" if info.topic else ""
                    self.out(f"-- #{printable(info.room)} ({info.members} online){topic}")
            case "who":
                room = room_of(args[0]) if args else self.current
                if room is None:
                    self.out("!! which room? /who ROOM")
                    return True
                members = await client.who(room)
                names = printable(", ".join(members.members)) or "nobody"
                self.out(f"-- #{printable(members.room)}: {names}")
            case "history":
                await self._history(args)
            case "topic" if args:
                await self._topic(rest)
            case "help":
                self.out(HELP)
            case _:
                self.out(f"!! unknown command or missing argument: /{word}\n{HELP}")
        return True

    async def _kick(self, word: str, args: list[str], rest: str) -> None:
        parsed = ops.kick_words(args, rest)
        if isinstance(parsed, str):
            self.out(f"!! {parsed}".replace("/kick", f"/{word}"))
            return
        target, reason = parsed
        if word == "kill":
            self._notes(await ops.kill(self.client, target, reason))
            return
        if self.current is None:
            self.out("!! join a room first: /kick removes a user from the current room")
            return
        kicked = await ops.kick(self.client, self.current, target, reason)
        if kicked is None:
            self.out("-- " + ops.unsupported("kick"))
        else:
            self.show(kicked)

    def _ignore(self, word: str, args: list[str]) -> None:
        settings, server = self.settings, self.server
        if not args:
            names = sorted(settings.ignore.get(server, []), key=str.lower)
            self.out("-- ignoring: " + (", ".join(names) if names else "nobody"))
            return
        name = args[0]
        if not is_user_name(name):
            self.out(f"!! {name!r} is not a user name")
            return
        if word == "ignore":
            changed = settings.ignore_user(server, name)
            self.out(f"-- ignoring {name}" if changed else f"-- {name} was ignored already")
        else:
            changed = settings.unignore_user(server, name)
            self.out(f"-- no longer ignoring {name}" if changed else f"-- {name} was not ignored")
        if changed and (problem := settings.save()) is not None:
            self.out("!! " + problem)

    async def _history(self, args: list[str]) -> None:
        if self.current is None:
            self.out("!! join a room first")
            return
        try:
            count = int(args[0]) if args else DEFAULT_HISTORY
        except ValueError:
            count = 0
        if count < 1:
            self.out("!! /history N: N is a number, 1 or more")
            return
        room = self.current
        got: list[f.Message] = []
        async for page in self.client.history_pages(
            room, before=self._oldest.get(room), limit=count
        ):
            got[:0] = page.messages  # a page may hold fewer than asked while there is more
            if len(got) >= count:
                break
        got = got[-count:]
        if not got:
            self.out(f"-- no older messages in #{room}")
            return
        self.out(f"-- history of #{room}:")
        for message in got:
            self.out(format_message(message, self.me))
        self._oldest[room] = got[0].id

    async def _topic(self, rest: str) -> None:
        first, _, text = rest.partition(" ")
        if first.startswith("#") or (first in self.client.rooms_joined and text.strip()):
            room: str | None = room_of(first)
            text = text.strip()
        else:
            room, text = self.current, rest
        if room is None or not text:
            self.out("!! /topic [#ROOM] TEXT")
            return
        self.show(await self.client.topic(room, text))


# -- running it ---------------------------------------------------------------------------


def run_chat(
    host: str,
    port: int,
    user: str,
    password: str,
    register: bool,
    rooms: list[str],
    *,
    tls: ssl.SSLContext | None = None,
    invite: str | None = None,
) -> int:
    """Run ``teahouse chat`` until /quit or end of input; the process exit status.

    0 after /quit or end of input, 1 when the server refused the login or the session
    ended for good, 130 on Ctrl-C outside the prompt.
    """
    # The terminal shows what matters (disconnects, errors); log records would tear the prompt.
    logging.getLogger("teahouse.client").addHandler(logging.NullHandler())
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        client = Client(
            host,
            port,
            user,
            password,
            register=register,
            rooms=[room_of(r) for r in rooms],
            ssl=tls,
            invite=invite,
        )
        return asyncio.run(_chat(client, interactive))
    except KeyboardInterrupt:
        return 130


async def _chat(client: Client, interactive: bool) -> int:
    try:
        await client.connect()
    except ClientError as exc:
        print(f"teahouse chat: {printable(str(exc))}", file=sys.stderr)
        return 1
    try:
        if interactive:
            return await _run_terminal(client)
        return await _run_pipe(client)
    finally:
        await client.close()


def _settings() -> ChatSettings:
    settings = ChatSettings.load(default_path())
    if settings.warning:
        print(f"teahouse chat: {printable(settings.warning)}", file=sys.stderr)
    return settings


async def _pump_events(client: Client, ui: ChatUI) -> None:
    async for event in client.events():
        ui.show(event)


async def _until_first(user_side: asyncio.Task[bool], events: asyncio.Task[None]) -> int:
    """Wait for the input loop (the user quit) or the event stream (the session ended)."""
    await asyncio.wait({user_side, events}, return_when=asyncio.FIRST_COMPLETED)
    if user_side.done():
        user_side.result()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await events  # print what arrived before bye
        events.cancel()
        return 0
    user_side.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await user_side
    return 1


async def _run_pipe(client: Client) -> int:
    def out(line: str) -> None:
        print(line, flush=True)

    ui = ChatUI(client, out, _settings())
    lines = _stdin_lines()

    async def read_loop() -> bool:
        while True:
            line = await lines.get()
            if line is None or not await ui.handle(line):
                if line is None:
                    await client.quit()
                return True

    return await _until_first(
        asyncio.create_task(read_loop()), asyncio.create_task(_pump_events(client, ui))
    )


def _stdin_lines() -> asyncio.Queue[str | None]:
    """Lines of ``sys.stdin`` (None at the end), read by a daemon thread.

    ``sys.stdin`` itself is read (not fd 0): the CLI may already have read the password
    through it, and its buffer may hold the lines after it.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass  # the loop is closed: nobody is listening any more

    threading.Thread(target=reader, name="teahouse-chat-stdin", daemon=True).start()
    return queue


async def _run_terminal(client: Client) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.patch_stdout import patch_stdout

    ui = ChatUI(client, print, _settings())
    session: PromptSession[str] = PromptSession(bottom_toolbar=ui.toolbar, refresh_interval=0.5)

    async def read_loop() -> bool:
        while True:
            try:
                line = await session.prompt_async(ui.prompt)
            except (EOFError, KeyboardInterrupt):
                await client.quit()
                return True
            if not await ui.handle(line):
                return True

    with patch_stdout(raw=True):
        print("teahouse chat: /help lists the commands")
        return await _until_first(
            asyncio.create_task(read_loop()), asyncio.create_task(_pump_events(client, ui))
        )
