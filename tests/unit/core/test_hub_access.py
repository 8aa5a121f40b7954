"""Who may connect, log in, speak and run operator commands."""

from __future__ import annotations

import pytest

from teahouse.core.hub import AdminRunner
from teahouse.core.session import Session
from teahouse.errors import (
    BadCredentials,
    Banned,
    Forbidden,
    InvalidField,
    NotAuthed,
    RegistrationClosed,
    Throttled,
    TooManyConnections,
    UserTaken,
    WeakPassword,
)
from teahouse.store.base import Ban

from ..hubkit import PASSWORD, Acks, HubKit, MakeKit, outlet

# -- connection caps ----------------------------------------------------------------------


def test_per_ip_connection_cap_raises_too_many_connections(make_kit: MakeKit) -> None:
    kit = make_kit(max_connections_per_ip=2, max_connections=100)
    kit.connect("10.0.0.1")
    kit.connect("10.0.0.1")
    with pytest.raises(TooManyConnections) as info:
        kit.hub.admit("10.0.0.1")
    assert info.value.fatal
    kit.hub.admit("10.0.0.2")  # another address is not affected


def test_global_connection_cap_raises_too_many_connections(make_kit: MakeKit) -> None:
    kit = make_kit(max_connections_per_ip=100, max_connections=3)
    for i in range(3):
        kit.connect(f"10.0.0.{i}")
    with pytest.raises(TooManyConnections):
        kit.hub.admit("10.0.0.99")


def test_a_closed_connection_frees_its_place_under_the_caps(make_kit: MakeKit) -> None:
    kit = make_kit(max_connections_per_ip=1, max_connections=1)
    session = kit.connect("10.0.0.1")
    with pytest.raises(TooManyConnections):
        kit.hub.admit("10.0.0.1")
    kit.hub.close_session(session, "disconnected")
    kit.hub.admit("10.0.0.1")


def test_the_accept_rate_per_address_refuses_a_burst_then_recovers(make_kit: MakeKit) -> None:
    kit = make_kit(connections_per_ip_per_second=2, connections_per_ip_burst=3)
    for _ in range(3):
        kit.hub.admit("10.0.0.1")
    with pytest.raises(TooManyConnections) as info:
        kit.hub.admit("10.0.0.1")
    assert "too fast" in info.value.message
    kit.hub.admit("10.0.0.2")
    kit.clock.advance(0.5)  # one token back
    kit.hub.admit("10.0.0.1")
    with pytest.raises(TooManyConnections):
        kit.hub.admit("10.0.0.1")


def test_allowlisted_addresses_skip_the_per_address_limits(make_kit: MakeKit) -> None:
    kit = make_kit(
        max_connections_per_ip=1,
        connections_per_ip_per_second=1,
        connections_per_ip_burst=1,
        allowlist=["10.9.0.0/16"],
    )
    for _ in range(5):
        kit.connect("10.9.1.1")
    kit.connect("10.0.0.1")
    with pytest.raises(TooManyConnections):
        kit.hub.admit("10.0.0.1")


def test_shutting_down_refuses_every_new_connection(kit: HubKit) -> None:
    kit.hub.accepting = False
    with pytest.raises(TooManyConnections) as info:
        kit.hub.admit("10.0.0.1")
    assert "shutting down" in info.value.message


def test_a_banned_ip_is_refused_in_admit(kit: HubKit) -> None:
    kit.hub.moderation.ban_address("10.6.6.6", None, "abuse", "op")
    with pytest.raises(Banned) as info:
        kit.hub.admit("10.6.6.6")
    assert info.value.fatal
    kit.hub.admit("10.6.6.7")


def test_an_ip_ban_expires(kit: HubKit) -> None:
    kit.hub.moderation.ban_address("10.6.6.6", kit.clock.wall_ms() + 60_000, "abuse", "op")
    kit.clock.advance(59.0)
    with pytest.raises(Banned):
        kit.hub.admit("10.6.6.6")
    kit.clock.advance(1.0)
    kit.hub.admit("10.6.6.6")


def test_an_unbanned_ip_is_admitted(kit: HubKit) -> None:
    kit.hub.moderation.ban_address("10.6.6.6", None, "abuse", "op")
    assert kit.hub.moderation.unban("ip", "10.6.6.6")
    kit.hub.admit("10.6.6.6")


async def test_stored_bans_are_enforced_after_reload(kit: HubKit) -> None:
    kit.store.add_ban(Ban("ip", "10.6.6.6", None, "old", "op", 0))
    await kit.store.sync()  # stored behind the hub's back (the command line)
    kit.hub.admit("10.6.6.6")
    kit.hub.moderation.reload()
    with pytest.raises(Banned):
        kit.hub.admit("10.6.6.6")


# -- logging in -----------------------------------------------------------------------------


async def test_login_binds_the_session_to_the_account_with_its_spelling_and_role(
    kit: HubKit,
) -> None:
    await kit.add_user("Alice", role="admin")
    session = kit.connect()
    account = await kit.hub.accounts.login(session, "ALICE", PASSWORD)
    assert (account.name, account.role) == ("Alice", "admin")
    assert account.id > 0
    assert session.authenticated
    assert (session.user, session.key, session.role) == ("Alice", "alice", "admin")
    assert session.ident == session.account_id == account.id
    registry = kit.hub.registry
    assert registry.online(account.id) == {session}
    assert registry.names["alice"] == account.id
    assert registry.by_name("ALICE") == {session}
    assert kit.hub.stats.logins_ok == 1


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)])
async def test_wrong_password_and_unknown_user_get_the_same_answer(
    kit: HubKit, name: str, password: str
) -> None:
    await kit.add_user("alice")
    session = kit.connect()
    with pytest.raises(BadCredentials):
        await kit.hub.accounts.login(session, name, password)
    assert not session.authenticated
    assert list(kit.hub.registry.identities()) == []
    assert kit.hub.stats.logins_failed == 1


async def test_repeated_failures_are_throttled(kit: HubKit) -> None:
    await kit.add_user("alice")
    session = kit.connect()
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await kit.hub.accounts.login(session, "alice", "wrong password")
    with pytest.raises(Throttled) as info:
        await kit.hub.accounts.login(session, "alice", PASSWORD)
    assert info.value.retry_after == pytest.approx(1.0)
    # The door's synchronous check says the same before any task is made.
    with pytest.raises(Throttled):
        kit.hub.accounts.check_login(session, "alice")
    kit.clock.advance(1.0)
    await kit.hub.accounts.login(session, "alice", PASSWORD)
    assert session.authenticated


async def test_a_banned_user_cannot_log_in(kit: HubKit) -> None:
    await kit.add_user("alice")
    kit.hub.moderation.ban_account(kit.account("ALICE").id, None, "spam", "op")
    session = kit.connect()
    with pytest.raises(Banned):
        await kit.hub.accounts.login(session, "alice", PASSWORD)
    assert not session.authenticated


async def test_logging_in_twice_on_one_connection_is_refused(kit: HubKit) -> None:
    alice = await kit.login("alice")
    with pytest.raises(InvalidField):
        await kit.hub.accounts.login(alice, "alice", PASSWORD)


async def test_register_creates_the_account_and_logs_in(kit: HubKit) -> None:
    session = kit.connect()
    account = await kit.hub.accounts.register(session, "Newbie", PASSWORD, None)
    assert session.authenticated
    assert (account.name, account.role) == ("Newbie", "user")
    assert (session.user, session.ident) == ("Newbie", account.id)
    stored = kit.store.get_account("newbie")
    assert stored is not None
    assert stored.id == account.id
    other = kit.connect()
    with pytest.raises(UserTaken):
        await kit.hub.accounts.register(other, "NEWBIE", PASSWORD, None)


@pytest.mark.parametrize("password", ["short", "newbie12", "aaaaaaaaaaaa", "x" * 1025])
async def test_register_refuses_weak_passwords(kit: HubKit, password: str) -> None:
    session = kit.connect()
    with pytest.raises(WeakPassword):
        await kit.hub.accounts.register(session, "newbie12", password, None)


async def test_register_by_invite_needs_an_unused_code(make_kit: MakeKit) -> None:
    kit = make_kit(registration="invite")
    kit.store.create_invite("code-1", "op", 0)
    await kit.store.sync()
    first = kit.connect()
    with pytest.raises(RegistrationClosed):
        await kit.hub.accounts.register(first, "newbie", PASSWORD, None)
    await kit.hub.accounts.register(first, "newbie", PASSWORD, "code-1")
    second = kit.connect()
    with pytest.raises(RegistrationClosed):
        await kit.hub.accounts.register(second, "other", PASSWORD, "code-1")


async def test_register_when_closed_is_refused(make_kit: MakeKit) -> None:
    kit = make_kit(registration="closed")
    with pytest.raises(RegistrationClosed):
        await kit.hub.accounts.register(kit.connect(), "newbie", PASSWORD, None)


async def test_registrations_per_address_are_limited(make_kit: MakeKit) -> None:
    kit = make_kit(registrations_per_ip_per_hour=2)
    for i in range(2):
        await kit.hub.accounts.register(kit.connect("10.0.0.5"), f"newbie{i}", PASSWORD, None)
    with pytest.raises(Throttled) as info:
        await kit.hub.accounts.register(kit.connect("10.0.0.5"), "newbie9", PASSWORD, None)
    assert info.value.retry_after is not None and info.value.retry_after > 0
    await kit.hub.accounts.register(kit.connect("10.0.0.6"), "elsewhere", PASSWORD, None)


async def test_chat_before_login_is_not_authed(kit: HubKit) -> None:
    session = kit.connect()
    with pytest.raises(NotAuthed):
        kit.join(session, "lobby")
    with pytest.raises(NotAuthed):
        kit.dm(session, "bob", "hi")
    with pytest.raises(NotAuthed):
        await kit.hub.run_admin(session, "who", {})


# -- OPER: the one login path --------------------------------------------------------------


async def test_oper_with_an_admin_account_gives_the_admin_role(kit: HubKit) -> None:
    await kit.add_user("root", role="admin")
    guest = kit.guest("visitor")
    account = await kit.hub.accounts.oper(guest, "root", PASSWORD)
    assert account.name == "root"
    assert guest.role == "admin"
    assert guest.user == "visitor"  # OPER grants a role, not an identity


async def test_oper_of_an_account_that_is_no_admin_is_forbidden(kit: HubKit) -> None:
    await kit.add_user("plain")
    guest = kit.guest("visitor")
    with pytest.raises(Forbidden) as info:
        await kit.hub.accounts.oper(guest, "plain", PASSWORD)
    assert info.value.detail == "not_oper"
    assert guest.role == "user"


async def test_a_wrong_oper_password_counts_as_a_failed_login_and_is_throttled(
    kit: HubKit,
) -> None:
    await kit.add_user("root", role="admin")
    guest = kit.guest("visitor")
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await kit.hub.accounts.oper(guest, "root", "wrong password")
    assert kit.hub.stats.logins_failed == 3
    with pytest.raises(Throttled):
        await kit.hub.accounts.oper(guest, "root", PASSWORD)
    # The same throttle guards the account's ordinary login.
    with pytest.raises(Throttled):
        await kit.hub.accounts.login(kit.connect("10.0.0.1"), "root", PASSWORD)
    assert guest.role == "user"
    kit.clock.advance(1.0)
    await kit.hub.accounts.oper(guest, "root", PASSWORD)
    assert guest.role == "admin"


# -- guests ----------------------------------------------------------------------------------


def test_a_guest_gets_an_identity_of_its_own(kit: HubKit) -> None:
    first = kit.guest("Visitor")
    second = kit.guest("other")
    assert first.guest and first.authenticated
    assert first.ident < 0 and second.ident < 0 and first.ident != second.ident
    assert first.account_id is None
    assert kit.hub.registry.names["visitor"] == first.ident
    assert kit.hub.registry.by_name("VISITOR") == {first}


async def test_a_guest_cannot_take_a_registered_or_used_nick(kit: HubKit) -> None:
    await kit.add_user("carol")
    kit.guest("Visitor")
    for nick, detail in [("Carol", "registered"), ("visitor", "in_use")]:
        session = kit.connect()
        with pytest.raises(UserTaken) as info:
            kit.hub.accounts.authenticate_guest(session, nick)
        assert info.value.detail == detail
        assert not session.authenticated


def test_a_guest_is_renamed_and_its_rooms_are_told(kit: HubKit) -> None:
    guest = kit.guest("visitor")
    watcher = kit.guest("watcher", ip="10.0.0.2")
    kit.join(guest, "lobby")
    kit.join(watcher, "lobby")
    old = kit.hub.accounts.rename_guest(guest, "Traveller")
    assert old == "visitor"
    assert (guest.user, guest.key) == ("Traveller", "traveller")
    registry = kit.hub.registry
    assert "visitor" not in registry.names
    assert registry.names["traveller"] == guest.ident
    assert registry.rooms["lobby"].member_names() == ["Traveller", "watcher"]
    assert outlet(watcher).events("renamed") == [("renamed", "lobby", "visitor", "Traveller")]
    # The old name is free for someone else now.
    kit.guest("visitor", ip="10.0.0.3")


async def test_renaming_is_for_guests_and_free_names_only(kit: HubKit) -> None:
    await kit.add_user("carol")
    alice = await kit.login("alice")
    guest = kit.guest("visitor")
    kit.guest("other")
    with pytest.raises(Forbidden) as info:
        kit.hub.accounts.rename_guest(alice, "alicia")
    assert info.value.detail == "account"
    with pytest.raises(UserTaken):
        kit.hub.accounts.rename_guest(guest, "OTHER")
    with pytest.raises(UserTaken):
        kit.hub.accounts.rename_guest(guest, "carol")
    # A change of case is a rename to one's own name: allowed.
    assert kit.hub.accounts.rename_guest(guest, "Visitor") == "visitor"
    assert guest.user == "Visitor"
    assert kit.hub.registry.names["visitor"] == guest.ident


async def test_a_guest_that_logs_in_becomes_the_accounts_session(kit: HubKit) -> None:
    await kit.add_user("alice")
    guest = kit.guest("visitor")
    guest_ident = guest.ident
    await kit.hub.accounts.login(guest, "alice", PASSWORD)
    assert not guest.guest
    assert guest.user == "alice"
    registry = kit.hub.registry
    assert not registry.is_online(guest_ident)
    assert "visitor" not in registry.names
    assert registry.by_name("alice") == {guest}


# -- muting -------------------------------------------------------------------------------


async def muted_alice(kit: HubKit) -> Session:
    alice = await kit.login("alice")
    await kit.login("bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    return alice


async def test_a_muted_user_gets_forbidden_for_say_and_dm(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.moderation.mute(alice.account_id, None, "op")
    with pytest.raises(Forbidden):
        kit.say(alice, "lobby", "hi")
    with pytest.raises(Forbidden):
        kit.dm(alice, "bob", "hi")
    kit.run_soon()
    assert kit.store.room_before("lobby", None, 10).messages == []
    assert kit.hub.stats.messages_total == 0


async def test_a_timed_mute_expires(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.moderation.mute(alice.account_id, kit.clock.wall_ms() + 30_000, "op")
    kit.clock.advance(29.0)
    with pytest.raises(Forbidden):
        kit.say(alice, "lobby", "hi")
    kit.clock.advance(1.0)
    acks = kit.say(alice, "lobby", "hi")
    kit.run_soon()
    assert acks.message.text == "hi"


async def test_an_unmuted_user_may_speak(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.moderation.mute(alice.account_id, None, "op")
    assert kit.hub.moderation.unmute(alice.account_id, "op")
    acks: Acks = kit.say(alice, "lobby", "hi")
    kit.run_soon()
    assert acks.done
    assert kit.hub.stats.messages_total == 1


# -- operator commands --------------------------------------------------------------------


class RecordingRunner(AdminRunner):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    async def run_for(
        self, session: Session, cmd: str, args: dict[str, object]
    ) -> tuple[str, object]:
        self.calls.append((cmd, args))
        return "done", {"ok": True}


async def test_run_admin_by_a_non_admin_is_forbidden(kit: HubKit) -> None:
    runner = RecordingRunner()
    kit.hub.admin = runner
    alice = await kit.login("alice")
    with pytest.raises(Forbidden):
        await kit.hub.run_admin(alice, "kick", {"user": "bob"})
    assert runner.calls == []


async def test_run_admin_by_an_admin_runs_and_returns_the_result(kit: HubKit) -> None:
    runner = RecordingRunner()
    kit.hub.admin = runner
    await kit.add_user("root", role="admin")
    root = await kit.login("root")
    result = await kit.hub.run_admin(root, "who", {"room": "lobby"})
    assert runner.calls == [("who", {"room": "lobby"})]
    assert result == ("done", {"ok": True})


async def test_a_user_promoted_while_online_may_run_admin(kit: HubKit) -> None:
    runner = RecordingRunner()
    kit.hub.admin = runner
    alice = await kit.login("alice")
    await kit.store.set_role(kit.account("alice").id, "admin")
    kit.hub.moderation.set_live_role(kit.account("alice").id, "admin")
    await kit.hub.run_admin(alice, "who", {})
    assert len(runner.calls) == 1


async def test_a_live_role_never_reaches_a_guest_that_held_the_name(kit: HubKit) -> None:
    guest = kit.guest("visitor")
    visitor = await kit.add_user("visitor", role="admin")
    kit.hub.moderation.set_live_role(visitor.id, "admin")
    assert guest.role == "user"
    assert guest.user != "visitor", "moved off the name the account took"
