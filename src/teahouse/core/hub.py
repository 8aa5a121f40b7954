"""The hub: the one core every door talks to, and the parts it is made of.

A door admits a connection (:meth:`Hub.admit`, :meth:`Hub.open_session`), passes decoded
requests to the hub's parts, renders what they return, and ends every connection through
:meth:`Hub.close_session`. The parts, each small enough to hold in mind:

- :class:`~teahouse.core.outbox.Outbox`: group commit, then one write per connection per
  loop round;
- :class:`~teahouse.core.registry.Registry`: sessions, identities online, live rooms,
  fan-out (encode once per encoder) and the one cleanup routine;
- :class:`~teahouse.core.accounts.Accounts`: the one login path, registration, guests;
- :class:`~teahouse.core.rooms.Rooms`: joining, topics, modes, invites, kicks, ownership;
- :class:`~teahouse.core.messages.Messages`: messages, direct messages, live relays, history;
- :class:`~teahouse.core.moderation.Moderation`: bans, mutes, kicks, powers that follow roles;
- :class:`~teahouse.core.housekeeping.Housekeeping`: heartbeat sweep, janitor, memory guard.

Requests either succeed or raise :class:`~teahouse.errors.ChatError`; the door answers
errors in its own words. Time comes from the clock and scheduler passed in, so the whole
hub runs on a fake clock in tests.
"""

from __future__ import annotations

import logging

from teahouse.config import Config
from teahouse.core.accounts import Accounts
from teahouse.core.clock import Clock, Scheduler
from teahouse.core.housekeeping import Housekeeping
from teahouse.core.limits import AddressRate, Allowlist, Rate
from teahouse.core.messages import Messages
from teahouse.core.moderation import Moderation
from teahouse.core.outbox import Outbox
from teahouse.core.passwords import PasswordHasher
from teahouse.core.registry import Registry, Stats
from teahouse.core.rooms import Rooms, authed
from teahouse.core.session import Encoder, Outlet, Session
from teahouse.errors import ChatError, Forbidden, TooManyConnections
from teahouse.store.base import Store

log = logging.getLogger("teahouse.hub")


class AdminRunner:
    """What the hub calls for operator commands from chat (set by the server)."""

    async def run_for(
        self, session: Session, cmd: str, args: dict[str, object]
    ) -> tuple[str, object]:
        raise Forbidden("operator commands are not available")


class Hub:
    def __init__(
        self,
        config: Config,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        scheduler: Scheduler,
        cloak_key: bytes = b"",
    ) -> None:
        self.config = config
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.scheduler = scheduler
        lim = config.limits
        self.allowlist = Allowlist(lim.allowlist)
        self.accept_rate = AddressRate(
            Rate(lim.connections_per_ip_per_second, lim.connections_per_ip_burst)
        )
        self.outbox = Outbox(store, scheduler, clock)
        self.registry = Registry(self.outbox)
        self.moderation = Moderation(config, store, clock, self.registry, self.outbox)
        self.accounts = Accounts(
            config,
            store,
            hasher,
            clock,
            self.registry,
            self.moderation,
            self.outbox,
            self.allowlist,
            cloak_key or b"teahouse",
        )
        self.rooms = Rooms(config, store, clock, self.registry, self.outbox)
        self.messages = Messages(
            config, store, clock, self.registry, self.outbox, self.moderation, self.rooms
        )
        self.housekeeping = Housekeeping(config, clock, scheduler, self.registry)
        self.admin: AdminRunner = AdminRunner()
        self.accepting = True
        self._ids = 0

    # -- shortcuts the doors and the admin commands use --------------------------------

    @property
    def stats(self) -> Stats:
        return self.registry.stats

    @property
    def sessions(self) -> dict[int, Session]:
        return self.registry.sessions

    def want_flush(self, outlet: Outlet) -> None:
        """An outlet has queued bytes: flush it at the end of this loop round."""
        self.outbox.want_flush(outlet)

    # -- connections -----------------------------------------------------------------

    def admit(self, ip: str) -> None:
        """Check a new connection from ``ip`` before anything is read from it.

        Raises :class:`~teahouse.errors.Banned` or :class:`TooManyConnections`.
        """
        if not self.accepting:
            raise TooManyConnections("the server is shutting down")
        self.moderation.check_address(ip)
        lim = self.config.limits
        if self.housekeeping.shedding:
            raise TooManyConnections("the server is low on memory; try again later")
        if len(self.registry.sessions) >= lim.max_connections:
            raise TooManyConnections("the server is full")
        if ip in self.allowlist:
            return
        if self.registry.ip_counts.get(ip, 0) >= lim.max_connections_per_ip:
            raise TooManyConnections("too many connections from your address")
        if self.accept_rate.allow(ip, self.clock.monotonic()) is not None:
            raise TooManyConnections("your address opens connections too fast")

    def open_session(self, outlet: Outlet, encoder: Encoder, ip: str) -> Session:
        """Register a connection (after :meth:`admit` passed)."""
        self._ids -= 1  # down from -1: a guest's identity is its session's id (see Ident)
        session = Session(
            self._ids,
            outlet,
            encoder,
            ip,
            self.clock.stamp(),
        )
        self.registry.add(session)
        return session

    def received(self, session: Session, nbytes: int) -> None:
        """Bytes arrived from ``session``: a sign of life. Runs for every read: kept lean."""
        session.last_received = self.clock.stamp()
        self.registry.stats.bytes_in += nbytes

    def lagging(self, session: Session) -> None:
        """``session``'s transport passed its high-water mark: the peer fell behind."""
        self.registry.lagging(session, self.clock.monotonic())

    def caught_up(self, session: Session) -> None:
        """``session``'s transport drained below its low-water mark."""
        self.registry.caught_up(session)

    def close_session(
        self,
        session: Session,
        reason: str,
        error: ChatError | None = None,
        *,
        abort: bool = False,
        text: str | None = None,
    ) -> None:
        """The one cleanup routine (see :meth:`Registry.close_session`)."""
        self.registry.close_session(session, reason, error, abort=abort, text=text)

    def pong(self, session: Session, t: int) -> bool:
        """A pong with ``t``: True when it answers the heartbeat ping now outstanding (its
        round trip is kept; a second answer to the same ping is not one)."""
        pinged = session.last_ping
        if pinged is None or t != session.last_ping_t:
            return False
        # Whole milliseconds: below 257 they are ints Python keeps once for everyone.
        session.rtt_ms = round((self.clock.monotonic() - pinged) * 1000)
        session.last_ping = None  # answered: the next ping waits for silence, as before
        return True

    def shutdown_all(self, error: ChatError) -> None:
        """Stop accepting and close every session with ``error``."""
        self.accepting = False
        for session in list(self.registry.sessions.values()):
            self.close_session(session, "shutdown", error)

    async def run_admin(
        self, session: Session, cmd: str, args: dict[str, object]
    ) -> tuple[str, object]:
        """An operator command from chat: for sessions with the admin role only."""
        authed(session)
        if session.role != "admin":
            raise Forbidden("operator commands need the admin role")
        return await self.admin.run_for(session, cmd, args)
