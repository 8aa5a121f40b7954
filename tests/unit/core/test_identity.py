"""Identity and authority you can trust: who a name is, whose DMs are whose, what OPER and
roles give and take away, and how failed logins are counted and logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from teahouse.admin.commands import CommandSet
from teahouse.core import accounts as accounts_module
from teahouse.core.session import Session, oldest
from teahouse.errors import BadCredentials, Forbidden, InvalidName, Throttled, UserTaken
from teahouse.logs import AUTH_LOGGER
from teahouse.protocol.lookalike import confusable_key

from ..hubkit import PASSWORD, HubKit, outlet

NEW_PASSWORD = "Another-s3cret-pass"


def commands(kit: HubKit) -> CommandSet:
    runner = CommandSet(kit.hub, transports_open=lambda: 0, shutdown=lambda grace: None)
    kit.hub.admin = runner
    return runner


async def operator(kit: HubKit, *words: str) -> object:
    """Run an operator command as the console does."""
    return await commands(kit).run_words(list(words), actor="server", entrance="console")


def received_dms(session: Session) -> list[tuple[Any, ...]]:
    return [e for e in outlet(session).events("message") if e[2] is None]


# -- a name is one identity ---------------------------------------------------------------


async def test_registering_a_name_a_guest_holds_moves_the_guest_aside(kit: HubKit) -> None:
    guest = kit.guest("bob", ip="10.0.0.7")
    watcher = kit.guest("watcher", ip="10.0.0.8")
    kit.join(guest, "lobby")
    kit.join(watcher, "lobby")
    outlet(guest).clear()
    outlet(watcher).clear()
    newcomer = kit.connect("10.0.0.2")
    account = await kit.hub.accounts.register(newcomer, "Bob", PASSWORD, None)

    assert guest.user is not None and guest.user.startswith("Guest")
    assert not guest.closed and guest.guest
    registry = kit.hub.registry
    assert registry.by_name("bob") == {newcomer}
    assert registry.by_name(guest.user) == {guest}
    assert newcomer.ident == account.id != guest.ident
    [notice] = outlet(guest).events("notice")
    assert notice == ("notice", f"bob is now a registered account; you are {guest.user}", "server")
    assert outlet(watcher).events("renamed") == [("renamed", "lobby", "bob", guest.user)]
    assert registry.rooms["lobby"].member_names() == sorted([guest.user, "watcher"], key=str.lower)


async def test_an_account_made_by_an_operator_moves_the_guest_aside_too(kit: HubKit) -> None:
    guest = kit.guest("carol")
    await operator(kit, "user", "add", "carol", PASSWORD)
    assert guest.user != "carol"
    assert kit.hub.registry.by_name("carol") == set()
    [notice] = outlet(guest).events("notice")
    assert "carol is now a registered account" in notice[1]
    carol = await kit.login("carol", ip="10.0.0.2", create=False)
    assert kit.hub.registry.by_name("CAROL") == {carol}


async def test_a_guest_whose_nick_looks_like_a_new_account_moves_aside(kit: HubKit) -> None:
    guest = kit.guest("bob", ip="10.0.0.7")
    newcomer = kit.connect("10.0.0.2")
    await kit.hub.accounts.register(newcomer, "b0b", PASSWORD, None)
    assert guest.user is not None and guest.user.startswith("Guest")
    [notice] = outlet(guest).events("notice")
    assert notice[1] == f"bob looks like the registered account b0b; you are {guest.user}"
    # Even once b0b has gone, "bob" is nobody's but the account's look-alike.
    kit.hub.close_session(newcomer, "quit")
    await operator(kit, "user", "del", "b0b")
    other = kit.guest("Bob", ip="10.0.0.8")
    assert kit.hub.registry.by_name("bob") == {other}
    assert kit.hub.registry.by_name(guest.user) == {guest}


async def test_a_guest_may_register_its_own_nick_and_keeps_its_connection(kit: HubKit) -> None:
    guest = kit.guest("dora")
    account = await kit.hub.accounts.register(guest, "dora", PASSWORD, None)
    assert (guest.user, guest.guest, guest.ident) == ("dora", False, account.id)
    assert outlet(guest).events("notice") == []


@pytest.mark.parametrize("name", ["aIice", "ALlCE", "a1ice"])
async def test_a_name_that_looks_like_an_account_is_refused_at_registration(
    kit: HubKit, name: str
) -> None:
    await kit.add_user("alice")
    session = kit.connect()
    with pytest.raises(UserTaken) as info:
        await kit.hub.accounts.register(session, name, PASSWORD, None)
    assert info.value.detail == "confusable"
    assert "alice" in info.value.message
    assert not session.authenticated
    assert kit.store.get_account(name) is None


@pytest.mark.parametrize("name", ["NickServ", "chanserv", "teahouse"])
async def test_service_and_server_names_are_reserved(kit: HubKit, name: str) -> None:
    session = kit.connect()
    with pytest.raises(InvalidName):
        await kit.hub.accounts.register(session, name, PASSWORD, None)
    with pytest.raises(InvalidName):
        kit.hub.accounts.authenticate_guest(kit.connect(door="irc"), name)
    assert kit.store.get_account(name) is None


async def test_a_guest_nick_that_looks_like_someone_online_is_refused(kit: HubKit) -> None:
    await kit.login("alice")
    kit.guest("Visitor", ip="10.0.0.2")
    for nick, detail in [("aIice", "registered"), ("VisItor", "in_use"), ("v1sitor", "in_use")]:
        session = kit.connect("10.0.0.3", door="irc")
        with pytest.raises(UserTaken) as info:
            kit.hub.accounts.authenticate_guest(session, nick)
        assert info.value.detail == detail, nick
        assert not session.authenticated
    other = kit.guest("other", ip="10.0.0.4")
    with pytest.raises(UserTaken):
        kit.hub.accounts.rename_guest(other, "vlsitor")
    assert other.user == "other"


# -- direct messages belong to account ids ------------------------------------------------


async def test_a_new_account_with_an_old_name_sees_none_of_the_old_dms(kit: HubKit) -> None:
    alice = await kit.login("alice")
    dave = await kit.login("dave", ip="10.0.0.4")
    kit.dm(alice, "dave", "for the first dave")
    kit.dm(dave, "alice", "from the first dave")
    kit.run_soon()
    old_id = dave.ident
    await operator(kit, "user", "del", "dave")
    assert dave.closed

    newcomer = kit.connect("10.0.0.5")
    account = await kit.hub.accounts.register(newcomer, "dave", PASSWORD, None)
    assert account.id != old_id
    assert kit.hub.accounts.replay_dms(newcomer, None).messages == []
    assert kit.hub.accounts.replay_dms(newcomer, 0).messages == []
    assert kit.hub.messages.dm_history(newcomer).messages == []
    assert kit.hub.messages.dm_history(newcomer, since=0).messages == []
    # alice's side of the old conversation went with the old account.
    assert kit.hub.messages.dm_history(alice).messages == []
    kit.dm(alice, "dave", "hello again")
    kit.run_soon()
    assert [m.text for m in kit.hub.messages.dm_history(newcomer).messages] == ["hello again"]
    assert [e[5] for e in received_dms(newcomer)] == ["hello again"]


async def test_a_dm_to_a_guest_is_never_seen_by_a_later_holder_of_the_nick(kit: HubKit) -> None:
    alice = await kit.login("alice")
    first = kit.guest("visitor", ip="10.0.0.7")
    acks = kit.dm(alice, "visitor", "for this guest only")
    kit.run_soon()
    assert [e[5] for e in received_dms(first)] == ["for this guest only"]
    assert acks.message.recipient_id is None
    kit.hub.close_session(first, "quit")

    second = kit.guest("visitor", ip="10.0.0.8")
    assert received_dms(second) == []
    assert kit.hub.messages.dm_history(second).messages == []
    assert kit.hub.accounts.replay_dms(second, 0).messages == []
    kit.hub.close_session(second, "quit")

    account = await kit.login("visitor", ip="10.0.0.9")
    assert kit.replays[account.id].messages == []
    assert kit.hub.messages.dm_history(account, since=0).messages == []
    assert kit.hub.messages.dm_history(alice).messages == [], "nothing of it was stored"


# -- OPER: one login path, and power only while the account has it ------------------------


async def opered(kit: HubKit, ip: str = "10.0.0.7") -> Session:
    """A guest that gave root's password to OPER."""
    if kit.store.get_account("root") is None:
        await kit.add_user("root", role="admin")
    guest = kit.guest("visitor", ip=ip)
    await kit.hub.accounts.oper(guest, "root", PASSWORD)
    assert (guest.role, guest.oper_id) == ("admin", kit.account("root").id)
    return guest


def spy_lanes(kit: HubKit, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Which hash lane each password check took (True: the suspect lane)."""
    lanes: list[bool] = []
    real = kit.hasher.verify

    async def verify(password_hash: str | None, password: str, **kwargs: Any) -> bool:
        lanes.append(bool(kwargs.get("suspect")))
        return await real(password_hash, password, **kwargs)

    monkeypatch.setattr(kit.hasher, "verify", verify)
    return lanes


async def test_oper_goes_through_the_throttle_and_the_suspect_lane(
    kit: HubKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    await kit.add_user("root", role="admin")
    lanes = spy_lanes(kit, monkeypatch)
    clean = kit.guest("clean", ip="10.0.0.1")
    await kit.hub.accounts.oper(clean, "root", PASSWORD)
    assert lanes == [False], "a clean address and name: the clean lane"

    flooder = kit.guest("flooder", ip="10.6.6.6")
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await kit.hub.accounts.oper(flooder, "root", "wrong password")
    assert lanes[1:] == [False, True, True], "after a failure: the suspect lane"
    with pytest.raises(Throttled):
        await kit.hub.accounts.oper(flooder, "root", PASSWORD)
    assert len(lanes) == 4, "a throttled attempt costs no hash"

    # Another address is not throttled, but root's name failed lately: the suspect lane,
    # unless root logged in from that address before (trusted: the clean lane).
    stranger = kit.guest("stranger", ip="10.0.0.2")
    await kit.hub.accounts.oper(stranger, "root", PASSWORD)
    await kit.login("root", ip="10.0.0.1", create=False)
    assert lanes[4:] == [True, False]


async def test_oper_power_ends_when_the_account_is_demoted(kit: HubKit) -> None:
    guest = await opered(kit)
    await operator(kit, "user", "role", "root", "user")
    assert (guest.role, guest.oper_id) == ("user", None)
    with pytest.raises(Forbidden):
        await kit.hub.run_admin(guest, "who", {})


async def test_oper_power_ends_when_the_password_changes(kit: HubKit) -> None:
    guest = await opered(kit)
    await operator(kit, "user", "passwd", "root", NEW_PASSWORD)
    assert (guest.role, guest.oper_id) == ("user", None)
    await kit.hub.accounts.oper(guest, "root", NEW_PASSWORD)
    assert guest.role == "admin"


async def test_oper_power_ends_when_the_account_is_deleted(kit: HubKit) -> None:
    guest = await opered(kit)
    await operator(kit, "user", "del", "root")
    assert not guest.closed, "the guest was only lent the power"
    assert (guest.role, guest.oper_id) == ("user", None)


async def test_oper_power_ends_when_the_account_is_banned(kit: HubKit) -> None:
    guest = await opered(kit)
    await operator(kit, "ban", "root", "1h", "compromised")
    assert not guest.closed
    assert (guest.role, guest.oper_id) == ("user", None)
    with pytest.raises(Exception, match="banned for 60 more minutes: compromised"):
        await kit.hub.accounts.oper(guest, "root", PASSWORD)


async def test_an_account_that_opered_falls_back_to_its_own_role(kit: HubKit) -> None:
    await kit.add_user("root", role="admin")
    alice = await kit.login("alice", ip="10.0.0.2")
    await kit.hub.accounts.oper(alice, "root", PASSWORD)
    assert alice.role == "admin"
    kit.hub.moderation.revoke_oper(kit.account("root").id)
    assert (alice.role, alice.oper_id, alice.user) == ("user", None, "alice")


async def test_a_demoted_admin_loses_admin_at_once(kit: HubKit) -> None:
    await kit.add_user("boss", role="admin")
    boss = await kit.login("boss", create=False)
    boss2 = await kit.login("boss", ip="10.0.0.3", create=False)
    assert boss.role == boss2.role == "admin"
    await operator(kit, "user", "role", "boss", "user")
    assert boss.role == boss2.role == "user"
    with pytest.raises(Forbidden):
        await kit.hub.run_admin(boss, "who", {})
    kit.join(await kit.login("alice", ip="10.0.0.4"), "lobby")
    kit.join(boss, "lobby")
    with pytest.raises(Forbidden):  # an admin is an operator of every room; boss is not
        kit.hub.rooms.set_modes(boss, "lobby", [("+", "m", None)])


# -- failed logins: counted where they came from, and logged ------------------------------


async def test_a_flood_against_a_name_does_not_lock_its_owner_out(kit: HubKit) -> None:
    await kit.add_user("alice")
    flooder = kit.connect("10.0.0.9")
    throttled = 0
    for _ in range(20):
        try:
            await kit.hub.accounts.login(flooder, "alice", "wrong password")
        except Throttled:
            throttled += 1
            kit.clock.advance(5.0)
        except BadCredentials:
            pass
    assert throttled > 0, "the flooding address is slowed down"
    # alice, from home and from a new place: not throttled.
    for ip in ("10.0.0.1", "10.0.0.2"):
        kit.hub.accounts.check_login(kit.connect(ip), "alice")
        await kit.login("alice", ip=ip, create=False)
    with pytest.raises(Throttled):
        kit.hub.accounts.check_login(kit.connect("10.0.0.9"), "alice")


async def test_failed_logins_are_logged_for_fail2ban(
    kit: HubKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=AUTH_LOGGER)
    await kit.add_user("alice")
    await kit.add_user("root", role="admin")
    session = kit.connect("10.0.0.9")
    for name in ("alice", "nobody", "alice"):
        with pytest.raises(BadCredentials):
            await kit.hub.accounts.login(session, name, "wrong password")
    guest = kit.guest("visitor", ip="10.0.0.8")
    with pytest.raises(BadCredentials):
        await kit.hub.accounts.oper(guest, "root", "wrong password")
    with pytest.raises(Forbidden):
        await kit.hub.accounts.oper(guest, "alice", PASSWORD)  # right password, no admin
    await kit.login("alice", ip="10.0.0.1", create=False)  # a success is not logged here
    with pytest.raises(Throttled):
        await kit.hub.accounts.login(session, "alice", PASSWORD)
    lines = [r.getMessage() for r in caplog.records if r.name == AUTH_LOGGER]
    assert lines == [
        'auth failed peer=10.0.0.9 door=native reason=bad_credentials user="alice"',
        'auth failed peer=10.0.0.9 door=native reason=bad_credentials user="nobody"',
        'auth failed peer=10.0.0.9 door=native reason=bad_credentials user="alice"',
        'auth failed peer=10.0.0.8 door=irc reason=bad_oper_password user="root"',
        'auth failed peer=10.0.0.8 door=irc reason=bad_oper_password user="alice"',
        'auth failed peer=10.0.0.9 door=native reason=throttled user="alice"',
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == AUTH_LOGGER)


async def test_a_login_finds_a_look_alike_guest_without_a_scan_of_every_session(
    kit: HubKit,
) -> None:
    """Moving a guest aside looks the name up; it used to walk every session on every
    login (a reconnect storm of N users cost N² steps)."""
    guest = kit.guest("dave", ip="10.0.0.7")
    for i in range(3):
        kit.connect(f"10.0.1.{i}")

    class NoScan(dict[int, Session]):
        def values(self) -> Any:
            raise AssertionError("a login scanned every session")

    kit.hub.registry.sessions = NoScan(kit.hub.registry.sessions)
    newcomer = kit.connect("10.0.0.2")
    await kit.hub.accounts.register(newcomer, "Dave", PASSWORD, None)
    assert guest.user is not None and guest.user.startswith("Guest")
    assert kit.hub.registry.by_name("dave") == {newcomer}


async def test_a_guest_is_its_session_and_accounts_are_positive(kit: HubKit) -> None:
    first = kit.guest("erin", ip="10.0.0.7")
    second = kit.guest("frank", ip="10.0.0.8")
    account = await kit.login("gina")
    assert first.ident == first.id < 0 and first.guest and first.account_id is None
    assert second.ident == second.id < first.id, "session ids count down"
    assert account.ident > 0 and account.account_id == account.ident and not account.guest
    assert oldest([second, account, first]) is first


async def test_a_guest_moved_aside_never_gets_a_look_alike_of_someone_online(
    kit: HubKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = kit.guest("Guestl2345", ip="10.0.0.7")  # a lower-case L: looks like Guest12345
    guest = kit.guest("bob", ip="10.0.0.8")
    draws = iter([2345, 5555])
    monkeypatch.setattr(accounts_module.secrets, "randbelow", lambda n: next(draws))
    newcomer = kit.connect("10.0.0.2")
    await kit.hub.accounts.register(newcomer, "bob", PASSWORD, None)
    assert guest.user == "Guest15555"
    registry = kit.hub.registry
    assert registry.look_alike(confusable_key("Guestl2345")) == holder.ident
    assert registry.look_alike(confusable_key("Guest15555")) == guest.ident
