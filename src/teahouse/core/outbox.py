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

from teahouse.core.clock import Scheduler
from teahouse.core.session import Outlet
from teahouse.store.base import Store, StoreError

log = logging.getLogger("teahouse.hub")

Committed = Callable[[], object]
Failed = Callable[[StoreError], object]


class Outbox:
    def __init__(self, store: Store, scheduler: Scheduler) -> None:
        self._store = store
        self._scheduler = scheduler
        self._dirty: list[Outlet] = []
        self._scheduled = False
        self._waiting: list[tuple[Committed, Failed | None]] = []
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

    @property
    def holding(self) -> bool:
        """True while something waits for this round's commit: later broadcasts must wait
        behind it, so everyone sees events in the order they happened."""
        return bool(self._waiting)

    def in_order(self, fn: Committed) -> None:
        """Run ``fn`` after what already waits for the commit, whatever the commit's fate."""
        self._waiting.append((fn, lambda exc: fn()))
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._scheduler.call_soon(self.flush)

    def flush(self) -> None:
        """Commit the store, settle what waited for it, then write every dirty outlet."""
        self._scheduled = False
        waiting, self._waiting = self._waiting, []
        error: StoreError | None = None
        try:
            self._store.flush()
        except StoreError as exc:
            error = exc
            self.commit_failures += 1
            log.error("store commit failed (%s); %d deliveries refused", exc, len(waiting))
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
            log.error("store commit failed (%s)", exc)
