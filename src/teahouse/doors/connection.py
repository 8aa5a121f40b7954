"""The one connection base every door builds on: input, limits, pausing, and output.

A :class:`Connection` is an ``asyncio.BufferedProtocol`` with ``__slots__`` and no task or timer
of its own while idle. What it does for every door, written once:

- **admission**: ``connection_made`` asks the hub (bans, caps, rates, memory guard) before
  anything is read, and opens the session;
- **input**: bytes go to the door's codec; complete items (frames, lines) are taken one
  at a time, in order, while the connection is not paused; what stays buffered once every
  complete item is handled is an unfinished line, and starts the slowloris clock;
- **rate limits**: every item is charged to two token buckets (items and bytes) on the
  hub's clock, from the first byte. Over the rate, reading pauses until the debt is paid
  (backpressure); a door may also refuse items after a grace period and disconnect after
  repeated refusals (:meth:`_charge`);
- **strikes**: bad input is counted in a window and ends the connection past a limit;
- **async work** (password checks): :meth:`_start` pauses reading while it runs and
  resumes, in order, afterwards;
- **output**: the hub's :class:`~teahouse.core.session.Outlet`: bytes are queued during
  a loop round and written in one ``transport.write`` when the hub flushes; a peer whose
  transport buffer passes the high-water mark is dropped as a slow consumer.

A door's subclass supplies the codec (:meth:`_feed`, :meth:`_next_item`,
:attr:`_buffered`), what an item means (:meth:`_on_item`), and how to say no at the door
(:meth:`_refusal`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import sys
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, ClassVar, Protocol, TypeVar, cast

from teahouse.config import Config
from teahouse.core.clock import Handle
from teahouse.core.hub import Hub
from teahouse.core.limits import Rate, debt, forgive, spend
from teahouse.core.session import Encoder, Session
from teahouse.errors import ChatError, Internal, SlowConsumer, StorageFailed, Throttled
from teahouse.logs import log_from
from teahouse.store.base import StoreError

log = logging.getLogger("teahouse.doors")

_R = TypeVar("_R")

STREAM_LOW = 256 * 1024
"""A stream's next chunk goes to the transport only while it holds less than this."""
THROTTLED_HOLD = 1.0
"""Longest a connection answered ``throttled`` by a slow task (a login behind a full hash
queue) goes unread (seconds): its ``retry_after``, at most this."""

READ_SIZE = 16 * 1024
"""The most one connection reads per loop round.

A security limit, and what keeps a flood from stalling everyone else: the loop's
transport would otherwise read up to 256 KiB per ready socket per round (a fresh bytes
object each time), so a thousand flooders made one round hundreds of MiB of copying and
parsing, and the heap grew with it. Reads go into one buffer shared by every connection
(the loop runs one callback at a time, and :meth:`Connection.buffer_updated` copies out
what it got before returning); what a peer sent beyond this waits in the kernel.
"""

_READ_BUFFER = memoryview(bytearray(READ_SIZE))

BUSY_READ_AHEAD = READ_SIZE
"""While a slow task runs (a password check), a connection is still read, so that its
close is seen at once and its queued hash job dropped (an attacker that sends a login and
hangs up costs no hash); past this many buffered bytes it is paused until the task ends."""

LINGER = 3.0
"""The most seconds a connection dropped for garbage is held, unread, before its socket
closes (each is held between half this and this, at random: flooders that started
together, and were dropped together, do not come back together).

Its session ends at once (it holds no room, no name, no slot); only the socket waits,
paused, with the one error line sent. A flooder that reconnects as soon as it is closed
would otherwise make the server accept, admit and drop it thousands of times a second,
and every other client waits behind that work. Held, it costs a timer and no reads.
"""

LINGER_MAX = 1024
"""At most this many sockets held at once (all doors); past it, dropped ones close now."""


class OnceLine(bytes):
    """A line a client should get once per round even when the hub sends it per room (the
    IRC QUIT of a user who was in several shared rooms; a NICK change). A type, not a
    parse: the outlet tells it apart with one ``type()`` check per delivery."""

    __slots__ = ()


class Door(Protocol):
    """What a connection needs from its door."""

    name: str
    hub: Hub
    config: Config
    transports_open: int
    tasks: set[asyncio.Task[Any]]
    item_rate: Rate
    byte_rate: Rate
    high_water: int
    """``limits.output_high_water``: a transport holding more is a slow consumer."""
    pending_cap: int
    """The most one connection's queue holds before it is written early (4 × ``high_water``)."""
    bytes_out: int
    """Bytes written by this door's connections (the hub adds up the doors')."""
    refuse_after: float | None
    """Seconds over the rate before items are refused; None: only ever slowed down."""


class Charge(enum.Enum):
    OK = "ok"
    REFUSED = "refused"
    """Over the rate past the grace period: not handled; the peer should be told."""
    FATAL = "fatal"
    """Refused too often: the connection must end."""


RESTED_BYTES = 512
"""The most of a heartbeat answer's bytes a connection forgets (:meth:`Connection.rested`):
more than any pong line, far less than any byte rate's burst."""


_BUSY = 1
"""A slow task (a password check) runs: items wait behind it (:meth:`Connection._start`)."""
_PAUSED = 2
"""A throttle pause holds the connection: its timer is ``_Rare.resume``."""
_CLOSED = 4
"""Nothing more is written: the transport is closed or closing, or the peer was dropped."""
_ASIDE = 8
"""Output goes aside: captured (IRC labeled-response) or held behind a stream."""
_HELD_BACK = _BUSY | _PAUSED
"""Either: no item is handled now."""
_NOT_QUEUED = _CLOSED | _ASIDE
"""Either: a write does not go to this round's queue (the fast path's one check)."""


class _Rare:
    """What a connection holds only once something unusual happened to it: one slot (None)
    on every idle connection instead of nine."""

    __slots__ = (
        "capture",
        "held",
        "limited",
        "linger",
        "port",
        "resume",
        "streams",
        "strikes",
        "throttled_since",
    )

    @property
    def empty(self) -> bool:
        return (
            self.streams is None
            and self.throttled_since is None
            and self.capture is None
            and self.resume is None
            and self.held is None
            and not self.limited
            and not self.strikes
            and not self.linger
            and not self.port
        )

    def __init__(self) -> None:
        self.throttled_since: float | None = None
        """Since when the peer is over the rate (None: within it)."""
        self.limited: list[float] | None = None
        """When its items were refused, within ``limits.rate_limit_window``."""
        self.strikes: list[float] | None = None
        """When it sent bad input, within ``limits.bad_frame_window``."""
        self.linger = False
        """The coming close is for garbage: hold the socket (see :data:`LINGER`)."""
        self.streams: deque[tuple[Iterator[bytes], Callable[[], None] | None]] | None = None
        """Long answers being written as the peer reads them (replays, history)."""
        self.port = 0
        """The peer's port, kept for a TLS connection only: a TLS transport forgets its
        peer once closed, where a TCP transport remembers it (see :meth:`peer_port`)."""
        self.capture: list[bytes] | None = None
        """While set, output is collected here instead of sent (IRC labeled-response)."""
        self.held: list[bytes] | None = None
        """Output that waits behind a stream."""
        self.resume: Handle | None = None
        """The timer handle that ends a throttle pause; exists only while paused."""


class Connection(asyncio.BufferedProtocol):
    """One client connection of a door; also the hub's Outlet for it.

    A buffered protocol: the transport reads into :data:`_READ_BUFFER` (at most
    :data:`READ_SIZE` bytes a round) and the bytes go to :meth:`received`. Deliberately
    no ``data_received``: uvloop keeps a bound method of it on every transport whose
    protocol has one (64 bytes each), though a buffered protocol never has it called.
    """

    __slots__ = (
        "_bytes_full_at",
        "_door",
        "_items_full_at",
        "_pending",
        "_pending_size",
        "_rare",
        "_state",
        "_transport",
        "session",
    )

    lingering: ClassVar[int] = 0
    """Sockets held after a drop for garbage, over every door (see :data:`LINGER`)."""

    def __init__(self, door: Door) -> None:
        self._door = door
        self.session: Session | None = None
        self._transport: asyncio.Transport | None = None
        self._pending: list[bytes] | None = None
        """This round's output; None while empty (an idle connection holds no list)."""
        self._pending_size = 0
        self._state = 0
        """Bits: :data:`_BUSY`, :data:`_PAUSED`, :data:`_CLOSED`, :data:`_ASIDE` (one int,
        not four slots). Bits from 256 up are the door's (the IRC registration's flags)."""
        self._items_full_at = 0.0
        """The item bucket as one float (:func:`~teahouse.core.limits.spend`): full."""
        self._bytes_full_at = 0.0
        self._rare: _Rare | None = None
        """Made the first time the peer is over the rate, sends garbage, is streamed to or
        paused, gets a departure line or has its output captured; let go once over."""

    def _rare_state(self) -> _Rare:
        rare = self._rare
        if rare is None:
            rare = self._rare = _Rare()
        return rare

    @property
    def _busy(self) -> bool:
        """A slow task runs (see :meth:`_start`)."""
        return bool(self._state & _BUSY)

    @property
    def _closed(self) -> bool:
        """Nothing more is written (see :meth:`_mark_closed`)."""
        return bool(self._state & _CLOSED)

    def _mark_closed(self) -> None:
        self._state |= _CLOSED

    @property
    def _held_back(self) -> bool:
        """No item is handled now: a slow task runs, or a throttle pause holds it."""
        return bool(self._state & _HELD_BACK)

    def _end_pause(self) -> None:
        """Cancel a throttle pause's timer (the connection is gone)."""
        if self._state & _PAUSED:
            self._state &= ~_PAUSED
            rare = self._rare
            if rare is not None and rare.resume is not None:
                rare.resume.cancel()
                rare.resume = None

    @property
    def _capture(self) -> list[bytes] | None:
        """While set, output is collected here instead of sent (IRC labeled-response)."""
        rare = self._rare
        return rare.capture if rare is not None else None

    @_capture.setter
    def _capture(self, capture: list[bytes] | None) -> None:
        if capture is not None:
            self._rare_state().capture = capture
            self._state |= _ASIDE
            return
        rare = self._rare
        if rare is not None:
            rare.capture = None
            if rare.held is None:
                self._state &= ~_ASIDE
            self._forget_rare()

    # -- what a door supplies ----------------------------------------------------------

    def _encoder(self) -> Encoder:
        raise NotImplementedError

    def _refusal(self, ip: str, error: ChatError) -> bytes:
        """What to write to a connection refused at the door (then it is closed)."""
        raise NotImplementedError

    def _feed(self, data: bytes) -> None:
        raise NotImplementedError

    def _next_item(self) -> object | None:
        """The next complete item, or None. May raise a fatal :class:`ChatError`."""
        raise NotImplementedError

    @property
    def _buffered(self) -> int:
        raise NotImplementedError

    def _on_item(self, session: Session, item: object) -> None:
        raise NotImplementedError

    def _opened(self, session: Session) -> None:
        """Called once the session exists (a door may remember the connection)."""

    def _lost(self, session: Session) -> None:
        """Called after the session was closed because the transport went away."""

    def _unfinished(self, session: Session) -> None:
        """Called when the peer's unfinished input grew too large while it waited."""

    def _discard_input(self) -> None:
        """Called once the connection is over: free what the codec still buffers."""

    def _answer_throttled_later(self, session: Session) -> bool:
        """Whether a ``throttled`` answer to a slow task waits for its ``retry_after``
        (what a peer that reconnects to try again must be made to wait for)."""
        return False

    # -- asyncio protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport; uvloop's is not an asyncio.Transport subclass, so no isinstance.
        self._transport = transport = cast(asyncio.Transport, transport)
        door = self._door
        door.transports_open += 1
        peer = transport.get_extra_info("peername") or ("?", 0)
        # Interned: the connections of one address share its string (freed with the last).
        ip, port = sys.intern(str(peer[0])), int(peer[1])
        hub = door.hub
        try:
            hub.admit(ip)
        except ChatError as exc:
            log_from(
                log,
                logging.INFO,
                ip,
                "connection refused door=%s peer=%s:%d reason=%s",
                door.name,
                ip,
                port,
                exc.code,
            )
            hub.stats.limits_hit[f"admit_{exc.code}"] += 1
            self._state |= _CLOSED
            transport.write(self._refusal(ip, exc))
            transport.close()
            return
        if transport.get_extra_info("sslcontext") is not None:
            self._rare_state().port = port
        self.session = session = hub.open_session(self, self._encoder(), ip)
        self._opened(session)
        log_from(log, logging.INFO, ip, "connection opened door=%s peer=%s:%d", door.name, ip, port)

    def get_buffer(self, sizehint: int) -> memoryview:
        return _READ_BUFFER

    def buffer_updated(self, nbytes: int) -> None:
        self.received(_READ_BUFFER[:nbytes].tobytes())

    def received(self, data: bytes) -> None:
        session = self.session
        if session is None or session.closed:
            return
        self._door.hub.received(session, len(data))
        self._feed(data)
        state = self._state
        if not state & _HELD_BACK:
            self._process(session)
        elif state & _BUSY:
            if not session.authenticated:
                self._unfinished(session)
            self._read_ahead(session)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost does the cleanup

    def connection_lost(self, exc: Exception | None) -> None:
        self._state |= _CLOSED
        self._door.transports_open -= 1
        self._end_pause()
        session = self.session
        if session is not None:
            self._door.hub.close_session(session, "disconnected" if exc is None else "reset")
            self._lost(session)
            # The session and its connection refer to each other: untied, both are freed
            # now by their last reference going, not left to a full collection (after a
            # mass timeout, ten thousand of them at once).
            self.session = None
        self._pending = None

    def _read_ahead(self, session: Session) -> None:
        """While a slow task runs: stop reading once :data:`BUSY_READ_AHEAD` bytes wait
        (the task's end resumes it)."""
        if self._buffered > BUSY_READ_AHEAD and not session.closed and self._transport:
            self._transport.pause_reading()

    # -- input -------------------------------------------------------------------------

    def _process(self, session: Session) -> None:
        self._read_items(session)
        # Once every complete item is handled, what is still buffered is an unfinished
        # line: the slowloris clock. (Lines held back by a pause or a login do not count.)
        if self._state & _HELD_BACK or session.closed:
            return
        if self._buffered == 0:
            if session.partial_since is not None:
                session.partial_since = None
        elif session.partial_since is None:
            session.partial_since = self._door.hub.clock.monotonic()

    def _read_items(self, session: Session) -> None:
        while not self._state & _HELD_BACK and not session.closed:
            try:
                item = self._next_item()
            except ChatError as exc:
                self._rare_state().linger = True  # the codec gave up on what this peer sends
                self._door.hub.close_session(session, exc.code, exc)
                return
            if item is None:
                return
            self._on_item(session, item)

    def _charge(self, session: Session, size: int) -> tuple[Charge, float]:
        """Spend one item's tokens (and ``size`` bytes'). Returns what to do, and the debt
        in seconds (for ``retry_after``).

        Over the rate, the connection is first slowed down: reading and processing pause
        until the debt is paid (backpressure), and the item is handled. A door with
        ``refuse_after`` refuses the items of a peer still over the rate after that many
        seconds (not handled, no tokens spent), and after ``limits.rate_limit_strikes``
        refusals within ``limits.rate_limit_window`` seconds the connection must end.
        """
        door = self._door
        ir, br = door.item_rate, door.byte_rate
        if not (ir.enabled or br.enabled):
            return Charge.OK, 0.0
        now = door.hub.clock.monotonic()
        items_at, bytes_at, owed = self._spent(now, 1, size)
        if owed <= 0:
            self._items_full_at, self._bytes_full_at = items_at, bytes_at
            rare = self._rare
            if rare is not None:
                rare.throttled_since = None
                self._forget_rare()
            return Charge.OK, 0.0
        rare = self._rare_state()
        if rare.throttled_since is None:
            rare.throttled_since = now
            door.hub.stats.limits_hit[f"{door.name}_rate"] += 1
        grace = door.refuse_after
        if grace is None or now - rare.throttled_since < grace:
            self._items_full_at, self._bytes_full_at = items_at, bytes_at
            self._pause(session, owed)
            return Charge.OK, owed
        # A refused item costs nothing but a strike: the buckets stay as they were.
        lim = door.config.limits
        limited = [t for t in (rare.limited or []) if now - t < lim.rate_limit_window]
        limited.append(now)
        rare.limited = limited
        if len(limited) >= lim.rate_limit_strikes:
            return Charge.FATAL, owed
        self._pause(session, owed)
        return Charge.REFUSED, owed

    def _spent(self, now: float, items: int, size: int) -> tuple[float, float, float]:
        """Both buckets after spending ``items`` and ``size`` bytes at ``now`` (not kept:
        the caller decides), and how many seconds over the rate that leaves the peer."""
        door = self._door
        ir, br = door.item_rate, door.byte_rate
        items_at, bytes_at, owed = self._items_full_at, self._bytes_full_at, 0.0
        if ir.enabled:
            items_at = spend(items_at, now, items, ir)
            owed = debt(items_at, now, ir)
        if br.enabled:
            bytes_at = spend(bytes_at, now, size, br)
            owed = max(owed, debt(bytes_at, now, br))
        return items_at, bytes_at, owed

    def rested(self) -> None:
        """The peer answered the heartbeat ping, which goes out only after a whole
        interval of silence: its buckets were full but for the answer. They forget it
        (0.0, a full bucket, one float shared by all) instead of each idle connection
        keeping a float per bucket until its next line. What goes free is at most one
        item and :data:`RESTED_BYTES` per heartbeat ping, and never a debt beyond it."""
        door = self._door
        now = door.hub.clock.monotonic()
        self._items_full_at = forgive(self._items_full_at, now, 1, door.item_rate)
        self._bytes_full_at = forgive(self._bytes_full_at, now, RESTED_BYTES, door.byte_rate)

    def _forget_rare(self) -> None:
        """Let go of the rare state once nothing unusual is left in it."""
        rare = self._rare
        if rare is not None and rare.empty:
            self._rare = None

    def _strike(self, session: Session) -> bool:
        """Count one piece of bad input; True when this one is over the limit (end it)."""
        limits = self._door.config.limits
        now = self._door.hub.clock.monotonic()
        rare = self._rare_state()
        strikes = [t for t in (rare.strikes or []) if now - t < limits.bad_frame_window]
        over = len(strikes) >= limits.bad_frame_strikes
        strikes.append(now)
        rare.strikes = strikes
        if over:
            self._door.hub.stats.limits_hit[f"{self._door.name}_strikes"] += 1
        return over

    def _pause(self, session: Session, seconds: float) -> None:
        """Stop reading and processing for ``seconds`` (one timer, only while throttled)."""
        if self._state & _PAUSED or self._transport is None:
            return
        self._transport.pause_reading()
        self._rare_state().resume = self._door.hub.scheduler.call_later(seconds, self._unpause)
        self._state |= _PAUSED

    def _unpause(self) -> None:
        self._state &= ~_PAUSED
        rare = self._rare
        if rare is not None:
            rare.resume = None
            self._forget_rare()
        session = self.session
        if session is None or session.closed or self._transport is None:
            return
        if self._buffered:
            # Its lines (a pong among them) wait because we delay them: no silence of its own.
            self._door.hub.received(session, 0)
        if not self._state & _BUSY:
            self._transport.resume_reading()
            self._process(session)

    def _start(
        self,
        session: Session,
        work: Coroutine[Any, Any, _R],
        done: Callable[[_R], None],
        failed: Callable[[ChatError], None],
    ) -> None:
        """Run ``work`` while this connection's items wait; then ``done(result)`` or
        ``failed(error)`` (never once the session is closed), and resume in order.

        The socket is still read meanwhile (up to :data:`BUSY_READ_AHEAD` bytes): a peer
        that hangs up is seen gone at once, and what it asked for is dropped unhashed.
        """
        assert self._transport is not None
        self._state |= _BUSY
        task = asyncio.get_running_loop().create_task(work)
        self._door.tasks.add(task)
        task.add_done_callback(lambda t: self._finished(session, t, done, failed))

    def _finished(
        self,
        session: Session,
        task: asyncio.Task[_R],
        done: Callable[[_R], None],
        failed: Callable[[ChatError], None],
    ) -> None:
        self._door.tasks.discard(task)
        self._state &= ~_BUSY
        if task.cancelled():
            return
        exc = task.exception()  # retrieved even when nobody waits for it any more
        if session.closed:
            return
        if isinstance(exc, ChatError):
            wait = exc.retry_after if isinstance(exc, Throttled) else None
            hold = min(wait, THROTTLED_HOLD) if wait else 0.0
            if hold and self._answer_throttled_later(session):
                # Still busy meanwhile (read, bounded, so a hang-up ends it; not handled).
                self._state |= _BUSY
                self._door.hub.scheduler.call_later(
                    hold, lambda: self._throttled_answer(session, exc, failed)
                )
                return
            failed(exc)
            if hold:
                # Told to wait: what it sends meanwhile waits too, unread. A guesser that
                # ignores retry_after costs one answer per wait, not one per round trip.
                self._pause(session, hold)
        elif isinstance(exc, StoreError):
            log.warning("storage failed for %r: %s", session, exc)
            failed(StorageFailed(f"{exc}; nothing was changed, try again", retry_after=5.0))
        elif exc is not None:
            log.error("internal error in %r", session, exc_info=exc)
            failed(Internal())
        else:
            done(task.result())
        self._go_on(session)

    def _throttled_answer(
        self, session: Session, exc: ChatError, failed: Callable[[ChatError], None]
    ) -> None:
        self._state &= ~_BUSY
        if session.closed:
            return
        failed(exc)
        self._go_on(session)

    def _go_on(self, session: Session) -> None:
        """A slow task is answered: read and handle what waited behind it (unless a
        throttle pause still holds the connection)."""
        if session.closed or self._transport is None:
            return
        if not self._state & _PAUSED:
            self._transport.resume_reading()
            self._process(session)

    # -- output: the hub's Outlet ------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Outlet.write: queue bytes for this round's flush.

        This runs once per delivery of every fan-out, so it stays one flat function, and
        the common case (a queue for this round exists, plain bytes, the connection open
        and its output neither captured nor held behind a stream) is checked first.
        """
        pending = self._pending
        if pending is not None and type(data) is bytes and not self._state & _NOT_QUEUED:
            pending.append(data)
            size = self._pending_size = self._pending_size + len(data)
            if size > self._door.pending_cap:
                self.flush()
            return
        if self._state & _CLOSED or not data:
            return
        if type(data) is OnceLine and self._once_again(data):
            return  # the same departure, heard through another shared room
        rare = self._rare
        if rare is not None:
            if rare.capture is not None:
                rare.capture.append(data)
                return
            if rare.held is not None:
                self._hold(rare.held, data)
                return
        if pending is None:
            self._pending = [data]
            self._door.hub.outbox.want_flush(self)
        else:
            pending.append(data)
        self._pending_size += len(data)
        # The queue holds references to bytes shared by every member, and it empties at
        # the end of this round. A round that queues more than the cap (a commit that
        # settles hundreds of messages at once) writes early: whether the peer keeps up
        # is the transport's test, in `flush`, not the size of one burst.
        if self._pending_size > self._door.pending_cap:
            self.flush()

    def write_all(self, lines: list[bytes], size: int) -> None:
        """Outlet.write_all: a commit's messages to one room, in one call per member.

        A run that would take the queue past ``pending_cap`` goes line by line instead, so
        it is written early as it grows and a peer that does not read is dropped holding
        at most ``high_water + pending_cap``, however long the run (a stalled disk)."""
        if not lines:
            return
        if not self._state & _NOT_QUEUED and self._pending_size + size <= self._door.pending_cap:
            pending = self._pending
            if pending is None:
                self._pending = list(lines)  # a copy: the list is every member's
                self._door.hub.outbox.want_flush(self)
            else:
                pending.extend(lines)
            self._pending_size += size
            return
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        self._forget_once()
        pending = self._pending
        if pending is None or self._state & _CLOSED or self._transport is None:
            return
        transport = self._transport
        # What the peer has not read of earlier rounds decides, not this round's burst:
        # acknowledgements come in bursts (one per message of a group commit), and a
        # client that reads is never dropped for the server's batching. A queue is
        # written once it passes pending_cap, so a peer that does not read is dropped
        # holding at most high_water + pending_cap.
        unread = transport.get_write_buffer_size()
        if len(pending) == 1:
            transport.write(pending[0])
        elif unread:
            # It will wait in the transport: keep the bytes every member shares (a lagging
            # member costs a reference per message, not a copy).
            transport.writelines(pending)
        else:
            # Most likely sent at once: one copy is cheaper than a buffer per message.
            transport.write(b"".join(pending))
        self._pending = None
        size, self._pending_size = self._pending_size, 0
        door = self._door
        door.bytes_out += size
        if unread > door.high_water:
            self._slow()

    # -- long answers, written as the peer reads them ----------------------------------

    def stream(self, chunks: Iterable[bytes], done: Callable[[], None] | None = None) -> None:
        """Write a long answer (a replay, a history page) as fast as the peer reads it.

        Chunks are pulled only while the transport holds less than ``STREAM_LOW`` bytes, so
        a client that reads is never dropped as a slow consumer for an answer it asked for,
        and the server never holds more than a chunk of it. What the connection is sent
        meanwhile (live messages) waits behind it, in order. ``done`` runs once the last
        chunk was handed to the socket (a DM replay counts as delivered then).
        """
        if self._state & _CLOSED or self._transport is None:
            return
        rare = self._rare_state()
        if rare.streams is None:
            rare.streams = deque()
            # What was queued before the answer goes first; what comes after waits.
            self.flush()
            rare.held = []
            self._state |= _ASIDE
        rare.streams.append((iter(chunks), done))
        self._pump()

    def _hold(self, held: list[bytes], data: bytes) -> None:
        held.append(data)
        self._pending_size += len(data)
        if self._pending_size > 4 * self._door.config.limits.output_high_water:
            self._slow()  # live traffic piles up behind an answer the peer does not read

    def _pump(self) -> None:
        transport = self._transport
        rare = self._rare
        streams = rare.streams if rare is not None else None
        if transport is None or rare is None or streams is None or self._state & _CLOSED:
            return
        while streams and transport.get_write_buffer_size() < STREAM_LOW:
            if transport.is_closing():
                # The peer is gone (a reset shows as a closing transport whose buffer is
                # empty): what is left was not sent, so it must not count as delivered.
                streams.clear()
                return
            chunks, done = streams[0]
            chunk = next(chunks, None)
            if chunk is None:
                streams.popleft()
                if done is not None:
                    done()
                continue
            chunk = self._framed(chunk)
            transport.write(chunk)
            self._door.bytes_out += len(chunk)
        if not streams:
            held, rare.held, rare.streams = rare.held or [], None, None
            if rare.capture is None:
                self._state &= ~_ASIDE
            self._forget_rare()  # the replay after a login is over: nothing rare left
            self._pending_size = 0
            # No round's flush came while the stream ran: a departure line among the held
            # ones must not be taken for one already sent.
            self._forget_once()
            for data in held:
                self.write(data)

    def _once_again(self, line: OnceLine) -> bool:
        """Whether ``line`` was queued already this round (it is dropped then). Only the
        IRC door sends :class:`OnceLine` (it keeps the last one: see IrcConnection)."""
        return False

    def _forget_once(self) -> None:
        """A round's output is out (or held output let go): forget the round's lines."""

    def _framed(self, chunk: bytes) -> bytes:
        """A streamed chunk as this door puts it on the wire (the web door wraps it)."""
        return chunk

    def pause_writing(self) -> None:
        """The transport passed its high-water mark: the peer is falling behind, and its
        rooms may hold their senders back until it catches up."""
        session = self.session
        if session is not None and session.rooms:
            self._door.hub.lagging(session)

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark: the peer caught up; the next
        chunks of a stream."""
        session = self.session
        if session is not None and session.rooms:
            self._door.hub.caught_up(session)
        self._pump()

    def hold_input(self, seconds: float) -> None:
        """Outlet.hold_input: backpressure from a congested room (a throttle pause)."""
        session = self.session
        if session is not None and not session.closed:
            self._pause(session, seconds)

    def _slow(self) -> None:
        """Over the high-water mark: drop this client, never buffer more for it.

        The close is deferred to the next loop step because we may be inside a fan-out
        that is iterating over the room this session belongs to.
        """
        session = self.session
        if session is None or self._state & _CLOSED:
            return
        self._state |= _CLOSED
        self._pending = None
        self._pending_size = 0
        hub = self._door.hub
        hub.stats.limits_hit["slow_consumer"] += 1
        hub.scheduler.call_soon(
            lambda: hub.close_session(session, "slow_consumer", SlowConsumer(), abort=True)
        )

    def drop_for_garbage(self) -> None:
        """Say the session's coming close is for garbage: its socket lingers, unread."""
        self._rare_state().linger = True

    def close_transport(self, abort: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if not abort and not self._state & _CLOSED:
            self.flush()
        self._state |= _CLOSED
        self._pending = None
        self._discard_input()  # a lingering socket must not keep what it sent
        rare = self._rare
        if rare is not None and rare.linger and not abort and Connection.lingering < LINGER_MAX:
            rare.linger = False
            Connection.lingering += 1
            transport.pause_reading()
            held = random.uniform(LINGER / 2, LINGER)  # a spread, not a secret
            self._door.hub.scheduler.call_later(held, self._end_linger)
            return
        # A peer that is not reading would hold the fd until TCP gives up: free it now.
        if abort or transport.get_write_buffer_size() > 0:
            transport.abort()
        else:
            transport.close()

    def _end_linger(self) -> None:
        Connection.lingering -= 1
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the peer went first
        if transport.get_write_buffer_size() > 0:
            transport.abort()
        else:
            transport.close()

    def is_open(self) -> bool:
        transport = self._transport
        return not self._state & _CLOSED and transport is not None and not transport.is_closing()

    def backlog(self) -> int:
        buffered = self._transport.get_write_buffer_size() if self._transport is not None else 0
        return self._pending_size + buffered

    @property
    def door_name(self) -> str:
        return self._door.name

    def peer_port(self) -> int:
        # A TCP transport keeps the peer's address once closed (uvloop saves it when the
        # connection is made, asyncio too); a TLS one does not, so TLS keeps it in _rare.
        rare = self._rare
        if rare is not None and rare.port:
            return rare.port
        peer = self._transport.get_extra_info("peername") if self._transport is not None else None
        return int(peer[1]) if peer else 0
