"""The IRC door end to end: a real server, jaraco's `irc` client library, native users beside.

Most tests drive the server with :mod:`irc.client_aio` (and the threaded :mod:`irc.client`
for its built-in SASL PLAIN); a few low-level cases (line limits, CAP details, labels, raw
numerics, a silent client) use a small asyncio socket helper, :class:`RawIrc`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import irc.client
import irc.client_aio
import pytest
from irc.message import Arguments, Tag

PASSWORD = "correct-horse-1"
HOST = "127.0.0.1"


# -- a client on jaraco's irc library -------------------------------------------------------------


def code_of(event: irc.client.Event) -> str:
    """'001' for a numeric, else the event's name ('pubmsg', 'join', 'batch' ...)."""
    return str(getattr(event.type, "code", event.type))


def tags_of(event: irc.client.Event) -> dict[str, str]:
    return {t["key"]: t["value"] or "" for t in (event.tags or [])}


class LibIrc:
    """One connection through :mod:`irc.client_aio`; every event is kept to be awaited on."""

    def __init__(self) -> None:
        self.reactor = irc.client_aio.AioReactor(loop=asyncio.get_running_loop())
        self.conn: Any = self.reactor.server()
        self.events: list[irc.client.Event] = []
        self.raw: list[str] = []
        self.cursor = 0
        self._changed = asyncio.Event()
        self.reactor.add_global_handler("all_events", self._on_event, -100)

    def _on_event(self, connection: Any, event: irc.client.Event) -> None:
        if event.type == "all_raw_messages":
            self.raw.append(event.arguments[0])
        else:
            self.events.append(event)
        self._changed.set()

    async def connect(
        self, port: int, nick: str, password: str | None = None, username: str = "tester"
    ) -> LibIrc:
        await self.conn.connect(HOST, port, nick, password=password, username=username)
        return self

    @property
    def nick(self) -> str:
        return str(self.conn.get_nickname())

    def seen(self, *kinds: str) -> list[irc.client.Event]:
        return [e for e in self.events if code_of(e) in kinds]

    async def next(
        self,
        *kinds: str,
        timeout: float = 5.0,
        where: Callable[[irc.client.Event], bool] = lambda e: True,
    ) -> irc.client.Event:
        """The first event after the cursor of one of ``kinds`` that ``where`` accepts."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(self.cursor, len(self.events)):
                event = self.events[i]
                if code_of(event) in kinds and where(event):
                    self.cursor = i + 1
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                got = [(code_of(e), e.target, e.arguments) for e in self.events[self.cursor :]]
                raise AssertionError(f"no {kinds} within {timeout}s; after the cursor: {got}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def until_quiet(self, quiet: float = 0.3) -> None:
        """Wait until nothing has arrived for ``quiet`` seconds."""
        while True:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), quiet)
            except TimeoutError:
                return

    async def ping_pong(self, token: str = "sync") -> None:
        """A round trip: everything the server sent before the PONG has arrived."""
        self.conn.ping(token)
        await self.next("pong", where=lambda e: e.arguments[-1:] == [token])

    def close(self) -> None:
        if self.conn.connected:
            self.conn.disconnect("bye")


@pytest.fixture
async def irc_lib() -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await irc_lib(server, "nick", password=None)`` -> connected :class:`LibIrc`."""
    clients: list[LibIrc] = []

    async def connect(server: Any, nick: str, password: str | None = None, **kw: Any) -> LibIrc:
        client = LibIrc()
        clients.append(client)
        return await client.connect(server.irc_port, nick, password, **kw)

    yield connect
    for client in clients:
        client.close()
    await asyncio.sleep(0)


async def registered(client: LibIrc) -> LibIrc:
    await client.next("376", "422")  # the end of the MOTD ends registration
    return client


async def request_caps(client: LibIrc, *caps: str) -> None:
    client.conn.cap("REQ", *caps)
    ack = await client.next("cap", where=lambda e: e.arguments[:1] in (["ACK"], ["NAK"]))
    assert ack.arguments[0] == "ACK", ack
    assert set(ack.arguments[1].split()) == set(caps)


def sasl_session(
    port: int, nick: str, account: str, password: str, timeout: float = 8.0
) -> list[tuple[str, str | None, list[str]]]:
    """Log in with the threaded :mod:`irc.client`'s own SASL PLAIN; returns (code, target, args)."""
    reactor = irc.client.Reactor()
    conn = reactor.server()
    got: list[tuple[str, str | None, list[str]]] = []
    done = threading.Event()

    def on_event(connection: Any, event: irc.client.Event) -> None:
        if event.type == "all_raw_messages":
            return
        got.append((code_of(event), event.target, list(event.arguments)))
        if code_of(event) in ("376", "422", "433", "464", "disconnect"):
            done.set()

    reactor.add_global_handler("all_events", on_event, -100)
    conn.connect(HOST, port, nick, password=password, sasl_login=account)
    deadline = time.monotonic() + timeout
    try:
        while not done.is_set() and time.monotonic() < deadline:
            reactor.process_once(0.05)
    finally:
        conn.close()
    return got


# -- a small raw socket helper for the low-level cases --------------------------------------------

_LINE = re.compile(r"^(?:@(?P<tags>\S*) +)?(?::(?P<prefix>\S+) +)?(?P<command>\S+)(?P<args>.*)$")


@dataclass
class Line:
    raw: str
    command: str
    params: list[str]
    prefix: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str) -> Line:
        m = _LINE.match(raw)
        assert m is not None, raw
        tags = {t["key"]: t["value"] or "" for t in Tag.from_group(m["tags"]) or []}
        return cls(
            raw, m["command"].upper(), list(Arguments.from_group(m["args"])), m["prefix"], tags
        )


class RawIrc:
    """IRC over a bare asyncio stream, for what a client library hides."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.auto_pong = True

    @classmethod
    async def connect(cls, port: int) -> RawIrc:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            data = line.encode() if isinstance(line, str) else line
            self.writer.write(data if data.endswith(b"\n") else data + b"\r\n")
        await self.writer.drain()

    async def recv(self, timeout: float = 5.0) -> Line:
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        if not data:
            raise EOFError("the server closed the connection")
        assert data.endswith(b"\r\n"), data
        assert len(data.split(b" ", 1)[1] if data.startswith(b"@") else data) <= 512, data
        return Line.parse(data[:-2].decode())

    async def expect(
        self, *commands: str, timeout: float = 5.0, where: Callable[[Line], bool] = lambda x: True
    ) -> Line:
        """Skip lines until one of ``commands`` (answering the server's PINGs on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            line = await self.recv(max(deadline - time.monotonic(), 0.01))
            if line.command in commands and where(line):
                return line
            if line.command == "PING" and self.auto_pong:
                await self.send(f"PONG :{line.params[-1]}")

    async def until(self, *commands: str, timeout: float = 5.0) -> list[Line]:
        """Every line up to and including the first of ``commands``."""
        out: list[Line] = []
        deadline = time.monotonic() + timeout
        while True:
            out.append(await self.recv(max(deadline - time.monotonic(), 0.01)))
            if out[-1].command in commands:
                return out

    async def register(self, nick: str, caps: tuple[str, ...] = (), password: str = "") -> None:
        if caps:
            await self.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
        if password:
            await self.send(f"PASS {password}")
        await self.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :Raw {nick}")
        if caps:
            await self.expect("CAP", where=lambda x: x.params[1] == "ACK")
            await self.send("CAP END")
        await self.expect("376", "422")

    async def closed(self, timeout: float = 5.0) -> bool:
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        return True

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def raw_irc() -> AsyncIterator[Callable[..., Any]]:
    clients: list[RawIrc] = []

    async def connect(server: Any) -> RawIrc:
        client = await RawIrc.connect(server.irc_port)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
        try:
            await client.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def native_user(raw: Any, server: Any, name: str, *rooms: str, register: bool = True) -> Any:
    c = await raw(server.port)
    await c.login(name, PASSWORD, register=register)
    for room in rooms:
        await c.send(type="join", room=room)
        await c.recv_until("replay_end", room=room)
    return c


# -- registration ---------------------------------------------------------------------------------


async def test_guest_registration_welcome_isupport_lusers_motd(server: Any, irc_lib: Any) -> None:
    c = await registered(await irc_lib(server, "Guesty"))
    codes = [code_of(e) for e in c.events]
    order = ["001", "002", "003", "004", "005", "251", "252", "253", "254", "255", "265", "266"]
    order += ["375", "372", "376"]
    positions = [codes.index(code) for code in order]
    assert positions == sorted(positions), codes
    welcome = c.seen("001")[0]
    assert welcome.target == "Guesty" and c.nick == "Guesty"
    # The ident from USER, and a cloak: nobody sees another user's address.
    mask = welcome.arguments[0].rsplit(" ", 1)[-1]
    assert mask.startswith("Guesty!~tester@") and mask.endswith(".ip"), mask
    assert "127.0.0.1" not in mask
    myinfo = c.seen("004")[0].arguments
    assert myinfo[0] == "teahouse.local" and myinfo[1].startswith("teahouse-")
    f = c.conn.features
    assert f.casemapping == "ascii"
    assert f.chantypes == "#"
    assert dict(f.prefix) == {"@": "o", "+": "v"}
    assert f.chanmodes == ["Ibe", "k", "l", "Cimnst"]
    assert f.nicklen == 32 and f.topiclen == 390
    assert f.network == "teahouse"
    assert "Be kind" in c.seen("372")[0].arguments[0]
    assert c.seen("251")[0].arguments[0].startswith("There are 1 users")
    # Both also work on demand.
    c.conn.lusers()
    client_line = await c.next("251")
    assert "1 users" in client_line.arguments[0]
    await c.next("266")
    c.conn.motd()
    await c.next("375")
    assert "Be kind" in (await c.next("372")).arguments[0]
    await c.next("376")


async def test_cap_negotiation_holds_registration(server: Any, raw_irc: Any) -> None:
    c = await raw_irc(server)
    await c.send("CAP LS 302", "NICK capper", "USER capper 0 * :Cap Per")
    ls = await c.expect("CAP")
    assert ls.params[:2] == ["*", "LS"]
    offered = ls.params[2].split()
    for cap in ("sasl=PLAIN", "draft/chathistory", "message-tags", "batch", "echo-message"):
        assert cap in offered
    assert "labeled-response" in offered and "server-time" in offered
    # NICK and USER are in, but registration waits for CAP END: the PONG comes first.
    await c.send("PING :held")
    assert (await c.recv()).command == "PONG"
    await c.send("CAP REQ :server-time bogus-cap")
    nak = await c.recv()
    assert nak.command == "CAP" and nak.params[1:] == ["NAK", "server-time bogus-cap"]
    await c.send("CAP REQ :server-time message-tags")
    ack = await c.recv()
    assert ack.params[1:] == ["ACK", "server-time message-tags"]
    await c.send("CAP LIST")
    listed = await c.recv()
    assert listed.params[1] == "LIST" and set(listed.params[2].split()) == {
        "server-time",
        "message-tags",
    }
    await c.send("CAP END")
    welcome = await c.recv()
    assert welcome.command == "001" and welcome.params[0] == "capper"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", welcome.tags["time"])
    # A 3.1 client (no version) gets the names without values.
    old = await raw_irc(server)
    await old.send("CAP LS")
    assert "sasl" in (await old.expect("CAP")).params[2].split()


async def test_sasl_plain_login_to_a_native_account(server: Any, raw: Any) -> None:
    await native_user(raw, server, "Alice")
    got = await asyncio.to_thread(sasl_session, server.irc_port, "tmpnick", "alice", PASSWORD)
    codes = [code for code, _, _ in got]
    assert "900" in codes and "903" in codes and "001" in codes, got
    assert codes.index("900") < codes.index("903") < codes.index("001")
    logged_in = got[codes.index("900")]
    assert logged_in[2][1] == "Alice"  # the account name, as the account spells it
    welcome = got[codes.index("001")]
    assert welcome[1] == "Alice"  # an account's nick is its name
    assert "904" not in codes


async def test_sasl_wrong_password_is_904(server: Any, raw: Any) -> None:
    await native_user(raw, server, "Alice")
    got = await asyncio.to_thread(sasl_session, server.irc_port, "Alice", "Alice", "wrong-password")
    codes = [code for code, _, _ in got]
    assert "904" in codes and "login_failed" in codes, got
    assert "903" not in codes and "900" not in codes
    # Registration goes on as a guest, who cannot have the account's nick.
    assert "433" in codes and "001" not in codes


async def test_sasl_raw_details(server: Any, raw: Any, raw_irc: Any) -> None:
    await native_user(raw, server, "Alice")
    c = await raw_irc(server)
    await c.send("AUTHENTICATE PLAIN")  # before CAP REQ sasl
    assert (await c.expect("451", "421")).command in ("421", "451")
    await c.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE SCRAM-SHA-256")
    await c.expect("CAP", where=lambda x: x.params[1] == "ACK")
    assert (await c.expect("908")).params[1] == "PLAIN"
    await c.expect("904")
    await c.send("AUTHENTICATE PLAIN")
    assert (await c.expect("AUTHENTICATE")).params == ["+"]
    await c.send("AUTHENTICATE *")
    await c.expect("906")
    payload = base64.b64encode(f"\0Alice\0{PASSWORD}".encode()).decode()
    await c.send("AUTHENTICATE PLAIN")
    await c.expect("AUTHENTICATE")
    await c.send(f"AUTHENTICATE {payload}")
    assert (await c.expect("900")).params[2] == "Alice"
    await c.expect("903")
    await c.send("NICK whatever", "USER w 0 * :W", "CAP END")
    assert (await c.expect("001")).params[0] == "Alice"


async def test_pass_account_password_login(server: Any, raw: Any, irc_lib: Any) -> None:
    await native_user(raw, server, "Bob")
    c = await registered(await irc_lib(server, "someone", password=f"bob:{PASSWORD}"))
    assert c.seen("001")[0].target == "Bob" and c.nick == "Bob"
    assert c.seen("900")[0].arguments[1] == "Bob"
    # PASS with only a password logs in to the nick's account.
    d = await registered(await irc_lib(server, "Bob", password=PASSWORD))
    assert d.nick == "Bob" and d.seen("900")
    # A wrong password is 464 and the connection is closed.
    e = await irc_lib(server, "Bob", password="Bob:not-the-password")
    await e.next("464")
    await e.next("disconnect", timeout=8)
    assert not e.seen("001")


async def test_guest_cannot_take_a_registered_or_used_nick(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    await native_user(raw, server, "Carol")
    c = await irc_lib(server, "carol")
    taken = await c.next("433")
    assert taken.arguments[0] == "carol" and "registered" in taken.arguments[1]
    c.conn.nick("Guest77")  # a client picks another nick and goes on
    await registered(c)
    assert c.nick == "Guest77"
    d = await irc_lib(server, "GUEST77")
    assert "in use" in (await d.next("433")).arguments[1]
    assert not d.seen("001")


# -- native and IRC users together ----------------------------------------------------------------


async def test_native_and_irc_users_share_a_room(server: Any, raw: Any, irc_lib: Any) -> None:
    nat = await native_user(raw, server, "Nat", "lobby")
    ira = await registered(await irc_lib(server, "Ira"))
    ira.conn.join("#lobby")
    join = await ira.next("join")
    assert join.target == "#lobby" and join.source.nick == "Ira"
    names = await ira.next("353")
    assert set(names.arguments[-1].split()) == {"@Nat", "Ira"}
    await ira.next("366")
    assert (await nat.recv_until("presence", user="Ira"))["state"] == "joined"

    ira.conn.privmsg("#lobby", "hello from IRC")
    said = await nat.recv_until("message", room="lobby")
    assert said["from"] == "Ira" and said["text"] == "hello from IRC"
    await nat.send(type="say", room="lobby", text="hello from native")
    heard = await ira.next("pubmsg")
    assert heard.target == "#lobby" and heard.source.nick == "Nat"
    assert heard.arguments == ["hello from native"]
    ira.conn.action("#lobby", "waves")
    acted = await nat.recv_until("message", room="lobby", **{"from": "Ira"})
    assert acted["text"] == "/me waves"

    await nat.send(type="topic", room="lobby", text="green tea")
    topic = await ira.next("topic")
    assert topic.target == "#lobby" and topic.arguments == ["green tea"]
    assert topic.source.nick == "Nat"
    ira.conn.topic("#lobby", "oolong")
    changed = await nat.recv_until("topic", room="lobby", by="Ira")
    assert changed["text"] == "oolong" and changed["by"] == "Ira"

    ira.conn.part("#lobby", "brb")
    left = await nat.recv_until("presence", user="Ira")
    assert left["state"] == "left" and left["reason"] == "part"
    ira.conn.join("#lobby")
    await ira.next("366")
    assert (await nat.recv_until("presence", user="Ira"))["state"] == "joined"

    await nat.send(type="part", room="lobby")
    parted = await ira.next("part")
    assert parted.source.nick == "Nat" and parted.target == "#lobby"
    await nat.send(type="join", room="lobby")
    await ira.next("join", where=lambda e: e.source.nick == "Nat")
    await nat.send(type="quit")
    quit_ = await ira.next("quit")
    assert quit_.source.nick == "Nat" and quit_.arguments == ["Client Quit"]

    watcher = await native_user(raw, server, "Wat", "lobby")
    ira.conn.quit("gone fishing")
    gone = await watcher.recv_until("presence", user="Ira")
    assert gone["state"] == "left" and gone["reason"] == "quit"


async def test_direct_messages_both_ways(server: Any, raw: Any, irc_lib: Any) -> None:
    nat = await native_user(raw, server, "Nat")
    ira = await registered(await irc_lib(server, "Ira"))
    await nat.send(type="dm", to="ira", text="psst, native here")
    dm = await ira.next("privmsg")
    assert dm.target == "Ira" and dm.source.nick == "Nat"
    assert dm.arguments == ["psst, native here"]
    ira.conn.privmsg("Nat", "loud and clear")
    back = await nat.recv_until("message", dm=True, **{"from": "Ira"})
    assert back["from"] == "Ira" and back["to"] == "Nat" and back["text"] == "loud and clear"
    ira.conn.privmsg("nobody-here", "hello?")
    assert (await ira.next("401")).arguments[0] == "nobody-here"


def long_text(size: int = 4000) -> str:
    words = []
    i = 0
    while sum(len(w) + 1 for w in words) < size:
        words.append(["tea", "ché", "茶葉", "🍵", f"w{i}", "x" * 700][i % 6] + str(i))
        i += 1
    text = " ".join(words)[:size]
    return text.rstrip() + "z" * (size - len(text.rstrip()))


async def test_long_native_message_is_split_without_loss(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    nat = await native_user(raw, server, "Nat", "lobby")
    ira = await registered(await irc_lib(server, "Ira"))
    ira.conn.join("#lobby")
    await ira.next("366")
    text = long_text()
    assert len(text) == 4000
    await nat.send(type="say", room="lobby", text=text)
    await nat.recv_until("message", room="lobby")
    pieces: list[str] = []
    while sum(len(p) for p in pieces) < len(text):
        msg = await ira.next("pubmsg")
        assert msg.source.nick == "Nat" and msg.target == "#lobby"
        pieces.append(msg.arguments[0])
    assert len(pieces) > 8
    assert "".join(pieces) == text
    lines = [r for r in ira.raw if " PRIVMSG #lobby " in r]
    assert len(lines) == len(pieces)
    assert all(len(r.encode()) + 2 <= 512 for r in lines)


async def test_irc_line_with_formatting_reaches_native_as_plain_text(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    nat = await native_user(raw, server, "Nat", "lobby")
    ira = await registered(await irc_lib(server, "Ira"))
    ira.conn.join("#lobby")
    await ira.next("366")
    ira.conn.privmsg("#lobby", "\x02bold\x02 and \x0304,01red\x03 tea")
    said = await nat.recv_until("message", room="lobby")
    assert said["text"] == "bold and red tea"


# -- chathistory ----------------------------------------------------------------------------------


async def test_chathistory_after_reconnect_returns_exactly_the_missed(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    nat = await native_user(raw, server, "Nat", "tea")
    await native_user(raw, server, "Hana")
    caps = ("message-tags", "server-time", "batch", "draft/chathistory")
    first = await registered(await irc_lib(server, "Hana", password=PASSWORD))
    await request_caps(first, *caps)
    first.conn.join("#tea")
    await first.next("366")
    await nat.send(type="say", room="tea", text="before you left")
    seen = await first.next("pubmsg")
    last_seen = tags_of(seen)["msgid"]
    assert seen.arguments == ["before you left"] and last_seen.isdigit()
    assert tags_of(seen)["time"].endswith("Z")
    first.conn.quit("brb")
    await nat.recv_until("presence", user="Hana", state="left")

    missed = []
    for i in range(5):
        await nat.send(type="say", room="tea", text=f"missed {i}")
        missed.append((await nat.recv_until("message", room="tea"))["id"])

    again = await registered(await irc_lib(server, "Hana", password=PASSWORD))
    await request_caps(again, *caps)
    again.conn.send_raw(f"CHATHISTORY AFTER #tea msgid={last_seen} 100")
    start = await again.next("batch")
    ref = start.target
    assert ref.startswith("+") and start.arguments == ["chathistory", "#tea"]
    got = []
    while True:
        event = await again.next("pubmsg", "batch")
        if code_of(event) == "batch":
            assert event.target == "-" + ref[1:]
            break
        assert tags_of(event)["batch"] == ref[1:]
        assert event.target == "#tea" and event.source.nick == "Nat"
        got.append((int(tags_of(event)["msgid"]), event.arguments[0]))
    assert got == [(mid, f"missed {i}") for i, mid in enumerate(missed)]

    # Without batch: the same lines, untagged by a batch, still with msgid (message-tags).
    plain = await registered(await irc_lib(server, "Hana", password=PASSWORD))
    await request_caps(plain, "message-tags")
    plain.conn.send_raw(f"CHATHISTORY AFTER #tea msgid={last_seen} 2")
    heard = [await plain.next("pubmsg") for _ in range(2)]
    assert [(int(tags_of(e)["msgid"]), e.arguments[0]) for e in heard] == [
        (missed[0], "missed 0"),
        (missed[1], "missed 1"),
    ]
    assert all("batch" not in tags_of(e) for e in heard)
    await plain.ping_pong()
    assert len(plain.seen("pubmsg")) == 2  # the limit held


async def test_chathistory_bad_requests(server: Any, raw_irc: Any) -> None:
    c = await raw_irc(server)
    await c.register("Hist", caps=("message-tags", "batch"))
    await c.send("CHATHISTORY AFTER #never-made msgid=1 10")
    fail = await c.expect("FAIL")
    assert fail.params[:2] == ["CHATHISTORY", "INVALID_TARGET"]
    await c.send("JOIN #made")
    await c.expect("366")
    await c.send("CHATHISTORY AFTER #made timestamp=2020 10")
    assert (await c.expect("FAIL")).params[:2] == ["CHATHISTORY", "INVALID_PARAMS"]
    await c.send("CHATHISTORY SIDEWAYS #made * 10")
    assert (await c.expect("FAIL")).params[:2] == ["CHATHISTORY", "INVALID_PARAMS"]


# -- heartbeats -----------------------------------------------------------------------------------


async def test_silent_irc_client_is_pinged_then_timed_out(
    make_server: Any, raw: Any, raw_irc: Any, irc_lib: Any
) -> None:
    server = make_server(heartbeat={"interval": 0.3, "timeout": 1.0})
    watcher = await native_user(raw, server, "Wat", "lobby")
    lively = await registered(await irc_lib(server, "Lively"))  # the library answers PINGs
    silent = await raw_irc(server)
    silent.auto_pong = False
    await silent.send("NICK Silent", "USER s 0 * :S", "JOIN #lobby")
    quiet_since = time.monotonic()
    # The watcher keeps answering its own PINGs while it waits.
    left = asyncio.create_task(
        watcher.recv_until("presence", timeout=6, user="Silent", state="left")
    )
    ping = await silent.expect("PING", timeout=3)
    assert ping.params and ping.params[-1].isdigit()
    error = await silent.expect("ERROR", timeout=3)
    waited = time.monotonic() - quiet_since
    assert re.fullmatch(r"Closing Link: \S+ \(Ping timeout: 1 seconds\)", error.params[0]), error
    assert waited <= 1.0 + 1.0, waited
    assert await silent.closed()
    assert (await left)["reason"] == "timeout"
    # The library client answered its PINGs and is still here, well past the timeout.
    assert lively.seen("ping")
    await lively.ping_pong()
    assert not lively.seen("error", "disconnect")


async def test_client_ping_gets_pong(server: Any, raw_irc: Any) -> None:
    c = await raw_irc(server)
    await c.send("PING :before-registration")
    pong = await c.expect("PONG")
    assert pong.prefix == "teahouse.local" and pong.params == [
        "teahouse.local",
        "before-registration",
    ]
    await c.register("Pinger")
    await c.send("PING token123")
    assert (await c.expect("PONG")).params[-1] == "token123"
    await c.send("PING")
    assert (await c.expect("409")).params[0] == "Pinger"


# -- errors ---------------------------------------------------------------------------------------


async def test_error_numerics(server: Any, raw_irc: Any) -> None:
    c = await raw_irc(server)
    await c.send("JOIN #lobby")
    assert (await c.recv()).command == "451"
    await c.send("PRIVMSG #lobby :hi")
    assert (await c.recv()).command == "451"
    await c.register("Errol")
    await c.send("FROBNICATE now")
    unknown = await c.recv()
    assert unknown.command == "421" and unknown.params[:2] == ["Errol", "FROBNICATE"]
    await c.send("JOIN #Bad!Name")
    assert (await c.recv()).command in ("476", "403")
    await c.send("JOIN lobby")
    assert (await c.recv()).command == "403"
    await c.send("PRIVMSG #lobby :not joined")
    assert (await c.recv()).command in ("404", "403", "442")
    await c.send("JOIN")
    assert (await c.recv()).command == "461"
    await c.send("NICK bad!nick")
    assert (await c.recv()).command == "432"
    await c.send("USER again 0 * :x")
    assert (await c.recv()).command == "462"


async def test_line_too_long_is_417_and_the_connection_goes_on(server: Any, raw_irc: Any) -> None:
    c = await raw_irc(server)
    await c.register("Longo")
    exact = "PRIVMSG nobody-here :"
    await c.send(exact + "a" * (510 - len(exact)))  # 512 bytes with CR LF: fine
    assert (await c.recv()).command == "401"
    await c.send(exact + "a" * (511 - len(exact)))  # 513 bytes
    too_long = await c.recv()
    assert too_long.command == "417" and too_long.params[0] == "Longo"
    c.writer.write(b"B" * 200_000)  # no end of line in sight
    await c.writer.drain()
    assert (await c.recv()).command == "417"
    await c.send(b"BBBB\r\nPING :still-here\r\n")
    assert (await c.recv()).params[-1] == "still-here"
    await c.send("@" + "t=" + "v" * 5000 + " PING :tags-too-long")
    assert (await c.recv()).command == "417"
    await c.send("@" + "t=" + "v" * 4000 + " PING :tags-fit")
    assert (await c.recv()).params[-1] == "tags-fit"


# -- flood control --------------------------------------------------------------------------------


async def test_flood_control_delays_lines_but_not_opers(
    make_server: Any, raw: Any, irc_lib: Any
) -> None:
    server = make_server(irc={"flood_penalty": 1.0, "flood_burst": 3.0})
    assert server.admin("user", "add", "Boss", PASSWORD, "--admin").returncode == 0
    nat = await native_user(raw, server, "Nat", "flood")

    async def arrivals(sender: str, count: int, timeout: float) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            frame = await nat.recv_until("message", timeout=deadline - time.monotonic())
            if frame["from"] == sender:
                out.append((time.monotonic(), frame["text"]))
        return out

    boss = await registered(await irc_lib(server, "Boss", password=PASSWORD))
    boss.conn.join("#flood")
    await boss.next("366")
    start = time.monotonic()
    for i in range(20):
        boss.conn.privmsg("#flood", f"boss {i}")
    got = await arrivals("Boss", 20, timeout=5)
    assert [text for _, text in got] == [f"boss {i}" for i in range(20)]
    assert got[-1][0] - start < 2.5  # an oper is exempt (charged, 20 lines would take 17 s)

    flo = await registered(await irc_lib(server, "Flo"))
    flo.conn.join("#flood")
    await flo.next("366")
    start = time.monotonic()
    for i in range(20):
        flo.conn.privmsg("#flood", f"flood {i}")
    got = await arrivals("Flo", 6, timeout=8)
    assert [text for _, text in got] == [f"flood {i}" for i in range(6)]  # in order, no loss
    times = [t - start for t, _ in got]
    burst = sum(1 for t in times if t < 0.5)
    # 3 s of burst at 1 s a line, charged from the first byte: NICK, USER and JOIN spend it,
    # and the first line, the one that goes over, is handled before the pause.
    assert burst == 1, times
    gaps = [b - a for a, b in zip(times[burst - 1 :], times[burst:], strict=False)]
    assert gaps and all(gap >= 0.7 for gap in gaps), times  # then about one line a second
    assert times[-1] >= 2.0  # 6 of 20 after seconds: not all at once


async def test_a_throttled_client_that_answers_pings_is_not_timed_out(
    make_server: Any, raw: Any, raw_irc: Any
) -> None:
    """Its PONG waits behind its own delayed lines; that is the server's delay, not silence."""
    server = make_server(
        heartbeat={"interval": 0.5, "timeout": 1.5}, irc={"flood_penalty": 0.5, "flood_burst": 1.0}
    )
    nat = await native_user(raw, server, "Nat", "paste")
    c = await raw_irc(server)
    await c.register("Paster")
    await c.send("JOIN #paste")
    await c.expect("366")
    await c.send(b"".join(b"PRIVMSG #paste :pasted line %d\r\n" % i for i in range(8)))

    # Meanwhile the IRC side answers PINGs; an ERROR would end this task early.
    error = asyncio.create_task(c.expect("ERROR", timeout=30))
    got = []
    while len(got) < 8:
        frame = await nat.recv_until("message", timeout=8, room="paste")
        got.append(frame["text"])
    assert got == [f"pasted line {i}" for i in range(8)]  # delayed 0.5 s each: about 4 s
    await asyncio.sleep(0.2)
    assert not error.done(), error.result()  # no "Ping timeout" though the backlog outlasted it
    error.cancel()
    await asyncio.gather(error, return_exceptions=True)
    await c.send("PING :alive")
    assert (await c.expect("PONG")).params[-1] == "alive"


# -- channel modes and operators ------------------------------------------------------------------


async def test_channel_modes_and_kick(server: Any, raw: Any, irc_lib: Any) -> None:
    opal = await registered(await irc_lib(server, "Opal"))
    vic = await registered(await irc_lib(server, "Vic"))
    tess = await registered(await irc_lib(server, "Tess"))
    opal.conn.join("#modes")
    assert "@Opal" in (await opal.next("353")).arguments[-1].split()  # first in, operator
    vic.conn.join("#modes")
    await vic.next("366")
    nat = await native_user(raw, server, "Nat", "modes")
    await opal.next("join", where=lambda e: e.source.nick == "Nat")

    vic.conn.mode("#modes", "+m")
    assert (await vic.next("482")).arguments[0] == "#modes"
    vic.conn.kick("#modes", "Opal", "coup")
    await vic.next("482")

    opal.conn.mode("#modes", "+v Vic")
    voiced = await vic.next("mode")
    assert voiced.target == "#modes" and voiced.arguments == ["+v", "Vic"]
    opal.conn.mode("#modes", "+m")
    await vic.next("mode", where=lambda e: e.arguments == ["+m"])
    vic.conn.privmsg("#modes", "voiced, I speak")
    assert (await nat.recv_until("message", room="modes"))["text"] == "voiced, I speak"
    opal.conn.mode("#modes", "-v Vic")
    await vic.next("mode", where=lambda e: e.arguments == ["-v", "Vic"])
    vic.conn.privmsg("#modes", "muffled")
    assert (await vic.next("404")).arguments[0] == "#modes"
    # A guest never runs a room an account holder uses (Nat is one): +o is refused.
    opal.conn.mode("#modes", "-m+o Vic")
    changed = await vic.next("mode", where=lambda e: "m" in e.arguments[0])
    assert changed.arguments == ["-m"]
    refused = await opal.next("696")
    assert refused.arguments[:3] == ["#modes", "o", "Vic"]
    opal.conn.names("#modes")
    assert set((await opal.next("353")).arguments[-1].split()) == {"@Opal", "Vic", "Nat"}

    opal.conn.mode("#modes", "+k sesame")
    await opal.next("mode", where=lambda e: e.arguments == ["+k", "sesame"])
    tess.conn.join("#modes")
    assert (await tess.next("475")).arguments[0] == "#modes"
    tess.conn.join("#modes", "sesame")
    await tess.next("366")
    tess.conn.part("#modes")
    await tess.next("part")
    opal.conn.mode("#modes", "-k sesame")

    opal.conn.mode("#modes", "+l 3")
    await opal.next("mode", where=lambda e: e.arguments == ["+l", "3"])
    tess.conn.join("#modes")
    await tess.next("471")
    opal.conn.mode("#modes", "-l")
    await opal.next("mode", where=lambda e: e.arguments == ["-l"])

    opal.conn.mode("#modes", "+i")
    await opal.next("mode", where=lambda e: e.arguments == ["+i"])
    tess.conn.join("#modes")
    await tess.next("473")
    opal.conn.invite("Tess", "#modes")
    await opal.next("341")
    invite = await tess.next("invite")
    assert invite.source.nick == "Opal" and invite.arguments == ["#modes"]
    tess.conn.join("#modes")
    await tess.next("366")
    tess.conn.part("#modes")
    await tess.next("part")
    opal.conn.mode("#modes", "-i")

    opal.conn.mode("#modes", "+b Tess!*@*")
    await opal.next("mode", where=lambda e: e.arguments == ["+b", "Tess!*@*"])
    tess.conn.join("#modes")
    await tess.next("474")
    opal.conn.mode("#modes", "+b")
    ban = await opal.next("367")
    assert ban.arguments[:2] == ["#modes", "Tess!*@*"]
    await opal.next("368")

    opal.conn.mode("#modes", "")
    modes = await opal.next("324")
    assert modes.arguments[0] == "#modes" and modes.arguments[1].startswith("+")

    opal.conn.kick("#modes", "Vic", "out you go")
    kick = await vic.next("kick")
    assert kick.target == "#modes" and kick.arguments == ["Vic", "out you go"]
    assert kick.source.nick == "Opal"
    await opal.next("kick")
    left = await nat.recv_until("presence", user="Vic")
    assert left["state"] == "left" and left["reason"] == "kicked"
    vic.conn.privmsg("#modes", "still here?")
    assert (await vic.next("404")).arguments[0] == "#modes"


# -- echo-message and labeled-response ------------------------------------------------------------


async def test_echo_message_and_labeled_response(server: Any, raw_irc: Any) -> None:
    caps = ("echo-message", "labeled-response", "message-tags", "batch")
    c = await raw_irc(server)
    await c.register("Echo", caps=caps)
    plain = await raw_irc(server)
    await plain.register("Plain")
    await c.send("JOIN #lobby")
    await c.expect("366")
    await plain.send("JOIN #lobby")
    await plain.expect("366")
    await c.expect("JOIN")

    await c.send("@label=m1 PRIVMSG #lobby :hello")
    echo = await c.recv()
    assert echo.command == "PRIVMSG" and echo.params == ["#lobby", "hello"]
    assert echo.tags["label"] == "m1" and echo.tags["msgid"].isdigit()
    assert echo.prefix is not None and echo.prefix.startswith("Echo!")
    other = await plain.expect("PRIVMSG")
    assert other.tags == {} and other.params == ["#lobby", "hello"]

    await c.send("@label=p1 PONG :123")  # no reply of its own: an ACK
    ack = await c.recv()
    assert ack.command == "ACK" and ack.tags["label"] == "p1" and ack.params == []

    await c.send(r"@label=a\sb\:c PING :x")  # a label with escapes comes back intact
    pong = await c.recv()
    assert pong.command == "PONG" and pong.tags["label"] == "a b;c"

    await c.send("@label=w1 WHOIS Plain")
    start = await c.recv()
    assert start.command == "BATCH" and start.tags["label"] == "w1"
    ref = start.params[0]
    assert ref.startswith("+") and start.params[1] == "labeled-response"
    inner = await c.until("BATCH")
    assert inner[-1].params == ["-" + ref[1:]]
    assert inner[0].command == "311" and inner[-2].command == "318"
    assert all(x.tags.get("batch") == ref[1:] for x in inner[:-1])

    # Without echo-message the sender hears nothing of its own message.
    await plain.send("PRIVMSG #lobby :no echo", "PING :after")
    assert (await plain.recv()).command == "PONG"
    assert (await c.expect("PRIVMSG")).params == ["#lobby", "no echo"]


async def test_labeled_response_with_several_lines_is_one_batch(
    server: Any, raw: Any, raw_irc: Any
) -> None:
    """A line that fits the client's 512 bytes but not the relay's (with its source) is cut
    to one line, as IRC servers do; a CHATHISTORY batch nests in the label's batch."""
    nat = await native_user(raw, server, "Nat", "lobby")
    caps = ("echo-message", "labeled-response", "message-tags", "batch", "draft/chathistory")
    c = await raw_irc(server)
    await c.register("Echo", caps=caps)
    await c.send("JOIN #lobby")
    await c.expect("366")
    text = " ".join(["chai"] * 97)  # fits the client's line, not the echo with its source
    assert len(f"PRIVMSG #lobby :{text}\r\n") <= 512
    await c.send(f"@label=long PRIVMSG #lobby :{text}")
    echo = await c.recv()
    assert echo.command == "PRIVMSG" and echo.tags["label"] == "long"
    kept = echo.params[1]
    assert text.startswith(kept) and len(kept) < len(text)
    assert (await nat.recv_until("message", room="lobby"))["text"] == kept

    await c.send("@label=hist CHATHISTORY LATEST #lobby * 10")
    outer = await c.recv()
    assert outer.command == "BATCH" and outer.tags == {"label": "hist"}
    outer_ref = outer.params[0][1:]
    inner = await c.recv()
    assert inner.command == "BATCH" and inner.params[1:] == ["chathistory", "#lobby"]
    assert inner.tags == {"batch": outer_ref}  # a nested batch opens inside the outer one
    inner_ref = inner.params[0][1:]
    body = await c.until("BATCH")
    assert body[-1].params == [f"-{inner_ref}"] and body[-1].tags == {"batch": outer_ref}
    for line in body[:-1]:
        assert line.raw.count("batch=") == 1, line.raw  # one batch per line, the inner one
        assert line.tags["batch"] == inner_ref
    assert "".join(x.params[1] for x in body[:-1]) == kept
    end = await c.recv()
    assert end.command == "BATCH" and end.params == [f"-{outer_ref}"]


async def test_messages_that_say_quit_or_nick_are_all_delivered(
    server: Any, raw_irc: Any, irc_lib: Any
) -> None:
    """Two identical lines in one round used to look like a duplicate QUIT and lose one."""
    ira = await registered(await irc_lib(server, "Ira"))
    ira.conn.join("#lobby")
    await ira.next("366")
    c = await raw_irc(server)
    await c.register("Sayer")
    await c.send("JOIN #lobby")
    await c.expect("366")
    said = "PRIVMSG #lobby :type QUIT to leave\r\n"
    await c.send((said * 2 + "PRIVMSG #lobby :a NICK is a name\r\n" * 2).encode())
    got = [(await ira.next("pubmsg")).arguments[0] for _ in range(4)]
    assert got == ["type QUIT to leave"] * 2 + ["a NICK is a name"] * 2


async def test_sasl_after_registration_renames_the_guest(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    await native_user(raw, server, "Alice")
    c = await registered(await irc_lib(server, "visitor"))
    await request_caps(c, "sasl")
    c.conn.send_raw("AUTHENTICATE PLAIN")
    assert (await c.next("authenticate")).target == "+"
    payload = base64.b64encode(f"\0Alice\0{PASSWORD}".encode()).decode()
    c.conn.send_raw(f"AUTHENTICATE {payload}")
    await c.next("903")
    renamed = await c.next("nick")
    assert renamed.source.nick == "visitor" and renamed.target == "Alice"
    assert c.nick == "Alice"  # the library follows its own nick change
    c.conn.join("#lobby")
    join = await c.next("join")
    assert join.source.nick == "Alice"
    c.conn.part("#lobby")
    part = await c.next("part")
    assert part.source == join.source  # one hostmask for one user


async def test_statusmsg_reaches_only_operators(server: Any, irc_lib: Any) -> None:
    opal = await registered(await irc_lib(server, "Opal"))
    opal.conn.join("#ops")
    await opal.next("366")
    vic = await registered(await irc_lib(server, "Vic"))
    vic.conn.join("#ops")
    await vic.next("366")
    opal.conn.privmsg("@#ops", "for operators only")
    opal.conn.privmsg("#ops", "for everyone")
    first = await vic.next("pubmsg")
    assert first.arguments == ["for everyone"]


async def test_split_message_pieces_have_distinct_msgids(
    server: Any, raw: Any, irc_lib: Any
) -> None:
    """Clients deduplicate by msgid; a piece's msgid also works as a CHATHISTORY reference."""
    nat = await native_user(raw, server, "Nat", "lobby")
    ira = await registered(await irc_lib(server, "Ira"))
    await request_caps(ira, "message-tags", "draft/chathistory")
    ira.conn.join("#lobby")
    await ira.next("366")
    text = long_text(1500)
    await nat.send(type="say", room="lobby", text=text)
    pieces = []
    while sum(len(p.arguments[0]) for p in pieces) < len(text):
        pieces.append(await ira.next("pubmsg"))
    ids = [tags_of(p)["msgid"] for p in pieces]
    assert len(pieces) >= 3 and len(set(ids)) == len(ids), ids
    await nat.send(type="say", room="lobby", text="after the long one")
    after = await ira.next("pubmsg")
    ira.conn.send_raw(f"CHATHISTORY AFTER #lobby msgid={ids[-1]} 10")
    again = await ira.next("pubmsg")
    assert again.arguments == ["after the long one"]
    assert tags_of(again)["msgid"] == tags_of(after)["msgid"]
