"""Group commit, then write: the end of every event-loop round.

Outlets queue bytes and ask for a flush; once per round :meth:`Outbox.flush` commits the
store, runs what waited for that commit (deliveries and acknowledgements of messages), and
then lets every dirty outlet write its queue in one call.

A message is delivered and acknowledged only from an :meth:`after_commit` callback, so
nobody ever sees a message the store did not keep: when a commit fails, those callbacks'
``failed`` halves run instead (each sender is told), and nothing of that round's messages
reaches anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from teahouse.core.clock import Scheduler
from teahouse.core.session import Outlet
from teahouse.store.base import Store, StoreError

log = logging.getLogger("teahouse.hub")

Committed = Callable[[], None]
Failed = Callable[[StoreError], None]


class Outbox:
    def __init__(self, store: Store, scheduler: Scheduler) -> None:
        self._store = store
        self._scheduler = scheduler
        self._dirty: list[Outlet] = []
        self._scheduled = False
        self._waiting: list[tuple[Committed, Failed | None]] = []
        self._lost: StoreError | None = None
        """A commit of this round that failed early (:meth:`commit_now`)."""
        self.commit_failures = 0

    def want_flush(self, outlet: Outlet) -> None:
        """An outlet has queued bytes; it will be flushed at the end of this loop round."""
        self._dirty.append(outlet)
        self._schedule()

    def after_commit(self, committed: Committed, failed: Failed | None = None) -> None:
        """Run ``committed`` once what was written to the store so far is committed, or
        ``failed`` (when given) if that commit fails. Callbacks run in the order given."""
        self._waiting.append((committed, failed))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._scheduler.call_soon(self.flush)

    def flush(self) -> None:
        """Commit the store, settle what waited for it, then write every dirty outlet."""
        try:
            self._flush()
        finally:
            # Only now: the deliveries above dirty outlets that this round writes anyway,
            # and must not schedule a second, empty round for them.
            self._scheduled = False
            if self._waiting or self._dirty or self._lost is not None:
                self._schedule()

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, []
        error, self._lost = self._lost, None
        try:
            self._store.flush()
        except StoreError as exc:
            error = exc
            self.commit_failures += 1
        if error is not None:
            log.error("store commit failed (%s); %d deliveries refused", error, len(waiting))
        for committed, failed in waiting:
            if error is None:
                committed()
            elif failed is not None:
                failed(error)
        # Callbacks above may have queued more output (and more writes: those commit in
        # the next round, which their own after_commit waits for).
        dirty, self._dirty = self._dirty, []
        for outlet in dirty:
            outlet.flush()

    def commit_now(self) -> None:
        """Commit before a connection's last bytes leave (``close_session``)."""
        try:
            self._store.flush()
        except StoreError as exc:
            self.commit_failures += 1
            # What waits for this round's commit was lost with it: this round's flush
            # must say so (and no later round's).
            self._lost = exc
            self._schedule()
            log.error("store commit failed (%s)", exc)
