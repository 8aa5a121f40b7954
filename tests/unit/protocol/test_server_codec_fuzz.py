"""Property tests of ServerCodec on arbitrary bytes in arbitrary chunkings."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teahouse.errors import FrameTooLarge
from teahouse.protocol.native import FrameError, ServerCodec

SEGMENTS = [
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"{",
    b"}",
    b'{"type":"rooms"}',
    b'{"type":"ping","t":1,"ref":"x"}',
    b'{"type":"say","room":"lobby","text":"hi","nonce":"n"}',
    b'{"type":"nope","ref":5}',
    b'{"type":5}',
    b'{"type":"join","room":1,"ref":2}',
    b"[1,2]",
    b'"\xff"',
    b'{"type":"say","room":"\xc3","text":"x"}',
    b"[" * 1200,
    b"\x00" * 50,
    b"x" * 5000,
]

streams = st.lists(st.one_of(st.binary(max_size=200), st.sampled_from(SEGMENTS)), max_size=30).map(
    b"".join
)
limits = st.sampled_from([8, 32, 100, 4096])


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, start = [], 0
    for p in points:
        out.append(data[start:p])
        start = p
    out.append(data[start:])
    return out


def normal(event: object) -> object:
    """A comparable form of one event."""
    if isinstance(event, FrameError):
        return ("error", event.error.code, event.ref)
    assert isinstance(event, msgspec.Struct)
    return event


def run(codec: ServerCodec, chunks: list[bytes]) -> tuple[list[object], bool]:
    """Feed ``chunks``, draining after each; checks the buffer bound on the way.

    The bound, for a reader drained before each chunk: the bytes held after
    ``receive_data(chunk)`` are the complete lines now available -- the unterminated tail
    it held before (at most max_frame - 1) plus the chunk up to its last newline -- plus
    at most max_frame - 1 bytes of the new unterminated tail. Without a newline in the
    chunk, only the tail: at most max_frame - 1.
    """
    events: list[object] = []
    limit = codec.max_frame
    for chunk in chunks:
        before = codec.buffered
        assert before <= limit - 1
        codec.receive_data(chunk)
        newline = chunk.rfind(b"\n")
        complete = before + newline + 1 if newline >= 0 else 0
        assert codec.buffered <= complete + limit - 1
        assert codec.buffered <= before + len(chunk)
        try:
            while (event := codec.next_event()) is not None:
                events.append(normal(event))
        except FrameTooLarge as exc:
            assert exc.fatal
            return events, True
    return events, False


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams, max_frame=limits, cuts=st.lists(st.integers(0, 20000), max_size=40))
def test_arbitrary_bytes_never_raise_anything_but_frame_too_large(
    data: bytes, max_frame: int, cuts: list[int]
) -> None:
    run(ServerCodec(max_frame), chunked(data, cuts))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=streams, max_frame=limits, cuts=st.lists(st.integers(0, 20000), max_size=40))
def test_the_chunking_never_changes_the_events(
    data: bytes, max_frame: int, cuts: list[int]
) -> None:
    whole = run(ServerCodec(max_frame), [data])
    pieces = run(ServerCodec(max_frame), chunked(data, cuts))
    assert pieces == whole


@settings(max_examples=100)
@given(data=streams, max_frame=limits)
def test_byte_by_byte_feeding_gives_the_same_events_as_one_chunk(
    data: bytes, max_frame: int
) -> None:
    whole = run(ServerCodec(max_frame), [data])
    single = run(ServerCodec(max_frame), [data[i : i + 1] for i in range(len(data))])
    assert single == whole


@given(
    lines=st.lists(
        st.builds(
            lambda t, ref: msgspec.json.encode({"type": "ping", "t": t, "ref": ref}),
            st.integers(-(2**63), 2**63 - 1),
            st.one_of(st.integers(0, 10**6), st.text(max_size=64)),
        ),
        max_size=20,
    ),
    cuts=st.lists(st.integers(0, 4000), max_size=20),
)
def test_valid_lines_all_come_out_in_order_whatever_the_chunking(
    lines: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(ln + b"\n" for ln in lines)
    events, too_large = run(ServerCodec(1 << 16), chunked(data, cuts))
    assert not too_large
    assert [(e.t, e.ref) for e in events] == [  # type: ignore[attr-defined]
        (obj["t"], obj["ref"]) for obj in map(msgspec.json.decode, lines)
    ]
