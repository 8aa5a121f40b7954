"""Pure pieces of the IRC door: splitting for IRC, formatting, channel names, line helpers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teahouse.core.session import Session
from teahouse.doors.connection import OnceLine
from teahouse.doors.irc.connection import add_tag, in_batch
from teahouse.doors.irc.encoder import IrcEncoder, split_utf8, to_irc_text
from teahouse.doors.irc.render import room_of
from teahouse.protocol.irc import IrcReader, LineTooLong
from teahouse.protocol.text import strip_irc_formatting
from teahouse.store.base import StoredMessage

text_st = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=400,
).filter(lambda t: "\r" not in t and "\n" not in t)


@settings(max_examples=300, deadline=None)
@given(text=text_st, limit=st.integers(min_value=4, max_value=600))
def test_split_utf8_loses_nothing_and_respects_the_limit(text: str, limit: int) -> None:
    pieces = split_utf8(text, limit)
    assert "".join(pieces) == text
    assert all(len(p.encode()) <= limit for p in pieces)
    if len(text.encode()) > limit:
        assert all(pieces)


def test_split_utf8_prefers_spaces_and_never_cuts_a_character() -> None:
    text = "tea " * 30 + "茶" * 40
    pieces = split_utf8(text, 50)
    assert pieces[0] == "tea " * 12  # 48 bytes, cut after a space
    assert all(p.encode().decode() == p for p in pieces)
    assert split_utf8("🍵" * 5, 6) == ["🍵"] * 5


class Masks:
    """What an encoder asks its door: everyone is offline, named ``nick!~nick@server``."""

    server_name = "teahouse.local"

    def mask(self, session: Session) -> str:
        return f"{session.user}!~{session.user}@{session.host}"

    def mask_of(self, name: str) -> str:
        return f"{name}!~{name}@{self.server_name}"

    def account_of(self, name: str) -> str | None:
        return name

    def ping_timeout(self) -> float:
        return 60.0

    def now_ms(self) -> int:
        return 0


def _encoder(caps: frozenset[str] = frozenset()) -> IrcEncoder:
    return IrcEncoder(Masks(), caps)


def _lines(data: bytes) -> list[Any]:
    reader = IrcReader()
    reader.receive_data(data)
    out = []
    while (item := reader.next_message()) is not None:
        assert not isinstance(item, LineTooLong)
        out.append(item)
    return out


def test_long_message_is_split_into_lines_that_fit() -> None:
    text = " ".join(f"word{i}" for i in range(700))
    data = _encoder().privmsg_lines(
        StoredMessage(7, "Nat", text, 0, room="lobby"), "#lobby", "PRIVMSG"
    )
    lines = data.split(b"\r\n")[:-1]
    assert len(lines) > 5 and all(len(line) + 2 <= 512 for line in lines)
    assert "".join(m.params[1] for m in _lines(data)) == text


def test_long_action_is_split_into_whole_actions() -> None:
    text = "/me " + " ".join(f"sips{i}" for i in range(300))
    data = _encoder().privmsg_lines(
        StoredMessage(8, "Nat", text, 0, room="lobby"), "#lobby", "PRIVMSG"
    )
    messages = _lines(data)
    assert len(messages) > 2
    assert all(len(line) + 2 <= 512 for line in data.split(b"\r\n")[:-1])
    bodies = []
    for m in messages:
        body = m.params[1]
        assert body.startswith("\x01ACTION ") and body.endswith("\x01"), body[:20]
        bodies.append(body[len("\x01ACTION ") : -1])
    assert "".join(bodies) == text[len("/me ") :]


def test_split_pieces_get_distinct_msgids() -> None:
    text = "x " * 1000
    data = _encoder(frozenset({"message-tags"})).privmsg_lines(
        StoredMessage(42, "Nat", text, 0, room="lobby"), "#lobby", "PRIVMSG"
    )
    ids = [m.tags["msgid"] for m in _lines(data)]
    assert ids[0] == "42" and len(set(ids)) == len(ids) > 1


def test_to_irc_text() -> None:
    assert to_irc_text("/me waves") == "\x01ACTION waves\x01"
    assert to_irc_text("/mean") == "/mean"


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        (
            "\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x16rev\x16 \x1estrike\x1e \x11mono\x11",
            "bold italic under rev strike mono",
        ),
        ("\x0304red\x03 \x0304,01on black\x0f!", "red on black!"),
        ("\x031234", "34"),  # two digits at most
        ("100\x03", "100"),
        ("plain", "plain"),
    ],
)
def test_strip_formatting(given: str, plain: str) -> None:
    assert strip_irc_formatting(given) == plain


@pytest.mark.parametrize(
    ("channel", "room"),
    [
        ("#lobby", "lobby"),
        ("#Lobby", "lobby"),
        ("#tea-room_2", "tea-room_2"),
        ("#Bad!Name", None),
        ("lobby", None),
        ("#", None),
        ("##x", None),
        ("#" + "a" * 51, None),
    ],
)
def test_room_of(channel: str, room: str | None) -> None:
    assert room_of(channel) == room


def test_only_quit_and_nick_lines_are_sent_once_per_round() -> None:
    assert type(OnceLine(b":n!u@h QUIT :Quit\r\n")) is OnceLine
    # A message that merely says QUIT is ordinary bytes: never deduplicated.
    plain = b":n!u@h PRIVMSG #a :type QUIT to leave\r\n"
    assert type(plain) is not OnceLine
    assert OnceLine(b"x") == b"x"


def test_label_tags_are_escaped_and_batches_detected() -> None:
    line = add_tag(b":srv PONG srv x\r\n", "label", "a b;c\r\nQUIT")
    assert line == b"@label=a\\sb\\:c\\r\\nQUIT :srv PONG srv x\r\n"
    assert add_tag(b"@time=1 :srv X\r\n", "batch", "r1") == b"@batch=r1;time=1 :srv X\r\n"
    assert in_batch(b"@time=1;batch=h1 :srv PRIVMSG #a :x\r\n")
    assert not in_batch(b"@time=1 :srv PRIVMSG #a :batch=x\r\n")
    assert not in_batch(b":srv PRIVMSG #a :@batch=x\r\n")
