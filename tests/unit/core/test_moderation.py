"""Server-wide moderation by account id and by network: who is refused, and what they are
told (the reason, and for how long)."""

from __future__ import annotations

import pytest

from teahouse.errors import Banned, Forbidden

from ..doors.fakes import NativeClient, native
from ..hubkit import PASSWORD, HubKit, MakeKit, outlet


async def native_user(kit: HubKit, name: str, ip: str = "10.0.0.1") -> NativeClient:
    if kit.store.get_account(name) is None:
        await kit.add_user(name)
    c = NativeClient(kit, native(kit), ip)
    assert (await c.login(name, PASSWORD))["type"] == "authed"
    c.frames()
    return c


# -- networks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("10.0.0.0/8", ["10.0.0.1", "10.200.3.4", "10.255.255.255"], ["11.0.0.1", "9.255.0.1"]),
        ("2001:db8::/64", ["2001:db8::5", "2001:DB8:0:0:ffff::1"], ["2001:db8:0:1::5", "::1"]),
        ("198.51.100.7", ["198.51.100.7"], ["198.51.100.8"]),
    ],
)
def test_a_network_ban_refuses_every_address_in_it(
    kit: HubKit, network: str, inside: list[str], outside: list[str]
) -> None:
    kit.hub.moderation.ban_address(network, None, "abuse", "op")
    for ip in inside:
        with pytest.raises(Banned) as info:
            kit.hub.admit(ip)
        assert info.value.fatal and "abuse" in info.value.message
    for ip in outside:
        kit.hub.admit(ip)
    assert kit.hub.moderation.unban("ip", network)
    kit.hub.admit(inside[0])


async def test_a_network_ban_closes_the_sessions_inside_it_and_says_why(kit: HubKit) -> None:
    inside = await native_user(kit, "alice", "10.1.2.3")
    outside = await native_user(kit, "bob", "192.0.2.1")
    closed = kit.hub.moderation.ban_address(
        "10.0.0.0/8", kit.clock.wall_ms() + 2 * 3600_000, "a botnet", "op"
    )
    kit.run_soon()
    assert closed == 1
    [error] = inside.frames()
    assert (error["code"], error["fatal"]) == ("banned", True)
    assert error["message"] == "banned for 2 more hours: a botnet"
    assert inside.closed and not outside.closed


async def test_network_bans_are_kept_and_enforced_after_a_restart(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    kit.hub.moderation.ban_address("2001:db8::/64", None, "abuse", "op")
    kit.run_soon()
    kit.restart()
    with pytest.raises(Banned):
        kit.hub.admit("2001:db8::1234")
    kit.hub.admit("2001:db8:1::1")


# -- told why, and for how long -----------------------------------------------------------


async def test_a_banned_account_is_told_the_reason_and_the_duration(kit: HubKit) -> None:
    alice = await native_user(kit, "alice")
    until = kit.clock.wall_ms() + 10 * 60_000
    kit.hub.moderation.ban_account(alice.session.ident, until, "spam", "op")
    kit.run_soon()
    [error] = alice.frames()
    assert (error["code"], error["message"]) == ("banned", "banned for 10 more minutes: spam")
    assert alice.closed
    kit.clock.advance(120.0)
    with pytest.raises(Banned) as info:
        await kit.login("alice", ip="10.0.0.2", create=False)
    assert info.value.message == "banned for 8 more minutes: spam"
    kit.clock.advance(480.0)
    await kit.login("alice", ip="10.0.0.2", create=False)


async def test_a_kicked_user_is_told_the_reason(kit: HubKit) -> None:
    alice = await native_user(kit, "alice")
    moderation = kit.hub.moderation
    assert moderation.kick(moderation.sessions_of(alice.session.ident), "cool off", "op") == 1
    kit.run_soon()
    [error] = alice.frames()
    assert (error["code"], error["message"]) == ("kicked", "cool off")
    bob = await native_user(kit, "bob", "10.0.0.2")
    moderation.kick(moderation.sessions_of(bob.session.ident), "", "op")
    kit.run_soon()
    assert bob.frames()[0]["message"] == "kicked by op"


async def test_a_muted_user_is_told_at_once_and_on_each_try(kit: HubKit) -> None:
    alice = await kit.login("alice")
    alice2 = await kit.login("alice", ip="10.0.0.3")
    bob = await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    until = kit.clock.wall_ms() + 30 * 60_000
    kit.hub.moderation.mute(alice.ident, until, "op", "calm down")
    told = ("notice", "you are muted for 30 more minutes by op: calm down", "op")
    assert outlet(alice).events("notice") == [told]
    assert outlet(alice2).events("notice") == [told], "every session of the account"
    assert outlet(bob).events("notice") == []
    with pytest.raises(Forbidden) as info:
        kit.say(alice, "lobby", "hi")
    assert (info.value.detail, info.value.message) == (
        "muted",
        "you are muted for 30 more minutes",
    )
    assert kit.hub.moderation.unmute(alice.ident, "op")
    assert outlet(alice).events("notice")[-1] == ("notice", "you may speak again", "op")
    acks = kit.say(alice, "lobby", "hi")
    kit.run_soon()
    assert acks.message.text == "hi"


async def test_a_mute_is_kept_by_account_id_across_a_restart(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    alice = await kit.login("alice")
    kit.hub.moderation.mute(alice.ident, None, "op")
    kit.run_soon()
    kit.restart()
    again = await kit.login("alice", create=False)
    with pytest.raises(Forbidden) as info:
        kit.dm(again, "alice", "hi")
    assert info.value.message == "you are muted until lifted"
