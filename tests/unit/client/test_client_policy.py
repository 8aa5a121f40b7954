"""The client's pure decisions: heartbeat, backoff, resume cursors, frame limit, event queue."""

from __future__ import annotations

import asyncio

import pytest

from teahouse.client.client import _EventQueue
from teahouse.client.events import Disconnected, EventsDropped
from teahouse.client.policy import (
    DEFAULT_MAX_FRAME,
    DM,
    Cursors,
    HeartbeatAction,
    backoff_delay,
    heartbeat_action,
    server_frame_limit,
)
from teahouse.protocol import frames as f

NOTHING, PING, DEAD = HeartbeatAction.NOTHING, HeartbeatAction.PING, HeartbeatAction.DEAD


def hb(
    now: float, last_received: float = 0.0, last_ping: float | None = None
) -> tuple[HeartbeatAction, float]:
    return heartbeat_action(
        interval=20, timeout=60, now=now, last_received=last_received, last_ping=last_ping
    )


def test_heartbeat_waits_then_pings_then_declares_the_connection_dead() -> None:
    assert hb(0) == (NOTHING, 20)
    assert hb(19.9) == (NOTHING, 20)
    assert hb(20) == (PING, 40)  # and every interval while the silence lasts
    assert hb(25, last_ping=20) == (NOTHING, 40)
    assert hb(40, last_ping=20) == (PING, 60)
    assert hb(59.9, last_ping=40) == (NOTHING, 60)
    assert hb(60, last_ping=40) == (DEAD, 60)
    assert hb(1000) == (DEAD, 1000)


def test_heartbeat_restarts_with_every_frame_received() -> None:
    # A ping sent before the last frame belongs to an older silence.
    assert hb(30, last_received=25, last_ping=20) == (NOTHING, 45)
    assert hb(45, last_received=25, last_ping=20) == (PING, 65)
    # The next check is never after the deadline.
    assert heartbeat_action(interval=50, timeout=60, now=55, last_received=0, last_ping=50) == (
        NOTHING,
        60,
    )


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    top = [backoff_delay(n, 0.5, 30.0, lambda: 0.999999) for n in range(10)]
    assert top == pytest.approx([0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30], rel=1e-5)
    assert backoff_delay(3, 0.5, 30.0, lambda: 0.0) == 0.0
    assert backoff_delay(3, 0.5, 30.0, lambda: 0.5) == 2.0
    assert backoff_delay(10_000, 0.5, 30.0, lambda: 0.5) == 15.0  # no overflow, ever
    assert backoff_delay(-1, 0.5, 30.0, lambda: 0.5) == 0.25


def msg(id: int, room: str | None = "lobby", dm: bool = False) -> f.Message:
    return f.Message(id=id, sender="bob", text="x", room=room, dm=dm, to="alice" if dm else None)


def test_cursors_drop_duplicates_per_room_and_for_dms() -> None:
    cursors = Cursors()
    assert cursors.last("lobby") is None and cursors.last(DM) is None
    assert [cursors.accept(msg(i)) for i in (1, 2, 2, 1, 5, 3)] == [
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    assert cursors.last("lobby") == 5
    assert cursors.accept(msg(3, room="tea"))  # another room, its own cursor
    assert cursors.accept(msg(4, room=None, dm=True))
    assert not cursors.accept(msg(4, room=None, dm=True))
    assert cursors.last(DM) == 4 and cursors.last("tea") == 3
    cursors.note(msg(9))  # a reply: recorded, never lowered
    cursors.note(msg(7))
    assert cursors.last("lobby") == 9 and not cursors.accept(msg(8))


def test_server_frame_limit_fits_a_full_history_page() -> None:
    small = f.Limits(max_frame=65536, max_frame_preauth=4096, max_text=100, max_replay=10)
    assert server_frame_limit(small) == DEFAULT_MAX_FRAME
    big = f.Limits(max_frame=65536, max_frame_preauth=4096, max_text=4096, max_replay=500)
    assert server_frame_limit(big) >= 500 * 4096 * 4


async def test_event_queue_drops_new_events_when_full_and_marks_the_gap() -> None:
    queue = _EventQueue(maxsize=3)
    for i in range(6):
        queue.put(msg(i))
    assert len(queue) == 3
    assert [await queue.get() for _ in range(2)] == [msg(0), msg(1)]
    queue.put(msg(6))  # room for the marker and the event
    queue.put(msg(7))  # full again
    assert [await queue.get() for _ in range(3)] == [msg(2), EventsDropped(3), msg(6)]
    queue.put(Disconnected("closed", False), force=True)  # the last word always gets in
    queue.close()
    rest = [await queue.get(), await queue.get()]
    assert rest == [EventsDropped(1), Disconnected("closed", False)]
    with pytest.raises(StopAsyncIteration):
        await queue.get()


async def test_event_queue_wakes_a_waiting_consumer() -> None:
    queue = _EventQueue(maxsize=10)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put(msg(1))
    assert await asyncio.wait_for(waiter, 1) == msg(1)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiter, 1)
