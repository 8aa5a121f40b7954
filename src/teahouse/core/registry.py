"""Who is here: sessions, identities online, live rooms; fan-out; the one cleanup routine.

The registry is the part of the hub every other part leans on. It knows which sessions
exist, which identity each authenticated session is, which names are taken online, and
which rooms are live; it sends one event to many sessions (encoded once per encoder), and
:meth:`Registry.close_session` is the only way a session is released.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from teahouse.core.outbox import Outbox
from teahouse.core.room import Room
from teahouse.core.session import Encoder, Ident, Session, SessionState
from teahouse.errors import ChatError
from teahouse.logs import log_from
from teahouse.protocol.lookalike import confusable_key
from teahouse.protocol.names import fold_user

log = logging.getLogger("teahouse.hub")

_NONE: frozenset[Session] = frozenset()

Watcher = Callable[[str, bool, Session], None]
Departure = tuple[Room, Session, str, str | None]
"""A ``left`` presence still to be told: the room, who left, the reason, a quit text."""
"""Told when a name comes online (True) or goes offline (False), with one of its sessions."""


@dataclass(slots=True)
class Stats:
    connections_total: int = 0
    messages_total: int = 0
    deliveries_total: int = 0
    bytes_in: int = 0
    janitor_repairs: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    closed: Counter[str] = field(default_factory=Counter)
    limits_hit: Counter[str] = field(default_factory=Counter)


class Registry:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.sessions: dict[int, Session] = {}
        self.authed_sessions = 0
        """Sessions bound to an identity (IRC LUSERS counts them without a scan)."""
        self._idents: dict[Ident, Session | set[Session]] = {}
        """Authenticated sessions by identity: the session itself while there is one (most
        users), a set once there are more — a set per idle user would cost 216 bytes."""
        self.names: dict[str, Ident] = {}
        """Folded display name -> the identity that holds it online."""
        self.look_alikes: dict[str, Ident] = {}
        """Look-alike key of a name online -> its identity (names people can tell apart)."""
        self.rooms: dict[str, Room] = {}
        self.ip_counts: dict[str, int] = {}
        self.stats = Stats()
        self.watchers: list[Watcher] = []
        """Who wants to know when names come and go (IRC MONITOR)."""

    # -- sessions and identities -----------------------------------------------------

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session
        self.ip_counts[session.ip] = self.ip_counts.get(session.ip, 0) + 1
        self.stats.connections_total += 1

    def bind(self, session: Session, ident: Ident, name: str) -> None:
        """``session`` is now ``ident``, shown as ``name``."""
        session.ident = ident
        session.user = name
        key = fold_user(name)
        session.state = SessionState.AUTHED
        found = self._idents.get(ident)
        if found is None:
            self._idents[ident] = session
        elif type(found) is set:
            found.add(session)
        elif found is not session:
            self._idents[ident] = {found, session}  # type: ignore[arg-type]
        self.authed_sessions += 1
        self.names[key] = ident
        if found is None:
            if session.guest:
                # Accounts are in the store's look-alike index; guests only here.
                look = confusable_key(name)
                self.look_alikes[key if look == key else look] = ident  # one string, not two
            self._tell(name, True, session)

    def unbind(self, session: Session) -> None:
        """Forget ``session`` as its identity (it stays registered as a connection)."""
        ident = session.ident
        found = self._idents.get(ident)
        if found is None:
            return
        if type(found) is set:
            if session not in found:
                return
        elif found is not session:
            return
        self.authed_sessions -= 1
        if type(found) is set:
            found.discard(session)
            if len(found) > 1:
                return
            if found:
                self._idents[ident] = next(iter(found))
                return
        elif found is not session:
            return
        del self._idents[ident]
        if session.key is not None and self.names.get(session.key) == ident:
            del self.names[session.key]
        if session.user is not None:
            key = confusable_key(session.user)
            if self.look_alikes.get(key) == ident:
                del self.look_alikes[key]
            self._tell(session.user, False, session)

    def look_alike(self, key: str) -> Ident | None:
        """Which guest is online under a name with this look-alike key, if any (accounts
        are found in the store's index)."""
        return self.look_alikes.get(key)

    def online(self, ident: Ident) -> AbstractSet[Session]:
        """The sessions of an identity (empty when it is offline). Read, never change."""
        found = self._idents.get(ident)
        if found is None:
            return _NONE
        if type(found) is set:
            return found
        return frozenset((found,))  # type: ignore[arg-type]

    def is_online(self, ident: Ident) -> bool:
        return ident in self._idents

    def identities(self) -> Iterator[tuple[Ident, AbstractSet[Session]]]:
        """Every identity online with its sessions (a snapshot: safe to change during)."""
        for ident in list(self._idents):
            yield ident, self.online(ident)

    @property
    def users_online(self) -> int:
        return len(self._idents)

    def by_name(self, name: str) -> AbstractSet[Session]:
        """The sessions of whoever holds ``name`` online (an account or a guest)."""
        ident = self.names.get(fold_user(name))
        return self.online(ident) if ident is not None else _NONE

    def rename(self, ident: Ident, new: str) -> None:
        """Every session of ``ident`` is shown as ``new`` from now on."""
        sessions = self.online(ident)
        old = next(iter(sessions)).user if sessions else None
        for session in sessions:
            old_key = session.key
            session.user = new
            if old_key is not None and self.names.get(old_key) == ident:
                del self.names[old_key]
        self.names[fold_user(new)] = ident
        if old is not None and self.look_alikes.get(confusable_key(old)) == ident:
            del self.look_alikes[confusable_key(old)]
        if sessions and next(iter(sessions)).guest:
            self.look_alikes[confusable_key(new)] = ident
        if sessions and old is not None and fold_user(old) != fold_user(new):
            some = next(iter(sessions))
            self._tell(old, False, some)
            self._tell(new, True, some)

    def forget_leaked(self, ident: Ident, session: Session) -> None:
        """The janitor found a dead session under an identity: drop it there only."""
        found = self._idents.get(ident)
        if found is session:
            del self._idents[ident]
        elif type(found) is set and session in found:
            found.discard(session)
            if not found:
                del self._idents[ident]
        else:
            return
        self.authed_sessions -= 1

    def _tell(self, name: str, online: bool, session: Session) -> None:
        for watcher in self.watchers:
            watcher(name, online, session)

    # -- fan-out ---------------------------------------------------------------------

    def fanout(
        self,
        sessions: Iterable[Session],
        spell: Callable[[Encoder], bytes],
        exclude: Session | None = None,
    ) -> int:
        """Send one event to many sessions, encoded once per encoder. Returns deliveries
        (0 when it waits behind a message that is being stored: it goes out after it)."""
        if self.outbox.holding:
            members = list(sessions)
            self.outbox.in_order(lambda: self._fanout(members, spell, exclude))
            return 0
        return self._fanout(sessions, spell, exclude)

    def _fanout(
        self,
        sessions: Iterable[Session],
        spell: Callable[[Encoder], bytes],
        exclude: Session | None,
    ) -> int:
        last_encoder: Encoder | None = None
        data = b""
        cache: dict[int, bytes] = {}
        sent = 0
        for session in sessions:
            if session is exclude:
                continue
            encoder = session.encoder
            if encoder is not last_encoder:
                last_encoder = encoder
                found = cache.get(id(encoder))
                if found is None:
                    found = cache[id(encoder)] = spell(encoder)
                data = found
            if data:
                session.outlet.write(data)
                sent += 1
        return sent

    def presence(
        self,
        room: Room,
        member: Session,
        state: str,
        reason: str | None,
        exclude: Session | None = None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> int:
        """Tell the members of ``room`` that ``member`` joined or left; deliveries made."""
        return self.fanout(
            room.sessions,
            lambda enc: enc.presence(
                room.name, member, state, reason, online=online, by=by, text=text
            ),
            exclude,
        )

    # -- leaving ---------------------------------------------------------------------

    def lagging(self, session: Session, now: float) -> None:
        """``session``'s peer stopped keeping up: its rooms may hold their senders back."""
        rooms = self.rooms
        for name in session.rooms:
            room = rooms.get(name)
            if room is not None:
                room.lag(session, now)

    def caught_up(self, session: Session) -> None:
        """``session``'s peer read what it was behind on."""
        rooms = self.rooms
        for name in session.rooms:
            room = rooms.get(name)
            if room is not None and room.lagging is not None:
                room.caught_up(session)

    def leave(self, session: Session, name: str, reason: str, text: str | None = None) -> None:
        """Take ``session`` out of room ``name``; the others see it leave when it was the
        user's last session there. An empty room is dropped from memory."""
        session.left(name)
        room = self.rooms.get(name)
        if room is None:
            return
        if room.remove(session) and session.user is not None:
            online = session.ident in self._idents
            self.presence(room, session, "left", reason, online=online, text=text)
        if not room.sessions:
            del self.rooms[name]

    def leave_all(self, departures: list[tuple[Session, str, str | None]]) -> None:
        """Take many sessions out of every room at once: the members who stay hear one
        ``left`` per user, and no presence goes to a session that is leaving too."""
        self.announce(self.depart(departures))

    def depart(self, departures: list[tuple[Session, str, str | None]]) -> list[Departure]:
        """The first half of :meth:`leave_all`: take the sessions out of every room now,
        and return the ``left`` presences still to be told (:meth:`announce`), so that a
        caller closing thousands can spread the telling over several loop rounds."""
        for session, _, _ in departures:
            self.unbind(session)
        gone: list[Departure] = []
        for session, reason, text in departures:
            for name in session.rooms:
                room = self.rooms.get(name)
                if room is not None and room.remove(session) and session.user is not None:
                    gone.append((room, session, reason, text))
            session.left_all()
        return gone

    def announce(self, gone: Iterable[Departure]) -> int:
        """Tell the members still in each room that the user left (see :meth:`depart`);
        a room nobody is left in is dropped. Returns the deliveries made."""
        told = 0
        for room, session, reason, text in gone:
            if room.sessions:
                online = session.ident in self._idents
                told += self.presence(room, session, "left", reason, online=online, text=text)
            elif self.rooms.get(room.name) is room:
                self.rooms.pop(room.name)
        return told

    def close_session(
        self,
        session: Session,
        reason: str,
        error: ChatError | None = None,
        *,
        abort: bool = False,
        text: str | None = None,
    ) -> None:
        """The one cleanup routine. Idempotent.

        Sends ``error`` (best effort) when given, leaves every room (others see presence
        ``left`` with ``reason``, and ``text``: a quit message), forgets the session, and
        closes its transport: after writing what is queued, or at once with ``abort``.
        """
        if session.state is SessionState.CLOSED:
            return
        if error is not None and not abort:
            session.outlet.write(session.encoder.error(error))
        if session.rooms or session.ident in self._idents:
            self.leave_all([(session, reason, text)])
        session.state = SessionState.CLOSED
        self.sessions.pop(session.id, None)
        left = self.ip_counts.get(session.ip, 0) - 1
        if left > 0:
            self.ip_counts[session.ip] = left
        else:
            self.ip_counts.pop(session.ip, None)
        self.stats.closed[reason] += 1
        session.outlet.close_transport(abort)
        log_from(
            log,
            logging.INFO,
            session.ip,
            "connection closed peer=%s:%d user=%s reason=%s",
            session.ip,
            session.port,
            session.user or "-",
            reason,
        )
