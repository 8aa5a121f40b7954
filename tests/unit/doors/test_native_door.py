"""The native door in-process: a fake transport on a HubKit, time on the fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.native import NativeConnection
from teahouse.doors.web.connection import WebConnection
from teahouse.errors import ServerShutdown

from ..hubkit import PASSWORD, HubKit, MakeKit
from .fakes import FakeTransport, NativeClient, native, small_hash_queue


def connect(kit: HubKit, ip: str = "10.0.0.1", door: object = None) -> NativeClient:
    return NativeClient(kit, door or native(kit), ip)  # type: ignore[arg-type]


async def logged_in(kit: HubKit, name: str, ip: str = "10.0.0.1", *rooms: str) -> NativeClient:
    if kit.store.get_account(name) is None:
        await kit.add_user(name)
    c = connect(kit, ip)
    assert (await c.login(name, PASSWORD))["type"] == "authed"
    c.frames()
    for room in rooms:
        c.send(type="join", room=room)
        c.frames()
    return c


# -- a session from hello to bye ------------------------------------------------------------


async def test_hello_login_join_say_and_quit(kit: HubKit) -> None:
    await kit.add_user("alice")
    bob = await logged_in(kit, "bob", "10.0.0.2", "lobby")
    c = connect(kit)
    c.send(type="hello", proto=1, ref="h")
    welcome = c.frame()
    assert welcome["type"] == "welcome" and welcome["ref"] == "h"
    assert welcome["limits"]["max_frame_preauth"] == 4096
    assert welcome["heartbeat"] == {"interval": 20, "timeout": 60}
    c.send(type="login", user="ALICE", password=PASSWORD, ref=1)
    assert c.frames() == [], "a password check runs in a task"
    c.send(type="ping", t=7, ref="p")
    assert c.frames() == [], "what the peer sends meanwhile waits its turn"
    await c.settle()
    authed, replay_end, pong = c.frames()
    assert pong == {"type": "pong", "t": 7, "ref": "p"}
    assert authed == {"type": "authed", "user": "alice", "role": "user", "ref": 1}
    assert replay_end["type"] == "replay_end" and replay_end["dm"] is True
    assert c.transport.reading
    c.send(type="join", room="lobby", ref=2)
    joined, end = c.frames()
    assert joined["type"] == "joined" and joined["ref"] == 2
    assert joined["members"] == ["alice", "bob"] and joined["modes"] == "+n"
    assert joined["ops"] == ["bob"]
    assert (end["type"], end["room"], end["count"]) == ("replay_end", "lobby", 0)
    assert bob.frame() == {"type": "presence", "room": "lobby", "user": "alice", "state": "joined"}
    c.send(type="say", room="lobby", text="hello", ref=3)
    echo = c.frame()
    assert (echo["type"], echo["text"], echo["ref"]) == ("message", "hello", 3)
    heard = bob.frame()
    assert (heard["type"], heard["from"], heard["text"]) == ("message", "alice", "hello")
    assert "ref" not in heard
    c.send(type="quit", ref=4)
    assert c.frame() == {"type": "bye", "ref": 4}
    assert c.closed and not c.transport.aborted
    left = bob.frame()
    assert (left["state"], left["reason"]) == ("left", "quit")


async def test_a_say_is_acknowledged_after_the_commit_and_a_failed_commit_is_an_error(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(on_disk=True)
    alice = await logged_in(kit, "alice", "10.0.0.1", "lobby")
    bob = await logged_in(kit, "bob", "10.0.0.2", "lobby")
    alice.frames()

    kit.fill_disk()
    alice.send(type="say", room="lobby", text="lost", ref=7)
    error = alice.frame()
    assert (error["type"], error["code"], error["ref"], error["fatal"]) == (
        "error",
        "internal",
        7,
        False,
    )
    assert error["retry_after"] == 5.0
    assert bob.frames() == []
    kit.fill_disk(False)
    alice.send(type="say", room="lobby", text="kept", ref=8)
    assert alice.frame()["ref"] == 8
    assert bob.frame()["text"] == "kept"


async def test_requests_before_login_are_not_authed(kit: HubKit) -> None:
    c = connect(kit)
    c.send(type="join", room="lobby", ref=1)
    error = c.frame()
    assert (error["code"], error["ref"], error["fatal"]) == ("not_authed", 1, False)


async def test_an_unsupported_protocol_is_fatal(kit: HubKit) -> None:
    c = connect(kit)
    c.send(type="hello", proto=2)
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("unsupported_proto", True)
    assert c.closed


async def test_a_throttled_login_is_answered_without_a_task(kit: HubKit) -> None:
    await kit.add_user("alice")
    c = connect(kit)
    for i in range(3):
        c.send(type="login", user="alice", password="wrong", ref=i)
        await c.settle()
        assert c.frame()["code"] == "bad_credentials"
    c.send(type="login", user="alice", password=PASSWORD, ref="t")
    assert not c.door.tasks
    error = c.frame()
    assert (error["code"], error["ref"]) == ("throttled", "t")
    assert error["retry_after"] == pytest.approx(1.0)
    assert c.transport.reading


# -- admission --------------------------------------------------------------------------------


async def test_a_banned_address_is_refused_before_anything_is_read(kit: HubKit) -> None:
    kit.hub.moderation.ban_address("10.6.6.6", None, "abuse", "op")
    c = connect(kit, "10.6.6.6")
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("banned", True)
    assert c.closed and c.conn.session is None
    assert kit.hub.stats.limits_hit["admit_banned"] == 1
    assert c.door.transports_open == 0, "connection_lost balanced connection_made"


@pytest.mark.parametrize(
    ("settings", "opened", "words"),
    [
        ({"max_connections_per_ip": 2}, 2, "too many connections from your address"),
        ({"connections_per_ip_per_second": 1, "connections_per_ip_burst": 3}, 3, "too fast"),
        ({"max_connections": 2}, 2, "full"),
    ],
    ids=["per-ip-cap", "accept-rate", "server-full"],
)
async def test_caps_and_rates_refuse_at_the_door(
    make_kit: MakeKit, settings: dict[str, object], opened: int, words: str
) -> None:
    kit = make_kit(**settings)
    door = native(kit)
    held = [connect(kit, "10.0.0.5", door) for _ in range(opened)]
    assert not any(c.closed for c in held)
    extra = connect(kit, "10.0.0.5", door)
    error = extra.frame()
    assert (error["code"], error["fatal"]) == ("too_many_connections", True)
    assert words in error["message"]
    assert extra.closed
    held[0].send(type="ping", t=1)
    assert held[0].frame()["type"] == "pong"


async def test_a_server_shutting_down_refuses_new_connections(kit: HubKit) -> None:

    door = native(kit)
    early = connect(kit, door=door)
    kit.hub.shutdown_all(ServerShutdown())
    kit.run_soon()
    assert early.frame()["code"] == "server_shutdown" and early.closed
    late = connect(kit, door=door)
    error = late.frame()
    assert error["code"] == "too_many_connections" and "shutting down" in error["message"]


# -- the rate limit: slowed, refused, then dropped ---------------------------------------------


async def test_a_flooder_is_slowed_then_refused_then_dropped(make_kit: MakeKit) -> None:
    kit = make_kit(
        frames_per_second=10,
        frames_burst=10,
        bytes_per_second=0,
        throttle_grace=0.5,
        rate_limit_strikes=3,
    )
    c = connect(kit)
    c.send_raw(b"".join(b'{"type":"ping","t":%d}\n' % i for i in range(100)))
    # 1. The burst, and the first frame over it, are answered at once; then reading pauses
    # until the debt is paid, and the frames still buffered wait, in order.
    assert [f["t"] for f in c.frames()] == list(range(11))
    assert not c.transport.reading
    assert kit.hub.stats.limits_hit["native_rate"] == 1
    timeline: list[tuple[int, dict[str, object]]] = []
    for tick in range(1, 40):
        c.advance(0.1)
        timeline += [(tick, f) for f in c.frames()]
        if c.closed:
            break
    pongs = [tick for tick, f in timeline if f["type"] == "pong"]
    errors = [(tick, f) for tick, f in timeline if f["type"] == "error"]
    # Slowed: about one frame per 0.1 s, each one handled, through the grace period.
    assert pongs[:4] == [1, 2, 3, 4]
    # 2. Still over the rate after the grace: refused (not handled) with retry_after.
    first_tick, first = errors[0]
    assert first_tick == 5
    assert (first["code"], first["fatal"]) == ("rate_limited", False)
    assert [f["code"] for _, f in errors] == ["rate_limited"] * 3
    assert all(0 < float(f["retry_after"]) <= 0.1 for _, f in errors)  # type: ignore[arg-type]
    # 3. The refusal that makes rate_limit_strikes is fatal, and the door closes.
    assert [f["fatal"] for _, f in errors] == [False, False, True]
    assert timeline[-1][1] is errors[-1][1]
    assert c.closed
    assert kit.hub.stats.closed["rate_limited"] == 1
    # Never faster than the rate: at most the burst plus one frame per tick.
    assert len(pongs) + len(errors) <= 11 + errors[-1][0] + 3


async def test_a_client_that_slows_down_in_time_is_served_again(make_kit: MakeKit) -> None:
    kit = make_kit(frames_per_second=10, frames_burst=10, bytes_per_second=0, throttle_grace=0.5)
    c = connect(kit)
    c.send_raw(b"".join(b'{"type":"ping","t":%d}\n' % i for i in range(12)))
    c.advance(0.1)
    assert len(c.frames()) == 12
    c.advance(2.0)
    c.send(type="ping", t=99)
    assert c.frame() == {"type": "pong", "t": 99}
    assert c.transport.reading


async def test_a_throttle_pause_holds_lines_until_its_timer_and_leaves_nothing_behind(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(frames_per_second=10, frames_burst=2, bytes_per_second=0)
    c = connect(kit)
    c.send_raw(b"".join(b'{"type":"ping","t":%d}\n' % i for i in range(4)))
    assert [f["t"] for f in c.frames()] == [0, 1, 2], "the burst, and the one that went over"
    assert not c.transport.reading and c.conn._rare is not None
    c.send_raw(b'{"type":"ping","t":9}\n')  # read ahead by the transport, held
    assert c.frames() == []
    c.advance(0.1)
    assert [f["t"] for f in c.frames()] == [3]
    c.advance(0.3)
    assert [f["t"] for f in c.frames()] == [9]
    assert c.transport.reading
    c.advance(1.0)
    c.send(type="ping", t=10)
    assert c.frame() == {"type": "pong", "t": 10}
    assert c.conn._rare is None, "within the rate again: the pause's state is let go"
    c.transport.close()
    await c.settle()


async def test_the_byte_rate_slows_big_frames(make_kit: MakeKit) -> None:
    kit = make_kit(frames_per_second=0, bytes_per_second=1000, bytes_burst=1000)
    c = connect(kit)
    line = b'{"type":"ping","t":1,"pad":"' + b"x" * 460 + b'"}\n'  # 491 bytes
    c.send_raw(line * 4)
    assert len(c.frames()) == 3, "two fit the burst, the third goes over and pauses"
    assert not c.transport.reading
    c.advance(0.6)
    assert len(c.frames()) == 1


# -- bad input ---------------------------------------------------------------------------------


async def test_bad_frames_are_answered_then_the_one_over_the_strikes_is_fatal(kit: HubKit) -> None:
    c = connect(kit)
    for bad in [b"{not json", b"[1,2]", b'{"type": 7}', b"nope", b'{"type":"login","user":5}']:
        c.send_raw(bad + b"\n")
        error = c.frame()
        assert error["fatal"] is False, error
    c.send(type="future_thing", ref="u")  # unknown types are never strikes
    assert c.frame()["code"] == "unknown_type"
    c.send_raw(b"still nope\n" + b"more nope\n" * 100)
    fatal = c.frame()
    assert (fatal["code"], fatal["fatal"]) == ("bad_frame", True)
    assert c.conn._codec is None, "a dropped connection keeps none of its junk"
    assert c.dropped_for_garbage()
    assert kit.hub.stats.closed["bad_frame"] == 1


async def test_strikes_are_forgotten_after_the_window(make_kit: MakeKit) -> None:
    kit = make_kit(bad_frame_strikes=2, bad_frame_window=10.0)
    c = connect(kit)
    for _ in range(2):
        c.send_raw(b"nope\n")
    c.advance(10.0)
    c.send_raw(b"nope\n")
    assert [f["fatal"] for f in c.frames()] == [False, False, False]
    c.send_raw(b"nope\n")
    c.send_raw(b"nope\n")
    assert c.frames()[-1]["fatal"] is True


async def test_a_line_over_max_frame_preauth_is_fatal_before_login(kit: HubKit) -> None:
    c = connect(kit)
    c.send_raw(b"x" * 5000)  # no end of line yet: never buffered whole
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("frame_too_large", True)
    assert c.dropped_for_garbage()


async def test_after_login_the_frame_limit_is_max_frame(kit: HubKit) -> None:
    c = await logged_in(kit, "alice", "10.0.0.1", "lobby")
    c.send(type="say", room="lobby", text="y" * 4096, ref=1)
    assert c.frame()["text"] == "y" * 4096
    c.send_raw(b'{"type":"say","room":"lobby","text":"' + b"z" * 70000 + b'"}\n')
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("frame_too_large", True)
    assert c.dropped_for_garbage()


async def test_what_is_pipelined_behind_a_login_is_bounded(kit: HubKit) -> None:
    await kit.add_user("alice")
    c = connect(kit)
    c.send(type="login", user="alice", password=PASSWORD, ref=1)
    c.send_raw(b'{"type":"ping","t":1}\n' * 50)  # ~1 KiB waits behind the login: fine
    assert not c.closed
    c.send_raw(b"x" * 4000)  # more than one pre-auth frame's worth
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("frame_too_large", True)
    assert c.closed
    await c.settle()


async def test_frames_pipelined_behind_a_login_are_handled_in_order_after_it(kit: HubKit) -> None:
    await kit.add_user("alice")
    c = connect(kit)
    c.send_raw(
        b'{"type":"login","user":"alice","password":"%s","ref":1}\n'
        b'{"type":"join","room":"lobby","ref":2}\n'
        b'{"type":"ping","t":3}\n' % PASSWORD.encode()
    )
    await c.settle()
    kinds = [(f["type"], f.get("ref")) for f in c.frames()]
    assert kinds == [
        ("authed", 1),
        ("replay_end", None),
        ("joined", 2),
        ("replay_end", None),
        ("pong", None),
    ]


# -- deadlines on the fake clock ----------------------------------------------------------------


async def test_an_unfinished_line_starts_the_slowloris_clock_and_the_sweep_cuts_it(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(partial_line_timeout=5.0)
    watcher = await logged_in(kit, "watcher", "10.0.0.2", "lobby")
    c = await logged_in(kit, "slow", "10.0.0.1", "lobby")
    watcher.frames()
    assert c.session.partial_since is None
    c.send_raw(b'{"type":"say","room":"lobby","text":"never')
    started = kit.clock.monotonic()
    assert c.session.partial_since == started
    for _ in range(4):
        c.advance(1.0)
        c.send_raw(b" end")  # trickling keeps the heartbeat happy, not the line clock
        kit.hub.housekeeping.sweep()
    assert not c.closed
    assert c.session.partial_since == started
    c.advance(1.01)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    error = c.frames()[-1]
    assert (error["code"], error["fatal"]) == ("timeout", True)
    assert c.closed
    left = watcher.frame()
    assert (left["user"], left["reason"]) == ("slow", "slowloris")


async def test_a_finished_line_stops_the_slowloris_clock(kit: HubKit) -> None:
    c = connect(kit)
    c.send_raw(b'{"type":"ping",')
    assert c.session.partial_since is not None
    c.send_raw(b'"t":1}\n')
    assert c.session.partial_since is None
    assert c.frame()["type"] == "pong"


async def test_lines_held_back_by_the_rate_limit_are_no_slowloris(make_kit: MakeKit) -> None:
    kit = make_kit(frames_per_second=10, frames_burst=2, throttle_grace=60, bytes_per_second=0)
    c = connect(kit)
    c.send_raw(b'{"type":"ping","t":1}\n' * 20)
    assert c.session.partial_since is None, "complete lines waiting are not an unfinished one"


async def test_the_login_timeout_closes_an_anonymous_connection(kit: HubKit) -> None:
    c = connect(kit)
    c.send(type="hello", proto=1)
    c.frames()
    c.advance(9.9)
    kit.hub.housekeeping.sweep()
    assert not c.closed
    c.advance(0.1)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("timeout", True)
    assert c.closed
    assert kit.hub.stats.closed["login_timeout"] == 1


async def test_a_silent_client_is_pinged_then_timed_out(kit: HubKit) -> None:
    c = await logged_in(kit, "alice")
    c.advance(20.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    ping = c.frame()
    assert ping["type"] == "ping"
    c.advance(0.25)
    c.send(type="pong", t=ping["t"])
    assert c.session.rtt_ms == 250
    c.advance(59.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    assert c.frame()["type"] == "ping"
    c.advance(1.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    error = c.frame()
    assert (error["code"], error["fatal"]) == ("heartbeat_timeout", True)
    assert c.closed


async def test_an_answered_ping_forgives_its_own_line_and_no_more(make_kit: MakeKit) -> None:
    kit = make_kit(frames_per_second=10, frames_burst=10, bytes_per_second=0, throttle_grace=60)
    c = await logged_in(kit, "alice")
    c.advance(20.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    t = c.frame()["t"]
    pong = b'{"type":"pong","t":%d}\n' % t
    pings = b"".join(b'{"type":"ping","t":%d}\n' % i for i in range(10))
    # The answer costs nothing: the pong and a whole burst after it stay within the rate.
    c.send_raw(pong + pings)
    assert len(c.frames()) == 10
    assert kit.hub.stats.limits_hit["native_rate"] == 0
    c.advance(20.0)
    # The same answer again is a line like any other: the burst is one line short.
    c.send_raw(pong + pings)
    assert kit.hub.stats.limits_hit["native_rate"] == 1


async def test_an_idle_connection_keeps_no_float_for_its_rate_buckets(kit: HubKit) -> None:
    c = await logged_in(kit, "alice")
    assert c.conn._items_full_at > 0.0  # its login lines were charged
    c.advance(20.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    c.send(type="pong", t=c.frame()["t"])
    assert c.conn._items_full_at == c.conn._bytes_full_at == 0.0


class FakeTlsTransport(FakeTransport):
    """As asyncio's and uvloop's TLS transports: the peer's address is gone once closed."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sslcontext":
            return "a context"
        if name == "peername" and self.closing:
            return default
        return super().get_extra_info(name, default)


@pytest.mark.parametrize("transport_class", [FakeTransport, FakeTlsTransport])
async def test_the_peer_port_is_known_after_the_close(
    kit: HubKit, transport_class: type[FakeTransport]
) -> None:
    conn = native(kit).connection()
    transport = transport_class(kit, "10.0.0.9", port=4321)
    transport.protocol = conn
    conn.connection_made(transport)  # type: ignore[arg-type]
    session = conn.session
    assert session is not None and session.port == 4321
    transport.reset()  # the peer hung up
    assert session.closed and session.port == 4321


def test_no_door_connection_has_data_received() -> None:
    """uvloop keeps a bound method of a protocol's ``data_received`` on its transport (64
    bytes a connection) even for a buffered protocol, which never has it called."""
    for cls in (NativeConnection, IrcConnection, WebConnection):
        assert not hasattr(cls, "data_received"), cls


# -- output ---------------------------------------------------------------------------------


async def test_a_reader_past_the_high_water_mark_is_dropped_as_a_slow_consumer(
    make_kit: MakeKit,
) -> None:
    kit = make_kit(output_high_water=65536)
    talker = await logged_in(kit, "talker", "10.0.0.1", "busy")
    sleeper = await logged_in(kit, "sleeper", "10.0.0.2", "busy")
    talker.frames()
    talker.send(type="say", room="busy", text="one", ref=1)
    assert sleeper.frame()["text"] == "one"
    assert talker.frame()["ref"] == 1
    sleeper.transport.buffer_size = 70000  # the kernel's buffer is full: it is not reading
    talker.send(type="say", room="busy", text="two", ref=2)
    kit.run_soon()
    assert sleeper.closed and sleeper.transport.aborted, "aborted: its backlog is dropped"
    assert kit.hub.stats.closed["slow_consumer"] == 1
    frames = talker.frames()
    assert frames[0]["ref"] == 2
    assert (frames[-1]["user"], frames[-1]["reason"]) == ("sleeper", "slow_consumer")


async def test_one_write_per_connection_per_round(kit: HubKit) -> None:
    talker = await logged_in(kit, "talker", "10.0.0.1", "lobby")
    listener = await logged_in(kit, "listener", "10.0.0.2", "lobby")
    talker.frames()
    before = listener.transport.writes
    talker.send_raw(b"".join(b'{"type":"say","room":"lobby","text":"m%d"}\n' % i for i in range(5)))
    assert listener.transport.writes == before + 1
    assert [f["text"] for f in listener.frames()] == [f"m{i}" for i in range(5)]


async def test_two_talkers_in_one_commit_see_every_id_in_order(kit: HubKit) -> None:
    ann = await logged_in(kit, "ann", "10.0.0.1", "lobby")
    ben = await logged_in(kit, "ben", "10.0.0.2", "lobby")
    eve = await logged_in(kit, "eve", "10.0.0.3", "lobby")
    for c in (ann, ben, eve):
        c.frames()
    before = eve.transport.writes
    for i in range(3):  # interleaved within one loop round: one commit
        for c in (ann, ben):
            c.conn.received(b'{"type":"say","room":"lobby","text":"t%d","ref":%d}\n' % (i, i))
    kit.run_soon()
    for c in (ann, ben, eve):
        ids = [f["id"] for f in c.frames() if f["type"] == "message"]
        assert len(ids) == 6 and ids == sorted(ids), "own acknowledgements in place"
    assert eve.transport.writes == before + 1, "the whole commit in one write"


async def test_a_commit_longer_than_the_queue_cap_is_written_as_it_grows(
    make_kit: MakeKit,
) -> None:
    # One commit's run to a room can be any length (a disk that stalled while people kept
    # talking): it is written early each time the queue passes its cap, never handed over
    # whole, so a member that does not read is dropped holding at most high_water +
    # pending_cap.
    kit = make_kit(output_high_water=4096, frames_per_second=0, bytes_per_second=0)
    talker = await logged_in(kit, "talker", "10.0.0.1", "lobby")
    listener = await logged_in(kit, "listener", "10.0.0.2", "lobby")
    listener.frames()
    cap = 4 * 4096
    text = "x" * 300
    lines = (
        b'{"type":"say","room":"lobby","text":"%d%s"}\n' % (i, text.encode()) for i in range(100)
    )
    talker.send_raw(b"".join(lines))
    got = [f["text"] for f in listener.frames() if f["type"] == "message"]
    assert got == [f"{i}{text}" for i in range(100)], "all of it, in order"
    assert listener.transport.largest <= cap + 1024, "no write of the whole run at once"


async def test_members_are_written_the_same_bytes_objects_not_copies(kit: HubKit) -> None:
    # A member that lags holds its queue in the transport: shared by every member, a
    # message costs its bytes once, not once per member that has not read it yet. (One that
    # keeps up is written a joined copy: sent at once, cheaper than a buffer per message.)
    talker = await logged_in(kit, "talker", "10.0.0.1", "lobby")
    one = await logged_in(kit, "one", "10.0.0.2", "lobby")
    two = await logged_in(kit, "two", "10.0.0.3", "lobby")
    one.transport.buffer_size = two.transport.buffer_size = 1  # both still hold unread bytes
    talker.send_raw(
        b'{"type":"say","room":"lobby","text":"a"}\n{"type":"say","room":"lobby","text":"b"}\n'
    )
    assert len(one.transport.pieces) == 2
    assert all(a is b for a, b in zip(one.transport.pieces, two.transport.pieces, strict=True))


async def test_a_reset_releases_the_session(kit: HubKit) -> None:
    watcher = await logged_in(kit, "watcher", "10.0.0.2", "lobby")
    c = await logged_in(kit, "alice", "10.0.0.1", "lobby")
    watcher.frames()
    c.transport.reset()
    kit.run_soon()
    assert c.session.closed
    assert watcher.frame()["reason"] == "disconnected"
    assert c.door.transports_open == 1
    assert kit.hub.housekeeping.janitor(c.door.transports_open).repaired == 0


async def test_a_full_hash_queue_answers_throttled_at_once_and_chat_goes_on(kit: HubKit) -> None:

    with small_hash_queue(kit, 2):
        legit = await logged_in(kit, "legit", "10.0.0.1", "lobby")
        attackers = [connect(kit, f"10.0.1.{i}") for i in range(6)]
        for i, c in enumerate(attackers):
            c.send(type="login", user=f"nobody{i}", password="guess-guess-1", ref=i)
        legit.send(type="say", room="lobby", text="still here", ref=1)
        assert legit.frame()["ref"] == 1, "chat goes on while the hashes wait"
        await legit.settle()
        answers = [c.frame()["code"] for c in attackers]
        assert answers == ["bad_credentials"] * 2 + ["throttled"] * 4, "two queued, four refused"
        assert not any(c.closed for c in attackers)
        # Those told throttled go unread for their retry_after, then are read again.
        assert [c.transport.reading for c in attackers] == [True] * 2 + [False] * 4
        kit.clock.advance(1.0)
        assert all(c.transport.reading for c in attackers)


async def test_a_login_whose_peer_hung_up_is_never_hashed(kit: HubKit) -> None:
    # The tutorial's storm: connect, send a login, close at once. The socket is still read
    # while the login waits, so the close is seen before the hash job starts.
    with small_hash_queue(kit, 4) as hasher:
        await kit.add_user("alice")
        c = connect(kit)
        c.send(type="login", user="alice", password="a-wrong-guess", ref=1)
        assert c.transport.reading
        c.transport.reset()
        await c.settle()
        assert c.session.closed
        assert hasher.dropped == 1 and hasher.in_flight == 0
        # The login already queued its job when the peer's end of stream is read: the
        # transport is closing (the session not yet closed), and that is enough.
        d = connect(kit, "10.0.0.2")
        d.send(type="login", user="alice", password="a-wrong-guess", ref=1)
        await asyncio.sleep(0)
        assert hasher.in_flight == 1 and not d.session.closed
        d.transport.close()
        await d.settle()
        assert hasher.dropped == 2 and hasher.in_flight == 0


# -- memory ------------------------------------------------------------------------------------


async def test_an_idle_connection_holds_no_queue_buffer_or_rare_state(kit: HubKit) -> None:
    """Thousands idle at once (``make bench`` idle): between rounds a logged-in connection
    keeps no output queue, no read buffer and no rate-limit or stream state of its own."""
    c = await logged_in(kit, "alice", "10.0.0.1", "#tea")
    c.send(type="ping", t=1)
    c.send_raw(b'{"type":"ping",')  # half a frame: held while unfinished
    assert c.conn._codec.buffered > 0
    c.send_raw(b'"t":2}\n')
    assert [f["t"] for f in c.frames()] == [1, 2]
    conn = c.conn
    assert conn._pending is None
    assert conn._rare is None
    assert conn._codec is None  # made again when bytes arrive


async def test_the_outlet_keeps_its_rare_state_only_while_it_is_needed(kit: HubKit) -> None:
    """A stream with live output held behind it works through the rare state, which is
    let go once it is over."""
    c = await logged_in(kit, "alice")
    conn = c.conn
    c.received()
    done: list[bool] = []
    conn.write(b'{"type":"before"}\n')
    conn.stream(iter([b'{"type":"chunk","n":1}\n']), lambda: done.append(True))
    assert conn._rare is None and done == [True], "written at once: nothing held"
    c.transport.buffer_size = 10**6  # the peer stops reading: the next stream waits
    conn.stream(iter([b'{"type":"chunk","n":2}\n']))
    conn.write(b'{"type":"live"}\n')
    kit.run_soon()
    assert c.received() == b'{"type":"before"}\n{"type":"chunk","n":1}\n'
    assert conn._rare is not None
    c.transport.buffer_size = 0
    conn.resume_writing()
    kit.run_soon()
    assert c.received() == b'{"type":"chunk","n":2}\n{"type":"live"}\n', "in order"
    assert conn._rare is None
