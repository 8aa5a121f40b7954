"""LoginThrottle: free attempts, then a growing, capped delay per key."""

from __future__ import annotations

import pytest

from teahouse.core.throttle import LoginThrottle

KEYS = ["ip:10.0.0.1", "user:alice"]
T0 = 500.0


def make(**kwargs: float) -> LoginThrottle:
    params: dict[str, float] = {
        "free_attempts": 3,
        "base_delay": 1.0,
        "max_delay": 30.0,
        "forget_after": 900.0,
    }
    params.update(kwargs)
    return LoginThrottle(**params)  # type: ignore[arg-type]


def fail(throttle: LoginThrottle, times: int, now: float = T0, keys: list[str] = KEYS) -> None:
    for _ in range(times):
        throttle.failure(keys, now)


def test_a_fresh_key_may_try_at_once() -> None:
    assert make().retry_after(KEYS, T0) is None


def test_the_first_free_attempts_cost_nothing() -> None:
    throttle = make()
    fail(throttle, 2)
    assert throttle.retry_after(KEYS, T0) is None


def test_after_free_attempts_the_next_attempt_waits_base_delay() -> None:
    throttle = make()
    fail(throttle, 3)
    assert throttle.retry_after(KEYS, T0) == pytest.approx(1.0)
    assert throttle.retry_after(KEYS, T0 + 0.5) == pytest.approx(0.5)
    assert throttle.retry_after(KEYS, T0 + 1.0) is None


@pytest.mark.parametrize(("failures", "delay"), [(3, 1.0), (4, 2.0), (5, 4.0), (6, 8.0), (7, 16.0)])
def test_the_delay_doubles_with_each_failure(failures: int, delay: float) -> None:
    throttle = make()
    fail(throttle, failures)
    assert throttle.retry_after(KEYS, T0) == pytest.approx(delay)


def test_the_delay_is_capped_at_max_delay() -> None:
    throttle = make()
    fail(throttle, 40)
    assert throttle.retry_after(KEYS, T0) == pytest.approx(30.0)


def test_the_wait_is_the_longest_of_any_key() -> None:
    throttle = make()
    fail(throttle, 5, keys=["ip:10.0.0.1"])
    fail(throttle, 3, keys=["user:alice"])
    assert throttle.retry_after(["ip:10.0.0.1", "user:alice"], T0) == pytest.approx(4.0)
    assert throttle.retry_after(["ip:10.0.0.9", "user:alice"], T0) == pytest.approx(1.0)
    assert throttle.retry_after(["ip:10.0.0.9", "user:bob"], T0) is None


def test_failures_are_forgotten_forget_after_the_last_one() -> None:
    throttle = make()
    fail(throttle, 6)
    assert throttle.retry_after(KEYS, T0 + 899.0) is None  # the delay has passed anyway
    assert len(throttle) == 2
    assert throttle.retry_after(KEYS, T0 + 900.0) is None
    assert len(throttle) == 0


def test_a_failure_after_forget_after_starts_counting_again() -> None:
    throttle = make()
    fail(throttle, 6)
    fail(throttle, 1, now=T0 + 900.0)
    assert throttle.retry_after(KEYS, T0 + 900.0) is None
    fail(throttle, 2, now=T0 + 900.0)
    assert throttle.retry_after(KEYS, T0 + 900.0) == pytest.approx(1.0)


def test_a_failure_before_forget_after_keeps_counting() -> None:
    throttle = make()
    fail(throttle, 3)
    fail(throttle, 1, now=T0 + 899.0)
    assert throttle.retry_after(KEYS, T0 + 899.0) == pytest.approx(2.0)


def test_success_clears_the_keys() -> None:
    throttle = make()
    fail(throttle, 8)
    throttle.success(KEYS)
    assert throttle.retry_after(KEYS, T0) is None
    assert len(throttle) == 0
    fail(throttle, 2)
    assert throttle.retry_after(KEYS, T0) is None


def test_the_table_never_holds_more_than_max_keys() -> None:
    throttle = LoginThrottle(max_keys=100)
    for i in range(1000):
        throttle.failure([f"user:u{i}"], T0 + i)
        assert len(throttle) <= 100
    assert len(throttle) == 100


def test_the_oldest_keys_are_dropped_first() -> None:
    throttle = LoginThrottle(free_attempts=0, max_keys=3)
    for name in ["a", "b", "c"]:
        throttle.failure([name], T0)
    throttle.failure(["a"], T0)  # a is now the most recent
    throttle.failure(["d"], T0)
    assert throttle.retry_after(["b"], T0) is None
    assert throttle.retry_after(["a"], T0) is not None
    assert throttle.retry_after(["c"], T0) is not None
    assert throttle.retry_after(["d"], T0) is not None
