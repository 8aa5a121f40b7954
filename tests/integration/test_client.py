"""teahouse.client against a real server: sessions, rooms, DMs, events, heartbeats, chat CLI.

The resume tests (connections that die and come back) are in test_client_resume.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from teahouse.client import (
    AwayChanged,
    Client,
    ClientClosed,
    ClientEvent,
    Connected,
    Disconnected,
    Error,
    Joined,
    LoginFailed,
    Message,
    Presence,
    Reconnecting,
    ReplayEnd,
    ServerError,
    State,
    TopicChanged,
)
from tests.conftest import next_event

PASSWORD = "correct-horse-1"

MakeClient = Callable[..., Client]


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    """Factory of (unconnected) clients, all closed at the end of the test."""
    clients: list[Client] = []

    def factory(port: int, user: str, password: str = PASSWORD, **kwargs: Any) -> Client:
        client = Client("127.0.0.1", port, user, password, **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


async def drain(client: Client, quiet: float = 0.3) -> list[ClientEvent]:
    """Every event until none arrives for ``quiet`` seconds."""
    got: list[ClientEvent] = []
    events = client.events()
    while True:
        try:
            async with asyncio.timeout(quiet):
                got.append(await anext(events))
        except (TimeoutError, StopAsyncIteration):
            return got


async def test_register_then_login(server: Any, make_client: MakeClient) -> None:
    alice = make_client(server.port, "alice", register=True)
    assert alice.state == "connecting"
    await alice.connect()
    assert alice.state is State.CONNECTED and alice.state == "connected"
    assert alice.user == "alice" and alice.role == "user"
    assert alice.welcome is not None and alice.welcome.proto == 1
    connected = await next_event(alice, Connected)
    assert connected == Connected("alice", "user", alice.welcome.server, reconnect=False)
    dm_replay = await next_event(alice, ReplayEnd)
    assert dm_replay.dm and dm_replay.count == 0
    await alice.close()
    assert alice.state == "closed"
    assert [e for e in await drain(alice) if isinstance(e, Disconnected)] == [
        Disconnected("closed", will_reconnect=False)
    ]
    with pytest.raises(ClientClosed):
        await alice.join("lobby")

    async with Client("127.0.0.1", server.port, "ALICE", PASSWORD) as again:
        assert again.state == "connected" and again.user == "alice"  # the server's spelling


async def test_login_failures_raise_with_the_server_code(
    server: Any, make_client: MakeClient
) -> None:
    await make_client(server.port, "alice", register=True).connect()
    wrong = make_client(server.port, "alice", "wrong-password-1")
    with pytest.raises(LoginFailed) as caught:
        await wrong.connect()
    assert caught.value.code == "bad_credentials" and caught.value.retry_after is None
    assert wrong.state == "closed"
    unknown = make_client(server.port, "nobody")
    with pytest.raises(LoginFailed) as caught:
        await unknown.connect()
    assert caught.value.code == "bad_credentials"
    taken = make_client(server.port, "alice", register=True)
    with pytest.raises(LoginFailed) as caught:
        await taken.connect()
    assert caught.value.code == "user_taken"
    # The throttle: after the free attempts, the server says how long to wait.
    codes = []
    for _ in range(4):
        with pytest.raises(LoginFailed) as caught:
            await make_client(server.port, "alice", "wrong-password-1").connect()
        codes.append(caught.value)
    throttled = [e for e in codes if e.code == "throttled"]
    assert throttled and all(e.retry_after and e.retry_after > 0 for e in throttled)


async def test_two_clients_chat_in_a_room(server: Any, make_client: MakeClient) -> None:
    alice = make_client(server.port, "alice", register=True, rooms=["lobby"])
    bob = make_client(server.port, "bob", register=True)
    await alice.connect()
    assert (await next_event(alice, Joined, room="lobby")).members == ["alice"]
    await bob.connect()
    joined = await bob.join("lobby")
    assert joined.room == "lobby" and joined.members == ["alice", "bob"]
    assert (await next_event(alice, Presence)) == Presence("lobby", "bob", "joined")
    assert bob.rooms_joined == frozenset({"lobby"})

    sent = await bob.say("lobby", "hi alice")
    assert sent.sender == "bob" and sent.room == "lobby" and sent.text == "hi alice"
    got = await next_event(alice, Message)
    assert (got.id, got.sender, got.text, got.replay) == (sent.id, "bob", "hi alice", False)
    assert got.ref is None

    reply = await alice.say("lobby", "hi bob")
    assert (await next_event(bob, Message, text="hi bob")).id == reply.id > sent.id
    assert alice.last_id("lobby") == reply.id

    topic = await alice.topic("lobby", "green tea")
    assert topic == TopicChanged("lobby", "green tea", "alice", ref=topic.ref)
    assert (await next_event(bob, TopicChanged)).text == "green tea"
    listing = await bob.rooms()
    assert [(r.room, r.members, r.topic) for r in listing.rooms] == [("lobby", 2, "green tea")]
    assert (await bob.who("lobby")).members == ["alice", "bob"]
    page = await bob.history("lobby", limit=10)
    assert [m.text for m in page.messages] == ["hi alice", "hi bob"]
    older = await bob.history("lobby", before=reply.id)
    assert [m.id for m in older.messages] == [sent.id]

    with pytest.raises(ServerError) as caught:
        await bob.say("kitchen", "nobody here")
    assert caught.value.code == "no_such_room" and not caught.value.fatal
    with pytest.raises(ServerError) as caught:
        await bob.join("Not A Room")
    assert caught.value.code == "invalid_name"

    parted = await bob.part("lobby")
    assert parted.room == "lobby" and bob.rooms_joined == frozenset()
    left = await next_event(alice, Presence, state="left")
    assert (left.user, left.reason) == ("bob", "part")
    await bob.quit("bye now")
    assert bob.state == "closed"


async def test_dm_to_an_offline_user_arrives_when_they_log_in(
    server: Any, make_client: MakeClient
) -> None:
    bob = make_client(server.port, "bob", register=True)
    await bob.connect()
    await bob.close()
    alice = make_client(server.port, "alice", register=True)
    await alice.connect()
    first = await alice.dm("bob", "psst, bob")
    second = await alice.dm("BOB", "are you there?")
    assert first.dm and first.to == "bob" and second.id > first.id
    with pytest.raises(ServerError) as caught:
        await alice.dm("nobody", "hello?")
    assert caught.value.code == "no_such_user"

    bob = make_client(server.port, "bob")
    await bob.connect()
    got = [await next_event(bob, Message), await next_event(bob, Message)]
    assert [(m.text, m.sender, m.dm, m.replay) for m in got] == [
        ("psst, bob", "alice", True, True),
        ("are you there?", "alice", True, True),
    ]
    end = await next_event(bob, ReplayEnd)
    assert end.dm and end.count == 2 and not end.truncated
    assert bob.last_id(None) == second.id

    answer = await bob.dm("alice", "here!")
    live = await next_event(alice, Message)
    assert (live.id, live.text, live.replay) == (answer.id, "here!", False)


async def test_events_iterator_yields_everything_not_consumed_by_a_request(
    server: Any, make_client: MakeClient
) -> None:
    alice = make_client(server.port, "alice", register=True)
    bob = make_client(server.port, "bob", register=True, rooms=["tea"])
    await bob.connect()
    await next_event(bob, ReplayEnd, room="tea")  # bob opened the room: he runs it
    await alice.connect()
    await alice.join("tea")  # a direct reply; the replay after it is events
    await next_event(alice, ReplayEnd, room="tea")
    said = await bob.say("tea", "one")
    await bob.topic("tea", "oolong")
    await alice.say("tea", "two")  # a direct reply: alice's own events do not repeat it
    await bob.quit()

    seen: list[ClientEvent] = []
    async with asyncio.timeout(5):
        async for event in alice.events():
            seen.append(event)
            if isinstance(event, Presence) and event.state == "left":
                break
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["Message", "TopicChanged", "Presence"]
    assert isinstance(seen[0], Message) and seen[0].id == said.id
    assert isinstance(seen[2], Presence) and seen[2].reason == "quit"

    await alice.close()
    rest = [e async for e in alice.events()]  # the stream ends once the client is closed
    assert rest == [Disconnected("closed", will_reconnect=False)]


async def test_heartbeat_answers_server_pings_and_measures_rtt(
    make_server: Any, make_client: MakeClient
) -> None:
    server = make_server(heartbeat={"interval": 0.3, "timeout": 1.0})
    # The client's own pings are slow here, so it is the server that pings: a client that
    # did not answer would be dropped after 1 s.
    alice = make_client(
        server.port, "alice", register=True, heartbeat_interval=5.0, heartbeat_timeout=10.0
    )
    await alice.connect()
    async with asyncio.timeout(2):
        while alice.rtt is None:  # the first ping goes out right after authed
            await asyncio.sleep(0.01)
    assert 0 < alice.rtt < 1.0
    await asyncio.sleep(2.0)
    assert alice.state == "connected"
    assert not [e for e in await drain(alice, 0.05) if isinstance(e, Disconnected | Error)]

    # With the server's values, the client pings a silent server itself.
    bob = make_client(server.port, "bob", register=True)
    await bob.connect()
    await asyncio.sleep(1.5)
    assert bob.state == "connected" and bob.rtt is not None


async def test_kicked_client_reconnects_and_rejoins(
    make_server: Any, make_client: MakeClient
) -> None:
    server = make_server()
    alice = make_client(server.port, "alice", register=True, rooms=["lobby"], backoff_max=0.5)
    await alice.connect()
    await next_event(alice, ReplayEnd, room="lobby")
    answer = await asyncio.to_thread(server.admin, "kick", "alice", "cool", "off")
    assert answer.returncode == 0, answer.stderr
    error = await next_event(alice, Error)
    assert error.code == "kicked" and error.fatal
    assert await next_event(alice, Disconnected) == Disconnected("kicked", will_reconnect=True)
    assert (await next_event(alice, Reconnecting)).attempt == 1
    assert (await next_event(alice, Connected)).reconnect
    assert (await next_event(alice, Joined)).room == "lobby"
    assert alice.state == "connected"
    assert (await alice.say("lobby", "back")).text == "back"


async def test_chat_command_in_pipe_mode(server: Any, raw: Any) -> None:
    bob = await raw(server.port)
    assert (await bob.login("bob", PASSWORD, register=True))["type"] == "authed"
    await bob.send(type="join", room="lobby")
    await bob.recv_until("replay_end", room="lobby")

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teahouse",
        "chat",
        f"127.0.0.1:{server.port}",
        "--user",
        "carol",
        "--register",
        "--password-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    script = f"{PASSWORD}\n/join lobby\nhello\n/msg bob psst\n/who\n/quit\n"
    try:
        async with asyncio.timeout(30):
            out, err = await proc.communicate(script.encode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    said = await bob.recv_until("message", room="lobby")
    assert (said["from"], said["text"]) == ("carol", "hello")
    dm = await bob.recv_until("message", dm=True)
    assert (dm["from"], dm["text"]) == ("carol", "psst")
    lines = out.decode().splitlines()
    assert "-- connected as carol (teahouse/0.1.0)" in lines[0]
    assert any(line.endswith("#lobby <carol> hello") and line.startswith("[") for line in lines)
    assert any(line.endswith("-> *bob* psst") for line in lines)
    assert "-- #lobby: bob, carol" in lines
    left = await bob.recv_until("presence", state="left")
    assert left["user"] == "carol" and left["reason"] == "quit"


async def test_chat_command_fails_with_status_1_on_bad_password(server: Any) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "teahouse",
        "chat",
        f"127.0.0.1:{server.port}",
        "--user",
        "nobody",
        "--password-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate(f"{PASSWORD}\nhello\n".encode())
    assert proc.returncode == 1
    assert "bad_credentials" in err.decode()


async def test_dm_history_pages_through_direct_messages(server: Any) -> None:
    from teahouse.client import Client

    async with (
        Client("127.0.0.1", server.port, "histalice", PASSWORD, register=True) as alice,
        Client("127.0.0.1", server.port, "histbob", PASSWORD, register=True),
    ):
        sent = [(await alice.dm("histbob", f"d{i}")).id for i in range(4)]
        page = await alice.dm_history(before=sent[3], limit=2)
        assert page.dm is True and [m.id for m in page.messages] == sent[1:3]


async def test_history_pages_go_on_while_the_server_says_more(
    make_server: Any, make_client: MakeClient
) -> None:
    """A history frame carries at most 512 KiB of messages: 50 long ones do not fit, so a
    page holds fewer than asked, with ``more``; only a page without it is the beginning."""
    server = make_server(limits={"max_text": 12000, "frames_per_second": 0, "bytes_per_second": 0})
    alice = make_client(server.port, "alice", register=True, rooms=["long"])
    await alice.connect()
    await next_event(alice, ReplayEnd, room="long")
    sent = [(await alice.say("long", f"{n:03d} " + "x" * 11000)).id for n in range(70)]
    first = await alice.history("long", limit=50)
    assert first.more and 0 < len(first.messages) < 50  # cut short: not the beginning
    assert [m.id for m in first.messages] == sent[-len(first.messages) :]
    got: list[int] = []
    pages = 0
    async for page in alice.history_pages("long", limit=50):
        got[:0] = [m.id for m in page.messages]
        pages += 1
    assert got == sent and pages >= 2 and not page.more
    forward = [m.id async for p in alice.history_pages("long", since=sent[9]) for m in p.messages]
    assert forward == sent[10:]


async def test_kick_invite_whois_away_and_a_keyed_room_survive_a_reconnect(
    make_server: Any, make_client: MakeClient
) -> None:
    server = make_server()
    alice = make_client(
        server.port, "alice", register=True, rooms=["den"], backoff_initial=0.05, backoff_max=0.3
    )
    bob = make_client(server.port, "bob", register=True, backoff_initial=0.05, backoff_max=0.3)
    await alice.connect()
    await bob.connect()
    await next_event(alice, ReplayEnd, room="den")
    changed = await alice.mode("den", "+k", ["sesame"])
    assert (changed.changes, changed.args, changed.by) == ("+k", ["sesame"], "alice")
    assert (await alice.mode("den")).params == ["sesame"]
    invited = await alice.invite("den", "bob")
    assert (invited.room, invited.user, invited.by) == ("den", "bob", "alice")
    assert (await next_event(bob, type(invited))).by == "alice"
    with pytest.raises(ServerError) as keyless:
        await bob.join("den")
    assert keyless.value.code == "forbidden"
    joined = await bob.join("den", "sesame")
    assert joined.ops == ["alice"] and "k" in (joined.modes or "")
    away = await bob.away("gone fishing")
    assert away.text == "gone fishing" and bob.away_text == "gone fishing"
    info = await alice.whois("bob")
    assert (info.rooms, info.away, info.door) == (["den"], "gone fishing", "native")
    with pytest.raises(ServerError) as nobody:
        await alice.whois("nobody")
    assert nobody.value.code == "no_such_user"
    room = await alice.room("den", "register")
    assert room.registered and room.owner == "alice"

    # bob's link dies: he comes back into the keyed room, and away again.
    answer = await asyncio.to_thread(server.admin, "kick", "bob")
    assert answer.returncode == 0, answer.stderr
    assert (await next_event(bob, Connected)).reconnect
    assert (await next_event(bob, Joined)).room == "den"
    again = await next_event(alice, AwayChanged, user="bob")
    assert again.text == "gone fishing"
    assert (await alice.whois("bob")).away == "gone fishing"

    kicked = await alice.kick("den", "bob", "enough")
    assert (kicked.state, kicked.reason, kicked.by, kicked.text) == (
        "left",
        "kicked",
        "alice",
        "enough",
    )
    seen = await next_event(bob, Presence, user="bob", state="left")
    assert seen.by == "alice" and "den" not in bob.rooms_joined
    with pytest.raises(ServerError) as not_op:
        await bob.kick("den", "alice")
    assert not_op.value.code in ("forbidden", "not_in_room")
