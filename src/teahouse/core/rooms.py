"""Rooms: join, part, topics, modes, invites, kicks, the room list, and ownership.

Every change of room state goes through here, whichever door asked, so every door's
members see it. Commands check their request, change the state, tell the *other* sessions
through their encoders, and return what happened (:mod:`teahouse.core.results`); the
door that asked renders its own reply.

Who runs a room:

- a **registered** room (an account registered it) has an owner and operators kept by
  account id, and its modes, in the store: they survive restarts, and joining first
  gives nothing;
- an unregistered room gives operator status to whoever opens it when empty, as IRC does,
  only as ``rooms.first_joiner_ops`` allows: by default in a room new to the server, and
  in a room that only guests have ever used (an IRC scratch channel) — never in a room an
  account holder has been in, so nobody can take a community's room by being first after
  a restart;
- admins are operators everywhere. A guest's operator status and invites belong to its
  session, never to its nick.
"""

from __future__ import annotations

import re

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.limits import AddressRate, Rate
from teahouse.core.masks import BanMask
from teahouse.core.outbox import Outbox
from teahouse.core.registry import Registry
from teahouse.core.results import (
    JoinResult,
    Member,
    ModeChange,
    Replay,
    RoomPage,
    RoomState,
    RoomSummary,
    UserInfo,
)
from teahouse.core.room import Room, RoomBan
from teahouse.core.session import Ident, Session, oldest
from teahouse.errors import (
    Forbidden,
    InvalidField,
    InvalidName,
    NoSuchRoom,
    NoSuchUser,
    NotAuthed,
    NotInRoom,
    StorageFailed,
    Throttled,
)
from teahouse.logs import log_audit
from teahouse.protocol.modes import MODE_FLAGS, MODE_LISTS, takes_argument
from teahouse.protocol.names import fold_user, is_room_name
from teahouse.protocol.text import clean_text
from teahouse.store.base import Store

DEFAULT_REPLAY = 50
"""Messages replayed on ``join`` without ``since``."""
MAX_TOPIC = 390
MAX_REASON = 300
"""Characters of a part, quit or kick reason that are passed on."""
MAX_AWAY = 200
"""Characters of an away message."""
MAX_KEY = 23
"""Characters of a room key (+k)."""
MAX_LIMIT = 100_000
"""Largest member limit (+l) accepted."""
ROOM_PAGE = 200
"""Rooms per page of the room list."""

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def clean_reason(text: str | None, formatting: bool = False, limit: int = MAX_REASON) -> str | None:
    """A free-text reason as others may see it (the one set of text rules), or None."""
    if not text:
        return None
    return clean_text(text, limit, formatting=formatting).strip() or None


def authed(session: Session) -> tuple[str, Ident]:
    if session.user is None or not session.authenticated:
        raise NotAuthed()
    return session.user, session.ident


def room_name(name: str) -> str:
    if not is_room_name(name):
        raise InvalidName(
            "room names are 1-50 lower-case letters, digits, _ or -, starting with a "
            "letter or digit"
        )
    return name


class Rooms:
    def __init__(
        self, config: Config, store: Store, clock: Clock, registry: Registry, outbox: Outbox
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self.outbox = outbox
        per_hour = config.rooms.create_per_hour
        self._creations = AddressRate(Rate(per_hour / 3600, max(per_hour, 1.0)))

    # -- finding rooms -----------------------------------------------------------------

    def live_room(self, session: Session | None, name: str, create: bool) -> Room:
        """The live room, loaded from the store or created (``session`` creates it)."""
        room = self.registry.rooms.get(name)
        if room is not None:
            return room
        record = self.store.get_room(name)
        new = record is None
        if record is None:
            if not create:
                raise NoSuchRoom(f"there is no room {name!r}")
            self._check_can_create(session)
            self._check_writable()
            record = self.store.create_room(name, self.clock.wall_ms())
            self.outbox.wake()
        room = Room(record.name, record.topic, record.topic_by, record.topic_ms, record.created_ms)
        room.owner_id = record.owner_id
        room.community = record.community
        if record.owner_id is not None:
            room.restore_modes(record.modes)
            room.ops.update(self.store.room_grants(name))
        self.registry.rooms[name] = room
        if new:
            room.created_now = True
        return room

    def _check_writable(self) -> None:
        """Refuse a change that lasts only through the store while the store cannot keep
        it: nobody is told of a topic or a room that a restart would take back."""
        problem = self.store.failing()
        if problem is not None:
            raise StorageFailed(f"{problem}; nothing was changed, try again", retry_after=5.0)

    def _check_can_create(self, session: Session | None) -> None:
        """Quotas: rooms one account may create per hour, and rooms in all."""
        limits = self.config.rooms
        if self.store.count_rooms() >= limits.max_rooms:
            raise Forbidden(
                "the server holds as many rooms as it may; join one that exists",
                detail="rooms_full",
            )
        if session is None or session.role == "admin":
            return
        key = f"a{session.account_id}" if session.account_id is not None else f"ip:{session.ip}"
        wait = self._creations.allow(key, self.clock.monotonic())
        if wait is not None:
            raise Throttled("you have created enough rooms for now", retry_after=round(wait, 1))

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

    def member_room(self, session: Session, name: str, doing: str) -> Room:
        """The live room ``session`` is in; NotInRoom (or NoSuchRoom) otherwise."""
        room = self.registry.rooms.get(name)
        if room is None or session not in room.sessions:
            self.known_room(name)
            raise NotInRoom(f"join {name!r} {doing}")
        return room

    def speaking_room(self, session: Session, name: str) -> Room:
        """The live room ``session`` may speak in: a member, or anyone when the room is
        open to messages from outside (``-n``)."""
        room = self.registry.rooms.get(name)
        if room is not None and (session in room.sessions or "n" not in room.modes):
            self.check_can_speak(session, room)
            return room
        return self.member_room(session, name, "before you speak in it")

    def check_can_speak(self, session: Session, room: Room) -> None:
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
        _user, ident = authed(session)
        name = room_name(name)
        if name not in session.rooms and len(session.rooms) >= self.config.rooms.max_joined:
            # Before the room is looked up: a refused join creates nothing.
            raise Forbidden(
                f"you are in {len(session.rooms)} rooms, the most one may be in",
                detail="too_many_rooms",
            )
        room = self.live_room(session, name, create=True)
        already = session in room.sessions
        if not already:
            self._check_can_join(session, room, key)
            if not room.sessions and self._first_comer_runs_it(session, room):
                room.ops.add(ident)
            room.invited.discard(ident)
            if not session.guest and not room.community:
                room.community = True
                self.store.mark_community(name)
                self.outbox.wake()
            room.created_now = False
            first = room.add(session)
            session.enter(room.name)
            if first:
                self.registry.presence(room, session, "joined", None, exclude=session)
        history = self._replay(name, since) if replay else None
        return JoinResult(self.room_state(room), history, already)

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

    def _first_comer_runs_it(self, session: Session, room: Room) -> bool:
        if room.registered:
            return False
        rule = self.config.rooms.first_joiner_ops
        if rule == "always":
            return True
        if rule == "never":
            return False
        if room.created_now:
            return True  # a room this very join created
        return rule == "guest_rooms" and session.guest and not room.community

    def _check_can_join(self, session: Session, room: Room, key: str | None) -> None:
        if session.role == "admin" or (
            session.account_id is not None and session.account_id == room.owner_id
        ):
            return
        name, host = session.user or "", session.host
        if room.matches("b", name, host) and not room.matches("e", name, host):
            raise Forbidden(f"you are banned from {room.name}", detail="banned")
        # One user is one member: a second session of a member gets past +i and +l.
        invited = session.ident in room.invited or session.ident in room.users
        if "i" in room.modes and not (invited or room.matches("I", name, host)):
            raise Forbidden(f"{room.name} is invite only", detail="invite_only")
        if room.key is not None and key != room.key:
            raise Forbidden(f"{room.name} needs a key", detail="bad_key")
        if room.limit is not None and room.member_count >= room.limit and not invited:
            raise Forbidden(f"{room.name} is full", detail="full")

    def part(
        self, session: Session, name: str, reason: str | None = None, formatting: bool = False
    ) -> None:
        """Leave a room; the others see ``left`` with reason ``part`` and the text."""
        authed(session)
        name = room_name(name)
        if name not in session.rooms:
            self.known_room(name)
            raise NotInRoom(f"you are not in {name!r}")
        self.registry.leave(session, name, "part", clean_reason(reason, formatting))

    # -- what a room looks like ----------------------------------------------------------

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
            owner_id=room.owner_id,
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
        """A room's state for a query (IRC TOPIC, MODE, NAMES; native ``mode``)."""
        authed(session)
        name = room_name(name)
        room = self.known_room(name)
        if room is not None:
            return self.room_state(room)
        record = self.store.get_room(name)
        assert record is not None
        saved = Room(name, record.topic, record.topic_by, record.topic_ms, record.created_ms)
        saved.restore_modes(record.modes)
        return RoomState(
            name=name,
            topic=record.topic,
            topic_by=record.topic_by,
            topic_ms=record.topic_ms,
            created_ms=record.created_ms,
            modes=saved.mode_string(),
            key=None,
            limit=saved.limit,
            owner_id=record.owner_id,
        )

    def members(self, session: Session, name: str) -> list[str]:
        """Who is in a room (native ``who``): display names."""
        authed(session)
        room = self.known_room(room_name(name))
        return room.member_names() if room is not None else []

    def check_history_access(self, session: Session, name: str) -> None:
        """A closed room (+i, +k or +s) shows its history to members and admins only."""
        room = self.known_room(name)
        if room is None or session.role == "admin" or session in room.sessions:
            return
        if "i" in room.modes or "s" in room.modes or room.key is not None:
            raise Forbidden(f"{name} is closed; join it to read its history", detail="closed")

    # -- the room list -----------------------------------------------------------------

    def list_rooms(
        self, session: Session, after: str | None = None, limit: int = ROOM_PAGE
    ) -> RoomPage:
        """Rooms by name, a page at a time; secret rooms (+s) only for their members."""
        authed(session)
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

    def summaries(self, after: str | None = None, limit: int = 1_000_000) -> list[RoomSummary]:
        """Rooms, live or stored (the operators' ``rooms`` command)."""
        out = []
        for record in self.store.list_rooms(after, limit):
            live = self.registry.rooms.get(record.name)
            out.append(RoomSummary(record.name, live.member_count if live else 0, record.topic))
        return out

    # -- topic -------------------------------------------------------------------------

    def set_topic(
        self, session: Session, name: str, text: str, formatting: bool = False
    ) -> tuple[str, str, int]:
        """Change a room's topic; the other members are told. Returns (text, by, ts_ms)."""
        user, _ = authed(session)
        name = room_name(name)
        if name not in session.rooms and session.role != "admin":
            self.known_room(name)
            raise NotInRoom(f"join {name!r} to set its topic")
        room = self.registry.rooms.get(name)
        if room is not None and "t" in room.modes and not self.is_op(session, room):
            raise Forbidden(f"only operators set the topic of {name}", detail="not_op")
        return self.change_topic(name, text, user, exclude=session, formatting=formatting)

    def change_topic(
        self,
        name: str,
        text: str,
        by: str,
        exclude: Session | None = None,
        formatting: bool = False,
    ) -> tuple[str, str, int]:
        """Set a room's topic and tell its members (all but ``exclude``)."""
        if len(text) > MAX_TOPIC:
            raise InvalidField(f"a topic holds at most {MAX_TOPIC} characters")
        text = clean_text(text, MAX_TOPIC, formatting=formatting)
        room = self.known_room(name)
        self._check_writable()
        now = self.clock.wall_ms()
        self.store.set_topic(name, text, by, now)
        self.outbox.wake()
        if room is not None:
            room.topic, room.topic_by, room.topic_ms = text, by, now
            self.registry.fanout(
                room.sessions, lambda enc: enc.topic(name, text, by, now), exclude=exclude
            )
        return text, by, now

    # -- modes -------------------------------------------------------------------------

    def set_modes(
        self, session: Session, name: str, wanted: list[tuple[str, str, str | None]]
    ) -> tuple[ModeChange, list[tuple[str, str | None, str]]]:
        """Apply room modes; the other members are told what changed.

        Returns the changes applied and the ones refused, each as (letter, argument,
        why): ``why`` is ``needs_arg``, ``not_in_room``, ``unknown``, ``bad_arg``,
        ``unchanged``, ``guest`` (a guest may not run a community's room) or ``full``.
        Raises Forbidden (``not_op``) when the session may not change modes at all.
        """
        user, _ = authed(session)
        room = self.registry.rooms.get(room_name(name))
        if room is None:
            self.known_room(name)
            raise NotInRoom(f"nobody is in {name!r}; join it first")
        if not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        return self.apply_modes(room, user, wanted, session)

    def apply_modes(
        self,
        room: Room,
        by: str,
        wanted: list[tuple[str, str, str | None]],
        session: Session | None = None,
    ) -> tuple[ModeChange, list[tuple[str, str | None, str]]]:
        """Apply modes to a live room as ``by`` (``session`` None: the server's operator,
        who may do anything). See :meth:`set_modes`."""
        if room.registered:
            self._check_writable()  # its modes last only through the store
        applied: list[tuple[str, str, str | None]] = []
        refused: list[tuple[str, str | None, str]] = []
        for sign, letter, arg in wanted:
            problem = self._apply_mode(room, session, by, sign, letter, arg)
            if problem is None:
                shown = arg if takes_argument(sign, letter) else None
                if letter in MODE_LISTS and arg is not None:
                    shown = str(BanMask.parse(arg))
                if letter == "k":
                    shown = room.key if sign == "+" else "*"  # the key that works, as kept
                applied.append((sign, letter, shown))
            else:
                refused.append((letter, arg, problem))
        change = ModeChange(tuple(applied), room.mode_string())
        if change:
            if room.registered:
                self.store.save_room_modes(room.name, room.saved_modes())
                self.outbox.wake()
            flags, args = change.flags_and_args()
            entrance = session.door if session is not None else "server"
            log_audit(by, entrance, "mode", room=room.name, changes=flags, args=args)
            self.registry.fanout(
                room.sessions, lambda enc: enc.mode(room.name, by, change), exclude=session
            )
        return change, refused

    def _apply_mode(
        self,
        room: Room,
        session: Session | None,
        by: str,
        sign: str,
        letter: str,
        arg: str | None,
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
            return self._apply_member_mode(room, session, letter, add, arg)
        if letter in MODE_LISTS:
            return self._apply_list_mode(room, by, letter, add, arg)
        return "unknown"

    def _apply_member_mode(
        self, room: Room, session: Session | None, letter: str, add: bool, arg: str | None
    ) -> str | None:
        if arg is None:
            return "needs_arg"
        targets = [s for s in room.sessions if s.key == fold_user(arg)]
        if not targets:
            return "not_in_room"
        target = targets[0]
        if letter == "v":
            (room.voiced.add if add else room.voiced.discard)(target.ident)
            return None
        if add and target.guest and (room.registered or room.community):
            return "guest"  # guests never run a room an account holder uses
        owner = target.account_id is not None and target.account_id == room.owner_id
        if not add and owner and session is not None and session.role != "admin":
            return "owner"
        (room.ops.add if add else room.ops.discard)(target.ident)
        if room.registered and target.account_id is not None and not owner:
            self.store.set_room_grant(room.name, target.account_id, "op" if add else None)
            self.outbox.wake()
        return None

    def _apply_list_mode(
        self, room: Room, by: str, letter: str, add: bool, arg: str | None
    ) -> str | None:
        if arg is None:
            return "needs_arg"
        mask = BanMask.parse(arg)
        entries = room.lists.setdefault(letter, [])
        present = any(b.mask.key == mask.key for b in entries)
        if add:
            if present:
                return "unchanged"
            if len(entries) >= Room.MAX_LIST:
                return "full"
            entries.append(RoomBan(mask, by, self.clock.wall_ms()))
        else:
            if not present:
                return "unchanged"
            entries[:] = [b for b in entries if b.mask.key != mask.key]
        return None

    def mode_list(self, session: Session, name: str, letter: str) -> list[RoomBan]:
        """The masks of list mode ``letter`` (``b``, ``e`` or ``I``) of a room."""
        authed(session)
        room = self.known_room(room_name(name))
        return list(room.lists.get(letter, ())) if room is not None else []

    # -- invites and kicks -------------------------------------------------------------

    def invite(self, session: Session, name: str, target: str) -> str:
        """Let ``target`` past +i and +l; they are told. Returns the target's display name.

        Raises NoSuchUser, NoSuchRoom, NotInRoom (you are not in it), Forbidden
        (``not_op`` for +i rooms; ``already`` when the target is a member).
        """
        user, _ = authed(session)
        sessions = self.registry.by_name(target)
        if not sessions:
            raise NoSuchUser(f"{target!r} is not online")
        room = self.member_room(session, room_name(name), "before you invite to it")
        if any(s in room.sessions for s in sessions):
            raise Forbidden(f"{target} is already in {name}", detail="already")
        if "i" in room.modes and not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        first = next(iter(sessions))
        room.invited.add(first.ident)
        shown = first.user or target
        self.registry.fanout(sessions, lambda enc: enc.invited(room.name, user, shown))
        return shown

    def kick(
        self,
        session: Session,
        name: str,
        target: str,
        reason: str | None,
        formatting: bool = False,
    ) -> tuple[Session, str]:
        """Remove every session of ``target`` from a room (needs operator status); everyone
        in it, the target too, sees who did it and why; the kicker's own connection is left
        to its door's reply. Returns the (first) session kicked and the text given."""
        by, _ = authed(session)
        room = self.member_room(session, room_name(name), "first")
        if not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        victims = [s for s in room.sessions if s.key == fold_user(target)]
        if not victims:
            raise NotInRoom(f"{target} is not in {name}", detail="target")
        victim = victims[0]
        owner = victim.account_id is not None and victim.account_id == room.owner_id
        if owner and session.role != "admin":
            raise Forbidden("the room's owner cannot be kicked", detail="not_op")
        text = clean_reason(reason, formatting) or by
        log_audit(by, session.door, "kick", room=room.name, user=victim.user, reason=text)
        # Everyone, the victims included, hears the kick before the victims are removed.
        self.registry.presence(
            room, victim, "left", "kicked", session, online=True, by=by, text=text
        )
        for one in victims:
            one.left(room.name)
            room.remove(one)
        if not room.sessions:
            del self.registry.rooms[room.name]
        return victim, text

    # -- people --------------------------------------------------------------------------

    def set_away(self, session: Session, text: str | None, formatting: bool = False) -> None:
        """Mark the session's user away (``text``) or back (None); the members of its rooms
        are told (IRC: those with away-notify)."""
        authed(session)
        away = clean_reason(text, formatting, limit=MAX_AWAY)
        peers: set[Session] = set()
        for session_ in self.registry.online(session.ident):
            session_.away = away
        for name in session.rooms:
            room = self.registry.rooms.get(name)
            if room is not None:
                peers |= room.sessions
        peers -= self.registry.online(session.ident)
        self.registry.fanout(peers, lambda enc: enc.away(session))

    def whois(self, session: Session, name: str) -> UserInfo | None:
        """What anyone may learn of a user (None: an account that is not online). The real
        address only for admins. Raises NoSuchUser for a name nobody has."""
        authed(session)
        sessions = self.registry.by_name(name)
        if not sessions:
            if self.store.get_account(name) is None:
                raise NoSuchUser(f"there is no user {name!r}")
            return None
        first = oldest(sessions)
        now = self.clock.monotonic()
        rooms = set()
        for one in sessions:
            for room_name in one.rooms:
                room = self.registry.rooms.get(room_name)
                secret = room is not None and "s" in room.modes
                if not secret or session.role == "admin" or room_name in session.rooms:
                    rooms.add(room_name)
        return UserInfo(
            name=first.user or name,
            account=None if first.guest else first.user,
            role=first.role,
            rooms=sorted(rooms),
            away=first.away,
            doors=sorted({s.door for s in sessions}),
            idle_s=round(min(s.idle(now) for s in sessions), 1),
            signon_ms=self.clock.wall_ms() - int((now - first.connected_at) * 1000),
            host=first.host,
            address=first.ip if session.role == "admin" else None,
        )

    def info(self, session: Session, name: str) -> tuple[RoomState, list[str]]:
        """A room's state and its operators' names (registered ones by account)."""
        state = self.state_of(session, name)
        operators: list[str] = []
        if state.owner_id is not None:
            for account_id, grant in self.store.room_grants(state.name).items():
                if grant == "op":
                    account = self.store.account_by_id(account_id)
                    if account is not None:
                        operators.append(account.name)
        else:
            operators = [m.name for m in state.members if m.op]
        return state, sorted(operators)

    def owner_name(self, state: RoomState) -> str | None:
        if state.owner_id is None:
            return None
        account = self.store.account_by_id(state.owner_id)
        return account.name if account is not None else None

    # -- ownership ---------------------------------------------------------------------

    def register(self, session: Session, name: str) -> RoomState:
        """Register a room to the session's account: its owner and operators, and its
        modes, are kept from now on. Needs an account and operator status in the room."""
        authed(session)
        if session.account_id is None:
            raise Forbidden("guests cannot register rooms; log in to an account", detail="guest")
        room = self.member_room(session, room_name(name), "before you register it")
        if room.registered:
            raise Forbidden(f"{room.name} is registered already", detail="registered")
        if not self.is_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        self.set_owner(room, session.account_id)
        log_audit(session.user or "-", session.door, "room register", room=room.name)
        return self.room_state(room)

    def set_owner(self, room: Room, owner_id: int | None) -> None:
        """Give a live room an owner (None: unregister it), kept in the store."""
        self._check_writable()
        old = room.owner_id
        room.owner_id = owner_id
        if owner_id is not None:
            room.ops.add(owner_id)
            room.community = True
            self.store.mark_community(room.name)
            if old is None:
                # Registering: the operators it has now (accounts; guests stay live-only)
                # are kept with it, as grants given afterwards are.
                for ident in room.ops:
                    if ident > 0 and ident != owner_id:
                        self.store.set_room_grant(room.name, ident, "op")
        elif old is not None:
            room.ops.discard(old)
        self.store.register_room(room.name, owner_id, room.saved_modes())
        self.outbox.wake()

    def drop(self, session: Session, name: str) -> None:
        """Unregister a room (its owner or an admin): its grants are forgotten."""
        authed(session)
        room = self.live_room(None, room_name(name), create=False)
        if not room.registered:
            raise Forbidden(f"{room.name} is not registered", detail="registered")
        if session.role != "admin" and session.account_id != room.owner_id:
            raise Forbidden("only the owner drops a room", detail="not_op")
        self.set_owner(room, None)
        log_audit(session.user or "-", session.door, "room drop", room=room.name)
        if not room.sessions:
            self.registry.rooms.pop(room.name, None)

    def delete(self, name: str) -> int:
        """Delete a room with its history; its members are told and removed. Returns how
        many sessions were in it."""
        name = room_name(name)
        room = self.registry.rooms.get(name)
        if room is None and self.store.get_room(name) is None:
            raise NoSuchRoom(f"there is no room {name!r}")
        count = 0
        if room is not None:
            # Everyone is leaving: each member hears of its own departure only.
            for session in list(room.sessions):
                session.send(
                    session.encoder.presence(name, session, "left", "deleted", text="deleted")
                )
                session.left(name)
                count += 1
            room.sessions.clear()
            room.users.clear()
            self.registry.rooms.pop(name, None)
        self.store.delete_room(name)
        self.outbox.wake()
        return count
