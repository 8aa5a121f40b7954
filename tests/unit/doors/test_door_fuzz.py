"""Every handler of both doors under arbitrary input: no internal error, no exception, and
the door still answers a ping afterwards.

Frames are built from the protocol's own frame types with fields of any JSON type (and
values that reach deep into the handlers: existing rooms and users, mode strings); IRC
lines from the door's command table with any parameters. The hub is in-process on the
fake clock (tests/unit/doors/fakes.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teahouse.doors.connection import THROTTLED_HOLD
from teahouse.doors.irc.table import COMMANDS
from teahouse.protocol.frames import CLIENT_TYPES, ClientFrame

from ..hubkit import PASSWORD, HubKit, make_config
from .fakes import IrcClient, NativeClient, irc, native

FIELDS = sorted(
    {name for cls in ClientFrame.__args__ for name in cls.__struct_fields__} | {"ref", "type"}
)
"""Every field name any client frame has."""

MEANINGFUL = [
    "lobby",
    "#lobby",
    "other",
    "alice",
    "bob",
    "ALICE",
    "nobody",
    "+o",
    "-o+v",
    "+b",
    "+kl",
    "+beI",
    "*!*@*",
    "help",
    "who",
    "ban",
    "user",
    "room",
    "register",
    "drop",
    "info",
    "x" * 600,
    "\u202e\u0000",
    "",
]

text = st.one_of(st.sampled_from(MEANINGFUL), st.text(max_size=40))
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    text,
)
value = st.one_of(
    scalar,
    st.lists(text, max_size=4),
    st.dictionaries(text, scalar, max_size=3),
)
frame = st.builds(
    lambda kind, fields: {**fields, "type": kind},
    st.sampled_from(sorted(CLIENT_TYPES)),
    st.dictionaries(st.sampled_from(FIELDS), value, max_size=6),
)

irc_param = st.one_of(
    st.sampled_from(["#lobby", "#other", "alice", "bob", "*", "+o", "-o", "+b", "+k", "0", ""]),
    st.text(alphabet=st.characters(blacklist_characters="\r\n\x00 ", codec="utf-8"), max_size=20),
)
irc_line = st.builds(
    lambda command, params, trailing: (
        " ".join([command, *params]) + (f" :{trailing}" if trailing is not None else "")
    ),
    st.sampled_from(sorted(COMMANDS)),
    st.lists(irc_param.filter(lambda p: p and not p.startswith(":")), max_size=5),
    st.one_of(st.none(), st.text(max_size=30).map(lambda t: t.replace("\r", "").replace("\n", ""))),
)


class Errors(logging.Handler):
    """Records logged at ERROR or above: an internal error is always logged there."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def errors_logged() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger("teahouse")
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def still_served(client: NativeClient | IrcClient) -> bool:
    """The session is open (a client dropped for bad input has its socket held a while)."""
    session = client.conn.session
    return session is not None and not session.closed


async def kit_with_users() -> HubKit:
    kit = HubKit(make_config(), None)
    for name in ("alice", "bob"):
        await kit.add_user(name)
    return kit


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.lists(frame, min_size=1, max_size=8))
def test_native_handlers_never_fail_internally(frames: list[dict[str, Any]]) -> None:
    asyncio.run(_native(frames))


async def _native(frames: list[dict[str, Any]]) -> None:
    kit = await kit_with_users()
    try:
        with errors_logged() as errors:
            bob = NativeClient(kit, native(kit), "10.0.0.2")
            await bob.login("bob", PASSWORD)
            bob.send(type="join", room="lobby")
            alice = NativeClient(kit, native(kit), "10.0.0.1")
            await alice.login("alice", PASSWORD)
            alice.send(type="join", room="lobby")
            alice.frames()
            for one in frames:
                alice.send_raw(json.dumps(one).encode() + b"\n")
                await alice.settle()
                for answer in alice.frames():
                    assert answer.get("code") != "internal", (one, answer)
            if still_served(alice):
                alice.advance(THROTTLED_HOLD)  # a throttled login or OPER holds it this long
                alice.send(type="ping", ref="still-there")
                await alice.settle()
                assert any(f.get("ref") == "still-there" for f in alice.frames())
            bob.frames()  # what bob was sent parses as JSON lines
            assert errors.records == [], [r.getMessage() for r in errors.records]
    finally:
        kit.close()


@FUZZ
@given(st.lists(irc_line, min_size=1, max_size=8))
def test_irc_handlers_never_fail_internally(lines: list[str]) -> None:
    asyncio.run(_irc(lines))


async def _irc(lines: list[str]) -> None:
    kit = await kit_with_users()
    try:
        with errors_logged() as errors:
            bob = IrcClient(kit, irc(kit), "10.0.0.2")
            await bob.register("bob", f"PASS :bob:{PASSWORD}")
            bob.send("JOIN #lobby")
            alice = IrcClient(kit, irc(kit), "10.0.0.1")
            await alice.register("alice", f"PASS :alice:{PASSWORD}")
            alice.send("JOIN #lobby")
            await alice.settle()
            alice.messages()
            for line in lines:
                alice.send(line)
                await alice.settle()
                for message in alice.messages():
                    assert "INTERNAL" not in message.params, (line, message)
            if still_served(alice):
                alice.advance(THROTTLED_HOLD)  # a throttled login or OPER holds it this long
                alice.send("PING :still-there")
                await alice.settle()
                assert any(m.command == "PONG" for m in alice.messages())
            bob.messages()
            assert errors.records == [], [r.getMessage() for r in errors.records]
    finally:
        kit.close()
