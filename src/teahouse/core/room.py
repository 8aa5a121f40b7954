"""A room with members online: who is in it, by session and by user."""

from __future__ import annotations

from teahouse.core.session import Session


class Room:
    """The live side of a room. Persisted facts (topic) are mirrored from the store.

    A user connected twice is one member: ``users`` counts sessions per user, and presence
    changes only when a user's first session joins or last session leaves.
    """

    __slots__ = (
        "bans",
        "created_ms",
        "invited",
        "key",
        "limit",
        "modes",
        "name",
        "ops",
        "sessions",
        "topic",
        "topic_by",
        "users",
        "voiced",
    )

    def __init__(self, name: str, topic: str, topic_by: str, created_ms: int = 0) -> None:
        self.name = name
        self.topic = topic
        self.topic_by = topic_by
        self.created_ms = created_ms
        self.sessions: set[Session] = set()
        # Room modes, in memory while the room has members (as on IRC servers):
        # flags from "imnt", a key (+k), a member limit (+l), operators and voiced users
        # (folded names), ban masks (+b) and users invited past +i.
        # Only +n by default: any member may set the topic, as the native contract lets
        # them; an operator can lock it with +t.
        self.modes: set[str] = {"n"}
        self.key: str | None = None
        self.limit: int | None = None
        self.ops: set[str] = set()
        self.voiced: set[str] = set()
        self.bans: list[tuple[str, str, int]] = []
        """(mask, set by, set at ms)"""
        self.invited: set[str] = set()
        self.users: dict[str, tuple[str, int]] = {}
        """Folded user name -> (display name, sessions of that user in the room)."""

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
        """Add a session; True when its user was not in the room before."""
        if session in self.sessions:
            return False
        assert session.key is not None and session.user is not None
        self.sessions.add(session)
        name, count = self.users.get(session.key, (session.user, 0))
        self.users[session.key] = (name, count + 1)
        return count == 0

    def remove(self, session: Session) -> bool:
        """Remove a session; True when it was its user's last one in the room."""
        if session not in self.sessions:
            return False
        self.sessions.discard(session)
        assert session.key is not None
        name, count = self.users[session.key]
        if count <= 1:
            del self.users[session.key]
            return True
        self.users[session.key] = (name, count - 1)
        return False
