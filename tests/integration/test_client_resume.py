"""teahouse.client when connections die: reconnect, resume with ``since``, nonces, no loss.

Two ways to kill a connection, both against a real server:

- pause the server process (SIGSTOP) for longer than the client's heartbeat timeout;
- a TCP relay (:class:`Relay`) between the client and the server that the test turns into a
  black hole (nothing passes either way, not even FIN: a dead route) or a one-way link
  (requests pass, replies are lost), and that refuses new connections until healed. This
  makes the order of events deterministic: the missed messages are sent while the server
  has already dropped the client, so they can only come back through the replay.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from teahouse.client import (
    Client,
    ClientClosed,
    ClientEvent,
    Connected,
    Disconnected,
    Joined,
    Message,
    Presence,
    Reconnecting,
    ReplayEnd,
)
from tests.conftest import next_event

PASSWORD = "correct-horse-1"
FAST = {"interval": 0.3, "timeout": 1.0}
"""Server heartbeat for these tests; the clients take the same values from ``welcome``."""

MakeClient = Callable[..., Client]


class _Link:
    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.writers = (client, server)
        self.to_server = True
        self.to_client = True


class Relay:
    """A TCP relay to the server that the test can break like a network (see module doc)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.refuse = False
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def blackhole(self) -> None:
        """Current links pass nothing either way; new connections are refused."""
        self.refuse = True
        for link in self._links:
            link.to_server = link.to_client = False

    def drop_replies(self) -> None:
        """Current links still carry requests but lose every byte back; refuse new ones."""
        self.refuse = True
        for link in self._links:
            link.to_client = False

    def heal(self) -> None:
        """Accept and relay new connections again (broken links stay broken)."""
        self.refuse = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        link = _Link(writer, up_writer)
        self._links.append(link)
        for task in (
            asyncio.create_task(self._pump(reader, up_writer, link, "to_server")),
            asyncio.create_task(self._pump(up_reader, writer, link, "to_client")),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(
        src: asyncio.StreamReader, dst: asyncio.StreamWriter, link: _Link, direction: str
    ) -> None:
        try:
            while data := await src.read(65536):
                if getattr(link, direction):
                    dst.write(data)
        except ConnectionError:
            pass
        # A dead route carries no FIN either: only a working link passes the close on.
        if getattr(link, direction):
            dst.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links:
            for writer in link.writers:
                writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


@pytest.fixture
async def relay() -> AsyncIterator[Callable[[int], Any]]:
    relays: list[Relay] = []

    async def start(port: int) -> Relay:
        r = await Relay(port).start()
        relays.append(r)
        return r

    yield start
    for r in relays:
        await r.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    def factory(port: int, user: str, **kwargs: Any) -> Client:
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.2)
        client = Client("127.0.0.1", port, user, PASSWORD, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


async def collect(
    client: Client,
    done: Callable[[list[ClientEvent]], bool],
    timeout: float = 10.0,
    quiet: float = 0.5,
) -> list[ClientEvent]:
    """Events until ``done(events)``, then until none arrives for ``quiet`` seconds (so a
    duplicate after the last expected event would be caught)."""
    got: list[ClientEvent] = []
    events = client.events()
    async with asyncio.timeout(timeout):
        while not done(got):
            got.append(await anext(events))
    while True:
        try:
            async with asyncio.timeout(quiet):
                got.append(await anext(events))
        except (TimeoutError, StopAsyncIteration):
            return got


def messages(events: list[ClientEvent]) -> list[Message]:
    return [e for e in events if isinstance(e, Message)]


async def in_lobby(*clients: Client) -> None:
    for client in clients:
        await client.connect()
        await next_event(client, ReplayEnd, room="lobby")


async def test_resume_without_loss_after_the_server_stalls(
    make_server: Any, make_client: MakeClient
) -> None:
    server = make_server(heartbeat=FAST)
    alice = make_client(server.port, "alice", register=True, rooms=["lobby"])
    bob = make_client(server.port, "bob", register=True, rooms=["lobby"])
    await in_lobby(alice, bob)
    before = await bob.say("lobby", "before")
    assert (await next_event(alice, Message)).id == before.id

    async def say_all(texts: list[str]) -> list[Message]:
        return [await bob.say("lobby", text) for text in texts]

    texts = [f"missed {i}" for i in range(5)]
    server.proc.send_signal(signal.SIGSTOP)
    try:
        says = asyncio.create_task(say_all(texts))  # queued while the server sleeps
        lost = await next_event(alice, Disconnected, timeout=5)
        assert lost == Disconnected("heartbeat_timeout", will_reconnect=True)
        assert alice.state == "reconnecting"
        await asyncio.sleep(0.5)
    finally:
        server.proc.send_signal(signal.SIGCONT)
    async with asyncio.timeout(20):
        sent = await says
    assert [m.text for m in sent] == texts

    got = await collect(alice, lambda evs: len(messages(evs)) >= len(texts))
    assert [(m.id, m.text) for m in messages(got)] == [(m.id, m.text) for m in sent]
    assert any(isinstance(e, Connected) and e.reconnect for e in got)
    assert alice.state == "connected" and alice.last_id("lobby") == sent[-1].id
    # Bob's retried says were stored once each, whatever his connection went through.
    page = await alice.history("lobby")
    assert [m.text for m in page.messages] == ["before", *texts]


async def test_missed_room_messages_and_dms_come_back_exactly_once(
    make_server: Any, make_client: MakeClient, relay: Any
) -> None:
    server = make_server(heartbeat=FAST)
    link = await relay(server.port)
    alice = make_client(link.port, "alice", register=True, rooms=["lobby"])
    bob = make_client(server.port, "bob", register=True, rooms=["lobby"])
    await in_lobby(alice, bob)
    before = await bob.say("lobby", "before")
    assert (await next_event(alice, Message)).id == before.id
    dm_before = await bob.dm("alice", "dm before")
    assert (await next_event(alice, Message, dm=True)).id == dm_before.id

    link.blackhole()
    assert await next_event(alice, Disconnected) == Disconnected("heartbeat_timeout", True)
    # The server noticed too: alice is out of the room, so what follows can only come
    # back to her through the replay.
    left = await next_event(bob, Presence, user="alice", state="left")
    assert left.reason == "timeout"
    missed = [await bob.say("lobby", f"missed {i}") for i in range(5)]
    dm_missed = await bob.dm("alice", "dm while away")
    # A request made while reconnecting waits for the new session.
    away = asyncio.create_task(alice.say("lobby", "said while away"))
    await asyncio.sleep(0.3)
    assert alice.state == "reconnecting" and not away.done()
    link.heal()

    reply = await asyncio.wait_for(away, 10)
    got = await collect(alice, lambda evs: len(messages(evs)) >= 6)
    assert [(m.id, m.text, m.replay) for m in messages(got)] == [
        (dm_missed.id, "dm while away", True),
        *((m.id, m.text, True) for m in missed),
    ]
    assert reply.text == "said while away" and reply.id > missed[-1].id
    kinds = [type(e) for e in got]
    assert kinds.index(Reconnecting) < kinds.index(Connected) < kinds.index(Joined)
    ends = [e for e in got if isinstance(e, ReplayEnd)]
    assert [(e.room, e.dm, e.count, e.truncated) for e in ends] == [
        (None, True, 1, False),
        ("lobby", False, 5, False),
    ]
    assert (await next_event(bob, Message, text="said while away")).id == reply.id


async def test_a_say_whose_reply_was_lost_is_stored_once(
    make_server: Any, make_client: MakeClient, relay: Any
) -> None:
    server = make_server(heartbeat=FAST)
    link = await relay(server.port)
    alice = make_client(link.port, "alice", register=True, rooms=["lobby"])
    bob = make_client(server.port, "bob", register=True, rooms=["lobby"])
    await in_lobby(alice, bob)

    link.drop_replies()  # the say reaches the server; its reply never comes back
    saying = asyncio.create_task(alice.say("lobby", "exactly once"))
    stored = await next_event(bob, Message, text="exactly once")
    assert await next_event(alice, Disconnected) == Disconnected("heartbeat_timeout", True)
    assert not saying.done()
    link.heal()

    reply = await asyncio.wait_for(saying, 10)  # sent again with the same nonce
    assert (reply.id, reply.text) == (stored.id, "exactly once")
    page = await bob.history("lobby")
    assert [m.text for m in page.messages] == ["exactly once"]
    again = await collect(bob, lambda evs: True)
    assert not [m for m in messages(again) if m.text == "exactly once"]
    # Alice missed her own message's broadcast too: the rejoin replay brings it, once.
    mine = messages(await collect(alice, lambda evs: True))
    assert [(m.id, m.replay) for m in mine] == [(stored.id, True)]


async def test_a_replay_cut_by_max_replay_says_where_the_gap_is(
    make_server: Any, make_client: MakeClient, relay: Any
) -> None:
    server = make_server(heartbeat=FAST, limits={"max_replay": 3})
    link = await relay(server.port)
    alice = make_client(link.port, "alice", register=True, rooms=["lobby"])
    bob = make_client(server.port, "bob", register=True, rooms=["lobby"])
    await in_lobby(alice, bob)
    await bob.say("lobby", "seen")
    await next_event(alice, Message)

    link.blackhole()
    await next_event(alice, Disconnected)
    await next_event(bob, Presence, user="alice", state="left")
    missed = [await bob.say("lobby", f"missed {i}") for i in range(5)]
    link.heal()

    def lobby_end(evs: list[ClientEvent]) -> list[ReplayEnd]:
        return [e for e in evs if isinstance(e, ReplayEnd) and e.room == "lobby"]

    got = await collect(alice, lambda evs: bool(lobby_end(evs)))
    assert [m.text for m in messages(got)] == ["missed 2", "missed 3", "missed 4"]
    [end] = lobby_end(got)
    assert end.truncated and end.oldest_id == missed[2].id and end.count == 3
    page = await alice.history("lobby", before=end.oldest_id, limit=3)
    assert [m.text for m in page.messages] == ["seen", "missed 0", "missed 1"]


async def test_close_while_reconnecting_fails_waiting_requests(
    make_server: Any, make_client: MakeClient, relay: Any
) -> None:
    server = make_server(heartbeat=FAST)
    link = await relay(server.port)
    alice = make_client(link.port, "alice", register=True, rooms=["lobby"])
    await in_lobby(alice)
    link.blackhole()
    await next_event(alice, Disconnected)
    waiting = asyncio.create_task(alice.say("lobby", "never"))
    await asyncio.sleep(0.1)
    await alice.close()
    with pytest.raises(ClientClosed):
        await waiting
    assert alice.state == "closed"
    rest = [e async for e in alice.events()]
    assert rest[-1] == Disconnected("closed", will_reconnect=False)


async def test_a_ban_ends_the_client_for_good(make_server: Any, make_client: MakeClient) -> None:
    server = make_server(heartbeat=FAST)
    alice = make_client(server.port, "alice", register=True, rooms=["lobby"])
    await in_lobby(alice)
    answer = await asyncio.to_thread(server.admin, "ban", "alice", "10m", "spam")
    assert answer.returncode == 0, answer.stderr
    assert await next_event(alice, Disconnected) == Disconnected("banned", will_reconnect=False)
    assert alice.state == "closed"
    assert [e async for e in alice.events()] == []
    with pytest.raises(ClientClosed):
        await alice.say("lobby", "let me back")
