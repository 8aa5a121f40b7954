"""The full-screen terminal client: a Textual app on top of :class:`teahouse.client.Client`.

::

    ┌ #lobby  tea, cake and gossip ─────────────────────────────────────────┐
    │ teahouse │ 12:00        alice │ hello                        │ ● alice │
    │ #lobby 3 │ 12:01          bob │ hi alice!                    │ ● bob   │
    │ @bob     │                                                   │         │
    │ > _                                                                    │
    │ ● connected  alice@localhost:6680 · teahouse/0.1.0 · rtt 0.3 ms        │

How it stays responsive: one task reads the client's events and applies them to the
:class:`~teahouse.client.tui.model.Model` (cheap: no drawing), giving the event loop back
every :data:`SLICE` seconds; the screen is drawn at most :data:`FLUSH_INTERVAL` after a
change, in one batch: the new lines of the conversation on screen go to the log widget in
one write (a virtualised ``RichLog`` holding at most :data:`LOG_LINES` lines), and lines a
burst would push out of that buffer anyway are not drawn at all. The user's commands run in
another task, one at a time and in order, so a ``say`` waiting for a reconnect never blocks
typing.

Reconnecting and resuming are the client library's: it rejoins every room with ``since``
and logs in with ``dm_since``; the model drops any message it has shown already. When a
resumed room's replay was cut short (``truncated``), the app fetches the gap with
``history`` so nothing is missing.

Attention: a line that mentions you (your name or a highlight word), a direct message or an
announcement rings the terminal bell and shows a desktop notification (``notify-send``,
when installed) unless you are looking at that conversation in a focused terminal; the
settings (:mod:`teahouse.client.settings`) turn either off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import MouseScrollUp, Resize
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Label, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from teahouse import __version__
from teahouse.client import operations as ops
from teahouse.client.attention import DesktopNotifier
from teahouse.client.chat import ACTION_PREFIX
from teahouse.client.client import Client
from teahouse.client.errors import ClientClosed, ClientError, ServerError
from teahouse.client.printable import printable
from teahouse.client.settings import ChatSettings
from teahouse.client.tui import render
from teahouse.client.tui.commands import (
    DEFAULT_HISTORY,
    HELP,
    Command,
    Completer,
    InputHistory,
    Say,
    completes_any_name,
    parse,
    plain_error,
    room_name,
)
from teahouse.client.tui.model import SERVER, Conversation, Model
from teahouse.protocol import frames as f
from teahouse.protocol.names import is_user_name

SLICE = 0.008
"""The event reader gives the event loop back after this many seconds of work."""
FLUSH_INTERVAL = 1 / 30
"""The screen is drawn at most this long after a change (and at most this often)."""
FLUSH_MAX_LINES = 200
"""Lines drawn into the log per flush (about 10 ms); more wait for the next flush, which
then comes after :data:`CATCH_UP_INTERVAL` so keys and timers run in between."""
CATCH_UP_INTERVAL = 0.002
LOG_LINES = 2000
"""Screen lines the log widget keeps; older ones scroll out (the model keeps more)."""
REDRAW_LINES = 400
"""Lines drawn when a conversation is shown; scrolling up at the top draws more."""
OLDER_STEP = 400
"""Lines added each time you scroll past the top."""
HISTORY_PAGE = 100
"""Messages fetched from the server when scrolling past the oldest one held."""
STATUS_INTERVAL = 0.25
BELL_INTERVAL = 1.0
"""At most one terminal bell this often, however many mentions a burst brings."""
LOCAL_COMMANDS = frozenset({"ignore", "unignore", "highlight", "unhighlight", "nick"})
"""Commands that need no server: they run at once, even while offline."""


def page_limit(client: Client) -> int:
    """Messages to ask ``history`` for at once: :data:`HISTORY_PAGE`, or the server's cap."""
    cap = client.welcome.limits.max_replay if client.welcome is not None else HISTORY_PAGE
    return max(1, min(HISTORY_PAGE, cap))


class ChatInput(Input):
    """The input line: Up/Down through the lines typed before, Tab completes names.

    Coming back to it (a click, Tab from another pane) leaves the cursor where it was and
    selects nothing, so the next key adds to the draft instead of replacing it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "older", "Older input", show=False),
        Binding("down", "newer", "Newer input", show=False),
        Binding("tab", "complete", "Complete a name", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("select_on_focus", False)
        super().__init__(**kwargs)
        self.history = InputHistory()
        self.completer = Completer()
        self.names: Callable[[str], list[str]] = lambda before: []
        """The names that fit the word after ``before`` (set by the app)."""

    def action_complete(self) -> None:
        """Tab: complete the word before the cursor; in an empty line, the next pane."""
        if not self.value.strip():
            self.screen.focus_next()
            return
        done = self.completer.complete(self.value, self.cursor_position, self.names)
        if done is not None:
            self.value, self.cursor_position = done

    def action_older(self) -> None:
        line = self.history.older(self.value)
        if line is not None:
            self.value = line
            self.cursor_position = len(line)

    def action_newer(self) -> None:
        line = self.history.newer()
        if line is not None:
            self.value = line
            self.cursor_position = len(line)


class ConversationLog(RichLog):
    """The conversation: a virtualised log of finished lines (see :mod:`.render`)."""

    class AtTop(Message):
        """The user scrolled up past the first line: show older ones."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "page_older", "Older", show=False),
    ]

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if self.scroll_y <= 0:
            self.post_message(self.AtTop())

    def action_page_older(self) -> None:
        if self.scroll_y <= 0:
            self.post_message(self.AtTop())
        else:
            self.scroll_page_up()


class LoginScreen(Screen[None]):
    """Shown when the login fails: the reason in plain words, and the fields to try again."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.quit", "Quit")]
    AUTO_FOCUS = "#login-password"

    def __init__(self, address: str, user: str, register: bool, error: str) -> None:
        super().__init__()
        self.address = address
        self.user = user
        self.register = register
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            # Text, not markup: the error holds the server's words ("[b]" must stay text).
            yield Static(Text(f"teahouse · log in to {printable(self.address)}"), id="login-title")
            yield Label(Text(printable(self.error)), id="login-error")
            yield Label("User name")
            yield Input(self.user, id="login-user")
            yield Label("Password")
            yield Input(password=True, id="login-password")
            yield Checkbox("Create this account (register)", self.register, id="login-register")
            yield Static("Enter: connect · Esc: quit", id="login-hint")

    def show_error(self, error: str) -> None:
        self.error = error
        self.query_one("#login-error", Label).update(Text(printable(error)))
        self._busy(False)

    def _busy(self, busy: bool) -> None:
        for widget in self.query(Input):
            widget.disabled = busy
        if not busy:
            self.query_one("#login-password", Input).focus()

    @on(Input.Submitted)
    def submit(self) -> None:
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        register = self.query_one("#login-register", Checkbox).value
        if not user or not password:
            self.show_error("Type a user name and a password.")
            return
        self.query_one("#login-error", Label).update(Text("connecting…"))
        self._busy(True)
        app = self.app
        assert isinstance(app, ChatApp)
        app.start_session(user, password, register)


class ChatApp(App[int]):
    """``teahouse chat`` on a terminal (see the module doc).

    ``client_options`` go to :class:`Client` as they are (tests shorten the backoff).
    ``settings`` hold the highlight words and the ignore list (in memory only unless they
    have a path); ``notifier`` shows desktop notifications (none by default). The app's
    return value is the exit status: 0 after ``/quit`` or Ctrl+Q, 1 when it never got
    connected or the server ended the session for good.
    """

    TITLE = "teahouse"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #topic { height: 1; background: $panel; color: $text; }
    #body { height: 1fr; }
    #rooms { width: 22; height: 1fr; border: none; border-right: solid $primary-darken-2; }
    #rooms:focus { border-right: solid $accent; }
    #log { width: 1fr; height: 1fr; border: none; padding: 0 1; scrollbar-size-vertical: 1; }
    #members { width: 18; height: 1fr; border: none; border-left: solid $primary-darken-2; }
    #members:focus { border-left: solid $accent; }
    #log { scrollbar-background: $panel; scrollbar-color: $primary-darken-1; }
    #input-row { height: 1; background: $boost; }
    #prompt { width: auto; height: 1; padding: 0 0 0 1; color: $accent; text-style: bold; }
    #input { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    #input:focus { border: none; background: $boost; }
    #status { height: 1; background: $panel; }
    LoginScreen { align: center middle; }
    #login-box { width: 64; height: auto; border: round $accent; padding: 1 2; }
    #login-title { text-style: bold; margin-bottom: 1; }
    #login-error { color: $error; text-style: bold; margin-bottom: 1; }
    #login-box Input { margin-bottom: 1; }
    #login-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n,alt+down", "step(1)", "Next conversation", show=False, priority=True),
        Binding("ctrl+p,alt+up", "step(-1)", "Previous conversation", show=False, priority=True),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("pageup", "scroll_log(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_log(1)", "Scroll down", show=False),
    ]

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        register: bool = False,
        rooms: Iterable[str] = (),
        tls: ssl.SSLContext | None = None,
        invite: str | None = None,
        client_options: dict[str, Any] | None = None,
        settings: ChatSettings | None = None,
        notifier: DesktopNotifier | None = None,
    ) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.rooms = [room_name(r) for r in rooms]
        self.tls = tls
        self.invite = invite
        self.client_options = dict(client_options or {})
        self.address = f"{host}:{port}"
        self.model = Model(user, self.address)
        self.settings = settings or ChatSettings()
        self.notifier = notifier or DesktopNotifier(command=[])
        self.bells = 0
        """Terminal bells rung (for the tests: a headless app rings none)."""
        self._last_bell: float | None = None
        """Your away text, to set again after a reconnect (the server forgets it)."""
        self._apply_settings()
        self.client: Client | None = None
        self.connected_once = False
        self._first_login = (user, password, register)
        self._requests: asyncio.Queue[tuple[str, Command | Say]] = asyncio.Queue()
        self._draw_pending = False
        self._view_key: str | None = None
        self._view_day: Any = None
        self._view_width = 0
        self._drawn = 0
        """How many model lines of the shown conversation the log holds."""
        self._draw_target = REDRAW_LINES
        self._loading_older = False
        self._sidebar_keys: list[str] = []

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="topic")
        with Horizontal(id="body"):
            yield OptionList(id="rooms")
            yield ConversationLog(id="log", max_lines=LOG_LINES, wrap=False, min_width=1)
            yield OptionList(id="members")
        with Horizontal(id="input-row"):
            yield Static(id="prompt")
            yield ChatInput(placeholder="type a message, or /help", id="input")
        yield Static(id="status")

    @property
    def log_widget(self) -> ConversationLog:
        return self.query_one("#log", ConversationLog)

    def on_mount(self) -> None:
        box = self.query_one("#input", ChatInput)
        box.names = self._names
        box.focus()
        if self.settings.warning:
            self.model.note(self.settings.warning, SERVER, level="error")
        self.set_interval(STATUS_INTERVAL, self._tick_status)
        self._draw()
        user, password, register = self._first_login
        self.start_session(user, password, register)

    # -- sessions -------------------------------------------------------------------------

    def start_session(self, user: str, password: str, register: bool) -> None:
        """Connect and log in (in a worker); on failure the login screen says why."""
        self.run_worker(self._connect(user, password, register), group="connect", exclusive=True)

    async def _connect(self, user: str, password: str, register: bool) -> None:
        self.model.me = self.model.status.user = user
        self.model.status.state = "connecting"
        self.model.changed.add("status")
        self._schedule_draw()
        client = Client(
            self.host,
            self.port,
            user,
            password,
            register=register,
            rooms=self.rooms,
            client_name=f"teahouse-tui/{__version__}",
            ssl=self.tls,
            invite=self.invite,
            **self.client_options,
        )
        try:
            await client.connect()
        except ClientError as exc:
            self.model.status.state = "offline"
            self.model.status.reason = getattr(exc, "code", "connect_failed")
            self.model.changed.add("status")
            self._schedule_draw()
            self._login_failed(user, register, plain_error(exc))
            return
        self.client = client
        self.connected_once = True
        if isinstance(self.screen, LoginScreen):
            self.pop_screen()
        self.query_one("#input", ChatInput).focus()
        self.run_worker(self._pump(client), group="events", exclusive=True)
        self.run_worker(self._run_requests(client), group="requests", exclusive=True)

    def _login_failed(self, user: str, register: bool, error: str) -> None:
        screen = self.screen
        if isinstance(screen, LoginScreen):
            screen.show_error(error)
        else:
            self.push_screen(LoginScreen(self.address, user, register, error))

    async def _pump(self, client: Client) -> None:
        """Apply the client's events to the model; draw in batches (see the module doc)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        async for event in client.events():
            self.model.apply(event, loop.time())
            if isinstance(event, f.ReplayEnd):
                self._maybe_fill_gap(client, event)
            self._schedule_draw()
            if loop.time() - started >= SLICE:
                await asyncio.sleep(0)  # let keys, timers and drawing run
                started = loop.time()
        self._schedule_draw()

    def _maybe_fill_gap(self, client: Client, end: f.ReplayEnd) -> None:
        """A resumed room's replay was cut by the server's cap: fetch what lies between."""
        if not end.truncated or end.room is None or end.oldest_id is None:
            return
        after = self.model.gap_before(end.room, end.oldest_id)
        if after is not None:
            self.run_worker(self._fill_gap(client, end.room, after, end.oldest_id))

    async def _fill_gap(self, client: Client, room: str, after: int, until: int) -> None:
        got: list[f.Message] = []
        with contextlib.suppress(ClientError):
            async for page in client.history_pages(room, since=after, limit=page_limit(client)):
                fresh = [m for m in page.messages if m.id < until]
                got += fresh
                if len(fresh) < len(page.messages):
                    break  # reached what the replay brought
        if got:
            added = self.model.add_history(room, got)
            self.model.note(f"{added} missed messages fetched to fill the gap", "#" + room)
            self._schedule_draw()

    # -- the user's requests --------------------------------------------------------------

    @on(Input.Submitted, "#input")
    def submitted(self, event: Input.Submitted) -> None:
        line = event.value
        box = self.query_one("#input", ChatInput)
        box.history.add(line)
        box.value = ""
        request = parse(line)
        if request is None:
            return
        key = self.model.current
        if isinstance(request, Command):
            if request.name in LOCAL_COMMANDS:
                self._local(request, key)
                self._schedule_draw()
                return
            match request.name:
                case "quit":
                    self.run_worker(self.quit_chat(request.rest or None))
                    return
                case "help":
                    for text in HELP.splitlines():
                        self.model.note(text, key)
                    self._schedule_draw()
                    return
                case "query" if request.args:
                    self.model.select(self.model.dm(request.args[0]).key)
                    self._schedule_draw()
                    return
                case "close" if self.model.current_conversation.kind != "room":
                    self.model.close(key)
                    self._schedule_draw()
                    return
                case _:
                    pass
        if self.client is None:
            self.model.note("not connected yet", key, level="error")
            self._schedule_draw()
            return
        if isinstance(request, Say) or request.name in ("me", "msg"):
            self.model.status.sending += 1
            self.model.changed.add("status")
            self._schedule_draw()
        self._requests.put_nowait((key, request))

    async def _run_requests(self, client: Client) -> None:
        """Run the user's requests one at a time, in the order they were typed."""
        while True:
            key, request = await self._requests.get()
            try:
                await self._run(client, key, request)
            except ClientClosed:
                self.model.note("not connected (the session has ended)", key, level="error")
            except ClientError as exc:
                self.model.note(plain_error(exc), key, level="error")
            finally:
                if isinstance(request, Say) or request.name in ("me", "msg"):
                    self.model.status.sending -= 1
                    self.model.changed.add("status")
                self._schedule_draw()

    async def _run(self, client: Client, key: str, request: Command | Say) -> None:
        model = self.model
        conv = model.conversations.get(key) or model.current_conversation
        if isinstance(request, Say):
            await self._say(client, conv, request.text)
            return
        args, rest = request.args, request.rest
        match request.name:
            case "me" if rest:
                await self._say(client, conv, ACTION_PREFIX + rest)
            case "join":
                joining = ops.join_words(args)
                if isinstance(joining, str):
                    model.note(joining, key, level="error")
                    return
                model.joined(await client.join(*joining), by_user=True)
            case "part" | "close":
                room = room_name(args[0]) if args else (conv.name if conv.kind == "room" else None)
                if room is None:
                    model.note("which room? /part ROOM", key, level="error")
                    return
                await client.part(room)
                model.parted(room)
            case "msg" if len(args) >= 2:
                model.add_message(await client.dm(args[0], rest.split(None, 1)[1]))
            case "topic" if args:
                first, _, text = rest.partition(" ")
                if first.startswith("#"):
                    room, text = room_name(first), text.strip()
                elif conv.kind == "room":
                    room, text = conv.name, rest
                else:
                    model.note("which room? /topic #ROOM TEXT", key, level="error")
                    return
                model.topic_changed(await client.topic(room, text))
            case "history":
                await self._history(client, conv, args)
            case "rooms":
                listing = await client.rooms()
                model.note(f"{len(listing.rooms)} rooms on the server:", key)
                for info in listing.rooms:
                    topic = f": {info.topic}" if info.topic else ""
                    model.note(f"  #{info.room} ({info.members} online){topic}", key)
            case "who":
                room = room_name(args[0]) if args else (conv.name if conv.kind == "room" else None)
                if room is None:
                    model.note("which room? /who ROOM", key, level="error")
                    return
                members = await client.who(room)
                model.note(f"#{members.room}: {', '.join(members.members) or 'nobody'}", key)
            case "whois" if args:
                for line in await ops.whois(client, args[0], self._rooms_with(args[0])):
                    model.note(line, key)
            case "away" | "back":
                reply = await ops.set_away(client, rest if request.name == "away" else None)
                if reply is None:
                    model.note(ops.unsupported("away"), key)
                    return
                model.set_away(reply)
                model.note(ops.away_line(reply, client.user), key)
            case "kick" | "kill":
                await self._kick(client, key, conv, request)
            case "invite" if args:
                room = room_name(args[1]) if len(args) > 1 else None
                if room is None and conv.kind == "room":
                    room = conv.name
                if room is None:
                    model.note("which room? /invite USER #ROOM", key, level="error")
                    return
                for line in await ops.invite(client, room, args[0]):
                    model.note(line, key)
            case "room":
                asked = ops.room_words(args, conv.name if conv.kind == "room" else None)
                if isinstance(asked, str):
                    model.note(asked, key, level="error")
                    return
                for line in await ops.room_action(client, *asked):
                    model.note(line, key)
            case "mode":
                here = conv.name if conv.kind == "room" else None
                parsed = ops.parse_mode(args, here)
                if isinstance(parsed, str):
                    model.note(parsed, key, level="error")
                    return
                try:
                    modes = await client.mode(*parsed)
                except ServerError as exc:
                    if exc.code != "unknown_type":
                        raise
                    model.note(ops.unsupported("mode") + " (IRC users can set room modes)", key)
                    return
                if "#" + modes.room in model.conversations:
                    model.mode_changed(modes)  # noted in the room, its operators updated
                else:
                    model.note(ops.mode_line(modes, client.user), key)
            case _:
                model.note(f"unknown command or missing argument: /{request.name} (/help)", key)

    async def _kick(self, client: Client, key: str, conv: Conversation, request: Command) -> None:
        """``/kick NICK [REASON]`` from this room; ``/kill`` from the whole server."""
        model = self.model
        parsed = ops.kick_words(request.args, request.rest)
        if isinstance(parsed, str):
            model.note(parsed.replace("/kick", f"/{request.name}"), key, level="error")
            return
        target, reason = parsed
        if request.name == "kill":
            for line in await ops.kill(client, target, reason):
                model.note(line, key)
            return
        if conv.kind != "room":
            model.note("/kick removes a user from a room: use it in the room", key, level="error")
            return
        kicked = await ops.kick(client, conv.name, target, reason)
        if kicked is None:
            model.note(ops.unsupported("kick"), key)
        else:
            model.presence(kicked)

    async def _say(self, client: Client, conv: Conversation, text: str) -> None:
        match conv.kind:
            case "room":
                self.model.add_message(await client.say(conv.name, text))
            case "dm":
                self.model.add_message(await client.dm(conv.name, text))
            case _:
                self.model.note("join a room first: /join ROOM", conv.key, level="error")

    async def _history(self, client: Client, conv: Conversation, args: list[str]) -> None:
        if conv.kind != "room":
            self.model.note("/history works in rooms", conv.key, level="error")
            return
        try:
            count = int(args[0]) if args else DEFAULT_HISTORY
        except ValueError:
            count = 0
        if count < 1:
            self.model.note("/history N: N is a number, 1 or more", conv.key, level="error")
            return
        got: list[f.Message] = []
        more = False
        async for page in client.history_pages(conv.name, before=conv.oldest_id, limit=count):
            got[:0] = page.messages  # fewer than asked while there is more: go on
            more = page.more
            if len(got) >= count:
                break
        more = more or len(got) > count
        added = self.model.add_history(conv.name, got[-count:], more=more)
        self._draw_target = max(self._draw_target, self._drawn + added)
        if added:
            self.model.note(f"{added} older messages loaded above", conv.key)
        else:
            self.model.note("no older messages", conv.key)

    async def quit_chat(self, reason: str | None = None) -> None:
        """``/quit``: leave politely, then end the app."""
        client = self.client
        status = 0 if self.connected_once and self.model.status.state != "offline" else 1
        if client is not None:
            await client.quit(reason)
        self.exit(status)

    async def action_quit(self) -> None:
        await self.quit_chat()

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()
        self.notifier.close()

    # -- local commands, settings, completion -----------------------------------------------

    def _apply_settings(self) -> None:
        self.model.highlights = tuple(self.settings.highlight)
        self.model.ignored = self.settings.ignored(self.address)

    def _local(self, request: Command, key: str) -> None:
        """The commands that need no server: ignore, highlight words, /nick."""
        model, settings, args = self.model, self.settings, request.args
        changed = False
        match request.name:
            case "nick" if args:
                for line in ops.nick(model.me, args[0]):
                    model.note(line, key)
            case "ignore" | "unignore" if args:
                name = args[0]
                if not is_user_name(name):
                    model.note(f"{name!r} is not a user name", key, level="error")
                elif request.name == "ignore":
                    changed = settings.ignore_user(self.address, name)
                    model.note(
                        f"ignoring {name}: their messages and notices are hidden"
                        if changed
                        else f"{name} is ignored already",
                        key,
                    )
                else:
                    changed = settings.unignore_user(self.address, name)
                    model.note(
                        f"no longer ignoring {name}" if changed else f"{name} was not ignored", key
                    )
            case "ignore":
                names = sorted(settings.ignore.get(self.address, []), key=str.lower)
                model.note("ignoring: " + (", ".join(names) if names else "nobody"), key)
            case "highlight" | "unhighlight" if request.rest:
                word = request.rest
                if request.name == "highlight":
                    changed = settings.add_highlight(word)
                    model.note(
                        f"lines with {word!r} now mention you"
                        if changed
                        else f"{word!r} is a highlight word already",
                        key,
                    )
                else:
                    changed = settings.remove_highlight(word)
                    model.note(
                        f"{word!r} no longer mentions you"
                        if changed
                        else f"{word!r} was not a highlight word",
                        key,
                    )
            case "highlight":
                words = ", ".join(repr(w) for w in settings.highlight) or "none"
                model.note(f"your name mentions you, and these words: {words}", key)
            case _:
                model.note(f"missing argument: /{request.name} (/help)", key, level="error")
        if changed:
            self._apply_settings()
            problem = settings.save()
            if problem is not None:
                model.note(problem, key, level="error")

    def _rooms_with(self, name: str) -> list[str]:
        """The rooms you are in that ``name`` is in too."""
        low = name.lower()
        return [
            c.name
            for c in self.model.conversations.values()
            if c.kind == "room" and c.joined and low in c.members
        ]

    def _names(self, before: str) -> list[str]:
        """Names Tab may complete after ``before``: the members of this conversation in a
        sentence, every known name as the argument of ``/msg``, ``/whois``, ..."""
        model = self.model
        if completes_any_name(before):
            names: set[str] = set()
            for conv in model.conversations.values():
                if conv.kind == "room":
                    names.update(conv.members.values())
                elif conv.kind == "dm":
                    names.add(conv.name)
            if before.strip().lower() == "/unignore":
                names.update(self.settings.ignore.get(self.address, []))
        else:
            conv = model.current_conversation
            match conv.kind:
                case "room":
                    names = set(conv.members.values())
                case "dm":
                    names = {conv.name}
                case _:
                    names = set()
        me = model.me.lower()
        return [n for n in names if n.lower() != me]

    # -- attention ---------------------------------------------------------------------------

    def _attend(self) -> None:
        """Ring and notify for what needs the user (see the module doc)."""
        model = self.model
        alerts, model.alerts = model.alerts, []
        unseen = [a for a in alerts if not (self.app_focus and a.key == model.current)]
        if not unseen:
            return
        now = asyncio.get_running_loop().time()
        if self.settings.bell and (
            self._last_bell is None or now - self._last_bell >= BELL_INTERVAL
        ):
            self._last_bell = now
            self.bells += 1
            self.bell()
        if self.settings.notify:
            first = unseen[0]
            more = f" (and {len(unseen) - 1} more)" if len(unseen) > 1 else ""
            self.notifier.notify(first.title, first.body + more)

    # -- keys and mouse -------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        self.model.step(delta)
        self._draw()

    def action_scroll_log(self, direction: int) -> None:
        log = self.log_widget
        if direction < 0:
            log.action_page_older()
        else:
            log.scroll_page_down()

    @on(OptionList.OptionSelected, "#rooms")
    def room_clicked(self, event: OptionList.OptionSelected) -> None:
        if event.option_id is not None and event.option_id != self.model.current:
            self.model.select(event.option_id)
            self._draw()

    @on(OptionList.OptionSelected, "#members")
    def member_clicked(self, event: OptionList.OptionSelected) -> None:
        name = event.option_id
        if name and name.lower() != self.model.me.lower():
            self.model.select(self.model.dm(name).key)
            self._draw()

    @on(ConversationLog.AtTop)
    def load_older(self) -> None:
        conv = self.model.current_conversation
        if self._drawn >= LOG_LINES:
            return  # the log holds no more; /history still fills the model
        if self._drawn < len(conv.lines):
            self._draw_target = min(self._drawn + OLDER_STEP, LOG_LINES)
            conv.redraw = True
            self._draw()
        elif (
            conv.kind == "room"
            and not conv.history_exhausted
            and not self._loading_older
            and self.client is not None
        ):
            self._loading_older = True
            self.run_worker(self._load_older(self.client, conv))

    async def _load_older(self, client: Client, conv: Conversation) -> None:
        try:
            limit = page_limit(client)
            page = await client.history(conv.name, before=conv.oldest_id, limit=limit)
            added = self.model.add_history(conv.name, page.messages, more=page.more)
            self._draw_target = self._drawn + added
        except ClientError as exc:
            self.model.note(plain_error(exc), conv.key, level="error")
        finally:
            self._loading_older = False
            self._schedule_draw()

    def on_resize(self, event: Resize) -> None:
        self.model.changed.add("sidebar")
        self._schedule_draw()

    # -- drawing --------------------------------------------------------------------------

    def _schedule_draw(self, delay: float = FLUSH_INTERVAL) -> None:
        if not self._draw_pending:
            self._draw_pending = True
            self.set_timer(delay, self._draw)

    def _tick_status(self) -> None:
        status = self.model.status
        rtt = self.client.rtt if self.client is not None else None
        if rtt != status.rtt or status.state == "reconnecting":
            status.rtt = rtt
            self._draw_status()

    def _draw_status(self) -> None:
        now = asyncio.get_running_loop().time()
        try:
            status = self.query_one("#status", Static)
        except NoMatches:
            return  # the app is closing: the status timer fired after its widgets went
        status.update(render.status_text(self.model.status, now))

    def _draw(self) -> None:
        """Draw what changed in the model since the last flush."""
        self._draw_pending = False
        model = self.model
        if model.alerts:
            self._attend()
        try:
            self._draw_log(model.current_conversation)
        except NoMatches:
            return  # the app is closing: a timer fired after its widgets went
        changed, model.changed = model.changed, set()
        if "sidebar" in changed:
            self._draw_sidebar()
        if "members" in changed:
            self._draw_members()
        if changed & {"topic", "sidebar"}:
            self.query_one("#topic", Static).update(render.topic_text(model))
            self.query_one("#prompt", Static).update(render.prompt_text(model))
        if "status" in changed:
            if self.client is not None:
                model.status.rtt = self.client.rtt
            self._draw_status()

    def _draw_log(self, conv: Conversation) -> None:
        log = self.log_widget
        width = log.scrollable_content_region.width
        if width <= 0:
            if conv.fresh or conv.redraw:
                self._schedule_draw()  # not laid out yet
            return
        console = self.console
        me = self.model.me
        if conv.key != self._view_key or conv.redraw or width != self._view_width:
            keep_from_bottom = None
            if conv.key == self._view_key and log.scroll_y <= 0 and len(log.lines):
                keep_from_bottom = len(log.lines)  # loading older lines: stay where we are
            if conv.key != self._view_key:
                self._draw_target = REDRAW_LINES
            self._view_key, self._view_width = conv.key, width
            lines = conv.tail(max(self._draw_target, REDRAW_LINES))
            self._drawn = len(lines)
            texts, self._view_day = render.render_lines(lines, me, width, console, None)
            log.clear()
            if texts:
                log.write(Text("\n").join(texts), width=width, scroll_end=keep_from_bottom is None)
            if keep_from_bottom is not None:
                log.scroll_to(y=max(0, len(log.lines) - keep_from_bottom), animate=False)
            return
        if not conv.fresh:
            return
        conv.skip_fresh(LOG_LINES)  # a burst: what would scroll out is never drawn
        lines = conv.take_fresh(FLUSH_MAX_LINES)
        self._drawn += len(lines)
        follow = log.scroll_y >= log.max_scroll_y - 1
        texts, self._view_day = render.render_lines(lines, me, width, console, self._view_day)
        log.write(Text("\n").join(texts), width=width, scroll_end=follow)
        if conv.fresh:
            self._schedule_draw(CATCH_UP_INTERVAL)

    def _draw_sidebar(self) -> None:
        model = self.model
        rooms = self.query_one("#rooms", OptionList)
        width = max(8, rooms.scrollable_content_region.width or 20)
        keys = model.order()
        options = [
            Option(render.sidebar_label(model.conversations[k], width - 1), id=k) for k in keys
        ]
        if keys != self._sidebar_keys:
            rooms.clear_options()
            rooms.add_options(options)
            self._sidebar_keys = keys
        else:
            for i, option in enumerate(options):
                rooms.replace_option_prompt_at_index(i, option.prompt)
        if model.current in keys:
            rooms.highlighted = keys.index(model.current)

    def _draw_members(self) -> None:
        members = self.query_one("#members", OptionList)
        members.clear_options()
        model = self.model
        ops = model.current_conversation.ops
        members.add_options(
            Option(render.member_label(name, presence, model.me, op=name.lower() in ops), id=name)
            for name, presence in model.members()
        )
