"""CommandSet.run against a hub on fakes, and the audit log it writes."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable

import pytest

from teahouse.admin.commands import CommandSet
from teahouse.core.session import Session
from teahouse.errors import (
    BadCredentials,
    Banned,
    Forbidden,
    InvalidField,
    InvalidName,
    NoSuchRoom,
    NoSuchUser,
    UserTaken,
    WeakPassword,
)

from ..hubkit import PASSWORD, HubKit, outlet

NEW_PASSWORD = "Another-s3cret-pass"


class Shutdowns:
    def __init__(self) -> None:
        self.graces: list[float] = []

    def __call__(self, grace: float) -> Awaitable[None] | None:
        self.graces.append(grace)
        return None


@pytest.fixture
def shutdowns() -> Shutdowns:
    return Shutdowns()


@pytest.fixture
def commands(kit: HubKit, shutdowns: Shutdowns) -> CommandSet:
    runner = CommandSet(kit.hub, transports_open=lambda: 42, shutdown=shutdowns)
    kit.hub.admin = runner
    return runner


async def run(commands: CommandSet, cmd: str, **args: object) -> tuple[str, object]:
    return await commands.run(cmd, args, actor="op", entrance="console")


async def online(kit: HubKit) -> tuple[Session, Session]:
    """alice in lobby, Bob in tea, and one connection that has not logged in."""
    alice = await kit.login("alice", ip="10.0.0.1")
    bob = await kit.login("Bob", ip="10.0.0.2")
    kit.join(alice, "lobby")
    kit.join(bob, "tea")
    kit.connect("10.0.0.3")
    outlet(alice).clear()
    outlet(bob).clear()
    return alice, bob


def audit_entries(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "teahouse.audit"]


@pytest.fixture
def audit(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="teahouse.audit")
    return caplog


# -- read-only commands -------------------------------------------------------------------


async def test_help_lists_every_command(commands: CommandSet) -> None:
    text, data = await run(commands, "help")
    assert isinstance(data, dict)
    assert "kick" in data["commands"]
    assert "ban USER|IP" in text


async def test_who_lists_authenticated_users_with_address_and_rooms(
    kit: HubKit, commands: CommandSet
) -> None:
    await online(kit)
    text, rows = await run(commands, "who")
    assert isinstance(rows, list)
    assert [(r["user"], r["address"].split(":")[0], r["rooms"]) for r in rows] == [
        ("alice", "10.0.0.1", ["lobby"]),
        ("Bob", "10.0.0.2", ["tea"]),
    ]
    assert "alice" in text
    assert "Bob" in text


async def test_who_room_lists_only_that_rooms_members(kit: HubKit, commands: CommandSet) -> None:
    await online(kit)
    _, rows = await run(commands, "who", room="tea")
    assert [r["user"] for r in rows] == ["Bob"]  # type: ignore[attr-defined]


async def test_who_with_nobody_online_says_so(commands: CommandSet) -> None:
    text, rows = await run(commands, "who")
    assert rows == []
    assert text == "nobody is online"


async def test_stats_reports_the_hub_counters(kit: HubKit, commands: CommandSet) -> None:
    alice, _ = await online(kit)
    kit.say(alice, "lobby", "hi")
    kit.run_soon()
    kit.hub.close_session(alice, "quit")
    _, data = await run(commands, "stats")
    assert isinstance(data, dict)
    assert data["connections"] == 42
    assert data["sessions"] == 2
    assert data["authenticated"] == 1
    assert data["users_online"] == 1
    assert data["rooms_live"] == 1
    assert data["messages_total"] == 1
    assert data["connections_total"] == 3
    assert data["janitor_repairs"] == 0
    assert data["closed_by_reason"] == {"quit": 1}
    assert data["rss_bytes"] > 0


async def test_rooms_lists_every_room_with_live_members_and_topic(
    kit: HubKit, commands: CommandSet
) -> None:
    alice, _ = await online(kit)
    kit.hub.rooms.set_topic(alice, "lobby", "biscuits")
    kit.store.create_room("attic", 0)  # read back before its commit
    text, rows = await run(commands, "rooms")
    assert rows == [
        {"room": "attic", "members": 0, "topic": ""},
        {"room": "lobby", "members": 1, "topic": "biscuits"},
        {"room": "tea", "members": 1, "topic": ""},
    ]
    assert "biscuits" in text


async def test_unknown_command_is_invalid_field(commands: CommandSet) -> None:
    with pytest.raises(InvalidField):
        await run(commands, "frobnicate")


# -- moderation ---------------------------------------------------------------------------


async def test_kick_closes_every_session_of_the_user(kit: HubKit, commands: CommandSet) -> None:
    _, bob = await online(kit)
    bob2 = await kit.login("bob", ip="10.0.0.4")
    _, data = await run(commands, "kick", user="BOB", reason="flooding")
    assert data == {"closed": 2}
    for session in (bob, bob2):
        assert session.closed
        assert outlet(session).events()[-1] == ("error", "kicked", True)
    assert "bob" not in kit.hub.registry.names
    assert not kit.hub.registry.is_online(bob.ident)


async def test_kick_of_a_user_not_online_is_no_such_user(commands: CommandSet) -> None:
    with pytest.raises(NoSuchUser):
        await run(commands, "kick", user="ghost")


async def test_ban_user_closes_their_sessions_and_refuses_login(
    kit: HubKit, commands: CommandSet
) -> None:
    _, bob = await online(kit)
    _, data = await run(commands, "ban", target="bob", duration="1h", reason="spam")
    assert data == {"closed": 1}
    assert bob.closed
    assert outlet(bob).events()[-1] == ("error", "banned", True)
    kit.run_soon()
    [ban] = kit.store.active_bans(kit.clock.wall_ms())
    assert (ban.kind, ban.value, ban.reason, ban.by) == ("user", str(bob.ident), "spam", "op")
    assert ban.until_ms == kit.clock.wall_ms() + 3_600_000
    with pytest.raises(Banned):
        await kit.login("bob", ip="10.0.0.9")


async def test_ban_ip_is_normalised_and_refuses_connections(
    kit: HubKit, commands: CommandSet
) -> None:
    await run(commands, "ban", target="2001:DB8:0::1")
    with pytest.raises(Banned):
        kit.hub.admit("2001:db8::1")


async def test_ban_of_an_unknown_user_or_a_bad_target_is_refused(commands: CommandSet) -> None:
    with pytest.raises(NoSuchUser):
        await run(commands, "ban", target="ghost")
    with pytest.raises(InvalidName):
        await run(commands, "ban", target="not a name!")


async def test_ban_with_an_absurd_duration_is_invalid_field(
    kit: HubKit, commands: CommandSet
) -> None:
    await kit.add_user("bob")
    with pytest.raises(InvalidField):
        await run(commands, "ban", target="bob", duration="99999999999999999999w")
    with pytest.raises(InvalidField):
        await run(commands, "mute", user="bob", duration=1e300)


async def test_unban_lifts_the_ban(kit: HubKit, commands: CommandSet) -> None:
    await kit.add_user("bob")
    await run(commands, "ban", target="Bob")
    kit.run_soon()
    assert len(kit.store.active_bans(kit.clock.wall_ms())) == 1
    await run(commands, "unban", target="BOB")
    kit.run_soon()
    assert kit.store.active_bans(kit.clock.wall_ms()) == []
    await kit.login("bob")
    with pytest.raises(InvalidField):
        await run(commands, "unban", target="bob")


async def test_bans_lists_the_bans_in_force(kit: HubKit, commands: CommandSet) -> None:
    await kit.add_user("bob")
    await run(commands, "ban", target="bob", reason="spam")
    await run(commands, "ban", target="10.0.0.9", duration="10m")
    _, rows = await run(commands, "bans")
    assert [(r["kind"], r["value"]) for r in rows] == [  # type: ignore[attr-defined]
        ("user", "bob"),
        ("ip", "10.0.0.9/32"),  # an address is a network of one
    ]


async def test_mute_stops_a_user_speaking_until_it_ends(kit: HubKit, commands: CommandSet) -> None:
    alice, _ = await online(kit)
    await run(commands, "mute", user="ALICE", duration="10m")
    with pytest.raises(Forbidden):
        kit.say(alice, "lobby", "hi")
    kit.clock.advance(600.0)
    kit.say(alice, "lobby", "hi")


async def test_unmute_lets_a_user_speak_again(kit: HubKit, commands: CommandSet) -> None:
    alice, _ = await online(kit)
    await run(commands, "mute", user="alice")
    await run(commands, "unmute", user="alice")
    kit.say(alice, "lobby", "hi")
    with pytest.raises(InvalidField):
        await run(commands, "unmute", user="alice")


async def test_mute_of_an_unknown_user_is_no_such_user(commands: CommandSet) -> None:
    with pytest.raises(NoSuchUser):
        await run(commands, "mute", user="ghost")


async def test_broadcast_reaches_every_authenticated_session(
    kit: HubKit, commands: CommandSet
) -> None:
    alice, bob = await online(kit)
    pending = next(s for s in kit.hub.sessions.values() if not s.authenticated)
    _, data = await run(commands, "broadcast", text="restart at 5")
    assert data == {"sessions": 2}
    for session in (alice, bob):
        assert outlet(session).events() == [("notice", "restart at 5", "op")]
    assert outlet(pending).events() == []


@pytest.mark.parametrize("args", [{}, {"text": ""}, {"text": "a\x00b"}, {"text": 5}])
async def test_broadcast_needs_valid_text(commands: CommandSet, args: dict[str, object]) -> None:
    with pytest.raises(InvalidField):
        await commands.run("broadcast", args, actor="op", entrance="console")


async def test_topic_sets_the_topic_and_tells_the_members(
    kit: HubKit, commands: CommandSet
) -> None:
    alice, bob = await online(kit)
    await run(commands, "topic", room="lobby", text="tea and biscuits")
    assert outlet(alice).events() == [("topic", "lobby", "tea and biscuits", "op")]
    assert outlet(bob).events() == []
    room = kit.store.get_room("lobby")
    assert room is not None
    assert (room.topic, room.topic_by) == ("tea and biscuits", "op")
    await run(commands, "topic", room="lobby")
    room = kit.store.get_room("lobby")
    assert room is not None
    assert room.topic == ""


async def test_topic_of_a_missing_or_badly_named_room_is_refused(commands: CommandSet) -> None:
    with pytest.raises(NoSuchRoom):
        await run(commands, "topic", room="nowhere", text="x")
    with pytest.raises(InvalidName):
        await run(commands, "topic", room="Not A Room", text="x")


# -- accounts -----------------------------------------------------------------------------


async def test_user_add_creates_an_account_that_can_log_in(
    kit: HubKit, commands: CommandSet
) -> None:
    await run(commands, "user", action="add", name="Carol", password=PASSWORD)
    await run(commands, "user", action="add", name="root", password=PASSWORD, admin=True)
    carol = kit.store.get_account("carol")
    root = kit.store.get_account("root")
    assert carol is not None
    assert root is not None
    assert (carol.name, carol.role, root.role) == ("Carol", "user", "admin")
    assert carol.password_hash != PASSWORD
    session = await kit.login("carol", create=False)
    assert session.role == "user"


@pytest.mark.parametrize(
    ("name", "password", "error"),
    [
        ("alice", PASSWORD, UserTaken),
        ("ALICE", PASSWORD, UserTaken),
        ("bad name", PASSWORD, InvalidName),
        ("carol", "short", WeakPassword),
        ("carol", "carol", WeakPassword),
    ],
)
async def test_user_add_refuses_taken_names_bad_names_and_weak_passwords(
    kit: HubKit, commands: CommandSet, name: str, password: str, error: type[Exception]
) -> None:
    await kit.add_user("alice")
    with pytest.raises(error):
        await run(commands, "user", action="add", name=name, password=password)


async def test_user_del_kicks_and_deletes_the_account(kit: HubKit, commands: CommandSet) -> None:
    _, bob = await online(kit)
    await run(commands, "user", action="del", name="bob")
    assert bob.closed
    assert kit.store.get_account("bob") is None
    with pytest.raises(NoSuchUser):
        await run(commands, "user", action="del", name="bob")


async def test_user_passwd_changes_the_password(kit: HubKit, commands: CommandSet) -> None:
    await kit.add_user("alice")
    await run(commands, "user", action="passwd", name="alice", password=NEW_PASSWORD)
    session = kit.connect()
    with pytest.raises(BadCredentials):
        await kit.hub.accounts.login(session, "alice", PASSWORD)
    await kit.hub.accounts.login(session, "alice", NEW_PASSWORD)
    assert session.authenticated


async def test_user_role_changes_the_stored_and_live_role(
    kit: HubKit, commands: CommandSet
) -> None:
    alice, _ = await online(kit)
    await run(commands, "user", action="role", name="alice", role="admin")
    assert alice.role == "admin"
    account = kit.store.get_account("alice")
    assert account is not None
    assert account.role == "admin"
    with pytest.raises(InvalidField):
        await run(commands, "user", action="role", name="alice", role="god")
    with pytest.raises(NoSuchUser):
        await run(commands, "user", action="role", name="ghost", role="user")


async def test_user_list_lists_the_accounts(kit: HubKit, commands: CommandSet) -> None:
    await kit.add_user("bob")
    await kit.add_user("Alice", role="admin")
    _, rows = await run(commands, "user", action="list")
    assert rows == [{"name": "Alice", "role": "admin"}, {"name": "bob", "role": "user"}]


async def test_invite_makes_a_single_use_code(kit: HubKit, commands: CommandSet) -> None:
    text, data = await run(commands, "invite")
    assert isinstance(data, dict)
    code = data["code"]
    assert code in text
    assert await kit.store.use_invite(code, "newbie")
    assert not await kit.store.use_invite(code, "other")
    _, again = await run(commands, "invite")
    assert again != data


async def test_shutdown_calls_the_server_with_the_grace(
    commands: CommandSet, shutdowns: Shutdowns
) -> None:
    await run(commands, "shutdown")
    await run(commands, "shutdown", grace="2.5")
    assert shutdowns.graces == [5.0, 2.5]
    with pytest.raises(InvalidField):
        await run(commands, "shutdown", grace="soon")


async def test_an_async_shutdown_is_awaited(kit: HubKit) -> None:
    done: list[float] = []

    async def stop(grace: float) -> None:
        done.append(grace)

    runner = CommandSet(kit.hub, transports_open=lambda: 0, shutdown=stop, default_grace=1.0)
    await runner.run("shutdown", {}, actor="op", entrance="console")
    assert done == [1.0]


# -- entrances ----------------------------------------------------------------------------


async def test_run_words_runs_the_parsed_command(kit: HubKit, commands: CommandSet) -> None:
    _, bob = await online(kit)
    await commands.run_words(["kick", "bob", "bye", "now"], actor="op", entrance="socket")
    assert bob.closed


async def test_an_admin_frame_runs_the_command_for_the_session(
    kit: HubKit, commands: CommandSet, audit: pytest.LogCaptureFixture
) -> None:
    await kit.add_user("root", role="admin")
    root = await kit.login("root", ip="10.0.0.5")
    text, data = await kit.hub.run_admin(root, "broadcast", {"text": "hello all"})
    assert outlet(root).events() == [("notice", "hello all", "root")]
    assert (text, data) == ("sent to 1 sessions", {"sessions": 1})
    [entry] = audit_entries(audit)
    assert (entry["actor"], entry["entrance"], entry["cmd"]) == ("root", "native", "broadcast")


# -- the audit log ------------------------------------------------------------------------


async def test_actions_are_audited_with_actor_entrance_and_arguments(
    kit: HubKit, commands: CommandSet, audit: pytest.LogCaptureFixture
) -> None:
    await online(kit)
    await commands.run("kick", {"user": "bob", "reason": "flood"}, actor="op", entrance="console")
    assert audit_entries(audit) == [
        {
            "actor": "op",
            "entrance": "console",
            "cmd": "kick",
            "args": {"user": "bob", "reason": "flood"},
            "ok": True,
        }
    ]


async def test_failed_actions_are_audited_with_the_error_code(
    commands: CommandSet, audit: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(NoSuchUser):
        await run(commands, "kick", user="ghost")
    [entry] = audit_entries(audit)
    assert (entry["cmd"], entry["ok"], entry["error"]) == ("kick", False, "no_such_user")


async def test_read_only_commands_are_not_audited(
    kit: HubKit, commands: CommandSet, audit: pytest.LogCaptureFixture
) -> None:
    await online(kit)
    for cmd in ["help", "who", "rooms", "stats", "bans"]:
        await run(commands, cmd)
    assert audit_entries(audit) == []


@pytest.mark.parametrize(
    "words",
    [
        ["user", "add", "carol", NEW_PASSWORD],
        ["user", "add", "carol", NEW_PASSWORD, "--admin"],
        ["user", "passwd", "alice", NEW_PASSWORD],
        ["user", "add", "alice", NEW_PASSWORD],  # fails: taken
        ["user", "add", "carol", "weakweak"],  # fails: weak
        ["user", "passwd", "ghost", NEW_PASSWORD],  # fails: no such user
    ],
    ids=["add", "add-admin", "passwd", "add-taken", "add-weak", "passwd-unknown"],
)
async def test_passwords_are_masked_in_the_audit_log(
    kit: HubKit, commands: CommandSet, audit: pytest.LogCaptureFixture, words: list[str]
) -> None:
    await kit.add_user("alice")
    with contextlib.suppress(UserTaken, WeakPassword, NoSuchUser):
        await commands.run_words(words, actor="op", entrance="console")
    [entry] = audit_entries(audit)
    assert entry["cmd"] == "user"
    assert entry["args"]["password"] == "***"  # type: ignore[index]
    assert entry["args"]["action"] == words[1]  # type: ignore[index]
    password = words[3]
    assert password not in audit.text
    assert all(password not in r.getMessage() for r in audit.records)
