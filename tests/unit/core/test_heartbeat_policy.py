"""heartbeat_action and HeartbeatPolicy: a pure function of times and config."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teahouse.core.heartbeat import Action, HeartbeatPolicy, heartbeat_action

POLICY = HeartbeatPolicy(interval=20.0, timeout=60.0, login_timeout=10.0)
T0 = 1000.0


def act(
    now: float,
    *,
    last_received: float = T0,
    last_ping: float | None = None,
    connected_at: float = T0,
    authenticated: bool = True,
    policy: HeartbeatPolicy = POLICY,
) -> Action:
    return heartbeat_action(
        policy,
        now=now,
        last_received=last_received,
        last_ping=last_ping,
        connected_at=connected_at,
        authenticated=authenticated,
    )


def test_nothing_happens_before_interval_of_silence() -> None:
    assert act(T0) is Action.NOTHING
    assert act(T0 + 19.999) is Action.NOTHING


def test_ping_after_interval_of_silence() -> None:
    assert act(T0 + 20.0) is Action.PING
    assert act(T0 + 25.0) is Action.PING


def test_no_second_ping_within_an_interval_of_the_first() -> None:
    assert act(T0 + 21.0, last_ping=T0 + 20.0) is Action.NOTHING
    assert act(T0 + 39.999, last_ping=T0 + 20.0) is Action.NOTHING


def test_re_ping_each_interval_while_silent() -> None:
    assert act(T0 + 40.0, last_ping=T0 + 20.0) is Action.PING
    assert act(T0 + 59.0, last_ping=T0 + 40.0) is Action.NOTHING


def test_traffic_after_a_ping_resets_the_ping_clock() -> None:
    # The peer answered the ping at T0+21, then fell silent again.
    assert act(T0 + 40.0, last_received=T0 + 21.0, last_ping=T0 + 20.0) is Action.NOTHING
    assert act(T0 + 41.0, last_received=T0 + 21.0, last_ping=T0 + 20.0) is Action.PING


def test_timeout_after_timeout_seconds_of_silence() -> None:
    assert act(T0 + 59.999, last_ping=T0 + 40.0) is Action.NOTHING
    assert act(T0 + 60.0, last_ping=T0 + 40.0) is Action.TIMEOUT
    assert act(T0 + 60.0) is Action.TIMEOUT
    assert act(T0 + 600.0, last_ping=T0 + 599.0) is Action.TIMEOUT


def test_login_timeout_applies_before_authentication() -> None:
    assert act(T0 + 9.999, authenticated=False) is Action.NOTHING
    assert act(T0 + 10.0, authenticated=False) is Action.LOGIN_TIMEOUT


def test_traffic_does_not_postpone_the_login_timeout() -> None:
    assert act(T0 + 10.0, last_received=T0 + 9.9, authenticated=False) is Action.LOGIN_TIMEOUT


def test_login_timeout_does_not_apply_after_authentication() -> None:
    assert act(T0 + 15.0, last_received=T0 + 14.0, authenticated=True) is Action.NOTHING


def test_an_unauthenticated_peer_is_pinged_too() -> None:
    policy = HeartbeatPolicy(interval=2.0, timeout=6.0, login_timeout=10.0)
    assert act(T0 + 2.0, authenticated=False, policy=policy) is Action.PING


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval": 0},
        {"interval": -1},
        {"timeout": 0},
        {"login_timeout": 0},
        {"login_timeout": -0.5},
    ],
)
def test_a_policy_with_non_positive_times_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        HeartbeatPolicy(**kwargs)


def first_timeout(policy: HeartbeatPolicy, phase: float, authenticated: bool) -> float:
    """Sweep every ``sweep_period`` from a phase after the last sign of life; when closed."""
    period = policy.sweep_period
    last_ping: float | None = None
    now = T0 + phase
    while True:
        action = heartbeat_action(
            policy,
            now=now,
            last_received=T0,
            last_ping=last_ping,
            connected_at=T0,
            authenticated=authenticated,
        )
        if action is Action.PING:
            last_ping = now
        elif action in (Action.TIMEOUT, Action.LOGIN_TIMEOUT):
            return now - T0
        now += period


@given(
    interval=st.floats(0.001, 120),
    timeout_factor=st.floats(1, 5),
    login_timeout=st.floats(0.001, 60),
    phase=st.floats(0, 1),
    authenticated=st.booleans(),
)
def test_sweeping_every_sweep_period_closes_a_dead_peer_within_timeout_plus_one_second(
    interval: float, timeout_factor: float, login_timeout: float, phase: float, authenticated: bool
) -> None:
    policy = HeartbeatPolicy(
        interval=interval, timeout=interval * timeout_factor, login_timeout=login_timeout
    )
    assert 0 < policy.sweep_period <= 0.5
    deadline = policy.timeout if authenticated else min(policy.timeout, policy.login_timeout)
    closed_after = first_timeout(policy, phase * policy.sweep_period, authenticated)
    assert deadline <= closed_after + 1e-9
    assert closed_after <= deadline + 1.0


def test_sweep_period_is_a_quarter_of_the_shortest_time_capped_at_half_a_second() -> None:
    assert HeartbeatPolicy(20, 60, 10).sweep_period == 0.5
    assert HeartbeatPolicy(1, 60, 10).sweep_period == 0.25
    assert HeartbeatPolicy(20, 60, 0.4).sweep_period == pytest.approx(0.1)
    assert HeartbeatPolicy(0.001, 0.002, 0.001).sweep_period == 0.01
