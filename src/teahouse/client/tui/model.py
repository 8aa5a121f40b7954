"""What the terminal client shows, as plain data: conversations, unread counts, members, status.

:class:`Model` takes the events of :class:`teahouse.client.Client` (:meth:`Model.apply`)
and the replies to the user's own requests, and keeps one :class:`Conversation` per room
and per direct-message partner, plus a server pane for notes that belong to no room. It
knows nothing of Textual: the app reads it and draws. Each conversation remembers how many
of its lines the screen has not drawn yet (:attr:`Conversation.fresh`), so the app draws a
burst of messages in one batch instead of one widget update per message.

A message is shown once: ids are unique over the whole server, and the model drops a message
whose id it has already shown (the library already drops replayed duplicates; the same
message can still come both as the reply to our ``say`` and in a rejoin's replay).

Messages and notices from users on the ignore list (:attr:`Model.ignored`) are dropped. A
line that mentions you (your name or a highlight word) or a direct message also makes an
:class:`Alert`, which the app turns into a bell and a desktop notification when you are not
looking. A server-wide notice (an operator's ``broadcast``) goes to the server pane, with
an unread mark, as irssi's status window and WeeChat's server buffer have it: it belongs
to no conversation, and would read as part of whichever one happened to be open.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from teahouse.client.attention import highlights
from teahouse.client.chat import ACTION_PREFIX
from teahouse.client.events import (
    ClientEvent,
    Connected,
    Disconnected,
    EventsDropped,
    Reconnecting,
)
from teahouse.client.operations import invited_line, kick_line, mode_line, operator_changes
from teahouse.client.policy import SeenIds
from teahouse.protocol import frames as f

Kind = Literal["server", "room", "dm"]
Presence = Literal["online", "away", "unknown"]
ConnectionState = Literal["connecting", "connected", "reconnecting", "offline"]
Level = Literal["info", "error", "notice"]

SERVER = "*"
"""The key of the server pane (connection notes, answers that belong to no room)."""
MAX_LINES = 5000
"""Lines kept per conversation; older ones are dropped (the server still has them)."""
SEEN_IDS = 65536
"""How many message ids are remembered to drop duplicates."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a conversation: a message, or a note (``level`` info or error)."""

    message: f.Message | None = None
    text: str = ""
    level: Level = "info"
    ts: str = ""
    mention: bool = False


@dataclass(slots=True)
class Status:
    """What the status line says."""

    user: str
    address: str
    state: ConnectionState = "connecting"
    server: str = ""
    reason: str = ""
    retry_at: float | None = None
    """When the next reconnect attempt starts (the app's monotonic clock), if waiting."""
    attempt: int = 0
    rtt: float | None = None
    sending: int = 0
    away: str | None = None
    """Your away text, while you are away."""


@dataclass(frozen=True, slots=True)
class Alert:
    """Something for the user's attention in conversation ``key``: a line that mentions
    them, a direct message, an announcement."""

    key: str
    title: str
    body: str


class Conversation:
    """A room, a direct conversation with one user, or the server pane."""

    def __init__(self, key: str, kind: Kind, name: str, max_lines: int = MAX_LINES) -> None:
        self.key = key
        self.kind: Kind = kind
        self.name = name
        self._max = max_lines
        self.lines: deque[Line] = deque(maxlen=max_lines)
        self.fresh = 0
        """How many lines at the end the screen has not drawn yet."""
        self.redraw = False
        """Lines were inserted above the drawn ones: the screen must draw it all again."""
        self.unread = 0
        self.mentioned = False
        """An unread line mentions you (for a direct conversation: any unread line)."""
        self.topic = ""
        self.members: dict[str, str] = {}
        """Members online in the room: lower-case name -> name as spelled."""
        self.ops: set[str] = set()
        """The lower-case names of the room's operators among its members."""
        self.modes = ""
        """The room's modes as the server last said them (``+nt``)."""
        self.members_stale = False
        """We are not connected: the member list is the last known one."""
        self.joined = kind != "room"
        self.ever_joined = False
        self.oldest_id: int | None = None
        self.newest_id: int | None = None
        self.history_exhausted = False
        """``history`` found nothing older: scrolling up cannot load more."""

    @property
    def title(self) -> str:
        match self.kind:
            case "room":
                return "#" + self.name
            case "dm":
                return "@" + self.name
            case _:
                return self.name

    def append(self, line: Line) -> None:
        self.lines.append(line)
        self.fresh = min(self.fresh + 1, len(self.lines))

    def take_fresh(self, most: int) -> list[Line]:
        """Up to ``most`` of the undrawn lines, oldest first; they count as drawn now."""
        count = min(self.fresh, most)
        if count <= 0:
            return []
        start = len(self.lines) - self.fresh
        self.fresh -= count
        return [self.lines[i] for i in range(start, start + count)]

    def skip_fresh(self, keep: int) -> int:
        """Forget all but the last ``keep`` undrawn lines (they would scroll out of the
        screen's buffer anyway); how many were skipped."""
        skipped = max(0, self.fresh - keep)
        self.fresh -= skipped
        return skipped

    def tail(self, count: int) -> list[Line]:
        """The last ``count`` lines; they all count as drawn."""
        self.fresh = 0
        self.redraw = False
        lines = self.lines
        start = max(0, len(lines) - count)
        return [lines[i] for i in range(start, len(lines))]

    def insert_messages(self, messages: Iterable[f.Message]) -> int:
        """Put older messages (``history``, a filled gap) in id order; how many were added."""
        new = sorted(messages, key=lambda m: m.id)
        if not new:
            return 0
        lines = list(self.lines)
        last = new[-1].id
        at = next(
            (i for i, ln in enumerate(lines) if ln.message is not None and ln.message.id > last),
            len(lines),
        )
        lines[at:at] = [Line(message=m) for m in new]
        self.lines = deque(lines[-self._max :], maxlen=self._max)
        for m in new:
            self._note_id(m.id)
        self.redraw = True
        self.fresh = 0
        return len(new)

    def _note_id(self, message_id: int) -> None:
        if self.oldest_id is None or message_id < self.oldest_id:
            self.oldest_id = message_id
        if self.newest_id is None or message_id > self.newest_id:
            self.newest_id = message_id


def mentions(text: str, me: str, words: tuple[str, ...] = ()) -> bool:
    """True if ``text`` names ``me`` (or one of ``words``) as a word (``alice:``,
    ``@alice``, ``hi Alice!``)."""
    return highlights(text, me, words)


class Model:
    """Every conversation and the connection status (see the module doc).

    ``clock`` gives the ISO timestamp of notes (tests pass a fixed one). The ``changed``
    set names the parts of the screen to draw again: ``sidebar``, ``members``, ``topic``,
    ``status``; the app empties it after drawing.
    """

    def __init__(
        self,
        user: str,
        address: str,
        *,
        max_lines: int = MAX_LINES,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.me = user
        self.max_lines = max_lines
        self.clock = clock
        self.status = Status(user=user, address=address)
        self.conversations: dict[str, Conversation] = {}
        self.current = SERVER
        self.resumed = False
        """This session is a reconnect: replayed room messages are ones we missed."""
        self.changed: set[str] = {"sidebar", "members", "topic", "status"}
        self.highlights: tuple[str, ...] = ()
        """Words that mention you besides your name."""
        self.ignored: frozenset[str] = frozenset()
        """Lower-case names whose messages and notices are dropped."""
        self.away: dict[str, str] = {}
        """Users known to be away (lower-case name -> their text)."""
        self.alerts: list[Alert] = []
        """For the user's attention since the app last looked (the app empties it)."""
        self._seen = SeenIds(SEEN_IDS)
        self._server = self._conversation(SERVER, "server", "teahouse")

    # -- conversations ------------------------------------------------------------------

    def _conversation(self, key: str, kind: Kind, name: str) -> Conversation:
        conv = self.conversations.get(key)
        if conv is None:
            conv = Conversation(key, kind, name, self.max_lines)
            self.conversations[key] = conv
            self.changed.add("sidebar")
        return conv

    def room(self, name: str) -> Conversation:
        return self._conversation("#" + name, "room", name)

    def dm(self, peer: str) -> Conversation:
        conv = self._conversation("@" + peer.lower(), "dm", peer)
        return conv

    @property
    def current_conversation(self) -> Conversation:
        return self.conversations.get(self.current) or self._server

    def order(self) -> list[str]:
        """The sidebar's order: the server pane, the rooms, then direct conversations."""
        convs = self.conversations.values()
        rooms = sorted((c for c in convs if c.kind == "room"), key=lambda c: c.name)
        dms = sorted((c for c in convs if c.kind == "dm"), key=lambda c: c.name.lower())
        return [SERVER] + [c.key for c in rooms] + [c.key for c in dms]

    def select(self, key: str) -> None:
        """Show ``key``'s conversation: its unread count and mention mark are cleared."""
        conv = self.conversations.get(key)
        if conv is None:
            return
        if key != self.current:
            conv.redraw = True
        self.current = key
        conv.unread = 0
        conv.mentioned = False
        self.changed |= {"sidebar", "members", "topic"}

    def step(self, delta: int) -> str:
        """Select the conversation ``delta`` places down the sidebar (wrapping)."""
        order = self.order()
        at = order.index(self.current) if self.current in order else 0
        key = order[(at + delta) % len(order)]
        self.select(key)
        return key

    def close(self, key: str) -> None:
        """Drop a conversation from the sidebar (not the server pane)."""
        if key == SERVER or key not in self.conversations:
            return
        order = self.order()
        at = order.index(key)
        del self.conversations[key]
        if self.current == key:
            order.remove(key)
            self.select(order[min(at, len(order) - 1)])
        self.changed.add("sidebar")

    def presence_of(self, name: str) -> Presence:
        """Online if ``name`` is in one of our rooms now; unknown otherwise."""
        if self.status.state != "connected":
            return "unknown"
        low = name.lower()
        for conv in self.conversations.values():
            if conv.kind == "room" and conv.joined and low in conv.members:
                return "away" if low in self.away else "online"
        return "unknown"

    def members(self) -> list[tuple[str, Presence]]:
        """The member pane of the current conversation."""
        conv = self.current_conversation
        match conv.kind:
            case "room":
                names = sorted(conv.members.values(), key=str.lower)
                if conv.members_stale:
                    return [(name, "unknown") for name in names]
                return [(name, "away" if name.lower() in self.away else "online") for name in names]
            case "dm":
                return [
                    (self.me, self.presence_of(self.me)),
                    (conv.name, self.presence_of(conv.name)),
                ]
            case _:
                return []

    # -- lines --------------------------------------------------------------------------

    def note(self, text: str, key: str | None = None, level: Level = "info") -> None:
        """A note in conversation ``key`` (the current one by default)."""
        conv = self.conversations.get(key or self.current) or self._server
        conv.append(Line(text=text, level=level, ts=self.clock()))

    def is_ignored(self, name: str) -> bool:
        return name.lower() in self.ignored and name.lower() != self.me.lower()

    def note_everywhere(self, text: str, level: Level = "info") -> None:
        """A note in the server pane and in every joined room and direct conversation."""
        for conv in self.conversations.values():
            if conv.kind != "room" or conv.joined:
                conv.append(Line(text=text, level=level, ts=self.clock()))

    def add_message(self, message: f.Message) -> bool:
        """Show ``message`` in its conversation; False if it was shown already."""
        if not self._seen.add(message.id):
            return False
        if self.is_ignored(message.sender):
            return False
        own = message.sender.lower() == self.me.lower()
        if message.dm or message.room is None:
            peer = (message.to or message.sender) if own else message.sender
            conv = self.dm(peer)
            mention = False
        else:
            conv = self.room(message.room)
            mention = not own and mentions(message.text, self.me, self.highlights)
        conv.append(Line(message=message, mention=mention))
        conv._note_id(message.id)
        # A room's first replay is context, not news; a replay after a reconnect is what we
        # missed, and a direct message replayed at login was never delivered: both count.
        counts = not message.replay or conv.kind == "dm" or self.resumed
        if not own and counts:
            self._news(conv, mention or conv.kind == "dm")
            if mention or conv.kind == "dm":
                where = message.sender if conv.kind == "dm" else f"{message.sender} in {conv.title}"
                self.alerts.append(Alert(conv.key, where, _action_text(message)))
        return True

    def _news(self, conv: Conversation, hot: bool) -> None:
        """Count a new line in ``conv`` as unread (marked when ``hot``), unless shown."""
        if conv.key == self.current:
            return
        conv.unread += 1
        if hot:
            conv.mentioned = True
        self.changed.add("sidebar")

    def notice(self, notice: f.Notice) -> None:
        """A notice: in its room, from a user to you (their direct conversation), or from
        an operator to everyone (the server pane, marked; see the module doc)."""
        if self.is_ignored(notice.by):
            return
        if notice.room is not None:
            conv = self.conversations.get("#" + notice.room) or self._server
            where = "" if conv.kind == "room" else f"#{notice.room} "
            line = f"{where}-{notice.by}- {notice.text}"
            conv.append(Line(text=line, level="notice", ts=self.clock()))
            self._news(conv, mentions(notice.text, self.me, self.highlights))
            return
        if notice.to is not None:
            conv = self.dm(notice.by)
            conv.append(Line(text=f"-{notice.by}- {notice.text}", level="notice", ts=self.clock()))
            self._news(conv, True)
            self.alerts.append(Alert(conv.key, f"notice from {notice.by}", notice.text))
            return
        conv = self._server
        conv.append(
            Line(
                text=f"announcement from {notice.by}: {notice.text}",
                level="notice",
                ts=self.clock(),
            )
        )
        self._news(conv, True)
        self.alerts.append(Alert(SERVER, f"announcement from {notice.by}", notice.text))

    def invited(self, frame: f.Invited) -> None:
        """Someone let you into a room: said where you are looking, and an alert."""
        self.note(invited_line(frame, self.me))
        if frame.user.lower() == self.me.lower():
            self.alerts.append(Alert(self.current, f"invited to #{frame.room}", frame.by))

    def mode_changed(self, frame: f.ModeChanged) -> None:
        """A room's modes now, and a line for a change (yours or another operator's)."""
        conv = self.conversations.get("#" + frame.room)
        if conv is None:
            return
        conv.modes = frame.modes
        for name, op in operator_changes(frame):
            if op:
                conv.ops.add(name.lower())
            else:
                conv.ops.discard(name.lower())
        self.note(mode_line(frame, self.me), conv.key)
        self.changed |= {"members", "topic"}

    def set_away(self, frame: f.AwayChanged) -> None:
        """``frame.user`` is away (with its text) or back; for you, the status line says so."""
        low = frame.user.lower()
        if frame.text:
            self.away[low] = frame.text
        else:
            self.away.pop(low, None)
        if low == self.me.lower():
            self.status.away = frame.text or None
            self.changed.add("status")
        self.changed.add("members")

    def gap_before(self, room: str, oldest: int | None) -> int | None:
        """After a reconnect, the newest id held in ``room`` below a cut replay's
        ``oldest`` (what lies between is missing); None if there is no such gap."""
        conv = self.conversations.get("#" + room)
        if not self.resumed or conv is None or oldest is None:
            return None
        ids = [ln.message.id for ln in conv.lines if ln.message is not None]
        below = [i for i in ids if i < oldest]
        return max(below) if below else None

    def add_history(self, room: str, messages: list[f.Message], *, more: bool = True) -> int:
        """Older messages of ``room`` (from ``history``); how many were new. ``more``
        False: the server has nothing older (a short page alone does not say so)."""
        conv = self.room(room)
        new = [m for m in messages if self._seen.add(m.id)]
        if not messages or not more:
            conv.history_exhausted = True
        return conv.insert_messages(new)

    # -- events -------------------------------------------------------------------------

    def joined(self, frame: f.Joined, *, by_user: bool = False) -> None:
        conv = self.room(frame.room)
        conv.joined = True
        conv.topic = frame.topic
        conv.members = {m.lower(): m for m in frame.members}
        conv.ops = {m.lower() for m in frame.ops or []}
        conv.modes = frame.modes or ""
        conv.members_stale = False
        if not conv.ever_joined:
            here = f"{len(frame.members)} here" if len(frame.members) != 1 else "only you here"
            conv.append(Line(text=f"you joined #{frame.room} ({here})", ts=self.clock()))
            if frame.topic:
                conv.append(Line(text=f"topic: {frame.topic}", ts=self.clock()))
        conv.ever_joined = True
        if by_user or self.current == SERVER:
            self.select(conv.key)
        self.changed |= {"sidebar", "members", "topic"}

    def parted(self, room: str) -> None:
        self.close("#" + room)

    def apply(self, event: ClientEvent, now: float) -> None:
        """Take one event of :meth:`Client.events`; ``now`` is the app's monotonic time."""
        status = self.status
        match event:
            case f.Message():
                self.add_message(event)
            case f.Joined():
                self.joined(event)
            case f.Parted(room=room):
                self.parted(room)
            case f.Presence():
                self.presence(event)
            case f.TopicChanged():
                self.topic_changed(event)
            case f.Notice():
                self.notice(event)
            case f.AwayChanged():
                self.set_away(event)
            case f.ModeChanged():
                self.mode_changed(event)
            case f.Invited():
                self.invited(event)
            case f.Error(code=code, message=message, ref=ref):
                where = None
                if isinstance(ref, str) and ref.startswith("auto:join:"):
                    where = SERVER
                    self.close("#" + ref.removeprefix("auto:join:"))
                self.note(f"{code}: {message}", where, level="error")
            case f.ReplayEnd(truncated=True, room=room, oldest_id=oldest):
                if room is None:
                    self.note("more direct messages were waiting than the server replays", SERVER)
                elif self.gap_before(room, oldest) is None:
                    self.note(
                        f"older messages not shown (before id {oldest}); /history loads them",
                        "#" + room,
                    )
                # else: a gap after a reconnect, which the app fills from history
            case f.AdminResult(text=text):
                for line in text.split("\n"):  # the console's lines; each drawn printable
                    self.note(line)
            case Connected(user=user, server=server, reconnect=again):
                self.me = user
                status.user, status.server = user, server
                status.state, status.reason = "connected", ""
                status.retry_at, status.attempt = None, 0
                self.resumed = again
                if again:
                    self.note_everywhere("reconnected; catching up")
                else:
                    self.note(f"connected as {user} to {status.address} ({server})", SERVER)
                self.changed |= {"status", "members"}
            case Disconnected(reason=reason, will_reconnect=will):
                status.state = "reconnecting" if will else "offline"
                status.reason = reason
                self.away.clear()  # the server forgets it with the session
                status.away = None
                for conv in self.conversations.values():
                    conv.members_stale = True
                text = f"connection lost ({reason})" + ("; reconnecting" if will else "")
                self.note_everywhere(text, "info" if will else "error")
                self.changed |= {"status", "members"}
            case Reconnecting(delay=delay, attempt=attempt):
                status.retry_at = now + delay
                status.attempt = attempt
                self.changed.add("status")
            case EventsDropped(count=count):
                self.note(
                    f"{count} events were dropped (the screen fell behind); /history catches up",
                    level="error",
                )
            case _:
                pass

    def presence(self, frame: f.Presence) -> None:
        """Someone joined or left a room (``frame`` from the event stream, or the reply to
        your own ``kick``: the kicker gets both, and the second finds the user gone and
        adds no line)."""
        room, user = frame.room, frame.user
        conv = self.room(room)
        low = user.lower()
        if frame.state == "joined":
            conv.members[low] = user
            conv.append(Line(text=f"{user} joined #{room}", ts=self.clock()))
        elif frame.reason == "kicked" and frame.by:
            if conv.members.pop(low, None) is None and low != self.me.lower():
                return  # shown already
            conv.ops.discard(low)
            if low == self.me.lower():
                if not conv.joined:
                    return
                conv.joined = False
                self.changed.add("sidebar")
            line = kick_line(frame, self.me, room=False)
            level: Level = "error" if low == self.me.lower() else "info"
            conv.append(Line(text=line, level=level, ts=self.clock()))
        else:
            conv.members.pop(low, None)
            conv.ops.discard(low)
            detail = frame.reason or "left"
            if low == self.me.lower():
                conv.joined = False
                conv.append(
                    Line(text=f"you are out of #{room} ({detail})", level="error", ts=self.clock())
                )
                self.changed.add("sidebar")
            else:
                conv.append(Line(text=f"{user} left #{room} ({detail})", ts=self.clock()))
        if conv.key == self.current:
            self.changed.add("members")

    def topic_changed(self, frame: f.TopicChanged) -> None:
        conv = self.room(frame.room)
        conv.topic = frame.text
        text = (
            f"{frame.by} set the topic: {frame.text}"
            if frame.text
            else f"{frame.by} cleared the topic"
        )
        conv.append(Line(text=text, ts=self.clock()))
        self.changed.add("topic")


def _action_text(message: f.Message) -> str:
    """A message's text for a notification: an action as ``* alice waves``."""
    if message.text.startswith(ACTION_PREFIX):
        return f"* {message.sender} {message.text[len(ACTION_PREFIX) :]}"
    return message.text
