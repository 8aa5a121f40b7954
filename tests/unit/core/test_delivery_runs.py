"""A commit's room messages go out together (``Messages._deliver_run``), and what every
session is sent, in what order, is exactly what delivering them one by one gave.

Hypothesis plays any interleaving of messages in two rooms, direct messages, parts and
joins within one commit, twice on fresh hubs: once as the server runs, once with the runs
taken apart (each message its own callback, as before runs existed); every session's
stream must be the same, byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import teahouse.core.outbox as outbox_module
from teahouse.core.session import Session
from teahouse.errors import ChatError
from teahouse.store.base import StoredMessage

from ..hubkit import HubKit, make_config, outlet

NAMES = ("ann", "ben", "cat")
ACTION = st.tuples(
    st.sampled_from(("say", "say", "say", "side", "dm", "part", "join")),
    st.integers(min_value=0, max_value=len(NAMES) - 1),
    st.integers(min_value=0, max_value=len(NAMES) - 1),
)


class _NeverTogether:
    """Stands in for ``Together`` in the outbox: no callback matches it, so each room
    message runs alone, through ``Together.__call__``."""


def _acked(
    session: Session, label: str
) -> tuple[Callable[[StoredMessage], None], Callable[[Exception], None]]:
    def done(message: StoredMessage) -> None:
        session.send(repr(("ack", label)).encode())

    def failed(exc: Exception) -> None:
        session.send(repr(("failed", label)).encode())

    return done, failed


async def _play(actions: list[tuple[str, int, int]]) -> dict[str, list[bytes]]:
    kit = HubKit(make_config(frames_per_second=0, bytes_per_second=0))
    try:
        sessions = [await kit.login(name, ip=f"10.0.0.{i + 1}") for i, name in enumerate(NAMES)]
        for s in sessions:
            kit.join(s, "lobby")
            kit.join(s, "side")
        kit.run_soon()
        for s in sessions:
            outlet(s).clear()
        for n, (kind, who, other) in enumerate(actions):
            s = sessions[who]
            try:
                if kind in ("say", "side"):
                    room = "lobby" if kind == "say" else "side"
                    kit.hub.messages.say(s, room, f"m{n}", None, *_acked(s, f"m{n}"))
                elif kind == "dm":
                    to = NAMES[other]
                    kit.hub.messages.dm(s, to, f"d{n}", None, *_acked(s, f"d{n}"))
                elif kind == "part":
                    kit.hub.rooms.part(s, "lobby")
                else:
                    kit.join(s, "lobby")
            except ChatError:  # not in the room, already in it: the same in both runs
                s.send(b"('refused',)")
        kit.run_soon()
        return {name: list(outlet(s).written) for name, s in zip(NAMES, sessions, strict=True)}
    finally:
        kit.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(ACTION, min_size=1, max_size=25))
def test_runs_deliver_exactly_what_one_by_one_delivery_did(
    actions: list[tuple[str, int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    together = asyncio.run(_play(actions))
    with monkeypatch.context() as patch:
        patch.setattr(outbox_module, "Together", _NeverTogether)
        one_by_one = asyncio.run(_play(actions))
    assert together == one_by_one
