"""Heartbeat policy: a pure function of (last received, last ping, now, config).

The server pings a connection that has been silent for ``interval`` seconds (and again
every ``interval`` while it stays silent), and declares it dead once nothing has arrived
for ``timeout`` seconds. A connection that has not authenticated within ``login_timeout``
of connecting is closed too. The door only asks :func:`heartbeat_action` during one shared
sweep; no connection owns a timer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HeartbeatPolicy:
    interval: float = 20.0
    timeout: float = 60.0
    login_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0 or self.login_timeout <= 0:
            raise ValueError("heartbeat interval, timeout and login_timeout must be positive")

    @property
    def sweep_period(self) -> float:
        """How often the shared sweep must run so a dead peer goes within timeout + 0.5 s."""
        return max(0.01, min(0.5, self.interval / 4, self.timeout / 4, self.login_timeout / 4))


class Action(enum.Enum):
    NOTHING = "nothing"
    PING = "ping"
    TIMEOUT = "timeout"
    LOGIN_TIMEOUT = "login_timeout"


def heartbeat_action(
    policy: HeartbeatPolicy,
    *,
    now: float,
    last_received: float,
    last_ping: float | None,
    connected_at: float,
    authenticated: bool,
) -> Action:
    """What to do about one connection at time ``now``."""
    if not authenticated and now - connected_at >= policy.login_timeout:
        return Action.LOGIN_TIMEOUT
    silent = now - last_received
    if silent >= policy.timeout:
        return Action.TIMEOUT
    if silent >= policy.interval and (
        last_ping is None or last_ping < last_received or now - last_ping >= policy.interval
    ):
        return Action.PING
    return Action.NOTHING
