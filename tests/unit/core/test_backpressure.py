"""Backpressure: a room's senders are held back while enough of its members lag, and while
too much waits for one commit; a member that stops reading holds nobody for long."""

from __future__ import annotations

from teahouse.core.messages import PACE_HOLD, PACE_UNSETTLED
from teahouse.core.room import Room
from teahouse.core.session import Session

from ..hubkit import HubKit, MakeKit, outlet


async def room_of(kit: HubKit, size: int, room: str = "lobby") -> list[Session]:
    """``size`` members of ``room``, logged in from their own addresses; the first speaks."""
    members = []
    for i in range(size):
        member = await kit.login(f"member{i}", ip=f"10.0.1.{i + 1}")
        kit.join(member, room)
        members.append(member)
    kit.run_soon()
    return members


async def test_a_room_whose_members_lag_holds_its_sender_back(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, *others = await room_of(kit, Room.PACE_SHARE)
    kit.say(sender, "lobby", "before")
    assert outlet(sender).holds == [], "nobody lags: nothing held"
    kit.hub.lagging(others[0])  # one in PACE_SHARE members: congested
    kit.say(sender, "lobby", "during")
    assert outlet(sender).holds == [PACE_HOLD]
    kit.run_soon()
    assert "during" in [e[5] for e in outlet(others[0]).events("message")], "held, not refused"


async def test_one_slow_reader_does_not_hold_a_busy_room_back(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, *others = await room_of(kit, Room.PACE_SHARE + 1)
    kit.hub.lagging(others[0])
    kit.say(sender, "lobby", "hello")
    assert outlet(sender).holds == []
    kit.hub.lagging(others[1])  # two in nine: enough
    kit.say(sender, "lobby", "hello again")
    assert outlet(sender).holds == [PACE_HOLD]


async def test_a_member_that_stays_behind_counts_only_for_the_grace(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, sleeper, *_ = await room_of(kit, 2)
    kit.hub.lagging(sleeper)
    kit.clock.advance(Room.PACE_GRACE - 0.5)
    kit.say(sender, "lobby", "still within the grace")
    assert outlet(sender).holds == [PACE_HOLD]
    kit.clock.advance(1.0)
    kit.say(sender, "lobby", "past it")
    assert outlet(sender).holds == [PACE_HOLD], "the sleeper holds the room back no more"
    assert kit.hub.registry.rooms["lobby"].lagging is None
    # Only a fresh fall behind (after catching up) counts again.
    kit.hub.caught_up(sleeper)
    kit.hub.lagging(sleeper)
    kit.say(sender, "lobby", "behind again")
    assert outlet(sender).holds == [PACE_HOLD, PACE_HOLD]


async def test_catching_up_or_leaving_releases_the_room(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, reader, leaver = await room_of(kit, 3)
    kit.hub.lagging(reader)
    kit.hub.caught_up(reader)
    kit.say(sender, "lobby", "one")
    assert outlet(sender).holds == []
    kit.hub.lagging(leaver)
    kit.hub.registry.leave(leaver, "lobby", "part")
    kit.say(sender, "lobby", "two")
    assert outlet(sender).holds == []
    assert kit.hub.registry.rooms["lobby"].lagging is None


async def test_a_lagging_member_holds_only_the_rooms_it_is_in(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, lagger = await room_of(kit, 2)
    kit.join(sender, "elsewhere")
    kit.hub.lagging(lagger)
    kit.say(sender, "elsewhere", "here nobody lags")
    assert outlet(sender).holds == []


async def test_too_much_waiting_for_one_commit_holds_senders(make_kit: MakeKit) -> None:
    kit = make_kit()
    sender, friend = await room_of(kit, 2)
    for i in range(PACE_UNSETTLED):
        kit.say(sender, "lobby", f"m{i}")
    assert outlet(sender).holds == []
    kit.say(sender, "lobby", "one too many")
    kit.dm(friend, "member0", "a direct message waits for the same commit")
    assert outlet(sender).holds == [PACE_HOLD]
    assert outlet(friend).holds == [PACE_HOLD]
    kit.run_soon()
    kit.say(sender, "lobby", "committed: room again")
    assert outlet(sender).holds == [PACE_HOLD]
