"""FakeClock: a clock and a scheduler that move only when a test says so."""

from __future__ import annotations

import pytest

from teahouse.core import clock as clock_module
from teahouse.core.clock import STAMP_GRAIN, FakeClock, InlineScheduler, SystemClock


def test_time_moves_only_when_advanced() -> None:
    clock = FakeClock(start=50.0, wall_ms=1_000)
    assert (clock.monotonic(), clock.wall_ms()) == (50.0, 1_000)
    clock.advance(2.5)
    assert (clock.monotonic(), clock.wall_ms()) == (52.5, 3_500)


def test_call_soon_waits_for_run_soon_and_runs_in_order() -> None:
    clock = FakeClock()
    ran: list[str] = []
    clock.call_soon(lambda: ran.append("a"))
    clock.call_soon(lambda: (ran.append("b"), clock.call_soon(lambda: ran.append("c"))))
    assert ran == []
    assert clock.run_soon() == 3, "and what they schedule, in the same call"
    assert ran == ["a", "b", "c"]
    assert clock.run_soon() == 0


def test_timers_run_when_their_time_comes_in_due_order_at_their_time() -> None:
    clock = FakeClock(start=0.0)
    ran: list[tuple[str, float]] = []
    clock.call_later(3.0, lambda: ran.append(("late", clock.monotonic())))
    clock.call_later(1.0, lambda: ran.append(("early", clock.monotonic())))
    clock.call_later(1.0, lambda: ran.append(("early too", clock.monotonic())))
    assert clock.timers_pending == 3
    clock.advance(0.999)
    assert ran == []
    clock.advance(0.001)
    assert ran == [("early", 1.0), ("early too", 1.0)], "same due time: in the order given"
    clock.advance(5.0)
    assert ran[-1] == ("late", 3.0)
    assert clock.monotonic() == 6.0
    assert clock.timers_pending == 0


def test_a_cancelled_timer_never_runs() -> None:
    clock = FakeClock()
    ran: list[str] = []
    handle = clock.call_later(1.0, lambda: ran.append("x"))
    handle.cancel()
    assert clock.timers_pending == 0
    clock.advance(2.0)
    assert ran == []


def test_a_timer_set_by_a_timer_runs_within_the_same_advance_when_due() -> None:
    clock = FakeClock(start=0.0)
    ran: list[float] = []

    def tick() -> None:
        ran.append(clock.monotonic())
        if len(ran) < 5:
            clock.call_later(1.0, tick)

    clock.call_later(1.0, tick)
    clock.advance(3.5)
    assert ran == [1.0, 2.0, 3.0]
    clock.advance(10.0)
    assert ran == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_soon_callbacks_run_before_and_after_each_timer() -> None:
    clock = FakeClock(start=0.0)
    ran: list[str] = []
    clock.call_soon(lambda: ran.append("soon"))
    clock.call_later(
        1.0, lambda: (ran.append("timer"), clock.call_soon(lambda: ran.append("after")))
    )
    clock.advance(1.0)
    assert ran == ["soon", "timer", "after"]


def test_a_negative_delay_is_due_at_once() -> None:
    clock = FakeClock(start=0.0)
    ran: list[float] = []
    clock.call_later(-5.0, lambda: ran.append(clock.monotonic()))
    clock.advance(0.0)
    assert ran == [0.0]


def test_the_inline_scheduler_runs_soon_callbacks_at_once_and_has_no_timers() -> None:
    scheduler = InlineScheduler()
    ran: list[int] = []
    scheduler.call_soon(lambda: ran.append(1))
    assert ran == [1]
    with pytest.raises(RuntimeError):
        scheduler.call_later(1.0, lambda: None)


def test_a_system_stamp_is_shared_within_its_grain_and_never_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings = iter([100.0, 100.01, 100.049, 100.06, 100.2])  # one clock read a stamp
    monkeypatch.setattr(clock_module.time, "monotonic", lambda: next(readings))
    clock = SystemClock()
    first = clock.stamp()
    assert first == 100.0 + STAMP_GRAIN
    # Within the grain: the very same float (what thousands of sessions then share).
    assert clock.stamp() is first
    assert clock.stamp() is first
    assert clock.stamp() == 100.06 + STAMP_GRAIN, "past the grain: a new stamp"
    assert clock.stamp() == 100.2 + STAMP_GRAIN
    assert STAMP_GRAIN <= 0.05


def test_a_fake_stamp_is_exact() -> None:
    clock = FakeClock(start=10.0)
    clock.advance(0.001)
    assert clock.stamp() == clock.monotonic() == 10.001
