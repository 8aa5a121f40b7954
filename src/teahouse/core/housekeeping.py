"""Housekeeping: the heartbeat sweep, the janitor, and the memory guard.

All three run on shared timers (one each, owned by the server), never per connection:

- :meth:`Housekeeping.sweep` applies the heartbeat policy, the login deadline and the
  slowloris deadline to every session, and closes the condemned ones in short slices;
- :meth:`Housekeeping.janitor` checks the registry's invariants and repairs any leak (the
  tutorial's ``clear_socket``), logging only when it finds something;
- :meth:`Housekeeping.check_memory` sheds load above ``limits.max_rss_mb``.
"""

from __future__ import annotations

import gc
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
CLOSE_BATCH = 32
"""Condemned sessions taken out of their rooms, or closed, between two looks at the clock."""
CLOSES_PER_SLICE = 128
"""The most transports one slice closes. A close costs the loop again after the slice has
ended (the socket's teardown and ``connection_lost`` come in a later loop step, all of a
slice's in the same one), so the slice's own clock does not see all of it."""
DELIVERIES_PER_SLICE = 4096
"""The most departures one slice queues for the members who stay. Each member a slice
wrote to is written to the socket at the end of the loop round, after the slice: that cost
grows with the members told, and the slice's clock does not see it."""
PINGS_PER_SLICE = 256
"""The most heartbeat pings one slice of the scan sends: each pinged connection is written
to at the end of the loop round (a send each), after the slice and unseen by its clock."""
WAVE = 256
"""Condemned sessions queued at once from which closing them is a wave: the collector is
kept off the old heap until it is over (see :meth:`Housekeeping._freeze_heap`)."""
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
        self._condemned: deque[tuple[Session, str, ChatError]] = deque()
        """Sessions condemned and still in their rooms: taken out a slice at a time, all of
        them before any ``left`` is told (no presence goes to one of them)."""
        self._untold: deque[Departure | list[tuple[Session, str, ChatError]]] = deque()
        """What is left to do for the condemned out of their rooms, in order, a slice at a
        time: ``left`` presences to tell, and after a batch's, the batch to close."""
        self._doomed_ids: set[int] = set()
        self._closing = False
        self._due_soon = False
        """True while the drop timer's work goes on in later slices (a call_soon)."""
        self._pinged = 0
        """Pings sent by the running slice of the scan."""
        self._frozen = False
        """True while a wave of closes keeps the old heap out of the collector's reach."""
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
        self._pinged = 0
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
            if self._pinged >= PINGS_PER_SLICE or (
                len(scan) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE
            ):
                if scan:
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
        if not self._due or self._due_soon:
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
        ``DUE_STEP``'s wait for the next), and drop those still silent. Ten thousand due
        together are checked in slices of at most ``SWEEP_SLICE``."""
        self._due_timer = None
        self._due_at = math.inf
        self._due_soon = False
        started = time.perf_counter()
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
            if len(due) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                break
        self._condemn(doomed)
        if not due:
            return
        if due[0][0] <= now:
            self._due_soon = True  # more were due by now: the next slice goes on with them
            self.scheduler.call_soon(self._on_due)
            return
        at = max(due[0][0], now + DUE_STEP)
        self._due_at = at
        self._due_timer = self.scheduler.call_later(at - now, self._on_due)

    def _condemn(self, doomed: list[tuple[Session, str, ChatError]]) -> None:
        """Queue the condemned to be taken out of their rooms, the rooms told, and the
        sessions closed, in slices (:meth:`_close_doomed`)."""
        if not doomed:
            return
        self._condemned.extend(doomed)
        if len(self._condemned) >= WAVE:
            self._freeze_heap()
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
            self._pinged += 1
            session.last_ping = now
            session.send(session.encoder.ping(session.last_ping_t))
        elif action is Action.TIMEOUT:
            silent = now - session.last_received
            return "timeout", HeartbeatTimeout(f"nothing received for {silent:.1f} s")
        elif action is Action.LOGIN_TIMEOUT:
            return "login_timeout", Timeout()
        return None

    def _close_doomed(self) -> None:
        """One slice of the closing: take the condemned out of their rooms, then tell the
        rooms and close the sessions, in the order they were condemned, for at most
        ``SWEEP_SLICE`` (and at most ``DELIVERIES_PER_SLICE`` departures told,
        ``CLOSES_PER_SLICE`` transports closed); then let other work in and go on.

        Every session condemned so far leaves its rooms before any departure is told, so
        none of them is written another's ``left``: in a mass timeout only the members who
        stay are told, and a session condemned later in the wave is out of the rooms
        before the departures still untold are sent. A session is closed once its own
        departures are told (they name it as its door still knows it), not after the
        whole wave's.
        """
        started = time.perf_counter()
        registry = self.registry
        condemned = self._condemned
        untold = self._untold
        while condemned:
            batch = [condemned.popleft() for _ in range(min(CLOSE_BATCH, len(condemned)))]
            untold.extend(registry.depart([(s, reason, None) for s, reason, _ in batch]))
            untold.append(batch)  # to close once the departures before it are told
            if time.perf_counter() - started > SWEEP_SLICE:
                self.scheduler.call_soon(self._close_doomed)
                return
        if untold and (self._due_soon or self._scan):
            # Sessions due by now are still being checked (the drop timer's or the sweep's
            # slices): they go out of their rooms before anyone is told, so none of them
            # is written another's departure.
            self.scheduler.call_soon(self._close_doomed)
            return
        told = closes = 0
        while untold:
            item = untold.popleft()
            if isinstance(item, list):
                for session, reason, error in item:
                    self._doomed_ids.discard(session.id)
                    registry.close_session(session, reason, error)
                closes += len(item)
            else:
                told += registry.announce((item,))
            if untold and (
                told >= DELIVERIES_PER_SLICE
                or closes >= CLOSES_PER_SLICE
                or time.perf_counter() - started > SWEEP_SLICE
            ):
                self.scheduler.call_soon(self._close_doomed)
                return
        self._closing = False
        self._thaw_heap()

    def _freeze_heap(self) -> None:
        """A wave of closes begins: move every object alive now out of the cyclic
        collector's generations (``gc.freeze``) until it is over.

        Ten thousand sessions timing out together allocate enough (their errors, their
        departures, their log records) to set off a full collection in the middle of the
        wave, and a full collection walks every object of every connection: a pause of
        hundreds of milliseconds. Frozen, the collections the wave sets off walk only what
        it allocated. Once it is over the heap is thawed (``gc.unfreeze``) and the
        collector has it all again, by then without the sessions that were closed.
        """
        if not self._frozen:
            self._frozen = True
            gc.freeze()

    def _thaw_heap(self) -> None:
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

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
