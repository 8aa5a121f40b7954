"""Native frames over WebSocket messages, without sockets: a websockets client protocol on
the other end of the bytes."""

from __future__ import annotations

import json

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN
from websockets.uri import parse_uri

from teahouse.doors.native import ENCODER, NativeEncoder
from teahouse.doors.web.wire import (
    MessageCodec,
    WebEncoder,
    is_json_lines,
    open_websocket,
    text_frames,
)
from teahouse.errors import FrameTooLarge
from teahouse.protocol import frames as f
from teahouse.protocol.native import FrameError
from teahouse.store.base import StoredMessage
from tests.unit.hubkit import PASSWORD, FakeOutlet, HubKit, outlet


def browser() -> ClientProtocol:
    """The client end, already open (the handshake is tested on a real server)."""
    return ClientProtocol(parse_uri("ws://127.0.0.1/ws"), state=OPEN)


def received_texts(client: ClientProtocol, data: bytes) -> list[str]:
    client.receive_data(data)
    return [bytes(e.data).decode() for e in client.events_received() if isinstance(e, Frame)]


def test_each_line_is_one_unmasked_text_message() -> None:
    lines = b'{"type":"ping","t":1}\n{"type":"bye"}\n'
    data = text_frames(lines)
    assert data[0] == 0x81 and not data[1] & 0x80  # FIN + text, and not masked
    assert received_texts(browser(), data) == ['{"type":"ping","t":1}', '{"type":"bye"}']
    assert not is_json_lines(data) and is_json_lines(lines)


def test_large_frames_use_the_long_length_forms() -> None:
    for size in (125, 126, 65535, 65536, 200_000):
        line = b'{"t":"' + b"x" * size + b'"}\n'
        (text,) = received_texts(browser(), text_frames(line))
        assert len(text) == size + 8


def test_the_encoder_frames_what_the_native_one_spells() -> None:
    encoder = WebEncoder(ENCODER)
    message = StoredMessage(
        id=7, sender="alice", text="<b>hi</b>", ts_ms=0, room="lobby", recipient=None
    )
    (text,) = received_texts(browser(), encoder.message(message))
    assert json.loads(text) == json.loads(ENCODER.message(message))
    # A rename is two native frames: two messages.
    texts = received_texts(browser(), encoder.renamed("lobby", "guest1", "guest2"))
    assert [json.loads(t)["state"] for t in texts] == ["left", "joined"]


def codec(max_frame: int = 4096) -> tuple[MessageCodec, ClientProtocol]:
    c = MessageCodec(max_frame)
    c.attach(open_websocket(max_frame - 1))
    return c, browser()


def test_text_messages_are_frames_in_order() -> None:
    c, client = codec()
    client.send_text(b'{"type":"ping","t":1}')
    client.send_text(b'{"type":"pong","t":2}')
    c.receive_data(b"".join(client.data_to_send()))
    first, second = c.next_event(), c.next_event()
    assert isinstance(first, f.Ping) and first.t == 1
    assert isinstance(second, f.Pong) and second.t == 2
    assert c.next_event() is None and c.buffered == 0


def test_fragments_make_one_message_and_count_as_overhead() -> None:
    c, client = codec()
    client.send_text(b'{"type":"ping",', fin=False)
    client.send_continuation(b"", fin=False)
    client.send_continuation(b'"t":5}', fin=True)
    c.receive_data(b"".join(client.data_to_send()))
    event = c.next_event()
    assert isinstance(event, f.Ping) and event.t == 5
    assert c.overhead_frames == 2  # the first two frames; the last completes the message


def test_a_half_frame_is_buffered_and_said() -> None:
    c, client = codec()
    client.send_text(b'{"type":"ping","t":1}')
    data = b"".join(client.data_to_send())
    c.receive_data(data[:2])  # the parser takes a header in at once
    assert c.next_event() is None and c.buffered == 2
    c.receive_data(data[2:5])
    assert c.next_event() is None and c.buffered == 5
    c.receive_data(data[5:])
    assert isinstance(c.next_event(), f.Ping)
    assert c.buffered == 0


def test_bad_json_and_binary_are_answerable_errors() -> None:
    c, client = codec()
    client.send_text(b"{not json")
    client.send_binary(b'{"type":"ping","t":1}')
    c.receive_data(b"".join(client.data_to_send()))
    bad, binary = c.next_event(), c.next_event()
    assert isinstance(bad, FrameError) and bad.error.code == "bad_frame"
    assert isinstance(binary, FrameError) and "text message" in binary.error.message


def test_two_frames_in_one_message_are_not_split() -> None:
    c, client = codec()
    client.send_text(b'{"type":"ping","t":1}\n{"type":"ping","t":2}')
    c.receive_data(b"".join(client.data_to_send()))
    assert isinstance(c.next_event(), FrameError)
    assert c.next_event() is None


def test_an_oversized_message_is_refused_from_its_header() -> None:
    c, client = codec(max_frame=1024)
    client.send_text(b'{"type":"ping","t":1}')
    head = Frame(Opcode.TEXT, b"x" * 5000).serialize(mask=True)[:8]  # length says 5000
    c.receive_data(b"".join(client.data_to_send()) + head)
    assert isinstance(c.next_event(), f.Ping)  # what came before is handled first
    with pytest.raises(FrameTooLarge):
        c.next_event()
    assert c.buffered < 100  # the 5000 bytes were never waited for
    ws = c.ws
    assert ws is not None
    close = b"".join(ws.data_to_send())
    assert close[:1] == b"\x88" and close[2:4] == (1009).to_bytes(2, "big")


def test_fragments_add_up_to_the_limit() -> None:
    c, client = codec(max_frame=1024)
    client.send_text(b"x" * 600, fin=False)
    client.send_continuation(b"x" * 600, fin=True)
    c.receive_data(b"".join(client.data_to_send()))
    with pytest.raises(FrameTooLarge):
        c.next_event()


def test_the_limit_rises_after_login() -> None:
    c, client = codec(max_frame=1024)
    c.max_frame = 65536
    client.send_text(b'{"type":"say","room":"lobby","text":"' + b"y" * 20000 + b'"}')
    c.receive_data(b"".join(client.data_to_send()))
    event = c.next_event()
    assert isinstance(event, f.Say) and len(event.text) == 20000


def test_compression_is_never_on_a_reserved_bit_is_an_error() -> None:
    c, _ = codec()
    payload = b'{"type":"ping","t":1}'
    # FIN, RSV1 (what permessage-deflate would set) and text; masked with a zero mask.
    c.receive_data(b"\xc1" + bytes([0x80 | len(payload)]) + b"\0\0\0\0" + payload)
    ws = c.ws
    assert ws is not None and ws.parser_exc is not None
    assert c.next_event() is None


def test_pings_are_answered_by_the_parser_and_counted() -> None:
    c, client = codec()
    client.send_ping(b"abc")
    c.receive_data(b"".join(client.data_to_send()))
    ws = c.ws
    assert ws is not None
    pong = b"".join(ws.data_to_send())
    assert pong[:1] == b"\x8a" and pong.endswith(b"abc")
    assert c.overhead_frames == 1 and c.next_event() is None


class CountingNative(NativeEncoder):
    """The native encoder, counting the messages it spells."""

    def __init__(self) -> None:
        self.messages = 0

    def message(self, message: StoredMessage) -> bytes:
        self.messages += 1
        return super().message(message)


async def test_a_room_of_web_users_gets_one_encoding_of_a_message(kit: HubKit) -> None:
    native = CountingNative()
    encoder = WebEncoder(native)
    sessions = []
    for n in range(12):
        await kit.add_user(f"web{n}")
        session = kit.hub.open_session(FakeOutlet(kit.hub, port=50000 + n), encoder, "10.0.0.1")
        await kit.hub.accounts.login(session, f"web{n}", PASSWORD)
        kit.join(session, "lobby")
        sessions.append(session)
    kit.run_soon()
    for session in sessions:
        outlet(session).clear()
    native.messages = 0
    kit.say(sessions[0], "lobby", "one for all")
    kit.run_soon()
    # Once, for the eleven others (the sender's copy is its door's reply, with its ref).
    assert native.messages == 1
    delivered = [outlet(s).written[-1] for s in sessions[1:]]
    assert all(data is delivered[0] for data in delivered)  # the same bytes object
    (text,) = received_texts(browser(), delivered[0])
    assert json.loads(text)["text"] == "one for all"
