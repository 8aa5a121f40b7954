"""The one-float token bucket (:func:`spend`, :func:`debt`) says what a plain token
bucket (a count and a stamp, :func:`take` below) says."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from teahouse.core.limits import AddressRate, Rate, debt, forgive, spend


def take(tokens: float, stamp: float, now: float, cost: float, rate: Rate) -> float:
    """The reference: refill a bucket that held ``tokens`` at ``stamp`` up to ``now``,
    minus ``cost``; negative is a debt of ``-result / per_second`` seconds."""
    refilled = min(rate.burst, tokens + (now - stamp) * rate.per_second)
    return refilled - cost


RATES = st.builds(
    Rate,
    per_second=st.floats(0.1, 1000, allow_nan=False),
    burst=st.floats(1, 1000, allow_nan=False),
)
STEPS = st.lists(
    st.tuples(st.floats(0, 30, allow_nan=False), st.integers(0, 5000)), min_size=1, max_size=40
)


@given(RATES, STEPS)
def test_spend_keeps_the_debt_take_keeps(rate: Rate, steps: list[tuple[float, int]]) -> None:
    now = 1000.0
    tokens, stamp = rate.burst, now
    full_at = 0.0
    for gap, cost in steps:
        now += gap
        tokens, stamp = take(tokens, stamp, now, cost, rate), now
        full_at = spend(full_at, now, cost, rate)
        scale = max(1.0, abs(tokens) / rate.per_second, rate.burst / rate.per_second)
        # A full bucket's time is in the past: its debt says only "within the rate".
        owed = max(debt(full_at, now, rate), -rate.burst / rate.per_second)
        assert math.isclose(owed, -tokens / rate.per_second, abs_tol=1e-9 * scale)


def test_a_full_bucket_allows_its_burst_then_owes() -> None:
    rate = Rate(per_second=2.0, burst=3.0)
    full_at = 0.0
    for _ in range(3):
        full_at = spend(full_at, 10.0, 1, rate)
        assert debt(full_at, 10.0, rate) <= 0
    full_at = spend(full_at, 10.0, 1, rate)
    assert debt(full_at, 10.0, rate) == 0.5  # one token short at 2 a second
    assert debt(full_at, 10.5, rate) == 0.0  # paid after half a second


def test_spending_nothing_keeps_the_same_float() -> None:
    rate = Rate(per_second=2.0, burst=3.0)
    full_at = spend(0.0, 10.0, 1, rate)
    assert spend(full_at, 20.0, 0, rate) is full_at


def test_an_address_rate_refuses_past_its_burst_and_charges_nothing_for_it() -> None:
    rate = AddressRate(Rate(per_second=2.0, burst=3.0))
    assert [rate.allow("a", 10.0) for _ in range(3)] == [None, None, None]
    assert rate.allow("a", 10.0) == 0.5  # one token short at 2 a second
    assert rate.allow("a", 10.0) == 0.5, "a refusal spends nothing"
    assert rate.allow("b", 10.0) is None, "another address has its own bucket"
    assert rate.allow("a", 10.5) is None


def test_forgive_takes_back_at_most_its_cost_beyond_full() -> None:
    rate = Rate(per_second=10, burst=20)
    now = 5.0
    full = now * rate.per_second  # the bucket's clock at now: full from here on
    assert forgive(full + 1, now, 1, rate) == 0.0
    assert forgive(full - 3, now, 1, rate) == 0.0, "already full"
    assert forgive(full + 1.5, now, 1, rate) == full + 1.5, "a deeper debt is kept"
    assert forgive(0.0, now, 1, Rate(per_second=0, burst=0)) == 0.0
