"""The window's side of a :class:`teahouse.client.Client`: events in, models updated.

:class:`ChatSession` reads the client's event stream and turns it into the item models the
views show (:mod:`teahouse.gui.models`), and runs the requests the window makes (join,
say, history, ...) as asyncio tasks. It never blocks the Qt thread:

- **Reading** is split in two. An asyncio task moves events from the client's stream into a
  local queue as fast as they come (that costs microseconds each). A zero-delay
  :class:`QTimer` then applies them in *slices* of at most :data:`SLICE` seconds, grouping the
  messages of each conversation into one model insertion; between two slices Qt repaints and
  handles input. A burst of 10,000 messages is shown in a few hundred milliseconds, while the
  window stays responsive throughout (``python -m teahouse.gui.bench`` measures it).
- **Back-pressure**: when more than :data:`MAX_QUEUED` events wait, the reading task stops
  reading until the slices catch up, so the client's own bounded queue applies (it drops
  events, never the connection, and says so with ``EventsDropped``; the session then pages
  the missed messages back with ``history``).
- **Requests** run as tasks; their errors become lines in the conversation they concern.

Reconnecting is the library's job (it resumes every room with ``since`` and the direct
messages with ``dm_since``); the session shows it: the status bar counts down to the next
attempt, each conversation gets a line when the link drops and another saying how many
missed messages came back. A message sent while the link is down stays on screen as
"sending" and is sent once the client is back, exactly once (the library retries it with
the same nonce). The transcript drops any message id it already shows, so no line is ever
shown twice, whatever the library or the server send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from teahouse.client import (
    Client,
    ClientClosed,
    ClientError,
    ClientEvent,
    Connected,
    ConnectionLost,
    Disconnected,
    EventsDropped,
    Reconnecting,
    ServerError,
)
from teahouse.client import operations as ops
from teahouse.client.attention import highlights
from teahouse.gui.markup import parse_ts
from teahouse.gui.models import (
    Conversation,
    ConversationKind,
    ConversationListModel,
    MemberModel,
    MessageModel,
    conversation_key,
)
from teahouse.gui.transcript import Row, Tone, message_row
from teahouse.gui.wording import Link, describe_disconnect, describe_error
from teahouse.protocol import frames as f

log = logging.getLogger("teahouse.gui")

SLICE = 0.012
"""Seconds of event handling between two chances for Qt to repaint and read input."""
MAX_QUEUED = 50_000
"""Events waiting to be shown before the reading task pauses (back-pressure)."""
RESUME_QUEUED = 10_000
HISTORY_PAGE = 100
"""Messages asked for at a time when the user scrolls up."""
DEFAULT_REPLAY = 50
"""What a join without ``since`` replays (the server's default, unless max_replay is lower)."""
MAX_GAP_PAGES = 20
"""History pages fetched to fill a gap after a reconnect (a bound, not a target)."""

_T = TypeVar("_T")


class _End:
    """Marks the end of the client's event stream in the local queue."""


class ChatSession(QObject):
    """A connected :class:`Client` seen as models and signals (see the module doc).

    After :meth:`start`, the session owns the client's event stream; call :meth:`quit` (or
    :meth:`close`) at the end.
    """

    changed = Signal()
    """The link state, the round trip, the role or the server changed (the status bar)."""
    opened = Signal(object, bool)
    """A conversation was added (``Conversation``, ``focus``: show it now)."""
    closed = Signal(object)
    """A conversation was removed from the side list."""
    topic_changed = Signal(object)
    notified = Signal(str, str, object)
    """Something for the user's attention: title, text, ``Conversation`` (None: no
    conversation in particular, as an announcement)."""
    announced = Signal(str)
    """An announcement to everyone (an operator's ``broadcast``), as one line."""
    highlights_changed = Signal(list)
    """The highlight words changed (to remember them)."""
    rooms_changed = Signal(list)
    """The rooms joined changed (to remember them)."""
    finished = Signal()
    """The client is closed for good (offline; a new session is needed)."""
    quit_requested = Signal(str)
    """The user typed ``/quit``."""
    applied = Signal(int)
    """That many new messages were just put into conversations (for benchmarks and tests)."""

    def __init__(self, client: Client, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.me = client.user
        self.highlights: tuple[str, ...] = ()
        """Words that mention you, besides your name."""
        self.role = client.role or "user"
        self.server = client.welcome.server if client.welcome is not None else ""
        self.list_model = ConversationListModel(self)
        self.current: Conversation | None = None
        self.window_active = True
        self.link = Link.CONNECTED
        self.retry_at: float | None = None
        self.attempt = 0
        self.reason: str | None = None
        self.rtt: float | None = client.rtt
        self.messages_shown = 0
        self.away_text: str | None = None
        """Your away text, while you are away (the status bar says so)."""
        self._away: dict[str, str] = {}
        """Users known to be away: lower-case name -> their text."""
        self._queue: deque[ClientEvent | _End] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self._tick = QTimer(self)
        self._tick.setInterval(250)
        self._tick.timeout.connect(self._on_tick)
        self._ended = False

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start reading events (call once, with the asyncio loop running)."""
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._tick.start()

    async def quit(self, reason: str | None = None) -> None:
        """Leave politely (``quit``, wait briefly for ``bye``) and stop."""
        try:
            await self.client.quit(reason)
        finally:
            await self.close()

    async def close(self) -> None:
        await self.client.close()
        self._tick.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._reader is not None:
            try:
                async with asyncio.timeout(2):
                    await self._reader
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        self._flush_timer.stop()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def max_text(self) -> int:
        welcome = self.client.welcome
        return welcome.limits.max_text if welcome is not None else 4096

    # -- reading events --------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for event in self.client.events():
                self._queue.append(event)
                if not self._flush_timer.isActive():
                    self._flush_timer.start()
                if len(self._queue) >= MAX_QUEUED:
                    self._room.clear()
                    await self._room.wait()
        finally:
            self._queue.append(_End())
            self._flush_timer.start()

    def feed(self, events: list[ClientEvent]) -> None:
        """Handle ``events`` as if the client had just delivered them (benchmarks, tests)."""
        self._queue.extend(events)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def pending_events(self) -> int:
        """Events received but not shown yet."""
        return len(self._queue)

    def _flush(self) -> None:
        """Apply queued events for at most :data:`SLICE` seconds, then let Qt breathe."""
        deadline = time.perf_counter() + SLICE
        batches: dict[Conversation, list[tuple[Row, bool]]] = {}
        done = 0
        queue = self._queue
        try:
            while queue:
                event = queue.popleft()
                if isinstance(event, f.Message):
                    self._collect(event, batches)
                else:
                    # Keep the order: lines before this event are shown before its effect.
                    self._commit(batches)
                    batches = {}
                    self._apply(event)
                done += 1
                if done % 64 == 0 and time.perf_counter() >= deadline:
                    break
        finally:
            self._commit(batches)
            if queue:
                self._flush_timer.start()
            if len(queue) <= RESUME_QUEUED:
                self._room.set()

    def _collect(
        self, message: f.Message, batches: dict[Conversation, list[tuple[Row, bool]]]
    ) -> None:
        conversation = self._conversation_of(message)
        own = message.sender.lower() == self.me.lower()
        row = message_row(
            message.id,
            message.sender,
            message.text,
            parse_ts(message.ts),
            own=own,
            mention=not own and self.mentions(message.text),
        )
        batches.setdefault(conversation, []).append((row, message.replay))

    def _commit(self, batches: dict[Conversation, list[tuple[Row, bool]]]) -> None:
        total = 0
        for conversation, items in batches.items():
            replayed = {row.id for row, replay in items if replay}
            new = conversation.messages.transcript.add_messages(row for row, _ in items)
            total += len(new)
            self._count_unread(conversation, new, replayed)
        if total:
            self.messages_shown += total
            self.applied.emit(total)

    def _count_unread(
        self, conversation: Conversation, new: list[Row], replayed: set[int | None]
    ) -> None:
        looking = conversation is self.current and self.window_active
        unread = mentioned = 0
        first_mention: Row | None = None
        for row in new:
            if row.own or (conversation.initial_replay and row.id in replayed):
                continue  # your own lines, or the context shown on joining: not news
            unread += 1
            if row.mention or conversation.kind is ConversationKind.DM:
                mentioned += 1
                first_mention = first_mention or row
        if not unread:
            return
        if conversation is not self.current:
            conversation.unread += unread
            conversation.mentions += mentioned
            self.list_model.changed(conversation)
        if first_mention is not None and not looking:
            where = (
                f"{first_mention.sender} in #{conversation.name}"
                if conversation.kind is ConversationKind.ROOM
                else first_mention.sender
            )
            more = f" (+{mentioned - 1} more)" if mentioned > 1 else ""
            self.notified.emit(where, first_mention.text + more, conversation)

    def _apply(self, event: ClientEvent | _End) -> None:
        match event:
            case f.Joined():
                self._joined(event, focus=False)
            case f.Parted(room=room):
                conversation = self.conversation(ConversationKind.ROOM, room)
                if conversation is not None:
                    self._close(conversation)
            case f.Presence():
                self._presence(event)
            case f.TopicChanged():
                self._topic(event)
            case f.ReplayEnd():
                self._replay_end(event)
            case f.Notice():
                self._notice(event)
            case f.AwayChanged():
                self._away_changed(event)
            case f.ModeChanged():
                self._mode(event)
            case f.Invited():
                self._invited(event)
            case f.Error():
                self._error(event)
            case Connected():
                self._connected(event)
            case Disconnected():
                self._disconnected(event)
            case Reconnecting(delay=delay, attempt=attempt):
                self.link = Link.RECONNECTING
                self.retry_at = time.monotonic() + delay
                self.attempt = attempt
                self.changed.emit()
            case EventsDropped(count=count):
                self._dropped(count)
            case _End():
                self._end()
            case _:
                pass

    # -- conversations ---------------------------------------------------------------

    def conversation(self, kind: ConversationKind, name: str) -> Conversation | None:
        return self.list_model.get(conversation_key(kind, name))

    def conversations(self) -> list[Conversation]:
        return self.list_model.conversations()

    def ensure(self, kind: ConversationKind, name: str, *, focus: bool = False) -> Conversation:
        """The conversation ``kind``/``name``, created (and announced) if new."""
        conversation = self.conversation(kind, name)
        if conversation is None:
            members = MemberModel(self.me, self)
            conversation = Conversation(kind, name, MessageModel(self), members)
            if kind is ConversationKind.DM:
                conversation.joined = True
                conversation.initial_replay = False
                conversation.at_start = True  # direct messages cannot be paged back yet
                members.set_members([self.me, name], online=False)
                members.set_online(self.me, True)
                members.set_online(name, self._seen_online(name))
            for user, text in self._away.items():
                members.set_away(user, text)
            self.list_model.add(conversation)
            self.opened.emit(conversation, focus)
        elif focus:
            self.opened.emit(conversation, True)
        return conversation

    def _conversation_of(self, message: f.Message) -> Conversation:
        if message.dm or message.room is None:
            own = message.sender.lower() == self.me.lower()
            peer = (message.to or self.me) if own else message.sender
            return self.ensure(ConversationKind.DM, peer)
        return self.ensure(ConversationKind.ROOM, message.room)

    def mentions(self, text: str) -> bool:
        """True if ``text`` names you or one of your highlight words."""
        return highlights(text, self.me, self.highlights)

    def set_highlights(self, words: list[str]) -> None:
        self.highlights = tuple(dict.fromkeys(w for w in words if w.strip()))
        self.highlights_changed.emit(list(self.highlights))

    def set_current(self, conversation: Conversation | None) -> None:
        """The conversation the window shows: its unread counts go."""
        self.current = conversation
        self.mark_read(conversation)

    def mark_read(self, conversation: Conversation | None) -> None:
        if conversation is not None and (conversation.unread or conversation.mentions):
            conversation.unread = conversation.mentions = 0
            self.list_model.changed(conversation)

    def _close(self, conversation: Conversation) -> None:
        if self.current is conversation:
            self.current = None
        self.list_model.remove(conversation)
        self.closed.emit(conversation)
        self._remember_rooms()

    def _remember_rooms(self) -> None:
        rooms = sorted(
            c.name for c in self.conversations() if c.kind is ConversationKind.ROOM and c.joined
        )
        self.rooms_changed.emit(rooms)

    def _seen_online(self, user: str) -> bool:
        return any(
            user in c.members
            for c in self.conversations()
            if c.kind is ConversationKind.ROOM and c.joined
        )

    def _presence_everywhere(self, user: str) -> None:
        online = self._seen_online(user)
        for c in self.conversations():
            if c.kind is ConversationKind.DM and c.name.lower() == user.lower():
                c.members.set_online(user, online)

    def system(self, conversation: Conversation | None, text: str, tone: Tone = Tone.INFO) -> None:
        """Show an informational line in ``conversation`` (None: the current one, if any)."""
        target = conversation or self.current
        if target is not None:
            target.messages.transcript.add_system(text, tone)

    def system_everywhere(self, text: str, tone: Tone = Tone.INFO) -> None:
        for conversation in self.conversations():
            conversation.messages.transcript.add_system(text, tone)

    # -- events ----------------------------------------------------------------------

    def _joined(self, joined: f.Joined, *, focus: bool) -> Conversation:
        conversation = self.ensure(ConversationKind.ROOM, joined.room, focus=focus)
        was_joined = conversation.joined
        conversation.joined = True
        conversation.topic = joined.topic
        conversation.modes = joined.modes or ""
        conversation.members.set_members(joined.members)
        conversation.members.set_operators(joined.ops or [])
        for name in joined.members:
            self._presence_everywhere(name)
        self.list_model.changed(conversation)
        self.topic_changed.emit(conversation)
        if not was_joined:
            self._remember_rooms()
        return conversation

    def _presence(self, presence: f.Presence) -> None:
        """Someone joined or left a room. The reply to your own kick comes here too: the
        kicker also gets the room's presence, and whichever comes second finds the user
        gone already and adds no line."""
        conversation = self.conversation(ConversationKind.ROOM, presence.room)
        if conversation is None:
            return
        user = presence.user
        mine = user.lower() == self.me.lower()
        kick = presence.reason == "kicked" and presence.by is not None
        if presence.state == "joined":
            conversation.members.add(user)
            self.system(conversation, f"{user} joined")
        elif mine:
            conversation.members.discard(user)
            if not conversation.joined:
                return
            conversation.joined = False
            if kick:
                text = ops.kick_line(presence, self.me, room=True)
                self.system(conversation, text[0].upper() + text[1:], Tone.BAD)
            else:
                self.system(conversation, f"You were removed from #{presence.room}", Tone.BAD)
            self.list_model.changed(conversation)
            self._remember_rooms()
        elif not conversation.members.discard(user) and kick:
            return  # shown already
        elif kick:
            text = ops.kick_line(presence, self.me, room=False)
            self.system(conversation, text[0].upper() + text[1:])
        else:
            self.system(conversation, f"{user} left ({_left_reason(presence)})")
        self._presence_everywhere(user)

    def _away_changed(self, frame: f.AwayChanged) -> None:
        """``frame.user`` is away or back: every member list shows it; yours, the status bar."""
        low = frame.user.lower()
        if frame.text:
            self._away[low] = frame.text
        else:
            self._away.pop(low, None)
        for conversation in self.conversations():
            conversation.members.set_away(frame.user, frame.text)
        if low == self.me.lower():
            self.away_text = frame.text or None
            self.changed.emit()

    def _mode(self, frame: f.ModeChanged) -> None:
        """A room's modes now; a change is said in the room, and its operators follow."""
        conversation = self.conversation(ConversationKind.ROOM, frame.room)
        if conversation is None:
            return
        conversation.modes = frame.modes
        for name, op in ops.operator_changes(frame):
            conversation.members.set_operator(name, op)
        line = ops.mode_line(frame, self.me)
        self.system(conversation, line[0].upper() + line[1:])
        self.topic_changed.emit(conversation)

    def _invited(self, frame: f.Invited) -> None:
        line = ops.invited_line(frame, self.me)
        self.system(None, line[0].upper() + line[1:])
        if frame.user.lower() == self.me.lower():
            self.notified.emit(f"Invited to #{frame.room}", f"by {frame.by}", None)

    def _topic(self, topic: f.TopicChanged) -> None:
        conversation = self.conversation(ConversationKind.ROOM, topic.room)
        if conversation is None:
            return
        conversation.topic = topic.text
        if topic.text:
            self.system(conversation, f"{topic.by} set the topic: {topic.text}")
        else:
            self.system(conversation, f"{topic.by} cleared the topic")
        self.list_model.changed(conversation)
        self.topic_changed.emit(conversation)

    def _replay_end(self, end: f.ReplayEnd) -> None:
        if end.dm or end.room is None:
            if end.count and end.truncated:
                self.system(None, "Some older direct messages were not replayed.", Tone.BAD)
            return
        conversation = self.conversation(ConversationKind.ROOM, end.room)
        if conversation is None:
            return
        if conversation.initial_replay:
            conversation.initial_replay = False
            limit = min(DEFAULT_REPLAY, self._max_replay())
            if not end.truncated and end.count < limit and conversation.resume_from is None:
                conversation.at_start = True
                conversation.messages.transcript.mark_start(
                    f"This is the beginning of #{conversation.name}."
                )
            return
        resume_from = conversation.resume_from
        conversation.resume_from = None
        if resume_from is None:
            return
        if end.count:
            plural = "s" if end.count != 1 else ""
            self.system(
                conversation,
                f"Back online: {end.count} message{plural} you missed "
                f"{'are' if plural else 'is'} shown above.",
                Tone.GOOD,
            )
        else:
            self.system(conversation, "Back online: nothing was missed.", Tone.GOOD)
        if end.truncated and end.oldest_id is not None:
            self.spawn(
                self._fill_gap(conversation, end.oldest_id, resume_from),
                conversation,
            )

    def _notice(self, notice: f.Notice) -> None:
        """A room's notice goes to the room, a user's notice to you to your conversation
        with them, and an announcement to everyone into every conversation, marked: the
        window has no server pane, and in every conversation it cannot be mistaken for
        that conversation's talk (when none is open, the status bar shows it)."""
        if notice.room is not None:
            self.system(
                self.conversation(ConversationKind.ROOM, notice.room),
                f"Notice from {notice.by}: {notice.text}",
            )
        elif notice.to is not None:
            conversation = self.ensure(ConversationKind.DM, notice.by)
            self.system(conversation, f"Notice from {notice.by}: {notice.text}")
            self.notified.emit(f"Notice from {notice.by}", notice.text, conversation)
        else:
            line = f"Announcement from {notice.by}: {notice.text}"
            self.system_everywhere(line, Tone.BAD)
            self.announced.emit(line)
            self.notified.emit(f"Announcement from {notice.by}", notice.text, None)

    def _error(self, error: f.Error) -> None:
        ref = error.ref if isinstance(error.ref, str) else ""
        if ref.startswith("auto:join:"):
            room = ref.removeprefix("auto:join:")
            conversation = self.conversation(ConversationKind.ROOM, room)
            if conversation is not None:
                conversation.joined = False
                self.list_model.changed(conversation)
            self.system(
                conversation,
                f"Could not join #{room}: {describe_error(error.code, error.message)}",
                Tone.BAD,
            )
            return
        self.system(None, describe_error(error.code, error.message), Tone.BAD)

    def _connected(self, connected: Connected) -> None:
        self.link = Link.CONNECTED
        self.retry_at = None
        self.attempt = 0
        self.reason = None
        self.role = connected.role
        self.server = connected.server or self.server
        self.changed.emit()
        if connected.reconnect:
            for conversation in self.conversations():
                if conversation.kind is ConversationKind.ROOM and conversation.joined:
                    # The rejoin's replay follows; its end says how much was missed.
                    conversation.initial_replay = False
                elif conversation.kind is ConversationKind.DM:
                    conversation.resume_from = None
                    self.system(conversation, "Back online.", Tone.GOOD)

    def _disconnected(self, disconnected: Disconnected) -> None:
        self.reason = disconnected.reason
        why = describe_disconnect(disconnected.reason)
        if disconnected.will_reconnect:
            self.link = Link.RECONNECTING
            self.retry_at = None
            for conversation in self.conversations():
                conversation.resume_from = conversation.messages.transcript.newest_id or 0
                conversation.members.set_all_online(False)  # unknown until the rejoin
                conversation.members.clear_away()  # the server forgets it with the session
            self._away.clear()
            self.system_everywhere(f"Connection lost: {why}. Reconnecting…", Tone.BAD)
        else:
            self.link = Link.OFFLINE
            self.retry_at = None
            if disconnected.reason != "closed":
                self.system_everywhere(f"Disconnected: {why}.", Tone.BAD)
        self.changed.emit()

    def _dropped(self, count: int) -> None:
        self.system_everywhere(
            f"The window fell behind and skipped {count} events; fetching the missed messages…",
            Tone.BAD,
        )
        for conversation in self.conversations():
            if conversation.kind is ConversationKind.ROOM and conversation.joined:
                self.spawn(self._backfill(conversation), conversation)

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.link = Link.OFFLINE
        self.changed.emit()
        self.finished.emit()

    def _on_tick(self) -> None:
        rtt = self.client.rtt
        if rtt != self.rtt or self.link is Link.RECONNECTING:
            self.rtt = rtt
            self.changed.emit()

    def _max_replay(self) -> int:
        welcome = self.client.welcome
        return welcome.limits.max_replay if welcome is not None else 500

    # -- requests --------------------------------------------------------------------

    def spawn(
        self, coro: Coroutine[Any, Any, _T], conversation: Conversation | None = None
    ) -> asyncio.Task[_T | None]:
        """Run ``coro`` as a task; its errors become a line in ``conversation``."""
        task = asyncio.get_running_loop().create_task(self._guard(coro, conversation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(
        self, coro: Coroutine[Any, Any, _T], conversation: Conversation | None
    ) -> _T | None:
        try:
            return await coro
        except ServerError as exc:
            self.system(conversation, describe_error(exc.code, exc.message), Tone.BAD)
        except ClientClosed:
            self.system(conversation, "You are offline.", Tone.BAD)
        except ConnectionLost:
            self.system(
                conversation, "The connection dropped before the answer; try again.", Tone.BAD
            )
        except ClientError as exc:
            self.system(conversation, f"Error: {exc}", Tone.BAD)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("a request of the window failed")
            self.system(conversation, f"Something went wrong: {exc!r}", Tone.BAD)
        return None

    async def join(self, room: str, key: str | None = None) -> Conversation | None:
        """Join ``room`` (with its ``key``, for a room that has one) and show it."""
        existed = self.conversation(ConversationKind.ROOM, room) is not None
        try:
            joined = await self.client.join(room, key)
        except ServerError as exc:
            if not existed:
                orphan = self.conversation(ConversationKind.ROOM, room)
                if orphan is not None and not orphan.messages.transcript.message_ids():
                    self._close(orphan)
            self.system(
                None, f"Could not join #{room}: {describe_error(exc.code, exc.message)}", Tone.BAD
            )
            return None
        return self._joined(joined, focus=True)

    async def part(self, conversation: Conversation) -> None:
        """Leave a room (or close a direct conversation)."""
        if conversation.kind is ConversationKind.ROOM and conversation.joined:
            await self.client.part(conversation.name)
        self._close(conversation)

    def open_dm(self, user: str) -> Conversation:
        return self.ensure(ConversationKind.DM, user, focus=True)

    async def send(self, conversation: Conversation, text: str) -> None:
        """Send ``text``; it shows as "sending" until the server has stored it."""
        if len(text) > self.max_text:
            self.system(
                conversation,
                f"Not sent: at most {self.max_text} characters (this has {len(text)}).",
                Tone.BAD,
            )
            return
        transcript = conversation.messages.transcript
        pending = transcript.add_pending(text, self.me)
        try:
            if conversation.kind is ConversationKind.ROOM:
                message = await self.client.say(conversation.name, text)
            else:
                message = await self.client.dm(conversation.name, text)
        except ClientError as exc:
            transcript.resolve_pending(pending, None)
            reason = (
                describe_error(exc.code, exc.message)
                if isinstance(exc, ServerError)
                else "you are offline"
            )
            self.system(conversation, f"Not sent: {text!r}: {reason}", Tone.BAD)
            return
        row = message_row(message.id, message.sender, message.text, parse_ts(message.ts), own=True)
        transcript.resolve_pending(pending, row)

    async def set_topic(self, conversation: Conversation, text: str) -> None:
        # The reply is ours alone (the others get the event): show it the same way.
        self._topic(await self.client.topic(conversation.name, text))

    async def load_older(self, conversation: Conversation) -> int:
        """Fetch one page of older messages (``history before``); returns how many came."""
        if conversation.at_start or conversation.loading_older:
            return 0
        if conversation.kind is not ConversationKind.ROOM:
            return 0
        transcript = conversation.messages.transcript
        conversation.loading_older = True
        try:
            page = await self.client.history(
                conversation.name, before=transcript.oldest_id, limit=HISTORY_PAGE
            )
        finally:
            conversation.loading_older = False
        new = transcript.add_messages(self._rows(page.messages))
        if not page.more:  # a page may be short (512 KiB a frame) while there is more
            conversation.at_start = True
            transcript.mark_start(f"This is the beginning of #{conversation.name}.")
        return len(new)

    async def _fill_gap(self, conversation: Conversation, oldest_id: int, resume_from: int) -> None:
        """After a truncated replay: page back from ``oldest_id`` to ``resume_from``."""
        pages = 0
        async for page in self.client.history_pages(
            conversation.name, before=oldest_id, limit=self._max_replay()
        ):
            messages = [m for m in page.messages if m.id > resume_from]
            conversation.messages.transcript.add_messages(self._rows(messages))
            if len(messages) < len(page.messages) or not page.more:
                return
            pages += 1
            if pages >= MAX_GAP_PAGES:
                break
        self.system(conversation, "More messages were missed: scroll up to see them.", Tone.BAD)

    async def _backfill(self, conversation: Conversation) -> None:
        """After dropped events: page forward from the newest message shown."""
        since = conversation.messages.transcript.newest_id
        if since is None:
            return
        pages = 0
        async for page in self.client.history_pages(
            conversation.name, since=since, limit=self._max_replay()
        ):
            conversation.messages.transcript.add_messages(self._rows(page.messages))
            pages += 1
            if pages >= MAX_GAP_PAGES:
                return

    def _rows(self, messages: list[f.Message]) -> list[Row]:
        me = self.me.lower()
        return [
            message_row(
                m.id,
                m.sender,
                m.text,
                parse_ts(m.ts),
                own=m.sender.lower() == me,
                mention=m.sender.lower() != me and self.mentions(m.text),
            )
            for m in messages
        ]

    async def refresh_members(self, conversation: Conversation) -> None:
        if conversation.kind is ConversationKind.ROOM:
            members = await self.client.who(conversation.name)
            conversation.members.set_members(members.members)

    async def set_away(self, text: str | None) -> None:
        """Be away with ``text``, or back (None); the status bar and member lists follow."""
        self._away_changed(await self.client.away(text))

    async def kick(self, conversation: Conversation, user: str, reason: str | None) -> None:
        """Remove ``user`` from a room (room operators)."""
        self._presence(await self.client.kick(conversation.name, user, reason))

    async def whois(self, user: str) -> f.WhoisInfo:
        return await self.client.whois(user)

    async def invite(self, conversation: Conversation, user: str) -> None:
        reply = await self.client.invite(conversation.name, user)
        self.system(conversation, f"You invited {reply.user} to #{reply.room}.")

    async def mode(self, conversation: Conversation, changes: str | None, args: list[str]) -> None:
        """Ask (no ``changes``) or change a room's modes; the answer is said in the room."""
        self._mode(await self.client.mode(conversation.name, changes, args))

    async def room_action(self, conversation: Conversation, action: ops.RoomAction) -> None:
        """A room's owner, operators and modes; ``register`` or ``drop`` it."""
        for line in await ops.room_action(self.client, conversation.name, action):
            self.system(conversation, line.strip())

    def may_kick(self, conversation: Conversation | None) -> bool:
        """Whether you may kick in ``conversation``: its operator, or an admin."""
        if conversation is None or conversation.kind is not ConversationKind.ROOM:
            return False
        return self.is_admin or conversation.members.is_operator(self.me)

    async def rooms(self) -> list[f.RoomInfo]:
        return (await self.client.rooms()).rooms

    async def admin(self, cmd: str, **args: f.ArgValue) -> f.AdminResult:
        return await self.client.admin(cmd, **args)


def _left_reason(presence: f.Presence) -> str:
    reason = presence.reason or "left"
    if reason == "kicked" and presence.by:
        return f"kicked by {presence.by}" + (f": {presence.text}" if presence.text else "")
    return describe_disconnect(reason) if reason not in ("part", "quit") else reason
