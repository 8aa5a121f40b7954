"""A real server in a subprocess, spoken to with raw JSON lines: the contract end to end."""

from __future__ import annotations

import asyncio
from typing import Any

PASSWORD = "correct-horse-1"


async def test_full_session_from_hello_to_bye(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send(type="hello", proto=1, client="tests", ref="h")
    welcome = await c.recv()
    assert welcome["type"] == "welcome" and welcome["proto"] == 1 and welcome["ref"] == "h"
    assert welcome["heartbeat"] == {"interval": 20, "timeout": 60}
    assert welcome["limits"]["max_frame"] == 65536
    assert welcome["limits"]["max_frame_preauth"] == 4096
    assert welcome["name"] == "teahouse"
    assert welcome["registration"] == "open"
    await c.send(type="register", user="Alice", password=PASSWORD, ref=1)
    assert await c.recv() == {"type": "authed", "user": "Alice", "role": "user", "ref": 1}
    assert (await c.recv())["type"] == "replay_end"
    await c.send(type="join", room="lobby", ref=2)
    joined = await c.recv()
    assert joined == {
        "type": "joined",
        "room": "lobby",
        "topic": "",
        "members": ["Alice"],
        "modes": "+n",
        "ops": ["Alice"],
        "ref": 2,
    }
    assert (await c.recv()) == {
        "type": "replay_end",
        "room": "lobby",
        "count": 0,
        "truncated": False,
    }
    await c.send(type="say", room="lobby", text="hello\tworld", ref=3)
    msg = await c.recv()
    assert msg["type"] == "message" and msg["from"] == "Alice" and msg["ref"] == 3
    assert msg["text"] == "hello\tworld" and msg["room"] == "lobby" and isinstance(msg["id"], int)
    assert msg["ts"].endswith("Z") and "T" in msg["ts"]
    await c.send(type="topic", room="lobby", text="green tea", ref=4)
    assert await c.recv() == {
        "type": "topic",
        "room": "lobby",
        "text": "green tea",
        "by": "Alice",
        "ref": 4,
    }
    await c.send(type="rooms", ref=5)
    assert await c.recv() == {
        "type": "room_list",
        "rooms": [{"room": "lobby", "members": 1, "topic": "green tea"}],
        "ref": 5,
    }
    await c.send(type="who", room="lobby", ref=6)
    assert await c.recv() == {"type": "members", "room": "lobby", "members": ["Alice"], "ref": 6}
    await c.send(type="history", room="lobby", before=msg["id"] + 1, limit=10, ref=7)
    history = await c.recv()
    assert [m["id"] for m in history["messages"]] == [msg["id"]] and history["ref"] == 7
    await c.send(type="ping", t=42, ref=8)
    assert await c.recv() == {"type": "pong", "t": 42, "ref": 8}
    await c.send(type="part", room="lobby", ref=9)
    assert await c.recv() == {"type": "parted", "room": "lobby", "ref": 9}
    await c.send(type="quit", reason="bye", ref=10)
    assert await c.recv() == {"type": "bye", "ref": 10}
    assert await c.closed()


async def test_requests_before_login_get_not_authed(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send(type="join", room="lobby", ref="j")
    err = await c.recv()
    assert err["code"] == "not_authed" and err["ref"] == "j" and err["fatal"] is False


async def test_two_users_see_each_other_and_presence(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    b = await raw(server.port)
    assert (await a.login("alice", PASSWORD, register=True))["type"] == "authed"
    assert (await b.login("bob", PASSWORD, register=True))["type"] == "authed"
    await a.send(type="join", room="tea")
    await a.recv_until("replay_end", room="tea")
    await b.send(type="join", room="tea")
    joined = await b.recv_until("joined")
    assert joined["members"] == ["alice", "bob"]
    presence = await a.recv_until("presence")
    assert presence == {"type": "presence", "room": "tea", "user": "bob", "state": "joined"}
    await b.send(type="say", room="tea", text="hi alice")
    got = await a.recv_until("message")
    assert got["from"] == "bob" and got["text"] == "hi alice" and "ref" not in got
    await a.send(type="say", room="tea", text="hi bob")
    assert (await b.recv_until("message", text="hi bob"))["from"] == "alice"
    await b.send(type="quit")
    left = await a.recv_until("presence", state="left")
    assert left["user"] == "bob" and left["reason"] == "quit"


async def test_dm_to_offline_user_is_delivered_at_login_once(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    b = await raw(server.port)
    await b.login("bob", PASSWORD, register=True)
    await b.send(type="quit")
    await b.closed()
    await a.send(type="dm", to="BOB", text="while you were out", ref="d")
    sent = await a.recv_until("message")
    assert sent["dm"] is True and sent["to"] == "bob" and sent["ref"] == "d"

    b2 = await raw(server.port)
    await b2.login("bob", PASSWORD)
    replay = await b2.recv()
    assert replay["type"] == "message" and replay["replay"] is True
    assert replay["text"] == "while you were out" and replay["id"] == sent["id"]
    end = await b2.recv()
    assert end == {
        "type": "replay_end",
        "dm": True,
        "count": 1,
        "truncated": False,
        "oldest_id": sent["id"],
        "last_id": sent["id"],
    }
    await b2.send(type="quit")
    await b2.closed()
    # Delivered once: a later login without dm_since gets nothing again...
    b3 = await raw(server.port)
    await b3.login("bob", PASSWORD)
    assert (await b3.recv())["count"] == 0
    # ...but dm_since asks for everything after an id, sent ones included.
    await b3.send(type="quit")
    b4 = await raw(server.port)
    await b4.login("bob", PASSWORD, dm_since=0)
    assert (await b4.recv())["id"] == sent["id"]


async def test_dm_to_unknown_user_is_no_such_user(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    await a.send(type="dm", to="nobody", text="hi", ref=1)
    err = await a.recv_until("error")
    assert err["code"] == "no_such_user" and err["ref"] == 1


async def test_resume_with_since_has_no_gap_and_no_duplicate(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    b = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    await b.login("bob", PASSWORD, register=True)
    for c in (a, b):
        await c.send(type="join", room="lobby")
        await c.recv_until("replay_end", room="lobby")
    for i in range(3):
        await b.send(type="say", room="lobby", text=f"before {i}")
    last_seen = 0
    for _ in range(3):
        last_seen = (await a.recv_until("message"))["id"]
    a.writer.transport.abort()  # a network failure, not a polite quit
    await b.recv_until("presence", state="left")
    sent_ids = []
    for i in range(5):
        await b.send(type="say", room="lobby", text=f"missed {i}", ref=i)
        sent_ids.append((await b.recv_until("message", ref=i))["id"])

    a2 = await raw(server.port)
    await a2.login("alice", PASSWORD)
    await a2.send(type="join", room="lobby", since=last_seen)
    await a2.recv_until("joined")
    replayed = []
    while True:
        frame = await a2.recv()
        if frame["type"] == "replay_end":
            break
        assert frame["type"] == "message" and frame["replay"] is True
        replayed.append(frame["id"])
    assert replayed == sent_ids
    assert frame["count"] == 5 and frame["truncated"] is False
    # Live traffic continues after the replay.
    await b.send(type="say", room="lobby", text="live")
    live = await a2.recv_until("message")
    assert live["text"] == "live" and live["id"] > sent_ids[-1] and "replay" not in live


async def test_replay_is_capped_and_says_so(make_server: Any, raw: Any) -> None:
    server = make_server(limits={"max_replay": 5})
    a = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    await a.send(type="join", room="lobby")
    await a.recv_until("replay_end")
    ids = []
    for i in range(8):
        await a.send(type="say", room="lobby", text=f"m{i}", ref=i)
        ids.append((await a.recv_until("message", ref=i))["id"])
    await a.send(type="join", room="lobby", since=0)
    await a.recv_until("joined")
    got = [(await a.recv())["id"] for _ in range(5)]
    end = await a.recv()
    assert got == ids[-5:]
    assert end == {
        "type": "replay_end",
        "room": "lobby",
        "count": 5,
        "truncated": True,
        "oldest_id": ids[3],
    }
    await a.send(type="history", room="lobby", before=ids[3], limit=5, ref="h")
    page = await a.recv_until("history")
    assert [m["id"] for m in page["messages"]] == ids[:3]


async def test_nonce_retry_is_stored_and_delivered_once(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    b = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    await b.login("bob", PASSWORD, register=True)
    for c in (a, b):
        await c.send(type="join", room="lobby")
        await c.recv_until("replay_end", room="lobby")
    await a.send(type="say", room="lobby", text="once", nonce="n-1", ref=1)
    first = await a.recv_until("message", ref=1)
    await a.send(type="say", room="lobby", text="once", nonce="n-1", ref=2)
    again = await a.recv_until("message", ref=2)
    assert again["id"] == first["id"]
    await a.send(type="say", room="lobby", text="marker", ref=3)
    await a.recv_until("message", ref=3)
    seen = []
    while True:
        frame = await b.recv_until("message")
        seen.append(frame["text"])
        if frame["text"] == "marker":
            break
    assert seen == ["once", "marker"]


async def test_bad_frames_get_errors_then_a_fatal_one(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send_raw(b"{not json\n")
    assert (await c.recv())["code"] == "bad_frame"
    await c.send(type="no_such_thing", ref="u")
    err = await c.recv()
    assert err["code"] == "unknown_type" and err["ref"] == "u" and err["fatal"] is False
    await c.send(type="login", user=5, password="x", ref=9)
    err = await c.recv()
    assert err["code"] == "invalid_field" and err["ref"] == 9
    await c.send_raw(b"[1,2]\n")
    assert (await c.recv())["code"] == "bad_frame"
    await c.send_raw(b'{"type": 7}\n')
    assert (await c.recv())["code"] == "bad_frame"
    await c.send_raw(b"nope\n")
    fifth = await c.recv()
    assert fifth["code"] == "bad_frame" and fifth["fatal"] is False
    await c.send_raw(b"still nope\n")
    fatal = await c.recv()
    assert fatal["code"] == "bad_frame" and fatal["fatal"] is True
    assert await c.closed()


async def test_unknown_types_stay_non_fatal(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    for i in range(12):
        await c.send(type=f"future_thing_{i}", ref=i)
        err = await c.recv()
        assert err["code"] == "unknown_type" and err["fatal"] is False and err["ref"] == i
    await c.send(type="ping", t=1)
    assert (await c.recv())["type"] == "pong"


async def test_dm_history_pages_back_through_direct_messages(server: Any, raw: Any) -> None:
    a = await raw(server.port)
    await a.login("alice", PASSWORD, register=True)
    b = await raw(server.port)
    await b.login("bob", PASSWORD, register=True)
    ids = []
    for i in range(5):
        await a.send(type="dm", to="bob", text=f"d{i}", ref=i)
        ids.append((await a.recv_until("message", ref=i))["id"])
    await b.send(type="history", dm=True, before=ids[3], limit=2, ref="h")
    page = await b.recv_until("history")
    assert page["dm"] is True and [m["id"] for m in page["messages"]] == ids[1:3]
    await b.send(type="history", dm=True, since=ids[3], ref="s")
    page = await b.recv_until("history")
    assert [m["id"] for m in page["messages"]] == ids[4:]
    await b.send(type="history", ref="none")
    assert (await b.recv_until("error"))["code"] == "invalid_field"


async def test_oversized_line_is_fatal_frame_too_large(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send_raw(b"x" * 5000)  # over max_frame_preauth, and no newline yet
    err = await c.recv()
    assert err["code"] == "frame_too_large" and err["fatal"] is True
    assert await c.closed()


async def test_after_login_the_frame_limit_is_max_frame(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.login("alice", PASSWORD, register=True)
    await c.send(type="join", room="lobby")
    await c.recv_until("replay_end", room="lobby")
    await c.send(type="say", room="lobby", text="y" * 4096, ref=1)
    assert (await c.recv_until("message", ref=1))["text"] == "y" * 4096
    await c.send(type="say", room="lobby", text="y" * 4097, ref=2)
    assert (await c.recv_until("error"))["code"] == "invalid_field"
    await c.send_raw(b'{"type":"say","room":"lobby","text":"' + b"z" * 70000 + b'"}\n')
    err = await c.recv_until("error")
    assert err["code"] == "frame_too_large"
    assert await c.closed()


async def test_names_and_passwords_follow_the_rules(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send(type="hello", proto=1)
    await c.recv()
    await c.send(type="register", user="9lives", password=PASSWORD, ref=1)
    assert (await c.recv())["code"] == "invalid_name"
    await c.send(type="register", user="carol", password="short", ref=2)
    assert (await c.recv())["code"] == "weak_password"
    await c.send(type="register", user="carol", password=PASSWORD, ref=3)
    assert (await c.recv())["type"] == "authed"
    await c.recv()  # dm replay_end
    await c.send(type="join", room="Bad Room", ref=4)
    assert (await c.recv())["code"] == "invalid_name"
    other = await raw(server.port)
    await other.send(type="hello", proto=1)
    await other.recv()
    await other.send(type="register", user="CAROL", password=PASSWORD, ref=5)
    assert (await other.recv())["code"] == "user_taken"


async def test_unknown_user_and_wrong_password_look_the_same_then_throttle(
    server: Any, raw: Any
) -> None:
    c = await raw(server.port)
    await c.login("dave", PASSWORD, register=True)
    answers = []
    for user in ("dave", "nobody", "dave"):
        x = await raw(server.port)
        answers.append(await x.login(user, "wrong-password-1"))
    assert {a["code"] for a in answers} == {"bad_credentials"}
    assert len({a["message"] for a in answers}) == 1
    x = await raw(server.port)
    throttled = await x.login("dave", "wrong-password-1")
    assert throttled["code"] == "throttled" and throttled["retry_after"] > 0


async def test_unsupported_proto_is_fatal(server: Any, raw: Any) -> None:
    c = await raw(server.port)
    await c.send(type="hello", proto=2)
    err = await c.recv()
    assert err["code"] == "unsupported_proto" and err["fatal"] is True
    assert await c.closed()


async def test_login_timeout_closes_an_anonymous_connection(make_server: Any, raw: Any) -> None:
    server = make_server(limits={"login_timeout": 0.5})
    c = await raw(server.port)
    err = await c.recv(timeout=3)
    assert err["code"] == "timeout" and err["fatal"] is True
    assert await c.closed()


async def test_registration_closed_and_invite_modes(make_server: Any, raw: Any) -> None:
    closed = make_server(accounts={"registration": "closed"})
    c = await raw(closed.port)
    assert (await c.login("erin", PASSWORD, register=True))["code"] == "registration_closed"

    invite = make_server(accounts={"registration": "invite"})
    c = await raw(invite.port)
    assert (await c.login("erin", PASSWORD, register=True))["code"] == "registration_closed"
    answer = invite.admin("invite")
    import json

    code = json.loads(answer.stdout)["data"]["code"]
    c = await raw(invite.port)
    assert (await c.login("erin", PASSWORD, register=True, invite=code))["type"] == "authed"
    c = await raw(invite.port)
    assert (await c.login("frank", PASSWORD, register=True, invite=code))["code"] == (
        "registration_closed"
    )


async def test_per_ip_connection_cap(make_server: Any, raw: Any) -> None:
    server = make_server(limits={"max_connections_per_ip": 3})
    held = [await raw(server.port, local_ip="127.0.0.5") for _ in range(3)]
    for c in held:
        await c.send(type="ping", t=1)
        assert (await c.recv())["type"] == "pong"
    extra = await raw(server.port, local_ip="127.0.0.5")
    err = await extra.recv()
    assert err["code"] == "too_many_connections" and err["fatal"] is True
    # Another address is not affected.
    other = await raw(server.port, local_ip="127.0.0.6")
    await other.send(type="ping", t=2)
    assert (await other.recv())["type"] == "pong"
    await asyncio.sleep(0)
