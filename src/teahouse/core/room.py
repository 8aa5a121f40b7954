"""A room with members online: who is in it, by session and by identity, and its modes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from teahouse.core.masks import BanMask
from teahouse.core.session import Ident, Session


@dataclass(frozen=True, slots=True)
class RoomBan:
    mask: BanMask
    by: str
    at_ms: int


class Room:
    """The live side of a room. Persisted facts (topic) are mirrored from the store.

    A user connected twice is one member: ``users`` counts sessions per identity, and
    presence changes only when a user's first session joins or last session leaves.
    """

    __slots__ = (
        "community",
        "created_ms",
        "created_now",
        "invited",
        "key",
        "lagging",
        "limit",
        "lists",
        "modes",
        "name",
        "ops",
        "owner_id",
        "sessions",
        "topic",
        "topic_by",
        "topic_ms",
        "users",
        "voiced",
    )

    PACE_GRACE = 10.0
    """Seconds a lagging member holds the room's senders back; then it counts no more (until
    it has caught up and falls behind again), and keeps up or is dropped as a slow
    consumer. Held back means slowed to a line per ``PACE_HOLD`` per sender, far above any
    person's pace: what pacing costs a room is a bot's or a bridge's throughput, never a
    conversation."""

    PACE_SHARE = 8
    """A room is congested while at least one in this many of its members lag: a few slow
    readers (or one that reads slowly on purpose) never hold a busy room back."""

    MAX_LIST = 100
    """Masks per list mode per room: a security limit on what one operator can make the
    server hold."""

    def __init__(
        self, name: str, topic: str, topic_by: str, topic_ms: int = 0, created_ms: int = 0
    ) -> None:
        self.owner_id: int | None = None
        """The account that registered the room; its operators and modes persist."""
        self.community = False
        """An account has been in the room: first comers get no operator status in it."""
        self.created_now = False
        """The room was created by the join in progress (it did not exist before)."""
        self.name = name
        self.topic = topic
        self.topic_by = topic_by
        self.topic_ms = topic_ms
        self.created_ms = created_ms
        self.sessions: set[Session] = set()
        # Room modes, in memory while the room has members (as on IRC servers):
        # flags from "Cimnst", a key (+k), a member limit (+l), operators and voiced
        # members (by identity), mask lists (+b bans, +e ban exceptions, +I invite
        # exceptions) and identities invited past +i and +l.
        # Only +n by default: any member may set the topic, as the native contract lets
        # them; an operator can lock it with +t.
        self.modes: set[str] = {"n"}
        self.key: str | None = None
        self.limit: int | None = None
        self.ops: set[Ident] = set()
        self.voiced: set[Ident] = set()
        self.lists: dict[str, list[RoomBan]] = {}
        """Mode letter (``b``, ``e``, ``I``) -> masks, in the order they were set."""
        self.invited: set[Ident] = set()
        self.users: dict[Ident, tuple[str, int]] = {}
        """Identity -> (display name, sessions of that identity in the room)."""
        self.lagging: dict[Session, float] | None = None
        """Members whose peers fell behind, oldest first, with since when (None: none)."""

    @property
    def registered(self) -> bool:
        return self.owner_id is not None

    def saved_modes(self) -> str:
        """The modes of a registered room as the store keeps them (JSON)."""
        return json.dumps(
            {
                "flags": "".join(sorted(self.modes)),
                "key": self.key,
                "limit": self.limit,
                "lists": {
                    letter: [[str(e.mask), e.by, e.at_ms] for e in entries]
                    for letter, entries in self.lists.items()
                    if entries
                },
            },
            separators=(",", ":"),
        )

    def restore_modes(self, saved: str) -> None:
        """Take back modes from :meth:`saved_modes`; anything unreadable is left as it is."""
        try:
            data = json.loads(saved)
            flags = str(data.get("flags", "n"))
            key = data.get("key")
            limit = data.get("limit")
            lists = {
                str(letter): [RoomBan(BanMask.parse(str(m)), str(by), int(at)) for m, by, at in es]
                for letter, es in dict(data.get("lists", {})).items()
            }
        except (ValueError, TypeError, AttributeError):
            return
        self.modes = set(flags)
        self.key = key if isinstance(key, str) else None
        self.limit = limit if isinstance(limit, int) else None
        self.lists = lists

    @property
    def member_count(self) -> int:
        return len(self.users)

    def mode_string(self) -> str:
        flags = "+" + "".join(sorted(self.modes))
        if self.key is not None:
            flags += "k"
        if self.limit is not None:
            flags += "l"
        return flags

    def member_names(self) -> list[str]:
        return sorted((name for name, _ in self.users.values()), key=str.lower)

    def add(self, session: Session) -> bool:
        """Add a session; True when its identity was not in the room before."""
        if session in self.sessions:
            return False
        assert session.user is not None
        self.sessions.add(session)
        name, count = self.users.get(session.ident, (session.user, 0))
        self.users[session.ident] = (name, count + 1)
        return count == 0

    def remove(self, session: Session) -> bool:
        """Remove a session; True when it was its identity's last one in the room."""
        if session not in self.sessions:
            return False
        self.sessions.discard(session)
        if self.lagging is not None:
            self.caught_up(session)
        name, count = self.users[session.ident]
        if count <= 1:
            del self.users[session.ident]
            return True
        self.users[session.ident] = (name, count - 1)
        return False

    # -- backpressure: members that fall behind hold senders back ------------------------

    def lag(self, session: Session, now: float) -> None:
        """``session``'s peer stopped keeping up (its transport passed its high-water mark)."""
        if session in self.sessions:
            lagging = self.lagging
            if lagging is None:
                lagging = self.lagging = {}
            lagging.setdefault(session, now)

    def caught_up(self, session: Session) -> None:
        """``session``'s peer read what it was behind on (or left)."""
        lagging = self.lagging
        if lagging is not None:
            lagging.pop(session, None)
            if not lagging:
                self.lagging = None

    def congested(self, now: float) -> bool:
        """Whether enough members lag, each for less than :attr:`PACE_GRACE`, that the
        room's senders should wait a little before their next line is read."""
        lagging = self.lagging
        if lagging is None:
            return False
        cutoff = now - self.PACE_GRACE
        while lagging:  # oldest first: those lagging too long no longer count
            first = next(iter(lagging))
            if lagging[first] > cutoff:
                break
            del lagging[first]
        if not lagging:
            self.lagging = None
            return False
        return len(lagging) * self.PACE_SHARE >= len(self.sessions)

    def matches(self, letter: str, name: str, host: str) -> bool:
        """Whether a member with ``name`` and ``host`` matches list mode ``letter``."""
        return any(entry.mask.matches(name, host) for entry in self.lists.get(letter, ()))

    def rename(self, ident: Ident, new: str) -> None:
        if ident in self.users:
            self.users[ident] = (new, self.users[ident][1])
