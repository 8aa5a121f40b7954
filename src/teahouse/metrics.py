"""Prometheus metrics: what an operator graphs (docs/operations.md, "Metrics").

The numbers are read when Prometheus scrapes, from counters the hub and the doors keep
anyway: nothing here runs per message or per connection. The web door serves the text at
``/metrics`` when ``metrics.token`` is set (see :mod:`teahouse.doors.web.http`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from teahouse.core.hub import Hub


class DoorCounters(Protocol):
    """What a door counts for metrics."""

    name: str
    transports_open: int
    bytes_out: int


class Hashing(Protocol):
    @property
    def in_flight(self) -> int: ...


class TeahouseCollector(Collector):
    """The server's metrics, read at scrape time."""

    def __init__(self, hub: Hub, doors: Callable[[], Sequence[DoorCounters]], hasher: Hashing):
        self._hub = hub
        self._doors = doors
        self._hasher = hasher

    def collect(self) -> Iterable[Metric]:
        hub = self._hub
        registry = hub.registry
        stats = registry.stats
        outbox = hub.outbox

        connections = GaugeMetricFamily(
            "teahouse_connections", "Open client connections, per door.", labels=["door"]
        )
        sent = CounterMetricFamily(
            "teahouse_sent_bytes", "Bytes written to clients, per door.", labels=["door"]
        )
        for door in self._doors():
            connections.add_metric([door.name], door.transports_open)
            sent.add_metric([door.name], door.bytes_out)
        yield connections
        yield sent
        yield CounterMetricFamily(
            "teahouse_received_bytes", "Bytes read from clients.", value=stats.bytes_in
        )
        yield GaugeMetricFamily(
            "teahouse_sessions_authenticated",
            "Connections logged in (accounts and IRC guests).",
            value=registry.authed_sessions,
        )
        yield GaugeMetricFamily(
            "teahouse_rooms_live", "Rooms with members.", value=len(registry.rooms)
        )
        yield CounterMetricFamily(
            "teahouse_connections_accepted", "Connections admitted.", value=stats.connections_total
        )
        logins = CounterMetricFamily(
            "teahouse_logins", "Login attempts, by result.", labels=["result"]
        )
        logins.add_metric(["ok"], stats.logins_ok)
        logins.add_metric(["failed"], stats.logins_failed)
        yield logins
        yield CounterMetricFamily(
            "teahouse_messages",
            "Messages stored and delivered (rooms and DMs).",
            value=stats.messages_total,
        )
        yield CounterMetricFamily(
            "teahouse_deliveries",
            "Messages handed to recipients' connections.",
            value=stats.deliveries_total,
        )
        yield GaugeMetricFamily(
            "teahouse_password_hashes_in_flight",
            "Password hashes queued or running (the login queue's depth).",
            value=self._hasher.in_flight,
        )
        closed = CounterMetricFamily(
            "teahouse_connections_closed", "Connections closed, by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats.closed.items()):
            closed.add_metric([reason], count)
        yield closed
        limits = CounterMetricFamily(
            "teahouse_limits_hit",
            "Abuse limits that refused or slowed a client, by kind (slow_consumer: dropped).",
            labels=["kind"],
        )
        for kind, count in sorted(stats.limits_hit.items()):
            limits.add_metric([kind], count)
        yield limits
        yield CounterMetricFamily("teahouse_store_commits", "Store commits.", value=outbox.commits)
        yield CounterMetricFamily(
            "teahouse_store_commit_seconds",
            "Time from a commit's start to its end, summed (divide by commits).",
            value=outbox.commit_seconds,
        )
        yield CounterMetricFamily(
            "teahouse_store_commit_failures", "Commits that failed.", value=outbox.commit_failures
        )
        yield CounterMetricFamily(
            "teahouse_janitor_repairs",
            "Inconsistencies the janitor repaired.",
            value=stats.janitor_repairs,
        )


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"teahouse_{name}", text, value=value)


class Metrics:
    """The registry of one server: teahouse's collector and the process's (CPU, memory,
    open files)."""

    def __init__(self, hub: Hub, doors: Callable[[], Sequence[DoorCounters]], hasher: Hashing):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(TeahouseCollector(hub, doors, hasher))
        self.registry.register(ProcessCollector(registry=None))

    def render(self) -> bytes:
        """The exposition text (``text/plain; version=0.0.4``)."""
        return generate_latest(self.registry)
