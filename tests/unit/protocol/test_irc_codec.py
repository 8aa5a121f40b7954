"""The sans-I/O IRC codec: parse_line, serialize and IrcReader (limits, chunking, fuzz)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teahouse.protocol.irc import (
    MAX_CLIENT_TAGS,
    MAX_LINE,
    MAX_TAGS,
    IrcMessage,
    IrcParseError,
    IrcReader,
    LineTooLong,
    escape_tag,
    parse_line,
    serialize,
)

Item = IrcMessage | LineTooLong


def drain(reader: IrcReader) -> list[Item]:
    out: list[Item] = []
    while (item := reader.next_message()) is not None:
        out.append(item)
    return out


def feed(reader: IrcReader, *chunks: bytes) -> list[Item]:
    """Feed chunks the way the connection does: drain after each one."""
    out: list[Item] = []
    for chunk in chunks:
        reader.receive_data(chunk)
        out += drain(reader)
    return out


def line_of(total: int, command: bytes = b"PRIVMSG #a :", terminator: bytes = b"\r\n") -> bytes:
    """A line of exactly ``total`` bytes, terminator included."""
    body = total - len(command) - len(terminator)
    assert body >= 0
    return command + b"x" * body + terminator


def tag_section(total: int) -> bytes:
    """``@k=vvv `` of exactly ``total`` bytes, '@' and the trailing space included."""
    value = total - len(b"@k= ")
    assert value >= 0
    return b"@k=" + b"v" * value + b" "


# -- parse_line -----------------------------------------------------------------------------------


def test_plain_command_and_case() -> None:
    assert parse_line("ping abc") == IrcMessage("PING", ("abc",))
    assert parse_line("QUIT") == IrcMessage("QUIT", ())
    assert parse_line("001 nick :Welcome") == IrcMessage("001", ("nick", "Welcome"))


def test_prefix_and_trailing() -> None:
    msg = parse_line(":nick!user@host PRIVMSG #chan :hello :world  ")
    assert msg.prefix == "nick!user@host"
    assert msg.command == "PRIVMSG"
    assert msg.params == ("#chan", "hello :world  ")
    assert msg.tags == {}


def test_empty_trailing_and_colon_trailing() -> None:
    assert parse_line("TOPIC #a :").params == ("#a", "")
    assert parse_line("PRIVMSG #a ::)").params == ("#a", ":)")
    assert parse_line("PRIVMSG #a :").param(1, "missing") == ""
    assert parse_line("USER u 0 * :").params == ("u", "0", "*", "")


def test_many_spaces_between_parts() -> None:
    msg = parse_line("@t=1    :pre!x@y    privmsg    #a     b    :hi  there ")
    assert msg == IrcMessage("PRIVMSG", ("#a", "b", "hi  there "), "pre!x@y", {"t": "1"})
    assert parse_line("   NICK    bob   ") == IrcMessage("NICK", ("bob",))


def test_tags_with_escapes() -> None:
    msg = parse_line(r"@a=b\:c\sd\\e\r\nf;flag;+client/x=1;empty=;odd=\b\;end=x\ :srv CMD p")
    assert msg.tags == {
        "a": "b;c d\\e\r\nf",
        "flag": "",
        "+client/x": "1",
        "empty": "",
        "odd": "b",  # an unknown escape is the character itself
        "end": "x",  # a trailing lone backslash is dropped
    }
    assert msg.prefix == "srv" and msg.command == "CMD" and msg.params == ("p",)


def test_tags_without_prefix() -> None:
    msg = parse_line("@label=12;draft/reply=5 PRIVMSG #a :hi")
    assert msg.tags == {"label": "12", "draft/reply": "5"}
    assert msg.prefix is None and msg.params == ("#a", "hi")


@pytest.mark.parametrize("line", ["", "   ", ":prefix", ":prefix   ", "@a=b", "@a=b :pre", ":p :x"])
def test_lines_without_a_command_raise(line: str) -> None:
    with pytest.raises(IrcParseError):
        parse_line(line)


def test_middle_params_split_on_space_only() -> None:
    """RFC 1459/2812: only SPACE separates parameters; a tab or an ideographic space is data.

    A client that adds ':' only when the text holds an ASCII space sends CJK text with
    U+3000 as a middle parameter; splitting it on every Unicode space lost the rest.
    """
    assert parse_line("PRIVMSG #lobby 你好\u3000世界").params == ("#lobby", "你好\u3000世界")
    assert parse_line("PRIVMSG bob\tx :hi").params == ("bob\tx", "hi")
    assert parse_line("PRIVMSG #a a\xa0b\x1cc").params == ("#a", "a\xa0b\x1cc")


# -- serialize ------------------------------------------------------------------------------------


def test_serialize_simple_and_trailing_rules() -> None:
    assert serialize(IrcMessage("PING", ("abc",))) == b"PING abc\r\n"
    assert serialize(IrcMessage("PRIVMSG", ("#a", "hi there"), "n!u@h")) == (
        b":n!u@h PRIVMSG #a :hi there\r\n"
    )
    assert serialize(IrcMessage("TOPIC", ("#a", ""))) == b"TOPIC #a :\r\n"
    assert serialize(IrcMessage("PRIVMSG", ("#a", ":)"))) == b"PRIVMSG #a ::)\r\n"
    assert serialize(IrcMessage("QUIT")) == b"QUIT\r\n"


def test_serialize_middle_params_never_break_the_line() -> None:
    # A middle parameter can hold no space; an empty one would vanish, so it becomes '*'.
    assert serialize(IrcMessage("CMD", ("a b", "", "last"))) == b"CMD ab * last\r\n"


def test_serialize_tags_escaped_and_roundtrip() -> None:
    tags = {"time": "2026-01-01T00:00:00.000Z", "x": "a;b c\\d\r\ne", "flag": ""}
    data = serialize(IrcMessage("PRIVMSG", ("#a", "hi"), "srv", tags))
    assert data.startswith(b"@time=2026-01-01T00:00:00.000Z;x=a\\:b\\sc\\\\d\\r\\ne;flag :srv ")
    assert parse_line(data[:-2].decode()) == IrcMessage("PRIVMSG", ("#a", "hi"), "srv", tags)
    assert escape_tag("a b;c") == "a\\sb\\:c"


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\x00", "x\r\nQUIT :pwned"])
def test_serialize_never_emits_cr_lf_nul_inside_a_line(bad: str) -> None:
    msg = IrcMessage(
        "PRIVMSG",
        (f"#a{bad}", f"text{bad}more"),
        f"nick{bad}!u@h",
        {"label": f"l{bad}x", f"k{bad}": f"v{bad}"},
    )
    data = serialize(msg)
    assert data.endswith(b"\r\n")
    body = data[:-2]
    assert b"\r" not in body and b"\n" not in body and b"\x00" not in body


# -- IrcReader: framing ---------------------------------------------------------------------------


def test_crlf_bare_lf_and_blank_lines() -> None:
    r = IrcReader()
    out = feed(r, b"PING a\r\nPING b\n\r\n\n   \r\nPING c\r\n")
    assert out == [IrcMessage("PING", (p,)) for p in "abc"]
    assert r.buffered == 0


def test_split_across_chunks_including_between_cr_and_lf() -> None:
    r = IrcReader()
    out = feed(r, b"PI", b"NG :a b\r", b"\nPRIVMSG #x", b" :y\n", b"NICK")
    assert out == [IrcMessage("PING", ("a b",)), IrcMessage("PRIVMSG", ("#x", "y"))]
    assert r.buffered == len(b"NICK")
    assert feed(r, b" z\r\n") == [IrcMessage("NICK", ("z",))]


def test_lines_without_a_command_are_skipped() -> None:
    r = IrcReader()
    assert feed(r, b":prefix\r\n@tag=1\r\n@a :b\r\nPING x\r\n") == [IrcMessage("PING", ("x",))]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    r = IrcReader()
    (msg,) = feed(r, b"PRIVMSG #a :caf\xe9 \xff\r\n")
    assert isinstance(msg, IrcMessage)
    assert msg.params[1] == "caf\ufffd \ufffd"


# -- IrcReader: limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("terminator", [b"\r\n", b"\n"])
def test_512_bytes_accepted_513_too_long(terminator: bytes) -> None:
    """512 bytes with CR LF; the limit counts CR LF even when the client sends a bare LF."""
    r = IrcReader()
    ok = line_of(MAX_LINE, terminator=b"\r\n")
    if terminator == b"\n":
        ok = ok[:-2] + b"\n"
    over = b"PRIVMSG #a :y" + ok[len(b"PRIVMSG #a :") :]
    out = feed(r, ok, over, b"PING after\r\n")
    assert isinstance(out[0], IrcMessage)
    assert len(out[0].params[1]) == MAX_LINE - 2 - len(b"PRIVMSG #a :")
    assert out[1:] == [LineTooLong(), IrcMessage("PING", ("after",))]


def test_limit_counts_bytes_not_characters() -> None:
    r = IrcReader()
    prefix = b"PRIVMSG #a :"
    room = MAX_LINE - 2 - len(prefix)
    assert room % 2 == 0
    fits = prefix + "é".encode() * (room // 2) + b"\r\n"
    over = prefix + "é".encode() * (room // 2) + b"x\r\n"
    out = feed(r, fits + over)
    assert isinstance(out[0], IrcMessage) and out[0].params[1] == "é" * (room // 2)
    assert out[1:] == [LineTooLong()]


def test_tags_do_not_count_toward_512() -> None:
    r = IrcReader()
    tags = tag_section(MAX_CLIENT_TAGS)
    out = feed(r, tags + line_of(MAX_LINE))
    assert len(out) == 1 and isinstance(out[0], IrcMessage)
    assert len(out[0].tags["k"]) == MAX_CLIENT_TAGS - 4


def test_client_tag_section_limit_is_4096() -> None:
    """IRCv3 message-tags: a client sends at most 4094 bytes of tag data ('@' and space aside)."""
    assert MAX_CLIENT_TAGS == 4096
    r = IrcReader()
    out = feed(
        r,
        tag_section(MAX_CLIENT_TAGS) + b"PING a\r\n",
        tag_section(MAX_CLIENT_TAGS + 1) + b"PING b\r\n",
        b"PING c\r\n",
    )
    assert [type(x).__name__ for x in out] == ["IrcMessage", "LineTooLong", "IrcMessage"]
    assert out[2] == IrcMessage("PING", ("c",))


def test_tag_section_up_to_8191_with_the_full_limit() -> None:
    """The whole tag section may be 8191 bytes (IRCv3); a reader can be built with that limit."""
    assert MAX_TAGS == 8191
    r = IrcReader(max_tags=MAX_TAGS)
    assert r.limit == MAX_LINE + MAX_TAGS
    out = feed(
        r,
        tag_section(MAX_TAGS) + line_of(MAX_LINE),
        tag_section(MAX_TAGS + 1) + b"PING b\r\n",
        tag_section(MAX_TAGS) + line_of(MAX_LINE + 1),
        b"PING ok\r\n",
    )
    assert isinstance(out[0], IrcMessage) and len(out[0].tags["k"]) == MAX_TAGS - 4
    assert out[1:] == [LineTooLong(), LineTooLong(), IrcMessage("PING", ("ok",))]


def test_tag_section_without_a_command_over_the_limit_is_too_long() -> None:
    r = IrcReader()
    assert feed(r, b"@" + b"k" * MAX_CLIENT_TAGS + b"\r\nPING x\r\n") == [
        LineTooLong(),
        IrcMessage("PING", ("x",)),
    ]


def test_overlong_line_dropped_next_line_parses() -> None:
    r = IrcReader()
    data = b"PRIVMSG #a :" + b"x" * 600 + b"\r\nPING :ok\r\n"
    assert feed(r, data) == [LineTooLong(), IrcMessage("PING", ("ok",))]
    # The same bytes one at a time.
    r = IrcReader()
    out = feed(r, *(data[i : i + 1] for i in range(len(data))))
    assert out == [LineTooLong(), IrcMessage("PING", ("ok",))]


def test_unterminated_flood_byte_by_byte_never_buffers_past_the_limit() -> None:
    r = IrcReader()
    reported = []
    for _ in range(3 * r.limit):
        reported += feed(r, b"A")
        assert r.buffered <= r.limit
    assert reported == [LineTooLong()]  # once per line, as soon as it is over
    assert feed(r, b"AAAA\r\nPING :ok\r\n") == [IrcMessage("PING", ("ok",))]
    assert r.buffered == 0


def test_huge_chunks_never_buffer_past_the_limit() -> None:
    r = IrcReader()
    chunk = b"B" * (1 << 20)
    out = []
    for _ in range(4):
        r.receive_data(chunk)
        assert r.buffered <= r.limit
        out += drain(r)
    assert out == [LineTooLong()]
    # A huge chunk that ends the overlong line and carries the next ones.
    r.receive_data(chunk + b"\r\nPING :a\r\n" + b"C" * (1 << 20))
    assert r.buffered <= r.limit
    assert drain(r) == [IrcMessage("PING", ("a",)), LineTooLong()]
    assert r.buffered <= r.limit
    assert feed(r, b"\nPING :b\r\n") == [IrcMessage("PING", ("b",))]


def test_complete_overlong_line_in_one_chunk_is_reported_and_released() -> None:
    r = IrcReader()
    r.receive_data(b"D" * (1 << 20) + b"\r\nPING :a\r\n")
    assert drain(r) == [LineTooLong(), IrcMessage("PING", ("a",))]
    assert r.buffered == 0


def test_line_at_the_buffer_limit_fed_byte_by_byte() -> None:
    """The longest acceptable line (full tag section, 512-byte body) survives byte feeding."""
    r = IrcReader()
    data = tag_section(MAX_CLIENT_TAGS) + line_of(MAX_LINE)
    assert len(data) == r.limit
    out = feed(r, *(data[i : i + 1] for i in range(len(data))))
    assert len(out) == 1 and isinstance(out[0], IrcMessage)
    assert out[0].command == "PRIVMSG"


# -- properties -----------------------------------------------------------------------------------

SEGMENTS = [
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b":",
    b"@",
    b";",
    b"\\",
    b"PRIVMSG #a :hi there",
    b"@label=1;x=a\\sb :n!u@h NOTICE * :yo",
    b"PING :x",
    b"\xff\xfe",
    b"\x00" * 20,
    b"x" * 500,
    b"y" * 5000,
]
streams = st.lists(st.one_of(st.binary(max_size=100), st.sampled_from(SEGMENTS)), max_size=25).map(
    b"".join
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    out, start = [], 0
    for p in points:
        out.append(data[start:p])
        start = p
    out.append(data[start:])
    return out


def oracle(data: bytes, max_line: int, max_tags: int) -> list[Item]:
    """What a reader must produce for ``data``, written independently of the reader."""
    limit = max_line + max_tags
    *lines, tail = data.split(b"\n")
    out: list[Item] = []
    for terminated in lines:
        raw = terminated.removesuffix(b"\r")
        tags_len = 0
        if raw.startswith(b"@"):
            space = raw.find(b" ")
            tags_len = len(raw) if space < 0 else space + 1
        body_len = len(raw) - tags_len
        if tags_len > max_tags or body_len + 2 > max_line:
            out.append(LineTooLong())
            continue
        if not raw.strip():
            continue  # blank lines are skipped
        try:
            message = parse_line(raw.decode("utf-8", errors="replace"))
        except IrcParseError:
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:  # kept, marked: a UTF8ONLY server refuses to relay it
            message = dataclasses.replace(message, valid_utf8=False)
        out.append(message)
    if len(tail) > limit:
        out.append(LineTooLong())
    return out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=streams,
    cuts=st.lists(st.integers(min_value=0, max_value=20000), max_size=12),
    limits=st.sampled_from([(MAX_LINE, MAX_CLIENT_TAGS), (MAX_LINE, MAX_TAGS), (20, 10)]),
)
def test_any_bytes_any_chunking(data: bytes, cuts: list[int], limits: tuple[int, int]) -> None:
    """Never raises; the result is the oracle's whatever the chunking; the buffer stays bounded."""
    max_line, max_tags = limits
    r = IrcReader(max_line=max_line, max_tags=max_tags)
    out: list[Item] = []
    for chunk in chunked(data, cuts):
        r.receive_data(chunk)
        if b"\n" not in chunk:
            assert r.buffered <= r.limit
        out += drain(r)
        assert r.buffered <= r.limit
    assert out == oracle(data, max_line, max_tags)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000), size=st.integers(min_value=1, max_value=64))
def test_fixed_size_chunks_agree_with_one_chunk(data: bytes, size: int) -> None:
    whole = IrcReader(max_line=64, max_tags=32)
    pieces = IrcReader(max_line=64, max_tags=32)
    one = feed(whole, data)
    many = feed(pieces, *(data[i : i + size] for i in range(0, len(data), size)))
    assert one == many
    assert pieces.buffered <= pieces.limit


middle = st.text(
    alphabet=st.characters(blacklist_characters=" \r\n\x00:", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=10,
)
trailing = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)),
    max_size=60,
)
tag_keys = st.from_regex(r"\A\+?[a-z][a-z0-9/.-]{0,10}\Z")
tag_values = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    max_size=30,
)
messages = st.builds(
    IrcMessage,
    command=st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "001", "MODE", "TAGMSG"]),
    params=st.tuples(st.lists(middle, max_size=4), st.none() | trailing).map(
        lambda t: (*t[0], t[1]) if t[1] is not None else tuple(t[0])
    ),
    prefix=st.none() | st.from_regex(r"\A[a-z][a-z0-9]{0,8}(![a-z]{1,5}@[a-z.]{1,9})?\Z"),
    tags=st.dictionaries(tag_keys, tag_values, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(msgs=st.lists(messages, max_size=8), cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_serialize_then_read_roundtrips(msgs: list[IrcMessage], cuts: list[int]) -> None:
    wire = b"".join(serialize(m) for m in msgs)
    r = IrcReader(max_tags=MAX_TAGS)
    assert feed(r, *chunked(wire, cuts)) == msgs


@settings(max_examples=300, deadline=None)
@given(
    command=st.sampled_from(["PRIVMSG", "NOTICE", "ACK", "005"]),
    params=st.lists(st.text(max_size=30), max_size=5),
    prefix=st.none() | st.text(max_size=20),
    tags=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=20), max_size=3),
)
def test_serialize_is_always_one_line(
    command: str, params: list[str], prefix: str | None, tags: dict[str, str]
) -> None:
    data = serialize(IrcMessage(command, tuple(params), prefix, tags))
    assert data.endswith(b"\r\n")
    body = data[:-2]
    assert b"\r" not in body and b"\n" not in body and b"\x00" not in body
    r = IrcReader(max_line=1 << 20, max_tags=1 << 20)
    r.receive_data(data)
    assert len(drain(r)) <= 1 and r.buffered == 0
