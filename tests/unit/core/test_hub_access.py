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

from ..hubkit import PASSWORD, HubKit, MakeKit, outlet

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


def test_a_banned_ip_is_refused_in_admit(kit: HubKit) -> None:
    kit.hub.ban("ip", "10.6.6.6", None, "abuse", "op")
    with pytest.raises(Banned) as info:
        kit.hub.admit("10.6.6.6")
    assert info.value.fatal
    kit.hub.admit("10.6.6.7")


def test_an_ip_ban_expires(kit: HubKit) -> None:
    kit.hub.ban("ip", "10.6.6.6", kit.clock.wall_ms() + 60_000, "abuse", "op")
    kit.clock.advance(59.0)
    with pytest.raises(Banned):
        kit.hub.admit("10.6.6.6")
    kit.clock.advance(1.0)
    kit.hub.admit("10.6.6.6")


def test_an_unbanned_ip_is_admitted(kit: HubKit) -> None:
    kit.hub.ban("ip", "10.6.6.6", None, "abuse", "op")
    assert kit.hub.unban("ip", "10.6.6.6")
    kit.hub.admit("10.6.6.6")


def test_stored_bans_are_enforced_after_reload(kit: HubKit) -> None:
    from teahouse.store.base import Ban

    kit.store.add_ban(Ban("ip", "10.6.6.6", None, "old", "op", 0))
    kit.hub.admit("10.6.6.6")
    kit.hub.reload_moderation()
    with pytest.raises(Banned):
        kit.hub.admit("10.6.6.6")


# -- logging in -----------------------------------------------------------------------------


async def test_login_sends_authed_with_the_registered_spelling_and_role(kit: HubKit) -> None:
    kit.add_user("Alice", role="admin")
    session = kit.connect()
    await kit.hub.login(session, "ALICE", PASSWORD, None, 7)
    assert outlet(session).events()[0] == ("authed", "Alice", "admin", 7)
    assert session.user == "Alice"
    assert session.key == "alice"
    assert kit.hub.users["alice"] == {session}


@pytest.mark.parametrize(("name", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)])
async def test_wrong_password_and_unknown_user_get_the_same_answer(
    kit: HubKit, name: str, password: str
) -> None:
    kit.add_user("alice")
    session = kit.connect()
    with pytest.raises(BadCredentials):
        await kit.hub.login(session, name, password, None, None)
    assert not session.authenticated


async def test_repeated_failures_are_throttled(kit: HubKit) -> None:
    kit.add_user("alice")
    session = kit.connect()
    for _ in range(3):
        with pytest.raises(BadCredentials):
            await kit.hub.login(session, "alice", "wrong password", None, None)
    with pytest.raises(Throttled) as info:
        await kit.hub.login(session, "alice", PASSWORD, None, None)
    assert info.value.retry_after == pytest.approx(1.0)
    kit.clock.advance(1.0)
    await kit.hub.login(session, "alice", PASSWORD, None, None)
    assert session.authenticated


async def test_a_banned_user_cannot_log_in(kit: HubKit) -> None:
    kit.add_user("alice")
    kit.hub.ban("user", "ALICE", None, "spam", "op")
    session = kit.connect()
    with pytest.raises(Banned):
        await kit.hub.login(session, "alice", PASSWORD, None, None)
    assert not session.authenticated


async def test_logging_in_twice_on_one_connection_is_refused(kit: HubKit) -> None:
    alice = await kit.login("alice")
    with pytest.raises(InvalidField):
        await kit.hub.login(alice, "alice", PASSWORD, None, None)


async def test_register_creates_the_account_and_logs_in(kit: HubKit) -> None:
    session = kit.connect()
    await kit.hub.register(session, "Newbie", PASSWORD, None, 1)
    assert session.authenticated
    assert outlet(session).events()[0] == ("authed", "Newbie", "user", 1)
    assert kit.store.get_account("newbie") is not None
    other = kit.connect()
    with pytest.raises(UserTaken):
        await kit.hub.register(other, "NEWBIE", PASSWORD, None, None)


@pytest.mark.parametrize("password", ["short", "newbie12", "aaaaaaaaaaaa", "x" * 1025])
async def test_register_refuses_weak_passwords(kit: HubKit, password: str) -> None:
    session = kit.connect()
    with pytest.raises(WeakPassword):
        await kit.hub.register(session, "newbie12", password, None, None)


async def test_register_by_invite_needs_an_unused_code(make_kit: MakeKit) -> None:
    kit = make_kit(registration="invite")
    kit.store.create_invite("code-1", "op", 0)
    first = kit.connect()
    with pytest.raises(RegistrationClosed):
        await kit.hub.register(first, "newbie", PASSWORD, None, None)
    await kit.hub.register(first, "newbie", PASSWORD, "code-1", None)
    second = kit.connect()
    with pytest.raises(RegistrationClosed):
        await kit.hub.register(second, "other", PASSWORD, "code-1", None)


async def test_register_when_closed_is_refused(make_kit: MakeKit) -> None:
    kit = make_kit(registration="closed")
    with pytest.raises(RegistrationClosed):
        await kit.hub.register(kit.connect(), "newbie", PASSWORD, None, None)


async def test_chat_before_login_is_not_authed(kit: HubKit) -> None:
    session = kit.connect()
    with pytest.raises(NotAuthed):
        kit.hub.join(session, "lobby", None, None)
    with pytest.raises(NotAuthed):
        kit.hub.dm(session, "bob", "hi", None, None)
    with pytest.raises(NotAuthed):
        await kit.hub.run_admin(session, "who", {}, None)


# -- muting -------------------------------------------------------------------------------


async def muted_alice(kit: HubKit) -> Session:
    alice = await kit.login("alice")
    await kit.login("bob", ip="10.0.0.2")
    kit.hub.join(alice, "lobby", None, None)
    return alice


async def test_a_muted_user_gets_forbidden_for_say_and_dm(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.mute("ALICE", None, "op")
    with pytest.raises(Forbidden):
        kit.hub.say(alice, "lobby", "hi", None, None)
    with pytest.raises(Forbidden):
        kit.hub.dm(alice, "bob", "hi", None, None)
    assert kit.store.room_before("lobby", None, 10).messages == []
    assert kit.hub.stats.messages_total == 0


async def test_a_timed_mute_expires(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.mute("alice", kit.clock.wall_ms() + 30_000, "op")
    kit.clock.advance(29.0)
    with pytest.raises(Forbidden):
        kit.hub.say(alice, "lobby", "hi", None, None)
    kit.clock.advance(1.0)
    kit.hub.say(alice, "lobby", "hi", None, None)


async def test_an_unmuted_user_may_speak(kit: HubKit) -> None:
    alice = await muted_alice(kit)
    kit.hub.mute("alice", None, "op")
    assert kit.hub.unmute("Alice")
    kit.hub.say(alice, "lobby", "hi", None, None)
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
        await kit.hub.run_admin(alice, "kick", {"user": "bob"}, 1)
    assert runner.calls == []


async def test_run_admin_by_an_admin_runs_and_answers_with_ref(kit: HubKit) -> None:
    runner = RecordingRunner()
    kit.hub.admin = runner
    kit.add_user("root", role="admin")
    root = await kit.login("root")
    await kit.hub.run_admin(root, "who", {"room": "lobby"}, 9)
    assert runner.calls == [("who", {"room": "lobby"})]
    assert outlet(root).events()[-1] == ("admin_result", "who", "done", '{"ok":true}', 9)


async def test_a_user_promoted_while_online_may_run_admin(kit: HubKit) -> None:
    runner = RecordingRunner()
    kit.hub.admin = runner
    alice = await kit.login("alice")
    kit.hub.set_live_role("ALICE", "admin")
    await kit.hub.run_admin(alice, "who", {}, None)
    assert len(runner.calls) == 1
