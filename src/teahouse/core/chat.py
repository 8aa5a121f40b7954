"""Rooms and messages: join, part, say, DMs, history, topics, modes, invites, kicks.

Every change of room state goes through here, whichever door asked, so every door's
members see it. Commands check their request, change the state, tell the *other* sessions
through their encoders, and return what happened (:mod:`teahouse.core.results`); the
door that asked renders its own reply.

Messages are stored and then delivered: :meth:`Chat.say` and :meth:`Chat.dm` write the
message into the store's open transaction and hand delivery (and the sender's
acknowledgement, ``done``) to :meth:`Outbox.after_commit`. A message nobody could keep is
never seen by anyone; its sender gets ``failed`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.masks import BanMask
from teahouse.core.moderation import Moderation
from teahouse.core.outbox import Outbox
from teahouse.core.registry import Registry
from teahouse.core.results import (
    MODE_FLAGS,
    HistoryPage,
    JoinResult,
    Member,
    ModeChange,
    Replay,
    RoomPage,
    RoomState,
    RoomSummary,
)
from teahouse.core.room import Room, RoomBan
from teahouse.core.session import Ident, Session
from teahouse.errors import (
    Forbidden,
    Internal,
    InvalidField,
    InvalidName,
    NoSuchRoom,
    NoSuchUser,
    NotAuthed,
    NotInRoom,
)
from teahouse.protocol.names import fold_user, is_room_name, is_user_name, text_problem
from teahouse.store.base import Store, StoredMessage, StoreError

DEFAULT_REPLAY = 50
"""Messages replayed on ``join`` without ``since``."""
NONCE_MEMORY_MS = 15 * 60 * 1000
"""How long a (user, nonce) pair is remembered; the contract asks for at least 10 minutes."""
MAX_TOPIC = 390
MAX_REASON = 300
"""Characters of a part, quit or kick reason that are passed on."""
MAX_KEY = 23
"""Characters of a room key (+k)."""
MAX_LIMIT = 100_000
"""Largest member limit (+l) accepted."""
ROOM_PAGE = 200
"""Rooms per page of the room list."""

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

Done = Callable[[StoredMessage], None]
Failed = Callable[[Exception], None]


def clean_reason(text: str | None, limit: int = MAX_REASON) -> str | None:
    """A free-text reason as others may see it: no control characters, bounded."""
    if not text:
        return None
    text = _CONTROL.sub("", text)[:limit].strip()
    return text or None


class StorageFailed(Internal):
    """The store could not keep a message: nothing was delivered; retry later."""

    default_message = "the server could not store this; nothing was delivered, try again"


class Chat:
    def __init__(
        self,
        config: Config,
        store: Store,
        clock: Clock,
        registry: Registry,
        outbox: Outbox,
        moderation: Moderation,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self.outbox = outbox
        self.moderation = moderation
        self._pending_nonces: dict[tuple[Ident, str], StoredMessage] = {}

    # -- checks ------------------------------------------------------------------------

    @staticmethod
    def authed(session: Session) -> tuple[str, Ident]:
        if session.user is None or not session.authenticated:
            raise NotAuthed()
        return session.user, session.ident

    @staticmethod
    def room_name(name: str) -> str:
        if not is_room_name(name):
            raise InvalidName(
                "room names are 1-50 lower-case letters, digits, _ or -, starting with a "
                "letter or digit"
            )
        return name

    def live_room(self, name: str, create: bool) -> Room:
        room = self.registry.rooms.get(name)
        if room is not None:
            return room
        record = self.store.get_room(name)
        if record is None:
            if not create:
                raise NoSuchRoom(f"there is no room {name!r}")
            record = self.store.create_room(name, self.clock.wall_ms())
        room = Room(record.name, record.topic, record.topic_by, record.topic_ms, record.created_ms)
        self.registry.rooms[name] = room
        return room

    def known_room(self, name: str) -> Room | None:
        """The live room, or None when it exists only in the store; NoSuchRoom otherwise."""
        room = self.registry.rooms.get(name)
        if room is None and self.store.get_room(name) is None:
            raise NoSuchRoom(f"there is no room {name!r}")
        return room

    def exists(self, name: str) -> bool:
        return name in self.registry.rooms or self.store.get_room(name) is not None

    def is_op(self, session: Session, room: Room) -> bool:
        return session.role == "admin" or session.ident in room.ops

    def _member_room(self, session: Session, name: str, doing: str) -> Room:
        """The live room ``session`` is in; NotInRoom (or NoSuchRoom) otherwise."""
        room = self.registry.rooms.get(name)
        if room is None or session not in room.sessions:
            self.known_room(name)
            raise NotInRoom(f"join {name!r} {doing}")
        return room

    def check_text(self, text: str) -> None:
        problem = text_problem(text, self.config.limits.max_text)
        if problem is not None:
            raise InvalidField(problem)

    def _check_can_speak(self, session: Session, room: Room) -> None:
        if "m" in room.modes and not (self.is_op(session, room) or session.ident in room.voiced):
            raise Forbidden(
                f"{room.name} is moderated: only operators and voiced users speak",
                detail="moderated",
            )

    # -- joining and leaving -----------------------------------------------------------

    def join(
        self,
        session: Session,
        name: str,
        *,
        since: int | None = None,
        key: str | None = None,
        replay: bool = True,
    ) -> JoinResult:
        """Enter a room (created when new); the other members see ``joined``."""
        _user, ident = self.authed(session)
        room = self.live_room(self.room_name(name), create=True)
        already = session in room.sessions
        if not already:
            self._check_can_join(session, room, key)
            if not room.sessions:
                room.ops.add(ident)  # whoever opens an empty room runs it, as on IRC
            room.invited.discard(ident)
            first = room.add(session)
            session.rooms.add(room.name)
            if first:
                self.registry.presence(room, session, "joined", None, exclude=session)
        return JoinResult(
            self.room_state(room),
            self._replay(room.name, since) if replay else None,
            already=already,
        )

    def _replay(self, name: str, since: int | None) -> Replay:
        cap = self.config.limits.max_replay
        if since is not None:
            page = self.store.room_after(name, since, cap)
            truncated = page.more
        else:
            # Never more than the max_replay announced in welcome; say so when it cut.
            limit = min(DEFAULT_REPLAY, cap)
            page = self.store.room_before(name, None, limit)
            truncated = page.more and limit < DEFAULT_REPLAY
        oldest = page.messages[0].id if page.messages else None
        return Replay(page.messages, truncated, oldest)

    def _check_can_join(self, session: Session, room: Room, key: str | None) -> None:
        if session.role == "admin":
            return
        assert session.user is not None
        if any(ban.mask.matches(session.user, session.host) for ban in room.bans):
            raise Forbidden(f"you are banned from {room.name}", detail="banned")
        # Another session of a member is that same member: no new invite, no new place.
        member = session.ident in room.users
        if "i" in room.modes and not member and session.ident not in room.invited:
            raise Forbidden(f"{room.name} is invite only", detail="invite_only")
        if room.key is not None and key != room.key:
            raise Forbidden(f"{room.name} needs a key", detail="bad_key")
        if room.limit is not None and not member and room.member_count >= room.limit:
            raise Forbidden(f"{room.name} is full", detail="full")

    def part(self, session: Session, name: str, reason: str | None = None) -> None:
        """Leave a room; the others see ``left`` with reason ``part`` and the text."""
        self.authed(session)
        name = self.room_name(name)
        if name not in session.rooms:
            self.known_room(name)
            raise NotInRoom(f"you are not in {name!r}")
        self.registry.leave(session, name, "part", clean_reason(reason))

    def room_state(self, room: Room) -> RoomState:
        return RoomState(
            name=room.name,
            topic=room.topic,
            topic_by=room.topic_by,
            topic_ms=room.topic_ms,
            created_ms=room.created_ms,
            modes=room.mode_string(),
            key=room.key,
            limit=room.limit,
            members=self._members(room),
        )

    def _members(self, room: Room) -> list[Member]:
        first: dict[Ident, Session] = {}
        for session in room.sessions:
            first.setdefault(session.ident, session)
        members = [
            Member(
                name=room.users[ident][0],
                op=self.is_op(session, room),
                voiced=ident in room.voiced,
                session=session,
            )
            for ident, session in first.items()
        ]
        members.sort(key=lambda m: m.name.lower())
        return members

    def state_of(self, session: Session, name: str) -> RoomState:
        """A room's state for a query (IRC TOPIC, MODE, NAMES; native ``who``)."""
        self.authed(session)
        name = self.room_name(name)
        room = self.known_room(name)
        if room is not None:
            return self.room_state(room)
        record = self.store.get_room(name)
        assert record is not None
        return RoomState(
            name=name,
            topic=record.topic,
            topic_by=record.topic_by,
            topic_ms=record.topic_ms,
            created_ms=record.created_ms,
            modes="+n",
            key=None,
            limit=None,
        )

    def members(self, session: Session, name: str) -> list[str]:
        """Who is in a room (native ``who``): display names."""
        self.authed(session)
        room = self.known_room(self.room_name(name))
        return room.member_names() if room is not None else []

    # -- messages ----------------------------------------------------------------------

    def say(
        self,
        session: Session,
        name: str,
        text: str,
        nonce: str | None,
        done: Done,
        failed: Failed,
    ) -> None:
        """Store a message in a room, then deliver it; ``done(message)`` acknowledges it.

        Raises at once for a request that cannot be honoured. ``done`` and ``failed`` run
        later, after the store's commit, only while the session is open.
        """
        user, ident = self.authed(session)
        name = self.room_name(name)
        room = self._member_room(session, name, "before you speak in it")
        self.check_text(text)
        self.moderation.check_not_muted(session)
        self._check_can_speak(session, room)
        if nonce is not None and self._resend(session, nonce, (name, ""), done, failed):
            return
        message = self._new_message(ident, user, text, nonce, room=name)

        def deliver() -> None:
            live = self.registry.rooms.get(name)
            if live is not None:
                sent = self.registry.fanout(
                    live.sessions, lambda enc: enc.message(message), exclude=session
                )
                self.registry.stats.deliveries_total += sent

        self._after_store(session, message, deliver, done, failed)

    def dm(
        self,
        session: Session,
        to: str,
        text: str,
        nonce: str | None,
        done: Done,
        failed: Failed,
    ) -> None:
        """A direct message: stored for an account (delivered when it is offline too),
        live only to a guest (nothing of a guest is kept)."""
        user, ident = self.authed(session)
        self.check_text(text)
        account = self.store.get_account(to) if is_user_name(to) else None
        online = self.registry.by_name(to)
        if account is not None:
            to_name = account.name
        elif online:
            to_name = next(iter(online)).user or to
        else:
            raise NoSuchUser(f"there is no user {to!r}")
        self.moderation.check_not_muted(session)
        target_key = fold_user(to_name)
        if nonce is not None and self._resend(session, nonce, (None, target_key), done, failed):
            return
        message = self._new_message(
            ident, user, text, nonce, recipient=to_name, keep=account is not None
        )

        def deliver() -> None:
            targets = set(self.registry.by_name(to_name)) | self.registry.online(ident)
            sent = self.registry.fanout(targets, lambda enc: enc.message(message), exclude=session)
            self.registry.stats.deliveries_total += sent
            if account is not None and self.registry.by_name(to_name):
                self.store.set_dm_cursor(account.name, message.id)

        self._after_store(session, message, deliver, done, failed)

    def _new_message(
        self,
        ident: Ident,
        sender: str,
        text: str,
        nonce: str | None,
        *,
        room: str | None = None,
        recipient: str | None = None,
        keep: bool = True,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.store.next_message_id(),
            sender=sender,
            text=text,
            ts_ms=self.clock.wall_ms(),
            room=room,
            recipient=recipient,
            nonce=nonce,
        )
        if keep:
            self.store.append_message(message)
        if nonce is not None:
            self._pending_nonces[(ident, nonce)] = message
        self.registry.stats.messages_total += 1
        return message

    def _after_store(
        self,
        session: Session,
        message: StoredMessage,
        deliver: Callable[[], None],
        done: Done,
        failed: Failed,
    ) -> None:
        key = (session.ident, message.nonce) if message.nonce is not None else None

        def committed() -> None:
            if key is not None:
                self._pending_nonces.pop(key, None)
            deliver()
            if not session.closed:
                done(message)

        def lost(exc: StoreError) -> None:
            if key is not None:
                self._pending_nonces.pop(key, None)
            if not session.closed:
                failed(StorageFailed(retry_after=5.0))

        self.outbox.after_commit(committed, lost)

    def _resend(
        self,
        session: Session,
        nonce: str,
        target: tuple[str | None, str],
        done: Done,
        failed: Failed,
    ) -> bool:
        """A retried say/dm: acknowledge the original to the sender only. True if found."""
        assert session.user is not None
        original = self._pending_nonces.get((session.ident, nonce))
        if original is None:
            since = self.clock.wall_ms() - NONCE_MEMORY_MS
            original = self.store.find_by_nonce(session.user, nonce, since)
        if original is None or (original.room, fold_user(original.recipient or "")) != target:
            return False  # a nonce reused for another room or person is a new message
        found = original
        self.outbox.after_commit(
            lambda: None if session.closed else done(found),
            lambda exc: None if session.closed else failed(StorageFailed(retry_after=5.0)),
        )
        return True

    def relay(
        self, session: Session, kind: str, room: str | None, to: str | None, text: str
    ) -> None:
        """Pass a live-only ``notice``/``ctcp`` to a room's members or to a user; not stored.

        Raises like :meth:`say` and :meth:`dm` do (membership, mute, moderation, no such
        user), so a door can decide whether to tell the sender.
        """
        user, _ = self.authed(session)
        self.moderation.check_not_muted(session)
        text = clean_reason(text, self.config.limits.max_text) or ""
        if not text:
            raise InvalidField("text is empty")
        targets: Iterable[Session]
        if room is not None:
            name = self.room_name(room)
            live = self._member_room(session, name, "before you speak in it")
            self._check_can_speak(session, live)
            targets = live.sessions
        else:
            assert to is not None
            targets = self.registry.by_name(to)
            if not targets:
                raise NoSuchUser(f"{to!r} is not online")
        self.registry.fanout(
            targets, lambda enc: enc.relay(kind, user, room, to, text), exclude=session
        )

    def relay_to_ops(self, session: Session, kind: str, room: str, text: str) -> None:
        """A live-only message to a room's operators (IRC ``PRIVMSG @#room``): ``kind``
        ``privmsg`` or ``notice``; the members who are not operators never see it."""
        user, _ = self.authed(session)
        self.moderation.check_not_muted(session)
        text = clean_reason(text, self.config.limits.max_text) or ""
        if not text:
            raise InvalidField("text is empty")
        live = self._member_room(session, self.room_name(room), "before you speak in it")
        self._check_can_speak(session, live)
        ops = [s for s in live.sessions if self.is_op(s, live)]
        self.registry.fanout(
            ops, lambda enc: enc.relay(f"ops_{kind}", user, room, None, text), exclude=session
        )

    # -- history -----------------------------------------------------------------------

    def page_size(self, before: int | None, since: int | None, limit: int | None) -> int:
        """Check a history request's paging; the number of messages to send."""
        cap = self.config.limits.max_replay
        count = min(DEFAULT_REPLAY, cap) if limit is None else limit
        if not 1 <= count <= cap:
            raise InvalidField(f"limit must be between 1 and {cap}")
        if before is not None and since is not None:
            raise InvalidField("give 'before' or 'since', not both")
        return count

    def check_history_access(self, session: Session, name: str) -> None:
        """A closed room (+i, +k or +s) shows its history to members and admins only."""
        room = self.known_room(name)
        if room is None or session.role == "admin" or session in room.sessions:
            return
        if "i" in room.modes or "s" in room.modes or room.key is not None:
            raise Forbidden(f"{name} is closed; join it to read its history", detail="closed")

    def history(
        self,
        session: Session,
        name: str,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """A page of a room's messages, oldest first: before ``before`` (newest first
        chosen) or after ``since`` (oldest first chosen)."""
        self.authed(session)
        name = self.room_name(name)
        self.check_history_access(session, name)
        count = self.page_size(before, since, limit)
        if since is not None:
            page = self.store.room_since(name, since, count)
        else:
            page = self.store.room_before(name, before, count)
        return HistoryPage(name, page.messages, page.more)

    def history_between(
        self, session: Session, name: str, low: int, high: int, limit: int
    ) -> HistoryPage:
        """Messages with ``low < id < high``, oldest first (IRC CHATHISTORY BETWEEN)."""
        page = self.history(session, name, since=low, limit=limit)
        kept = [m for m in page.messages if m.id < high]
        return HistoryPage(name, kept, page.more and len(kept) == len(page.messages))

    def latest(self, session: Session, name: str, after: int, limit: int) -> HistoryPage:
        """The newest ``limit`` messages with id > ``after``, oldest first."""
        self.authed(session)
        name = self.room_name(name)
        self.check_history_access(session, name)
        page = self.store.room_after(name, after, limit)
        return HistoryPage(name, page.messages, page.more)

    def dm_history(
        self,
        session: Session,
        before: int | None = None,
        since: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """Page through the user's direct messages (sent and received), oldest first."""
        user, _ = self.authed(session)
        if session.guest:
            return HistoryPage(None, [], False)  # nothing of a guest is kept
        count = self.page_size(before, since, limit)
        if since is not None:
            page = self.store.dms_since(user, since, count)
        else:
            page = self.store.dms_before(user, before, count)
        return HistoryPage(None, page.messages, page.more)

    # -- the room list -----------------------------------------------------------------

    def list_rooms(
        self, session: Session, after: str | None = None, limit: int = ROOM_PAGE
    ) -> RoomPage:
        """Rooms by name, a page at a time; secret rooms (+s) only for their members."""
        self.authed(session)
        records = self.store.list_rooms(after, limit + 1)
        more = len(records) > limit
        out: list[RoomSummary] = []
        for record in records[:limit]:
            live = self.registry.rooms.get(record.name)
            if (
                live is not None
                and "s" in live.modes
                and not (session in live.sessions or session.role == "admin")
            ):
                continue
            count = live.member_count if live is not None else 0
            out.append(RoomSummary(record.name, count, record.topic))
        return RoomPage(out, records[limit - 1].name if more else None)

    def summaries(self) -> list[RoomSummary]:
        """Every room, live or stored (the operators' ``rooms`` command)."""
        out = []
        for record in self.store.list_rooms(None, 1_000_000):
            live = self.registry.rooms.get(record.name)
            out.append(RoomSummary(record.name, live.member_count if live else 0, record.topic))
        return out

    # -- topic -------------------------------------------------------------------------

    def set_topic(self, session: Session, name: str, text: str) -> tuple[str, str, int]:
        """Change a room's topic; the other members are told. Returns (text, by, ts_ms)."""
        user, _ = self.authed(session)
        name = self.room_name(name)
        if name not in session.rooms and session.role != "admin":
            self.known_room(name)
            raise NotInRoom(f"join {name!r} to set its topic")
        room = self.registry.rooms.get(name)
        if room is not None and "t" in room.modes and not self.is_op(session, room):
            raise Forbidden(f"only operators set the topic of {name}", detail="not_op")
        return self.change_topic(name, text, user, exclude=session)

    def change_topic(
        self, name: str, text: str, by: str, exclude: Session | None = None
    ) -> tuple[str, str, int]:
        """Set a room's topic and tell its members (all but ``exclude``)."""
        if len(text) > MAX_TOPIC or (text and text_problem(text, MAX_TOPIC)):
            raise InvalidField(f"a topic holds at most {MAX_TOPIC} characters, no control codes")
        room = self.known_room(name)
        now = self.clock.wall_ms()
        self.store.set_topic(name, text, by, now)
        if room is not None:
            room.topic, room.topic_by, room.topic_ms = text, by, now
            self.registry.fanout(
                room.sessions, lambda enc: enc.topic(name, text, by, now), exclude=exclude
            )
        return text, by, now

    # -- modes, invites, kicks ---------------------------------------------------------

    def set_modes(
        self, session: Session, name: str, wanted: list[tuple[str, str, str | None]]
    ) -> tuple[ModeChange, list[tuple[str, str | None, str]]]:
        """Apply room modes; the other members are told what changed.

        Returns the changes applied and the ones refused, each as (letter, argument,
        why): ``why`` is ``needs_arg``, ``not_in_room``, ``unknown``, ``bad_arg`` or
        ``full`` (too many bans). Raises Forbidden (``not_op``) when the session may not
        change modes at all.
        """
        user, _ = self.authed(session)
        room = self.registry.rooms.get(self.room_name(name))
        if room is None:
            self.known_room(name)
            raise NotInRoom(f"nobody is in {name!r}; join it first")
        if not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        applied: list[tuple[str, str, str | None]] = []
        refused: list[tuple[str, str | None, str]] = []
        for sign, letter, arg in wanted:
            problem = self._apply_mode(room, user, sign, letter, arg)
            if problem is None:
                shown = arg if letter in "ovbk" or (letter == "l" and sign == "+") else None
                if letter == "b" and arg is not None:
                    shown = str(BanMask.parse(arg))
                if letter == "k":
                    shown = "*" if sign == "-" else room.key  # the key as kept: stripped
                applied.append((sign, letter, shown))
            else:
                refused.append((letter, arg, problem))
        change = ModeChange(tuple(applied))
        if change:
            self.registry.fanout(
                room.sessions, lambda enc: enc.mode(room.name, user, change), exclude=session
            )
        return change, refused

    def _apply_mode(
        self, room: Room, by: str, sign: str, letter: str, arg: str | None
    ) -> str | None:
        add = sign == "+"
        if letter in MODE_FLAGS:
            if add == (letter in room.modes):
                return "unchanged"
            (room.modes.add if add else room.modes.discard)(letter)
            return None
        if letter == "k":
            if not add:
                if room.key is None:
                    return "unchanged"
                room.key = None
                return None
            key = (arg or "").strip()
            if not key or " " in key or "," in key or len(key) > MAX_KEY or _CONTROL.search(key):
                return "bad_arg"
            room.key = key
            return None
        if letter == "l":
            if not add:
                if room.limit is None:
                    return "unchanged"
                room.limit = None
                return None
            if arg is None:
                return "needs_arg"
            if not (arg.isascii() and arg.isdigit()) or not 0 < int(arg) <= MAX_LIMIT:
                return "bad_arg"
            room.limit = int(arg)
            return None
        if letter in "ov":
            if arg is None:
                return "needs_arg"
            targets = [s for s in room.sessions if s.key == fold_user(arg)]
            if not targets:
                return "not_in_room"
            group = room.ops if letter == "o" else room.voiced
            (group.add if add else group.discard)(targets[0].ident)
            return None
        if letter == "b":
            if arg is None:
                return "needs_arg"
            mask = BanMask.parse(arg)
            same = str(mask).lower()  # compared as they match: ignoring case
            present = [b for b in room.bans if str(b.mask).lower() == same]
            if add:
                if present:
                    return "unchanged"
                if len(room.bans) >= Room.MAX_BANS:
                    return "full"
                room.bans.append(RoomBan(mask, by, self.clock.wall_ms()))
            else:
                if not present:
                    return "unchanged"
                room.bans[:] = [b for b in room.bans if str(b.mask).lower() != same]
            return None
        return "unknown"

    def bans_of(self, session: Session, name: str) -> list[RoomBan]:
        self.authed(session)
        room = self.known_room(self.room_name(name))
        return list(room.bans) if room is not None else []

    def invite(self, session: Session, name: str, target: str) -> str:
        """Let ``target`` past +i; they are told. Returns the target's display name.

        Raises NoSuchUser, NoSuchRoom, NotInRoom (you are not in it), Forbidden
        (``not_op`` for +i rooms; ``already`` when the target is a member).
        """
        user, _ = self.authed(session)
        sessions = self.registry.by_name(target)
        if not sessions:
            raise NoSuchUser(f"{target!r} is not online")
        room = self._member_room(session, self.room_name(name), "before you invite to it")
        if any(s in room.sessions for s in sessions):
            raise Forbidden(f"{target} is already in {name}", detail="already")
        if "i" in room.modes and not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        first = next(iter(sessions))
        room.invited.add(first.ident)
        shown = first.user or target
        self.registry.fanout(sessions, lambda enc: enc.invited(room.name, user, shown))
        return shown

    def kick(self, session: Session, name: str, target: str, reason: str | None) -> None:
        """Remove every session of ``target`` from a room (needs operator status)."""
        by, _ = self.authed(session)
        room = self._member_room(session, self.room_name(name), "first")
        if not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        victims = [s for s in room.sessions if s.key == fold_user(target)]
        if not victims:
            raise NotInRoom(f"{target} is not in {name}", detail="target")
        text = clean_reason(reason) or by
        # Everyone, the victims included, hears the kick before the victims are removed.
        self.registry.presence(room, victims[0], "left", "kicked", online=True, by=by, text=text)
        for victim in victims:
            victim.rooms.discard(room.name)
            room.remove(victim)
        if not room.sessions:
            del self.registry.rooms[room.name]
