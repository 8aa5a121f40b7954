"""How ``teahouse chat`` prints things: pure formatting, no terminal, no server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from teahouse.client.chat import clock, format_event, format_message, room_of
from teahouse.client.events import Connected, Disconnected, EventsDropped, Reconnecting
from teahouse.protocol import frames as f

TS = "2026-11-24T10:05:00.123Z"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_clock_is_local_hh_mm() -> None:
    assert clock(TS) == "10:05"
    assert clock("not a time") == "--:--"


def test_room_messages_and_dms() -> None:
    said = f.Message(id=1, sender="alice", text="hi", ts=TS, room="lobby")
    assert format_message(said, "bob") == "[10:05] #lobby <alice> hi"
    dm_in = f.Message(id=2, sender="alice", text="psst", ts=TS, dm=True, to="bob")
    assert format_message(dm_in, "bob") == "[10:05] *alice* psst"
    assert format_message(dm_in, "ALICE") == "[10:05] -> *bob* psst"


def test_events_as_lines() -> None:
    me = "bob"
    assert format_event(f.Presence("lobby", "carol", "joined"), me) == "-- carol joined #lobby"
    left = f.Presence("lobby", "carol", "left", reason="timeout")
    assert format_event(left, me) == "-- carol left #lobby (timeout)"
    joined = f.Joined(room="tea", topic="oolong", members=["alice", "bob"])
    assert format_event(joined, me) == (
        "-- joined #tea (2 here: alice, bob)\n-- topic of #tea: oolong"
    )
    topic = f.TopicChanged(room="tea", text="green", by="alice")
    assert format_event(topic, me) == "-- alice set the topic of #tea: green"
    gap = f.ReplayEnd(count=500, truncated=True, room="tea", oldest_id=77)
    assert format_event(gap, me) == "-- #tea: older messages not shown (before id 77); /history"
    assert format_event(f.ReplayEnd(count=3, truncated=False, room="tea"), me) is None
    error = f.Error(code="kicked", message="bye", fatal=True)
    assert format_event(error, me) == "!! kicked: bye"
    assert format_event(Connected("bob", "user", "teahouse/0.1.0", True), me) == (
        "-- reconnected as bob (teahouse/0.1.0)"
    )
    assert format_event(Disconnected("heartbeat_timeout", True), me) == (
        "-- disconnected (heartbeat_timeout); reconnecting"
    )
    assert format_event(Reconnecting(1.25, 2), me) == "-- reconnecting in 1.2 s (attempt 2)"
    assert format_event(EventsDropped(3), me) is not None
    assert format_event(f.Bye(), me) is None


def test_room_of_accepts_the_hash_form() -> None:
    assert room_of("#lobby") == room_of("lobby") == "lobby"
