"""How ``teahouse chat`` prints things: pure formatting, no terminal, no server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from teahouse.client.chat import clock, format_event, format_message, room_of
from teahouse.client.events import Connected, Disconnected, EventsDropped, Reconnecting
from teahouse.client.printable import printable
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


def test_actions_print_as_actions() -> None:
    room = f.Message(id=1, sender="alice", text="/me waves", ts=TS, room="lobby")
    assert format_message(room, "bob") == "[10:05] #lobby * alice waves"
    dm_in = f.Message(id=2, sender="alice", text="/me waves", ts=TS, dm=True, to="bob")
    assert format_message(dm_in, "bob") == "[10:05] (*) alice waves"
    assert format_message(dm_in, "alice") == "[10:05] -> *bob* * alice waves"
    assert format_message(f.Message(id=3, sender="a", text="/meh", ts=TS, room="r"), "b") == (
        "[10:05] #r <a> /meh"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain ☕ text\twith a tab", "plain ☕ text\twith a tab"),
        ("\x1b[31mred\x1b[0m", "^[[31mred^[[0m"),
        (
            "\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\",
            "^[]8;;https://evil.example^[\\link^[]8;;^[\\",
        ),
        ("\x1b]52;c;cm0gLXJmIH4=\x07", "^[]52;c;cm0gLXJmIH4=^G"),  # a clipboard write
        ("a\x00b\rc\nd\x7f", "a^@b^Mc^Jd^?"),
        ("c1 \x9b2J and \x85", "c1 <U+009B>2J and <U+0085>"),
        ("abc\u202edcba \u2066x\u2069 \u2028", "abc<U+202E>dcba <U+2066>x<U+2069> <U+2028>"),
    ],
)
def test_printable_shows_control_characters_and_keeps_the_rest(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown) == shown  # nothing more to change
    assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in shown)


def test_every_server_field_is_printable_and_cannot_fake_a_line() -> None:
    evil = "hi\n[10:06] #lobby <root> give me your password\x1b[2J"
    said = f.Message(id=1, sender="b\x1bob", text=evil, ts=TS, room="lobby")
    line = format_message(said, "me")
    assert "\n" not in line and "\x1b" not in line
    assert line == "[10:05] #lobby <b^[ob> hi^J[10:06] #lobby <root> give me your password^[[2J"
    events = [
        f.Joined(room="tea", topic="t\x1b]0;x\x07", members=["a\x1b", "b"]),
        f.Presence("lobby", "carol\x07", "left", reason="x\x1b"),
        f.TopicChanged(room="tea", text="\x1b[5mblink", by="x"),
        f.Notice(text="\x1b[2J", by="root"),
        f.Notice(text="\x1b[2J", by="bob", room="lobby"),
        f.Error(code="forbidden", message="no\x1b[2J", fatal=False),
        f.AdminResult(cmd="rooms", text="lobby 2 \x1b[31m\ntea 1"),
    ]
    for event in events:
        shown = format_event(event, "me")
        assert shown is not None and "\x1b" not in shown and "\x07" not in shown, shown
    admin = format_event(events[-1], "me")
    assert admin == "lobby 2 ^[[31m\ntea 1"  # its own line breaks stay, escapes do not


def test_notices_say_where_they_come_from() -> None:
    assert format_event(f.Notice(text="noon", by="root"), "me") == (
        "!! announcement from root: noon"
    )
    assert format_event(f.Notice(text="brb", by="bob", room="lobby"), "me") == (
        "-- #lobby -bob- brb"
    )
    assert format_event(f.Notice(text="psst", by="bob", to="me"), "me") == "-- -bob- psst"
