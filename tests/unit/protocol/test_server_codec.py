"""ServerCodec and LineReader: bytes in, client frames (or errors to answer) out."""

from __future__ import annotations

import json

import pytest

from teahouse.errors import BadFrame, FrameTooLarge, InvalidField, UnknownType
from teahouse.protocol import frames as f
from teahouse.protocol.native import FrameError, LineReader, ServerCodec

MAX = 128


def line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def decode_one(data: bytes, max_frame: int = 4096) -> object:
    codec = ServerCodec(max_frame)
    codec.receive_data(data)
    event = codec.next_event()
    assert codec.next_event() is None, "one line must give exactly one event"
    return event


def frame_error(data: bytes, max_frame: int = 1 << 16) -> FrameError:
    event = decode_one(data, max_frame)
    assert isinstance(event, FrameError), event
    return event


def drain(codec: ServerCodec) -> list[object]:
    out: list[object] = []
    while (event := codec.next_event()) is not None:
        out.append(event)
    return out


def sized_line(total: int, eol: bytes = b"\n") -> bytes:
    """A valid ``say`` frame of exactly ``total`` bytes, ``eol`` included."""
    head = b'{"type":"say","room":"r","text":"'
    tail = b'"}' + eol
    pad = total - len(head) - len(tail)
    assert pad >= 1
    data = head + b"a" * pad + tail
    assert len(data) == total
    return data


# -- every client frame type decodes ------------------------------------------------------

CLIENT_FRAMES: list[tuple[dict[str, object], f.ClientFrame]] = [
    ({"type": "hello", "proto": 1, "client": "t/1"}, f.Hello(proto=1, client="t/1")),
    (
        {"type": "register", "user": "alice", "password": "pw", "invite": "c"},
        f.Register(user="alice", password="pw", invite="c"),
    ),
    (
        {"type": "login", "user": "alice", "password": "pw", "dm_since": 9},
        f.Login(user="alice", password="pw", dm_since=9),
    ),
    ({"type": "join", "room": "lobby", "since": 120}, f.Join(room="lobby", since=120)),
    ({"type": "join", "room": "lobby", "key": "tea"}, f.Join(room="lobby", key="tea")),
    ({"type": "part", "room": "lobby"}, f.Part(room="lobby")),
    (
        {"type": "say", "room": "lobby", "text": "hi", "nonce": "n1"},
        f.Say(room="lobby", text="hi", nonce="n1"),
    ),
    ({"type": "dm", "to": "bob", "text": "hi"}, f.Dm(to="bob", text="hi")),
    ({"type": "rooms"}, f.Rooms()),
    ({"type": "rooms", "after": "lobby"}, f.Rooms(after="lobby")),
    ({"type": "who", "room": "lobby"}, f.Who(room="lobby")),
    (
        {"type": "history", "room": "lobby", "before": 121, "limit": 50},
        f.History(room="lobby", before=121, limit=50),
    ),
    ({"type": "topic", "room": "lobby", "text": "tea"}, f.Topic(room="lobby", text="tea")),
    ({"type": "mode", "room": "lobby"}, f.Mode(room="lobby")),
    (
        {"type": "mode", "room": "lobby", "changes": "+kl-i", "args": ["tea", "10"]},
        f.Mode(room="lobby", changes="+kl-i", args=["tea", "10"]),
    ),
    ({"type": "invite", "room": "lobby", "user": "bob"}, f.Invite(room="lobby", user="bob")),
    ({"type": "kick", "room": "lobby", "user": "bob"}, f.Kick(room="lobby", user="bob")),
    (
        {"type": "kick", "room": "lobby", "user": "bob", "reason": "too loud"},
        f.Kick(room="lobby", user="bob", reason="too loud"),
    ),
    ({"type": "away", "text": "tea break"}, f.Away(text="tea break")),
    ({"type": "away"}, f.Away()),
    ({"type": "whois", "user": "bob"}, f.Whois(user="bob")),
    ({"type": "room", "room": "lobby"}, f.RoomAction(room="lobby")),
    (
        {"type": "room", "room": "lobby", "action": "register"},
        f.RoomAction(room="lobby", action="register"),
    ),
    (
        {"type": "admin", "cmd": "kick", "args": {"user": "bob", "n": 1, "x": 1.5, "b": True}},
        f.Admin(cmd="kick", args={"user": "bob", "n": 1, "x": 1.5, "b": True}),
    ),
    ({"type": "quit", "reason": "bye"}, f.Quit(reason="bye")),
    ({"type": "ping", "t": 5}, f.Ping(t=5)),
    ({"type": "pong", "t": 5}, f.Pong(t=5)),
]


def test_the_examples_cover_every_client_frame_type() -> None:
    assert {str(obj["type"]) for obj, _ in CLIENT_FRAMES} == f.CLIENT_TYPES


@pytest.mark.parametrize(("obj", "expected"), CLIENT_FRAMES, ids=lambda v: str(v)[:20])
def test_every_client_frame_type_decodes(obj: dict[str, object], expected: f.ClientFrame) -> None:
    assert decode_one(line(obj)) == expected


@pytest.mark.parametrize(("obj", "expected"), CLIENT_FRAMES, ids=lambda v: str(v)[:20])
def test_ref_is_carried_on_decoded_frames(obj: dict[str, object], expected: f.ClientFrame) -> None:
    event = decode_one(line({**obj, "ref": "r-1"}))
    assert isinstance(event, type(expected))
    assert event.ref == "r-1"


def test_unknown_fields_are_ignored() -> None:
    data = line({"type": "say", "room": "lobby", "text": "hi", "color": "red", "x": {"y": [1]}})
    assert decode_one(data) == f.Say(room="lobby", text="hi")


def test_crlf_line_ending_is_tolerated() -> None:
    assert decode_one(b'{"type":"rooms"}\r\n') == f.Rooms()


def test_blank_lines_are_skipped() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(b"\n\r\n   \n\t\r\n")
    assert codec.next_event() is None
    codec.receive_data(b'{"type":"rooms"}\n\n')
    assert drain(codec) == [f.Rooms()]


def test_an_unterminated_line_waits_for_more_bytes() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(b'{"type":"ro')
    assert codec.next_event() is None
    codec.receive_data(b'oms"}')
    assert codec.next_event() is None
    codec.receive_data(b"\n")
    assert codec.next_event() == f.Rooms()


def test_many_lines_in_one_chunk_come_out_in_order() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(line({"type": "ping", "t": 1}) + line({"type": "ping", "t": 2}) + b"{")
    assert drain(codec) == [f.Ping(t=1), f.Ping(t=2)]
    assert codec.buffered == 1


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b'{"type":"rooms"\n',
        b'{"type":"rooms"}{"a":1}\n',
        b"\xff\xfe\n",
        b'"\xff"\n',
        b'{"type":"say","room":"\xc3","text":"x"}\n',
        # Nesting deeper than the decoder's recursion limit (the array one within 4096 bytes).
        b"[" * 2000 + b"\n",
        b'{"a":' * 1100 + b"1" + b"}" * 1100 + b"\n",
    ],
    ids=[
        "garbage",
        "truncated",
        "trailing",
        "binary",
        "bad-utf8",
        "bad-utf8-in-field",
        "deep-array",
        "deep-object",
    ],
)
def test_bad_json_is_bad_frame(data: bytes) -> None:
    err = frame_error(data)
    assert isinstance(err.error, BadFrame)
    assert not err.error.fatal
    assert err.ref is None


@pytest.mark.parametrize("data", [b"[1,2]\n", b'"rooms"\n', b"42\n", b"null\n", b'[{"ref":1}]\n'])
def test_a_json_value_that_is_not_an_object_is_bad_frame(data: bytes) -> None:
    err = frame_error(data)
    assert isinstance(err.error, BadFrame)
    assert err.ref is None


@pytest.mark.parametrize(
    "obj",
    [{"ref": 3}, {"type": 5, "ref": 3}, {"type": None, "ref": 3}, {"type": ["say"], "ref": 3}],
    ids=["missing", "int", "null", "list"],
)
def test_missing_or_non_string_type_is_bad_frame_with_ref(obj: dict[str, object]) -> None:
    err = frame_error(line(obj))
    assert isinstance(err.error, BadFrame)
    assert err.ref == 3


@pytest.mark.parametrize("kind", ["welcome", "message", "nope", "", "SAY", "x" * 500])
def test_unknown_type_is_unknown_type_with_ref(kind: str) -> None:
    err = frame_error(line({"type": kind, "ref": "abc"}))
    assert isinstance(err.error, UnknownType)
    assert not err.error.fatal
    assert err.ref == "abc"
    assert len(err.error.message) < 200, "the message must not echo a huge type name"


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "hello"},
        {"type": "hello", "proto": "1"},
        {"type": "login", "user": "a", "password": 5},
        {"type": "login", "user": "a", "password": "p", "dm_since": "9"},
        {"type": "join"},
        {"type": "join", "room": 5},
        {"type": "join", "room": "a", "since": 1.5},
        {"type": "say", "room": "a"},
        {"type": "say", "room": "a", "text": "x", "nonce": "n" * 65},
        {"type": "dm", "to": ["bob"], "text": "x"},
        {"type": "history", "room": "a", "limit": "5"},
        {"type": "admin", "cmd": "kick", "args": [1]},
        {"type": "admin", "cmd": "kick", "args": {"user": [1]}},
        {"type": "ping"},
        {"type": "ping", "t": "now"},
        {"type": "ping", "t": True},
    ],
    ids=lambda o: json.dumps(o)[:40],
)
def test_wrong_field_types_are_invalid_field_with_ref(obj: dict[str, object]) -> None:
    err = frame_error(line({**obj, "ref": 11}))
    assert isinstance(err.error, InvalidField)
    assert not err.error.fatal
    assert err.ref == 11


@pytest.mark.parametrize(
    ("ref", "carried"),
    [
        (7, 7),
        (-1, -1),
        ("r" * 64, "r" * 64),
        ("é" * 64, "é" * 64),
        ("r" * 65, None),
        (True, None),
        (1.5, None),
        (None, None),
        ([1], None),
    ],
    ids=["int", "negative", "str64", "unicode64", "str65", "bool", "float", "null", "list"],
)
def test_ref_is_carried_on_frame_errors_only_when_readable(ref: object, carried: object) -> None:
    # An invalid field elsewhere, so the error comes from validation, not from the ref.
    err = frame_error(line({"type": "join", "room": 5, "ref": ref}))
    assert err.ref == carried
    assert type(err.ref) is type(carried)
    unknown = frame_error(line({"type": "nope", "ref": ref}))
    assert unknown.ref == carried


# -- the size limit -----------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_a_line_of_exactly_max_frame_bytes_is_accepted(eol: bytes) -> None:
    data = sized_line(MAX, eol)
    assert isinstance(decode_one(data, MAX), f.Say)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_a_line_of_exactly_max_frame_bytes_is_accepted_byte_by_byte(eol: bytes) -> None:
    codec = ServerCodec(MAX)
    for i in range(MAX):
        codec.receive_data(sized_line(MAX, eol)[i : i + 1])
    event = codec.next_event()
    assert isinstance(event, f.Say)


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_a_line_of_max_frame_plus_one_bytes_raises_frame_too_large(eol: bytes) -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(sized_line(MAX + 1, eol))
    with pytest.raises(FrameTooLarge) as info:
        codec.next_event()
    assert info.value.fatal


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_a_line_of_max_frame_plus_one_bytes_fed_byte_by_byte_raises(eol: bytes) -> None:
    codec = ServerCodec(MAX)
    data = sized_line(MAX + 1, eol)
    raised = False
    for i in range(len(data)):
        codec.receive_data(data[i : i + 1])
        try:
            assert codec.next_event() is None
        except FrameTooLarge:
            raised = True
            break
    assert raised


def test_byte_by_byte_an_unterminated_line_never_buffers_max_frame_bytes() -> None:
    codec = ServerCodec(MAX)
    for _ in range(MAX * 20):
        codec.receive_data(b"x")
        assert codec.buffered <= MAX - 1
    with pytest.raises(FrameTooLarge):
        codec.next_event()


def test_a_huge_chunk_without_newline_is_not_kept() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(b"x" * (MAX * 1000))
    assert codec.buffered <= MAX - 1
    codec.receive_data(b"y" * (MAX * 1000) + b"\n" + line({"type": "rooms"}))
    assert codec.buffered <= MAX - 1
    with pytest.raises(FrameTooLarge):
        codec.next_event()


def test_an_unterminated_line_just_under_the_limit_is_kept_whole() -> None:
    codec = ServerCodec(MAX)
    data = sized_line(MAX)
    codec.receive_data(data[:-1])
    assert codec.buffered == MAX - 1
    assert codec.next_event() is None
    codec.receive_data(b"\n")
    assert isinstance(codec.next_event(), f.Say)
    assert codec.buffered == 0


def test_lines_before_an_oversized_line_are_still_delivered() -> None:
    codec = ServerCodec(MAX)
    first = line({"type": "ping", "t": 1}) + line({"type": "ping", "t": 2})
    codec.receive_data(first + b"z" * (MAX * 50))
    assert codec.buffered <= len(first) + MAX - 1
    assert codec.next_event() == f.Ping(t=1)
    assert codec.next_event() == f.Ping(t=2)
    with pytest.raises(FrameTooLarge):
        codec.next_event()


def test_lines_before_an_oversized_complete_line_are_still_delivered() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(
        line({"type": "ping", "t": 1}) + sized_line(MAX * 3) + line({"type": "rooms"})
    )
    assert codec.next_event() == f.Ping(t=1)
    with pytest.raises(FrameTooLarge):
        codec.next_event()


def test_bytes_after_an_overflow_are_dropped() -> None:
    codec = ServerCodec(MAX)
    codec.receive_data(b"x" * MAX)
    codec.receive_data(b"\n" + line({"type": "rooms"}) * 100)
    assert codec.buffered == 0
    with pytest.raises(FrameTooLarge):
        codec.next_event()


def test_the_buffer_is_released_once_lines_are_read() -> None:
    codec = ServerCodec(MAX)
    for _ in range(1000):
        codec.receive_data(line({"type": "ping", "t": 1}))
        assert codec.next_event() == f.Ping(t=1)
    assert codec.buffered == 0


def test_raising_max_frame_lets_longer_lines_through() -> None:
    codec = ServerCodec(MAX)
    codec.max_frame = MAX * 4
    assert codec.max_frame == MAX * 4
    codec.receive_data(sized_line(MAX * 4))
    assert isinstance(codec.next_event(), f.Say)


def test_line_reader_strips_only_the_line_ending() -> None:
    reader = LineReader(64)
    reader.feed(b" a \r\n\r\nb\rc\n")
    assert reader.next_line() == b" a "
    assert reader.next_line() == b""
    assert reader.next_line() == b"b\rc"
    assert reader.next_line() is None


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"join","room":"lobby","since":9223372036854775808}',
        b'{"type":"history","room":"lobby","before":9223372036854775808}',
        b'{"type":"login","user":"a","password":"b","dm_since":-1}',
        b'{"type":"history","room":"lobby","limit":-5}',
    ],
)
def test_message_ids_out_of_the_stores_range_are_invalid_fields(line: bytes) -> None:
    codec = ServerCodec(max_frame=4096)
    codec.receive_data(line + b"\n")
    event = codec.next_event()
    assert isinstance(event, FrameError)
    assert event.error.code == "invalid_field"
