"""Outbox: start the commit, write the outlets; settle what waited for the commit when it is
done (at once with an inline store, later with a writer thread); once per loop round."""

from __future__ import annotations

from typing import Any

import pytest

from teahouse.core.clock import FakeClock
from teahouse.core.outbox import Outbox
from teahouse.store.base import Committed, StoreError

from ..hubkit import FakeOutlet


class FlakyStore:
    """A store whose commits succeed, or fail once for each error queued in ``fail``.

    With ``hold`` set, a commit stays in flight (as on the writer thread) until
    :meth:`finish`.
    """

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.fail: list[StoreError] = []
        self.commits = 0
        self.hold = False
        self.in_flight: list[Committed] = []

    def commit(self, done: Committed) -> None:
        self.commits += 1
        self.log.append("commit")
        if self.hold:
            self.in_flight.append(done)
        else:
            done(self.fail.pop(0) if self.fail else None)

    def finish(self) -> None:
        """The commit in flight is done (or failed, when an error is queued)."""
        done = self.in_flight.pop(0)
        self.log.append("committed")
        done(self.fail.pop(0) if self.fail else None)


class Kit:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.clock = FakeClock()
        self.store = FlakyStore(self.log)
        self.outbox = Outbox(self.store, self.clock, self.clock)  # type: ignore[arg-type]
        self.outlets = [self.outlet(i) for i in range(2)]

    def outlet(self, i: int) -> FakeOutlet:
        hub: Any = self  # FakeOutlet asks its "hub" for a flush
        out = FakeOutlet(hub, on_flush=lambda: self.log.append(f"write {i}"))
        return out

    def want_flush(self, outlet: FakeOutlet) -> None:
        self.outbox.want_flush(outlet)

    def deliver(self, text: str, failed: list[StoreError] | None = None) -> None:
        """A message's after_commit: both outlets get ``text``; its failure is recorded."""

        def committed() -> None:
            self.log.append(f"deliver {text}")
            for out in self.outlets:
                out.write(text.encode())

        self.outbox.after_commit(committed, failed.append if failed is not None else None)


@pytest.fixture
def kit() -> Kit:
    return Kit()


def test_nothing_happens_before_the_end_of_the_round(kit: Kit) -> None:
    kit.deliver("a")
    assert kit.log == []
    assert kit.clock.run_soon() == 1
    assert kit.log == ["commit", "deliver a", "write 0", "write 1"]


def test_commit_then_deliver_then_one_write_per_outlet(kit: Kit) -> None:
    kit.outlets[0].write(b"reply")  # a reply queued before the messages
    for text in ("a", "b", "c"):
        kit.deliver(text)
    assert kit.clock.run_soon() == 1, "one round, however much was queued"
    assert kit.log == ["commit", "deliver a", "deliver b", "deliver c", "write 0", "write 1"]
    assert kit.store.commits == 1
    assert kit.outlets[0].sent == [b"reply", b"a", b"b", b"c"]
    assert kit.outlets[1].sent == [b"a", b"b", b"c"]


def test_a_failed_commit_runs_failed_and_delivers_nothing(kit: Kit) -> None:
    failures: list[StoreError] = []
    kit.outlets[0].write(b"reply")
    kit.deliver("a", failures)
    kit.deliver("b", failures)
    kit.outbox.after_commit(lambda: kit.log.append("no failed half"))
    error = StoreError("disk full")
    kit.store.fail.append(error)
    kit.clock.run_soon()
    assert failures == [error, error]
    assert "deliver a" not in kit.log and "no failed half" not in kit.log
    assert kit.outlets[1].sent == []
    assert kit.outlets[0].sent == [b"reply"], "other output still goes"
    assert kit.outbox.commit_failures == 1


def test_a_later_round_works_again(kit: Kit) -> None:
    failures: list[StoreError] = []
    kit.store.fail.append(StoreError("disk full"))
    kit.deliver("lost", failures)
    kit.clock.run_soon()
    kit.deliver("kept", failures)
    kit.clock.run_soon()
    assert len(failures) == 1
    assert kit.outlets[1].sent == [b"kept"]


def test_what_a_callback_commits_goes_in_the_next_round(kit: Kit) -> None:
    def committed() -> None:
        kit.log.append("first")
        kit.outbox.after_commit(lambda: kit.log.append("second"))

    kit.outbox.after_commit(committed)
    assert kit.clock.run_soon() == 2
    assert kit.log == ["commit", "first", "commit", "second"]


# -- a commit that takes time (the writer thread) ---------------------------------------------


def test_outlets_are_written_while_the_commit_runs_and_deliveries_wait_for_it(
    kit: Kit,
) -> None:
    kit.store.hold = True
    kit.outlets[0].write(b"reply")
    kit.deliver("a")
    kit.clock.run_soon()
    assert kit.log == ["commit", "write 0"], "the loop never waits for the disk"
    assert kit.outlets[1].sent == []
    kit.store.finish()
    assert kit.log == ["commit", "write 0", "committed", "deliver a", "write 0", "write 1"]
    assert kit.outlets[1].sent == [b"a"]


def test_one_commit_at_a_time_and_what_came_meanwhile_is_the_next(kit: Kit) -> None:
    kit.store.hold = True
    kit.deliver("a")
    kit.clock.run_soon()
    kit.deliver("b")
    kit.deliver("c")
    kit.clock.run_soon()
    assert kit.store.commits == 1, "a second commit while one runs"
    kit.store.finish()
    assert kit.outlets[1].sent == [b"a"], "b and c were written after a's commit began"
    kit.clock.run_soon()
    assert kit.store.commits == 2
    kit.store.finish()
    assert kit.outlets[1].sent == [b"a", b"b", b"c"]


def test_a_broadcast_made_while_a_message_waits_goes_out_after_it(kit: Kit) -> None:
    kit.store.hold = True
    kit.deliver("message")
    assert kit.outbox.holding
    kit.outbox.in_order(lambda: kit.log.append("broadcast"))
    kit.clock.run_soon()
    kit.store.fail.append(StoreError("disk full"))
    kit.store.finish()
    assert kit.log == ["commit", "committed", "broadcast"], "in order, whatever the commit did"
    assert not kit.outbox.holding


def test_nothing_is_held_while_the_waiting_callbacks_run(kit: Kit) -> None:
    seen: list[bool] = []
    kit.outbox.after_commit(lambda: seen.append(kit.outbox.holding))
    kit.clock.run_soon()
    assert seen == [False], "a broadcast from a delivery goes out at once, in its place"
