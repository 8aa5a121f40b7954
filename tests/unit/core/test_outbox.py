"""Outbox: commit, then settle what waited for the commit, then write; once per loop round."""

from __future__ import annotations

from typing import Any

import pytest

from teahouse.core.clock import FakeClock
from teahouse.core.outbox import Outbox
from teahouse.store.base import StoreError

from ..hubkit import FakeOutlet


class FlakyStore:
    """A store whose commits succeed, or fail once for each error queued in ``fail``."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.fail: list[StoreError] = []
        self.commits = 0

    def flush(self) -> None:
        self.commits += 1
        self.log.append("commit")
        if self.fail:
            raise self.fail.pop(0)


class Kit:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.clock = FakeClock()
        self.store = FlakyStore(self.log)
        self.outbox = Outbox(self.store, self.clock)  # type: ignore[arg-type]
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
    assert kit.clock.run_soon() == 0


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


def test_a_failed_early_commit_fails_its_round_and_only_its_round(kit: Kit) -> None:
    """close_session commits at once; when that fails, the round's messages are lost even
    if the store's own next commit (of nothing) succeeds."""
    failures: list[StoreError] = []
    kit.deliver("a", failures)
    error = StoreError("disk full")
    kit.store.fail.append(error)
    kit.outbox.commit_now()
    assert kit.outbox.commit_failures == 1
    kit.clock.run_soon()
    assert failures == [error]
    assert kit.outlets[1].sent == []
    kit.deliver("b", failures)
    kit.clock.run_soon()
    assert failures == [error]
    assert kit.outlets[1].sent == [b"b"]


def test_an_early_commit_that_fails_with_nothing_waiting_does_not_fail_the_next_round(
    kit: Kit,
) -> None:
    failures: list[StoreError] = []
    kit.store.fail.append(StoreError("disk full"))
    kit.outbox.commit_now()
    kit.clock.run_soon()  # the round the failure belongs to
    kit.deliver("next", failures)
    kit.clock.run_soon()
    assert failures == []
    assert kit.outlets[1].sent == [b"next"]


def test_what_a_callback_commits_goes_in_the_next_round(kit: Kit) -> None:
    def committed() -> None:
        kit.log.append("first")
        kit.outbox.after_commit(lambda: kit.log.append("second"))

    kit.outbox.after_commit(committed)
    assert kit.clock.run_soon() == 2
    assert kit.log == ["commit", "first", "commit", "second"]
