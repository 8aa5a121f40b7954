"""Housekeeping: the heartbeat sweep, the janitor, and the memory guard.

All three run on shared timers (one each, owned by the server), never per connection:

- :meth:`Housekeeping.sweep` applies the heartbeat policy, the login deadline and the
  slowloris deadline to every session, and closes the condemned ones in short slices;
- :meth:`Housekeeping.janitor` checks the registry's invariants and repairs any leak (the
  tutorial's ``clear_socket``), logging only when it finds something;
- :meth:`Housekeeping.check_memory` sheds load above ``limits.max_rss_mb``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from teahouse.config import Config
from teahouse.core.clock import Clock, Scheduler
from teahouse.core.heartbeat import Action, HeartbeatPolicy, heartbeat_action
from teahouse.core.registry import Registry
from teahouse.core.session import Session, SessionState
from teahouse.errors import ChatError, HeartbeatTimeout, SlowConsumer, Timeout

log = logging.getLogger("teahouse.hub")

SWEEP_SLICE = 0.02
"""Longest the heartbeat sweep runs before it lets other work in (seconds)."""
BACKLOG_VICTIM = 65536
"""Unsent bytes above which the memory guard may drop a connection."""


@dataclass(frozen=True, slots=True)
class JanitorReport:
    sessions: int
    authenticated: int
    rooms: int
    transports_open: int
    repaired: int


class Housekeeping:
    def __init__(
        self, config: Config, clock: Clock, scheduler: Scheduler, registry: Registry
    ) -> None:
        self.config = config
        self.clock = clock
        self.scheduler = scheduler
        self.registry = registry
        self.policy = HeartbeatPolicy(
            interval=config.heartbeat.interval,
            timeout=config.heartbeat.timeout,
            login_timeout=config.limits.login_timeout,
        )
        self.shedding = False
        """True while the memory guard refuses new connections (RSS over the limit)."""
        self._doomed: list[tuple[Session, str, ChatError]] = []
        """Sessions the sweep condemned, closed a slice at a time."""
        self._doomed_ids: set[int] = set()

    # -- heartbeats --------------------------------------------------------------------

    def sweep(self) -> None:
        """Apply the heartbeat policy to every session. Called on one shared timer.

        The scan is cheap and runs at once; the sessions it condemns are closed by
        :meth:`_close_doomed` in slices of at most ``SWEEP_SLICE`` seconds, so when ten
        thousand dead peers time out together live users never wait behind all of it.
        """
        now = self.clock.monotonic()
        quiet_since = now - self.policy.interval
        line_deadline = now - self.config.limits.partial_line_timeout
        doomed: list[tuple[Session, str, ChatError]] = []
        pending = self._doomed_ids
        for session in list(self.registry.sessions.values()):
            if session.id in pending:
                continue  # condemned by an earlier sweep, its slice is still to come
            verdict = self._check(session, now, quiet_since, line_deadline)
            if verdict is not None:
                doomed.append((session, *verdict))
                pending.add(session.id)
        if doomed:
            self._doomed.extend(doomed)
            self.registry.leave_all([(s, reason, None) for s, reason, _ in doomed])
            self._close_doomed()

    def _check(
        self, session: Session, now: float, quiet_since: float, line_deadline: float
    ) -> tuple[str, ChatError] | None:
        """Ping ``session`` if due; the reason and error to close it with, if it must go."""
        partial = session.partial_since
        if partial is not None and partial < line_deadline:
            # Slowloris: a line that never ends holds a buffer and a slot for nothing.
            return "slowloris", Timeout("a line was not finished in time")
        if session.last_received > quiet_since and session.state is SessionState.AUTHED:
            return None
        action = heartbeat_action(
            self.policy,
            now=now,
            last_received=session.last_received,
            last_ping=session.last_ping,
            connected_at=session.connected_at,
            authenticated=session.authenticated,
        )
        if action is Action.PING:
            session.last_ping = now
            session.send(session.encoder.ping(session.last_ping_t))
        elif action is Action.TIMEOUT:
            silent = now - session.last_received
            return "timeout", HeartbeatTimeout(f"nothing received for {silent:.1f} s")
        elif action is Action.LOGIN_TIMEOUT:
            return "login_timeout", Timeout()
        return None

    def _close_doomed(self) -> None:
        started = time.perf_counter()  # a slice is real time, whatever the fake clock says
        doomed = self._doomed
        while doomed:
            session, reason, error = doomed.pop()
            self._doomed_ids.discard(session.id)
            self.registry.close_session(session, reason, error)
            if len(doomed) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                self.scheduler.call_soon(self._close_doomed)
                return

    # -- memory guard ------------------------------------------------------------------

    def check_memory(self, rss_bytes: int) -> int:
        """The memory guard: above ``limits.max_rss_mb``, refuse new connections and drop
        the connections with the most unsent output. Returns how many were dropped."""
        limit = self.config.limits.max_rss_mb * 1024 * 1024
        if limit <= 0:
            return 0
        if rss_bytes < limit * 0.9:
            if self.shedding:
                log.warning("memory guard: RSS %d MiB, accepting again", rss_bytes >> 20)
            self.shedding = False
            return 0
        if rss_bytes < limit:
            return 0
        if not self.shedding:
            log.warning("memory guard: RSS %d MiB over the limit; shedding load", rss_bytes >> 20)
        self.shedding = True
        sessions = self.registry.sessions.values()
        backlogged = [s for s in sessions if s.outlet.backlog() > BACKLOG_VICTIM]
        backlogged.sort(key=lambda s: s.outlet.backlog(), reverse=True)
        victims = backlogged[: max(1, len(backlogged) // 10)]
        for session in victims:
            self.registry.close_session(
                session, "memory_guard", SlowConsumer("the server is low on memory"), abort=True
            )
        return len(victims)

    # -- janitor -----------------------------------------------------------------------

    def janitor(self, transports_open: int) -> JanitorReport:
        """Check the invariants and repair any leak (the tutorial's ``clear_socket``).

        ``transports_open`` is how many transports the doors hold open. Every leak found
        is repaired, logged and counted in ``stats.janitor_repairs``. Nothing is logged
        when all is well.
        """
        reg = self.registry
        repaired = 0
        for session in list(reg.sessions.values()):
            if not session.outlet.is_open():
                log.warning("janitor: session %r had a closed transport; releasing", session)
                reg.close_session(session, "leak")
                repaired += 1
        for room in list(reg.rooms.values()):
            for session in list(room.sessions):
                if session.id not in reg.sessions:
                    log.warning("janitor: room %s held dead session %r", room.name, session)
                    if room.remove(session) and session.user is not None:
                        reg.presence(room, session, "left", "leak")
                    repaired += 1
            if not room.sessions:
                del reg.rooms[room.name]
        for ident, peers in reg.identities():
            for session in list(peers):
                if session.id not in reg.sessions:
                    log.warning("janitor: identity %s held dead session %r", ident, session)
                    reg.forget_leaked(ident, session)
                    repaired += 1
        for key, ident in list(reg.names.items()):
            if not reg.is_online(ident):
                log.warning("janitor: name %s held by no session; released", key)
                del reg.names[key]
                repaired += 1
        if transports_open != len(reg.sessions):
            log.warning(
                "janitor: %d transports open but %d sessions registered",
                transports_open,
                len(reg.sessions),
            )
        reg.stats.janitor_repairs += repaired
        return JanitorReport(
            sessions=len(reg.sessions),
            authenticated=sum(1 for s in reg.sessions.values() if s.authenticated),
            rooms=len(reg.rooms),
            transports_open=transports_open,
            repaired=repaired,
        )
