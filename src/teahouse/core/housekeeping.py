"""Housekeeping: the heartbeat sweep, the janitor, and the memory guard.

All three run on shared timers (one each, owned by the server), never per connection:

- :meth:`Housekeeping.sweep` applies the heartbeat policy, the login deadline and the
  slowloris deadline to every session, and closes the condemned ones in short slices;
- :meth:`Housekeeping.janitor` checks the registry's invariants and repairs any leak (the
  tutorial's ``clear_socket``), logging only when it finds something;
- :meth:`Housekeeping.check_memory` sheds load above ``limits.max_rss_mb``.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections import deque
from dataclasses import dataclass

from teahouse.config import Config
from teahouse.core.clock import Clock, Handle, Scheduler
from teahouse.core.heartbeat import Action, HeartbeatPolicy, heartbeat_action
from teahouse.core.registry import Departure, Registry
from teahouse.core.session import Session, SessionState
from teahouse.errors import ChatError, HeartbeatTimeout, SlowConsumer, Timeout

log = logging.getLogger("teahouse.hub")

SWEEP_SLICE = 0.005
"""Longest one slice of the heartbeat sweep (scan, or closing) runs before it lets other
work in (seconds of real time)."""
DUE_STEP = 0.05
"""Sessions whose deadline falls within this many seconds of each other are dropped by
the same timer: dropping is that precise, and ten thousand deadlines cost few timers."""
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
        self._doomed: deque[tuple[Session, str, ChatError]] = deque()
        """Sessions condemned, closed a slice at a time."""
        self._untold: deque[Departure] = deque()
        """``left`` presences of condemned sessions still to be told, a slice at a time."""
        self._doomed_ids: set[int] = set()
        self._closing = False
        self._scan: list[Session] = []
        """Sessions the running sweep has still to look at (it runs in slices)."""
        self._due: list[tuple[float, int, Session]] = []
        """(deadline, id, session): sessions whose heartbeat or login deadline falls before
        the next sweep, to be dropped by a timer at that deadline (a heap)."""
        self._due_ids: set[int] = set()
        self._due_timer: Handle | None = None
        self._due_at = math.inf

    # -- heartbeats --------------------------------------------------------------------

    def sweep(self) -> None:
        """Apply the heartbeat policy to every session. Called on one shared timer.

        The scan runs in slices of at most ``SWEEP_SLICE`` seconds, so ten thousand pings
        due together go out spread over a few loop steps. A session whose deadline falls
        before the next sweep is not left to it: a timer drops it at its deadline (within
        ``DUE_STEP``), so a dead peer goes at timeout, not up to a sweep period later. The
        sessions condemned are closed in slices too, so when ten thousand dead peers time
        out together live users never wait behind all of it.
        """
        if self._scan:
            return  # the last sweep is still running its slices: it covers everyone
        self._scan = list(self.registry.sessions.values())
        self._scan_slice()

    def _scan_slice(self) -> None:
        started = time.perf_counter()  # a slice is real time, whatever the fake clock says
        now = self.clock.monotonic()
        horizon = now + self.policy.sweep_period
        quiet_since = now - self.policy.interval
        line_deadline = now - self.config.limits.partial_line_timeout
        scan = self._scan
        doomed: list[tuple[Session, str, ChatError]] = []
        skip = self._doomed_ids
        due = self._due_ids
        while scan:
            session = scan.pop()
            if session.closed or session.id in skip:
                continue  # closed meanwhile, or condemned and waiting for its slice
            verdict = self._check(session, now, quiet_since, line_deadline)
            if verdict is not None:
                doomed.append((session, *verdict))
                skip.add(session.id)
            elif session.id not in due:
                deadline = self._deadline(session)
                if deadline < horizon:
                    heapq.heappush(self._due, (deadline, session.id, session))
                    due.add(session.id)
            if len(scan) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                self.scheduler.call_soon(self._scan_slice)
                break
        self._condemn(doomed)
        self._arm_due()

    def _deadline(self, session: Session) -> float:
        """When ``session`` is to be dropped if nothing changes: silence or login timeout."""
        deadline = session.last_received + self.policy.timeout
        if not session.authenticated:
            deadline = min(deadline, session.connected_at + self.policy.login_timeout)
        return deadline

    def _expired(self, session: Session, now: float) -> tuple[str, ChatError] | None:
        """The reason and error to drop ``session`` with if its deadline has passed (the
        deadline itself, not a difference of times: no rounding keeps it a step longer)."""
        if not session.authenticated and session.connected_at + self.policy.login_timeout <= now:
            return "login_timeout", Timeout()
        if session.last_received + self.policy.timeout <= now:
            silent = now - session.last_received
            return "timeout", HeartbeatTimeout(f"nothing received for {silent:.1f} s")
        return None

    def _arm_due(self) -> None:
        if not self._due:
            return
        at = max(self._due[0][0], self.clock.monotonic())
        if self._due_timer is not None:
            if self._due_at <= at:
                return
            self._due_timer.cancel()
        self._due_at = at
        self._due_timer = self.scheduler.call_later(at - self.clock.monotonic(), self._on_due)

    def _on_due(self) -> None:
        """The timer of the earliest deadline: check every session due by now (and within
        ``DUE_STEP``'s wait for the next), and drop those still silent."""
        self._due_timer = None
        self._due_at = math.inf
        now = self.clock.monotonic()
        doomed: list[tuple[Session, str, ChatError]] = []
        due = self._due
        while due and due[0][0] <= now:
            _, _, session = heapq.heappop(due)
            self._due_ids.discard(session.id)
            if session.closed or session.id in self._doomed_ids:
                continue
            verdict = self._expired(session, now)
            if verdict is not None:
                doomed.append((session, *verdict))
                self._doomed_ids.add(session.id)
            # A session that spoke since is the next sweep's again.
        self._condemn(doomed)
        if due:
            at = max(due[0][0], now + DUE_STEP)
            self._due_at = at
            self._due_timer = self.scheduler.call_later(at - now, self._on_due)

    def _condemn(self, doomed: list[tuple[Session, str, ChatError]]) -> None:
        """Take the condemned out of their rooms now, all together (no presence goes to
        one of them, and none is told of another), then tell the rooms and close them in
        slices."""
        if not doomed:
            return
        self._untold.extend(self.registry.depart([(s, reason, None) for s, reason, _ in doomed]))
        self._doomed.extend(doomed)
        if not self._closing:
            self._closing = True
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
        """Tell the rooms, then close the condemned sessions, for at most ``SWEEP_SLICE``;
        then let other work in and go on."""
        started = time.perf_counter()
        untold = self._untold
        while untold:
            self.registry.announce((untold.popleft(),))
            if len(untold) & 15 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                self.scheduler.call_soon(self._close_doomed)
                return
        doomed = self._doomed
        while doomed:
            session, reason, error = doomed.popleft()
            self._doomed_ids.discard(session.id)
            self.registry.close_session(session, reason, error)
            if len(doomed) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                self.scheduler.call_soon(self._close_doomed)
                return
        self._closing = False

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
