"""Backpressure through a door: a member whose transport passes its high-water mark makes
the room's senders go unread for a moment after each line; once it catches up they are read
at once again. The same for both doors (the core decides, the connection base pauses)."""

from __future__ import annotations

from teahouse.core.messages import PACE_HOLD

from ..hubkit import PASSWORD, HubKit
from .fakes import IrcClient, NativeClient, irc, native


async def native_member(kit: HubKit, name: str, ip: str) -> NativeClient:
    if kit.store.get_account(name) is None:
        await kit.add_user(name)
    c = NativeClient(kit, native(kit), ip)
    assert (await c.login(name, PASSWORD))["type"] == "authed"
    c.send(type="join", room="lobby")
    c.frames()
    return c


def says(*texts: str) -> bytes:
    return b"".join(b'{"type":"say","room":"lobby","text":"%s"}\n' % t.encode() for t in texts)


def texts(c: NativeClient) -> list[str]:
    return [f["text"] for f in c.frames() if f["type"] == "message"]


async def test_a_lagging_member_slows_the_sender_to_a_line_per_hold(kit: HubKit) -> None:
    talker = await native_member(kit, "talker", "10.0.0.1")
    reader = await native_member(kit, "reader", "10.0.0.2")
    reader.frames()
    reader.conn.pause_writing()  # as the transport says when its buffer passes high water
    talker.send_raw(says("one", "two", "three"))
    assert texts(reader) == ["one"], "the rest waits, unread"
    assert not talker.transport.reading
    talker.advance(PACE_HOLD)
    assert texts(reader) == ["two"], "still congested: one line per hold"
    reader.conn.resume_writing()  # drained below low water: caught up
    talker.advance(PACE_HOLD)
    assert texts(reader) == ["three"]
    assert talker.transport.reading
    talker.send_raw(says("four", "five"))
    assert texts(reader) == ["four", "five"], "nobody lags: read at once"


async def test_a_member_that_never_reads_is_dropped_and_frees_the_room(kit: HubKit) -> None:
    kit.config.limits.output_high_water = 65536
    talker = await native_member(kit, "talker", "10.0.0.1")
    sleeper = await native_member(kit, "sleeper", "10.0.0.2")
    sleeper.conn.pause_writing()
    talker.send_raw(says("held"))
    assert not talker.transport.reading
    sleeper.transport.buffer_size = 70000  # it never reads: past the high-water mark
    talker.advance(PACE_HOLD)
    talker.send_raw(says("after"))
    kit.run_soon()
    assert sleeper.closed and kit.hub.stats.closed["slow_consumer"] == 1
    talker.advance(PACE_HOLD)
    talker.send_raw(says("free again"))
    assert talker.transport.reading, "a dropped member holds nobody back"


async def test_the_irc_door_is_paced_the_same_way(kit: HubKit) -> None:
    talker = IrcClient(kit, irc(kit), "10.0.0.1")
    await talker.register("Talker")
    reader = IrcClient(kit, irc(kit), "10.0.0.2")
    await reader.register("Reader")
    for c in (talker, reader):
        c.send("JOIN #lobby")
        c.messages()
    reader.conn.pause_writing()
    talker.send("PRIVMSG #lobby :one", "PRIVMSG #lobby :two")
    assert [m.params[1] for m in reader.messages()] == ["one"]
    reader.conn.resume_writing()
    talker.advance(PACE_HOLD)
    assert [m.params[1] for m in reader.messages()] == ["two"]
    assert talker.transport.reading
