"""Group commit, then write: the end of every event-loop round.

Outlets queue bytes and ask for a flush; once per round :meth:`Outbox.flush` commits the
store, runs what waited for that commit (deliveries and acknowledgements of messages), and
then lets every dirty outlet write its queue in one call.

A message is delivered and acknowledged only from an :meth:`after_commit` callback, so
nobody ever sees a message the store did not keep: when a commit fails, those callbacks'
``failed`` halves run instead (each sender is told), and nothing of that round's messages
reaches anyone. Broadcasts made while a message waits (a part, a notice) wait behind it
(:meth:`in_order`), so order is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from teahouse.core.clock import Clock, Scheduler
from teahouse.core.session import Outlet
from teahouse.store.base import Store, StoreError

log = logging.getLogger("teahouse.hub")

WRITES_PER_ROUND = 512
"""The most outlets written in one loop round; the others are written in the next rounds.

A write is a system call per connection. When ten thousand connections have something
queued at once (each answering a ping; ten thousand pinged by the heartbeat sweep),
writing them all in one round held every other client for a hundred milliseconds and
more; a few hundred a round keep a round short and cost each one a round's wait.
"""

Committed = Callable[[], object]
Failed = Callable[[StoreError], object]

_T = TypeVar("_T")


class Together(Generic[_T]):
    """A commit's callback that runs with the like ones queued right after it.

    Consecutive ones with the same ``key`` and ``run`` are handed to ``run`` in one call,
    in the order they were queued: a commit's messages to one room, so that each member is
    written them at once instead of once per message. Anything else queued between two of
    them ends the run, so nobody sees events out of order.
    """

    __slots__ = ("item", "key", "run")

    def __init__(self, key: str, run: Callable[[list[_T]], None], item: _T) -> None:
        self.key = key
        self.run = run
        self.item = item

    def __call__(self) -> None:
        self.run([self.item])


class Outbox:
    def __init__(self, store: Store, scheduler: Scheduler, clock: Clock) -> None:
        self._store = store
        self._scheduler = scheduler
        self._clock = clock
        self._dirty: list[Outlet] = []
        self._scheduled = False
        self._waiting: list[tuple[Committed, Failed | None]] = []
        self._inflight: list[tuple[Committed, Failed | None]] | None = None
        """What waits for the commit now running (one at a time, in order)."""
        self._started = 0.0
        self._settling = False
        """True while the continuations of a commit run: they go out now, in their order."""
        self.commit_failures = 0
        self.commits = 0
        self.commit_seconds = 0.0
        self.last_error: StoreError | None = None
        self._room = WRITES_PER_ROUND
        """How many more outlets this round may write (see :data:`WRITES_PER_ROUND`)."""

    def want_flush(self, outlet: Outlet) -> None:
        """An outlet has queued bytes; it will be flushed at the end of this loop round."""
        self._dirty.append(outlet)
        self._schedule()

    def after_commit(self, committed: Committed, failed: Failed | None = None) -> None:
        """Run ``committed`` once what was written to the store so far is committed, or
        ``failed`` (when given) if that commit fails. Callbacks run in the order given."""
        self._waiting.append((committed, failed))
        self._schedule()

    @property
    def unsettled(self) -> int:
        """What waits for a commit (the one running and the next): deliveries that will go
        out at once when it settles."""
        inflight = self._inflight
        return len(self._waiting) + (len(inflight) if inflight is not None else 0)

    @property
    def holding(self) -> bool:
        """True while something waits for a commit: later broadcasts must wait behind it,
        so everyone sees events in the order they happened."""
        if self._settling:
            return False
        return bool(self._waiting) or self._inflight is not None

    def in_order(self, fn: Committed) -> None:
        """Run ``fn`` after what already waits for a commit, whatever the commit's fate."""
        self._waiting.append((fn, lambda exc: fn()))
        self._schedule()

    def wake(self) -> None:
        """Something was written to the store with nothing waiting on it (a topic, a
        cursor): make sure a round's end comes to commit it."""
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._scheduler.call_soon(self.flush)

    def flush(self) -> None:
        """The end of a round: start committing what was written, write every dirty
        outlet (nothing in them waits for the commit: acknowledgements come later)."""
        self._room = WRITES_PER_ROUND
        try:
            if self._inflight is None:
                waiting, self._waiting = self._waiting, []
                self._inflight = waiting
                self._started = self._clock.monotonic()
                self._store.commit(self._settled)
            self._write_out()
        finally:
            # Cleared last: what this round's callbacks queued went out above, no new round.
            self._scheduled = False
            if self._dirty or (self._waiting and self._inflight is None):
                self._schedule()

    def _settled(self, error: StoreError | None) -> None:
        """The commit is done (or failed): run what waited for it, in order."""
        waiting, self._inflight = self._inflight or [], None
        self.commits += 1
        self.commit_seconds += self._clock.monotonic() - self._started
        if error is not None:
            self.commit_failures += 1
            self.last_error = error
            log.error("store commit failed (%s); %d deliveries refused", error, len(waiting))
        self._settling = True
        try:
            i, count = 0, len(waiting)
            while i < count:
                committed, failed = waiting[i]
                i += 1
                if error is not None:
                    if failed is not None:
                        failed(error)
                elif type(committed) is Together:
                    run = [committed.item]
                    while i < count:
                        following = waiting[i][0]
                        if (
                            type(following) is not Together
                            or following.key != committed.key
                            or following.run != committed.run
                        ):
                            break
                        run.append(following.item)
                        i += 1
                    committed.run(run)
                else:
                    committed()
        finally:
            self._settling = False
        if self._waiting:
            self._schedule()  # what came while this commit ran: the next one
        self._write_out()

    def _write_out(self) -> None:
        """Write the dirty outlets, at most ``WRITES_PER_ROUND`` a round (a round writes
        out twice when its commit settles at once): the rest stay dirty, in order, for the
        next round."""
        dirty, room = self._dirty, self._room
        if len(dirty) > room:
            dirty, self._dirty = dirty[:room], dirty[room:]
            self._schedule()
        else:
            self._dirty = []
        self._room = room - len(dirty)
        for outlet in dirty:
            outlet.flush()
