"""``teahouse chat``: a line-mode terminal client on top of :class:`teahouse.client.Client`.

On a terminal it reads lines with prompt_toolkit (incoming traffic is printed above the
prompt; a bottom toolbar shows the connection state and the heartbeat round trip). When
stdin is not a terminal it reads plain lines from stdin and prints plain lines, so scripts
and tests can drive it through a pipe::

    printf 'secret-pw\\n/join lobby\\nhello\\n/quit\\n' |
        teahouse chat host:6680 --user alice --password-stdin

Commands: ``/join ROOM``, ``/part [ROOM]``, ``/msg USER TEXT``, ``/rooms``,
``/who [ROOM]``, ``/history [N]``, ``/topic [#ROOM] TEXT``, ``/quit [REASON]``,
``/help``. Any other line is said in the current room (start it with ``//`` to say a line
that begins with ``/``). End of input quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import sys
import threading
from collections.abc import Callable
from datetime import datetime

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
from teahouse.protocol import frames as f

HELP = """\
commands:
  /join ROOM          join a room (it becomes the current room)
  /part [ROOM]        leave a room (default: the current one)
  /msg USER TEXT      send a direct message
  /rooms              list the rooms
  /who [ROOM]         who is in a room
  /history [N]        show N (default 20) older messages of the current room
  /topic [#ROOM] TEXT set a room's topic
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


def format_message(message: f.Message, me: str) -> str:
    """``[10:00] #lobby <alice> hi``; DMs as ``[10:00] *alice* hi`` / ``-> *bob* hi``."""
    when = f"[{clock(message.ts)}]"
    if message.dm or message.room is None:
        if message.sender.lower() == me.lower():
            return f"{when} -> *{message.to}* {message.text}"
        return f"{when} *{message.sender}* {message.text}"
    return f"{when} #{message.room} <{message.sender}> {message.text}"


def format_event(event: ClientEvent, me: str) -> str | None:
    """One line for an event, or None for events not worth a line."""
    match event:
        case f.Message():
            return format_message(event, me)
        case f.Joined(room=room, topic=topic, members=members):
            line = f"-- joined #{room} ({len(members)} here: {', '.join(members)})"
            return line + (f"\n-- topic of #{room}: {topic}" if topic else "")
        case f.Parted(room=room):
            return f"-- left #{room}"
        case f.Presence(room=room, user=user, state=state, reason=reason):
            verb = "joined" if state == "joined" else "left"
            return f"-- {user} {verb} #{room}" + (f" ({reason})" if reason else "")
        case f.TopicChanged(room=room, text=text, by=by):
            if not text:
                return f"-- {by} cleared the topic of #{room}"
            return f"-- {by} set the topic of #{room}: {text}"
        case f.Notice(text=text, by=by):
            return f"!! notice from {by}: {text}"
        case f.Error(code=code, message=message):
            return f"!! {code}: {message}"
        case f.ReplayEnd(truncated=True, room=room, oldest_id=oldest):
            if room is None:
                return "-- more direct messages were waiting than shown"
            return f"-- #{room}: older messages not shown (before id {oldest}); /history"
        case f.AdminResult(text=text):
            return text
        case Connected(user=user, server=server, reconnect=again):
            return f"-- {'reconnected' if again else 'connected'} as {user} ({server})"
        case Disconnected(reason=reason, will_reconnect=will):
            return f"-- disconnected ({reason})" + ("; reconnecting" if will else "")
        case Reconnecting(delay=delay, attempt=attempt):
            return f"-- reconnecting in {delay:.1f} s (attempt {attempt})"
        case EventsDropped(count=count):
            return f"!! {count} events dropped (output too slow); /history to catch up"
        case _:
            return None


class ChatUI:
    """The commands and the output of ``teahouse chat``, independent of the terminal."""

    def __init__(self, client: Client, out: Callable[[str], None]) -> None:
        self.client = client
        self.out = out
        self.current: str | None = None
        self._printed = SeenIds()
        self._oldest: dict[str, int] = {}

    @property
    def me(self) -> str:
        return self.client.user

    def show(self, event: ClientEvent) -> None:
        if isinstance(event, f.Message):
            if not self._printed.add(event.id):
                return
            if event.room is not None and not event.dm:
                self._oldest[event.room] = min(event.id, self._oldest.get(event.room, event.id))
        if isinstance(event, f.Joined) and self.current is None:
            self.current = event.room
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
            self.out(f"!! {exc.code}: {exc.message}")
        except ClientClosed:
            return False
        except ClientError as exc:
            self.out(f"!! {exc}")
        return True

    async def _say(self, text: str) -> None:
        if self.current is None:
            self.out("!! join a room first: /join ROOM")
            return
        self.show(await self.client.say(self.current, text))

    async def _command(self, word: str, rest: str) -> bool:
        client = self.client
        args = rest.split()
        room: str | None
        match word:
            case "quit" | "exit":
                await client.quit(rest or None)
                return False
            case "join" if args:
                room = room_of(args[0])
                self.show(await client.join(room))
                self.current = room
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
            case "rooms":
                listing = await client.rooms()
                if not listing.rooms:
                    self.out("-- no rooms yet")
                for info in listing.rooms:
                    topic = f": {info.topic}" if info.topic else ""
                    self.out(f"-- #{info.room} ({info.members} online){topic}")
            case "who":
                room = room_of(args[0]) if args else self.current
                if room is None:
                    self.out("!! which room? /who ROOM")
                    return True
                members = await client.who(room)
                self.out(f"-- #{members.room}: {', '.join(members.members) or 'nobody'}")
            case "history":
                await self._history(args)
            case "topic" if args:
                await self._topic(rest)
            case "help":
                self.out(HELP)
            case _:
                self.out(f"!! unknown command or missing argument: /{word}\n{HELP}")
        return True

    async def _history(self, args: list[str]) -> None:
        if self.current is None:
            self.out("!! join a room first")
            return
        try:
            count = int(args[0]) if args else DEFAULT_HISTORY
        except ValueError:
            self.out("!! /history N: N is a number")
            return
        room = self.current
        page = await self.client.history(room, before=self._oldest.get(room), limit=count)
        if not page.messages:
            self.out(f"-- no older messages in #{room}")
            return
        self.out(f"-- history of #{room}:")
        for message in page.messages:
            self.out(format_message(message, self.me))
        self._oldest[room] = page.messages[0].id

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
        print(f"teahouse chat: {exc}", file=sys.stderr)
        return 1
    try:
        if interactive:
            return await _run_terminal(client)
        return await _run_pipe(client)
    finally:
        await client.close()


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

    ui = ChatUI(client, out)
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

    ui = ChatUI(client, print)
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
