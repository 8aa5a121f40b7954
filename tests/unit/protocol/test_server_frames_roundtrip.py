"""Every server frame encodes to one line that ClientCodec decodes back equal."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teahouse.protocol import frames as f
from teahouse.protocol.native import ClientCodec, FrameError, encode

MESSAGE = f.Message(id=121, sender="alice", text="hi", ts="2026-11-24T10:00:00.123Z", room="lobby")

SERVER_FRAMES: list[f.ServerFrame] = [
    f.Welcome(
        proto=1,
        server="teahouse/0.1.0",
        heartbeat=f.HeartbeatInfo(interval=20, timeout=60.5),
        limits=f.Limits(max_frame=65536, max_frame_preauth=4096, max_text=4096, max_replay=500),
        registration="open",
        ref=1,
    ),
    f.Authed(user="alice", role="admin", ref="r"),
    f.Joined(room="lobby", topic="tea", members=["alice", "bob"]),
    f.Parted(room="lobby", ref=2),
    MESSAGE,
    f.Message(
        id=122, sender="alice", text="x", ts="t", dm=True, to="bob", replay=True, nonce="n", ref=3
    ),
    f.ReplayEnd(count=7, truncated=True, room="lobby", oldest_id=5),
    f.ReplayEnd(count=0, truncated=False, dm=True),
    f.Presence(room="lobby", user="bob", state="left", reason="timeout"),
    f.RoomList(rooms=[f.RoomInfo(room="lobby", members=2, topic="")], ref=4),
    f.RoomList(rooms=[f.RoomInfo(room="attic", members=0, topic="")], next="attic"),
    f.Members(room="lobby", members=[]),
    f.HistoryPage(room="lobby", messages=[MESSAGE, MESSAGE]),
    f.TopicChanged(room="lobby", text="new", by="alice"),
    f.Joined(room="lobby", topic="", members=["alice"], modes="+knt", ops=["alice"], ref=5),
    f.ModeChanged(room="lobby", changes="+kl-i", args=["tea", "10"], by="alice"),
    f.ModeChanged(room="lobby", modes="+nt", ref=6),
    f.Invited(room="lobby", user="bob", by="alice"),
    f.AwayChanged(user="bob", text="tea break"),
    f.AwayChanged(user="bob", ref=10),
    f.WhoisInfo(user="bob", online=False),
    f.WhoisInfo(
        user="alice",
        rooms=["lobby"],
        away="out",
        door="irc",
        idle=12.5,
        role="admin",
        guest=False,
        address="10.0.0.1",
        ref=11,
    ),
    f.RoomInfoReply(room="lobby", registered=False),
    f.RoomInfoReply(
        room="lobby", registered=True, owner="alice", operators=["bob"], modes="+nt", topic="tea"
    ),
    f.Notice(text="restart at 5", by="op"),
    f.AdminResult(cmd="stats", text="ok", data={"n": 1, "l": [1, "a"], "d": {"x": None}}),
    f.AdminResult(cmd="who", text="", data=[{"user": "bob"}]),
    f.Error(code="rate_limited", message="slow", fatal=False, retry_after=0.25, ref=7),
    f.Error(code="kicked", message="bye", fatal=True),
    f.Ping(t=1234),
    f.Pong(t=1234, ref="p"),
    f.Bye(ref=9),
]


def roundtrip(frame: f.ServerFrame) -> object:
    data = encode(frame)
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1, "a frame is exactly one line"
    codec = ClientCodec()
    codec.receive_data(data)
    event = codec.next_event()
    assert codec.next_event() is None
    return event


def test_the_examples_cover_every_server_frame_class() -> None:
    assert {type(frame) for frame in SERVER_FRAMES} == set(f.ServerFrame.__args__)


@pytest.mark.parametrize("frame", SERVER_FRAMES, ids=lambda fr: type(fr).__name__)
def test_every_server_frame_round_trips_through_one_line(frame: f.ServerFrame) -> None:
    assert roundtrip(frame) == frame


def test_message_sender_is_spelled_from_on_the_wire() -> None:
    obj = json.loads(encode(MESSAGE))
    assert obj["from"] == "alice"
    assert "sender" not in obj
    assert obj["type"] == "message"


def test_optional_fields_left_unset_are_not_sent_but_fatal_always_is() -> None:
    assert json.loads(encode(f.Bye())) == {"type": "bye"}
    assert json.loads(encode(f.Error(code="bad_frame", message="m", fatal=False))) == {
        "type": "error",
        "code": "bad_frame",
        "message": "m",
        "fatal": False,
    }


def test_a_client_codec_turns_an_unknown_server_frame_type_into_an_error_value() -> None:
    codec = ClientCodec()
    codec.receive_data(b'{"type":"from_the_future","x":1}\n{"type":"bye"}\n')
    event = codec.next_event()
    assert isinstance(event, FrameError)
    assert not event.error.fatal
    assert codec.next_event() == f.Bye()


refs = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=64))


@given(text=st.text(), sender=st.text(min_size=1), ref=refs, msg_id=st.integers(0, 2**63 - 1))
def test_any_message_text_round_trips_through_one_line(
    text: str, sender: str, ref: f.Ref | None, msg_id: int
) -> None:
    frame = f.Message(id=msg_id, sender=sender, text=text, ts="t", room="r", ref=ref)
    assert roundtrip(frame) == frame


@given(message=st.text(), retry=st.one_of(st.none(), st.floats(0, 1e9)), ref=refs)
def test_any_error_round_trips_through_one_line(
    message: str, retry: float | None, ref: f.Ref | None
) -> None:
    frame = f.Error(code="rate_limited", message=message, fatal=False, retry_after=retry, ref=ref)
    assert roundtrip(frame) == frame
