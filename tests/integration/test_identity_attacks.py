"""Identity and authority you can trust: the attacks of the project's issue, end to end.

Each test replays one attack on a real server over real sockets, through both doors (native
JSON lines and IRC), and checks that a legitimate user beside it is unaffected. They were
written against the rebuilt server; each also failed on the server of commit 1295f81 (run
them there with ``TEAHOUSE_BIN=/path/to/old/.venv/bin/teahouse``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RawClient, ServerProcess, teahouse_command
from tests.integration.wire import (
    PASSWORD,
    Irc,
    irc_clients,
    native_sync,
    native_user,
    request,
)

ROOT_PASSWORD = "root-password-1"
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
"""What no text a native client receives may hold (tab is allowed)."""


@pytest.fixture
async def irc() -> AsyncIterator[Callable[..., Any]]:
    async with irc_clients() as connect:
        yield connect


def admin(server: ServerProcess, *words: str) -> Any:
    """Run ``teahouse admin WORDS`` on the server's socket; its answer's ``data``."""
    done = server.admin(*words)
    assert done.returncode == 0, (words, done.stdout, done.stderr)
    return json.loads(done.stdout)["data"]


def read_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def wait_for_text(path: Path, text: str, timeout: float = 5.0) -> str:
    """The file's content once it holds ``text`` (log files are written as things happen)."""
    deadline = time.monotonic() + timeout
    while True:
        content = await asyncio.to_thread(read_text, path)
        if text in content:
            return content
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in {path} within {timeout}s:\n{content[-2000:]}")
        await asyncio.sleep(0.05)


def audit_entries(server: ServerProcess) -> list[dict[str, Any]]:
    path = server.data_dir / "audit.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line[line.index("{") :]) for line in lines if "{" in line]


async def wait_for_audit(
    server: ServerProcess, timeout: float = 5.0, **match: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for entry in audit_entries(server):
            if all(entry.get(k) == v for k, v in match.items()):
                return entry
        if time.monotonic() > deadline:
            raise AssertionError(f"no audit entry {match}: {audit_entries(server)}")
        await asyncio.sleep(0.05)


async def oper(client: Irc, account: str, password: str) -> str:
    """Send OPER; the answer's numeric: ``381`` (granted) or ``464`` (refused)."""
    await client.send(f"OPER {account} {password}")
    return (await client.expect("381", "464", timeout=10)).command


# -- 1. an account takes a guest's nick ---------------------------------------------------


async def test_registering_a_guests_nick_moves_the_guest_aside(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    alice = await native_user(raw, server, "alice", "lobby")
    guest = await irc(server, "bob")
    await guest.send("JOIN #lobby")
    await guest.expect("366")
    await alice.recv_until("presence", user="bob", state="joined")

    account = await native_user(raw, server, "bob")

    # The guest is renamed with an IRC NICK line and told why.
    renamed = await guest.expect("NICK", where=lambda x: x.prefix.startswith("bob!"))
    new = renamed.params[0]
    assert re.fullmatch(r"Guest\d+", new), renamed.raw
    notice = await guest.expect("NOTICE")
    assert "registered account" in notice.params[-1] and new in notice.params[-1]
    await alice.recv_until("presence", user=new, state="joined")
    # The guest cannot take the name back.
    await guest.send("NICK bob")
    assert not [x for x in await guest.sync() if x.command == "NICK"]

    # A DM to bob reaches the account only.
    await alice.send(type="dm", to="bob", text="for the account only")
    got = await account.recv_until("message", dm=True)
    assert got["text"] == "for the account only" and got["from"] == "alice"
    assert not [x for x in await guest.sync() if "for the account only" in x.raw]

    # The guest's messages never show as bob's, live or stored.
    await guest.send("PRIVMSG #lobby :said by the guest")
    seen = await alice.recv_until("message", room="lobby")
    assert (seen["from"], seen["text"]) == (new, "said by the guest")
    page = await request(alice, type="history", room="lobby")
    assert [(m["from"], m["text"]) for m in page["messages"]] == [(new, "said by the guest")]

    # Making bob an admin makes the account one, not the guest.
    admin(server, "user", "role", "bob", "admin")
    answer = await request(account, type="admin", cmd="who")
    assert answer["type"] == "admin_result", answer
    await guest.send("KILL alice :no power", f"WHOIS {new}")
    assert (await guest.expect("481", "KILL")).command == "481"
    whois = await guest.sync()
    assert [x for x in whois if x.command == "311"], whois
    assert not [x for x in whois if x.command == "313"], "the guest was shown as an operator"
    assert not [x for x in guest.lines if x.command == "MODE" and "+o" in x.params]
    # alice is untouched by all this.
    assert (await request(alice, type="say", room="lobby", text="still here"))["type"] == "message"


async def test_a_moved_guest_asking_for_its_old_nick_is_told_no(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    guest = await irc(server, "bob")
    await native_user(raw, server, "bob")
    await guest.expect("NICK", where=lambda x: x.prefix.startswith("bob!"))
    await guest.send("NICK bob")
    assert [x.command for x in await guest.sync() if x.command in ("433", "NICK")] == ["433"]


# -- 2. direct messages belong to ids, not names ---------------------------------------------


async def test_a_new_holder_of_a_name_reads_none_of_the_old_dms(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    alice = await native_user(raw, server, "alice")
    dave = await native_user(raw, server, "dave")
    assert (await request(dave, type="dm", to="alice", text="old secret from dave"))["id"]
    await dave.close()
    assert (await request(alice, type="dm", to="dave", text="old secret for dave"))["id"]
    admin(server, "user", "del", "dave")

    async def nothing_for(name: str) -> None:
        """Register ``name`` afresh and look everywhere a DM could show up."""
        fresh: RawClient = await raw(server.port)
        assert (await fresh.login(name, "another-password-2", register=True))["type"] == "authed"
        frames = []
        while (frame := await fresh.recv())["type"] != "replay_end":
            frames.append(frame)
        assert frame["count"] == 0 and frames == [], frames
        page = await request(fresh, type="history", dm=True, limit=100)
        assert page["type"] == "history" and page["messages"] == [], page
        again: RawClient = await raw(server.port)
        await again.login(name, "another-password-2", dm_since=0)
        replay = await again.recv_until("replay_end", dm=True)
        assert replay["count"] == 0, replay

    await nothing_for("dave")

    # A DM to an IRC guest is never kept for whoever takes the nick later.
    carol = await irc(server, "carol")
    assert (await request(alice, type="dm", to="carol", text="for guest carol"))[
        "type"
    ] == "message"
    await carol.expect("PRIVMSG", where=lambda x: x.params[-1] == "for guest carol")
    await carol.send("QUIT :bye")
    await carol.closed()
    await nothing_for("carol")
    # alice is unaffected: she still talks to the new carol.
    assert (await request(alice, type="dm", to="carol", text="hello again"))["type"] == "message"


# -- 3. OPER goes through the one login path ------------------------------------------------


async def test_oper_guesses_are_throttled_like_logins(make_server: Any, raw: Any, irc: Any) -> None:
    # The first delay (after the fourth failure) well over the four seconds the four
    # refused guesses after it take (each leaves the connection unread for a second): with
    # the default 1 s, the right password could arrive just as a doubled delay ran out.
    server = make_server(irc={"flood_penalty": 0}, accounts={"login_base_delay": 10.0})
    admin(server, "user", "add", "root", ROOT_PASSWORD, "--admin")
    guesser = await irc(server, "guesser", local_ip="127.0.0.2")
    answers = [await oper(guesser, "root", f"wrong-guess-{i}") for i in range(8)]
    assert answers == ["464"] * 8
    # The right password, at once: refused while the throttle holds.
    assert await oper(guesser, "root", ROOT_PASSWORD) == "464"
    assert "too many" in guesser.seen("464")[-1].params[-1].lower()
    # A user elsewhere logs in meanwhile, untouched.
    await native_user(raw, server, "alice", local_ip="127.0.0.3")
    # Once the throttle's delay is over, the same password works: it was the throttle.
    deadline = time.monotonic() + 25
    while await oper(guesser, "root", ROOT_PASSWORD) != "381":
        assert time.monotonic() < deadline, "OPER never succeeded after the delay"
        await asyncio.sleep(0.5)


async def test_a_crowd_of_oper_guessers_does_not_throttle_other_logins(
    make_server: Any, raw: Any, irc: Any
) -> None:
    server = make_server(irc={"flood_penalty": 0})
    admin(server, "user", "add", "root", ROOT_PASSWORD, "--admin")
    await (await native_user(raw, server, "alice")).close()
    guests = [await irc(server, f"guesser{i}", local_ip="127.0.0.2") for i in range(20)]
    stop = asyncio.Event()
    sent = [0] * len(guests)
    deadline = time.monotonic() + 20

    async def guess(i: int, guest: Irc) -> None:
        while not stop.is_set() and time.monotonic() < deadline and sent[i] < 2000:
            sent[i] += 1
            await guest.send(f"OPER root guess{i}-{sent[i]}")
            assert (await guest.expect("381", "464", timeout=10)).command == "464"

    first = [asyncio.create_task(oper(g, "root", f"first-{i}")) for i, g in enumerate(guests)]
    assert set(await asyncio.gather(*first)) == {"464"}
    crowd = [asyncio.create_task(guess(i, g)) for i, g in enumerate(guests)]
    try:
        for _ in range(8):  # alice logs in again and again while the guesses go on
            client: RawClient = await raw(server.port, local_ip="127.0.0.3")
            answer = await client.login("alice", PASSWORD)
            assert answer["type"] == "authed", answer
            await client.close()
    finally:
        stop.set()
        await asyncio.gather(*crowd)
    assert sum(sent) >= 20


async def test_a_banned_accounts_password_does_not_oper(server: ServerProcess, irc: Any) -> None:
    admin(server, "user", "add", "root", ROOT_PASSWORD, "--admin")
    admin(server, "user", "add", "chief", ROOT_PASSWORD, "--admin")
    admin(server, "ban", "root", "spent key")
    guest = await irc(server, "guest")
    await guest.send(f"OPER root {ROOT_PASSWORD}")
    try:
        answer = (await guest.expect("381", "464", "ERROR")).command
    except EOFError:
        answer = "closed"
    assert answer in ("464", "ERROR", "closed")
    assert not guest.seen("381")
    # Another admin's password still works for another guest.
    other = await irc(server, "other")
    assert await oper(other, "chief", ROOT_PASSWORD) == "381"


async def test_oper_power_ends_with_the_accounts_power(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    admin(server, "user", "add", "root", ROOT_PASSWORD, "--admin")
    victor = await native_user(raw, server, "victor", "lobby")
    guest = await irc(server, "operguest")
    dummy = await irc(server, "dummy")
    assert await oper(guest, "root", ROOT_PASSWORD) == "381"
    await guest.send("KILL dummy :testing the power")
    assert await dummy.closed()  # the power is real

    async def kill_is_refused() -> None:
        await guest.send("KILL victor :should not work")
        answers = [x.command for x in await guest.sync()]
        assert "481" in answers, f"KILL was not refused: {answers}"

    admin(server, "user", "passwd", "root", "new-root-password-2")
    await kill_is_refused()
    assert await oper(guest, "root", ROOT_PASSWORD) == "464"  # the old password is gone
    assert await oper(guest, "root", "new-root-password-2") == "381"
    admin(server, "user", "role", "root", "user")
    await kill_is_refused()
    assert await oper(guest, "root", "new-root-password-2") == "464"
    admin(server, "user", "role", "root", "admin")
    assert await oper(guest, "root", "new-root-password-2") == "381"
    admin(server, "user", "del", "root")
    await kill_is_refused()
    # victor never noticed.
    assert not [f for f in await native_sync(victor) if f["type"] == "error"]


# -- 4. a demoted admin ------------------------------------------------------------------------


async def test_a_demoted_admin_loses_admin_at_once(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    admin(server, "user", "add", "boss", ROOT_PASSWORD, "--admin")
    admin(server, "user", "add", "chief", ROOT_PASSWORD, "--admin")
    boss = await native_user(raw, server, "boss", "lobby", register=False, password=ROOT_PASSWORD)
    boss_irc = await irc(server, "boss", password=f"boss:{ROOT_PASSWORD}")
    chief = await native_user(raw, server, "chief", register=False, password=ROOT_PASSWORD)
    await irc(server, "target")
    assert (await request(boss, type="admin", cmd="who"))["type"] == "admin_result"
    admin(server, "user", "role", "boss", "user")
    refused = await request(boss, type="admin", cmd="who")
    assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    await boss_irc.send("KILL target :no longer")
    assert "481" in [x.command for x in await boss_irc.sync()]
    # The rest of boss's session goes on, and the other admin keeps admin.
    assert (await request(boss, type="say", room="lobby", text="still me"))["type"] == "message"
    assert (await request(chief, type="admin", cmd="who"))["type"] == "admin_result"


# -- 5. who runs a room ----------------------------------------------------------------------


def names_of(lines: list[Any], channel: str) -> list[str]:
    """The names (with their @/+ prefixes) in the 353 lines for ``channel``."""
    return [
        n
        for x in lines
        if x.command == "353" and x.params[2] == channel
        for n in x.params[3].split()
    ]


async def join_irc(client: Irc, channel: str, key: str = "") -> list[str]:
    """JOIN and the NAMES that follow (the caller's own prefix included)."""
    start = len(client.lines)
    await client.send(f"JOIN {channel} {key}".rstrip())
    end = await client.expect("366", "473", "474", "475", "471", "403", "476")
    if end.command != "366":
        raise AssertionError(f"JOIN {channel} refused: {end.raw}")
    return names_of(client.lines[start:], channel)


async def test_first_joiner_after_a_restart_does_not_take_a_community_room(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    alice = await native_user(raw, server, "alice", "tea")
    assert (await request(alice, type="say", room="tea", text="our room"))["type"] == "message"
    await alice.close()
    server.stop()
    server.start()
    mallory = await irc(server, "mallory")
    assert "mallory" in await join_irc(mallory, "#tea")  # no @
    await mallory.send("MODE #tea +k taken")
    assert (await mallory.expect("482", "MODE")).command == "482"
    # A room new to the server is the first joiner's, as on IRC.
    assert "@mallory" in await join_irc(mallory, "#scratch")
    await mallory.send("MODE #scratch +k mine")
    assert (await mallory.expect("482", "MODE")).command == "MODE"
    # alice comes back to her room with no key in her way.
    alice = await native_user(raw, server, "alice", "tea", register=False)
    joined = await request(alice, type="who", room="tea")
    assert set(joined["members"]) == {"alice", "mallory"}


async def test_native_users_join_a_keyed_room_with_its_key(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    keeper = await irc(server, "keeper")
    assert "@keeper" in await join_irc(keeper, "#vault")
    await keeper.send("MODE #vault +k pw-1")
    await keeper.expect("MODE")
    bob = await native_user(raw, server, "bob")
    refused = await request(bob, type="join", room="vault")
    assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    wrong = await request(bob, type="join", room="vault", key="pw-2")
    assert wrong["type"] == "error", wrong
    joined = await request(bob, type="join", room="vault", key="pw-1")
    assert joined["type"] == "joined" and "bob" in joined["members"], joined
    # A native operator sets a key the same way IRC users give it.
    alice = await native_user(raw, server, "alice", "cellar")
    changed = await request(alice, type="mode", room="cellar", changes="+k", args=["pw-3"])
    assert changed["type"] == "mode" and "k" in changed["modes"], changed
    guest = await irc(server, "guest")
    await guest.send("JOIN #cellar nope")
    assert (await guest.expect("475", "366")).command == "475"
    assert "guest" in await join_irc(guest, "#cellar", "pw-3")


async def test_the_console_runs_rooms(server: ServerProcess, raw: Any) -> None:
    alice = await native_user(raw, server, "alice", "tea", "attic")
    info = admin(server, "room", "info", "tea")
    assert info["room"] == "tea" and info["members"] == ["alice"], info
    admin(server, "room", "mode", "tea", "+m")
    mode = await alice.recv_until("mode", room="tea")
    assert mode["changes"] == "+m" and mode["by"] == "server", mode
    admin(server, "room", "owner", "tea", "alice")
    info = admin(server, "room", "info", "tea")
    assert info["owner"] == "alice" and info["registered"] is True, info
    admin(server, "room", "delete", "attic")
    gone = await alice.recv_until("presence", room="attic")
    assert gone["state"] == "left", gone
    listed = await request(alice, type="rooms")
    assert [r["room"] for r in listed["rooms"]] == ["tea"]


async def test_a_registered_rooms_owner_and_operators_survive_a_restart(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    alice = await native_user(raw, server, "alice", "guild")
    registered = await request(alice, type="room", room="guild", action="register")
    assert registered["registered"] is True and registered["owner"] == "alice", registered
    bob = await native_user(raw, server, "bob", "guild")
    assert (await request(alice, type="mode", room="guild", changes="+o", args=["bob"]))[
        "type"
    ] == "mode"
    for client in (alice, bob):
        await client.close()
    server.stop()
    server.start()
    guest = await irc(server, "early")
    assert "early" in await join_irc(guest, "#guild")  # first, and still no operator
    await guest.send("MODE #guild +k taken")
    assert (await guest.expect("482", "MODE")).command == "482"
    bob = await native_user(raw, server, "bob", register=False)
    joined = await request(bob, type="join", room="guild")
    assert joined["ops"] == ["bob"], joined
    info = await request(bob, type="room", room="guild")
    assert (info["owner"], info["operators"]) == ("alice", ["bob"]), info
    assert (await request(bob, type="mode", room="guild", changes="+t"))["type"] == "mode"


async def test_guest_operator_status_and_invites_belong_to_the_session(
    server: ServerProcess, irc: Any
) -> None:
    opal = await irc(server, "opal")
    assert "@opal" in await join_irc(opal, "#scratch")
    keeper = await irc(server, "keeper")
    await join_irc(keeper, "#scratch")
    await opal.send("QUIT :gone")
    await opal.closed()
    impostor = await irc(server, "opal")
    assert "opal" in await join_irc(impostor, "#scratch")  # the nick, without the @
    await impostor.send("MODE #scratch +i")
    assert (await impostor.expect("482", "MODE")).command == "482"

    owl = await irc(server, "owl")
    assert "@owl" in await join_irc(owl, "#den")
    await owl.send("MODE #den +i")
    await owl.expect("MODE")
    ivy = await irc(server, "ivy")
    jay = await irc(server, "jay")
    await owl.send("INVITE ivy #den", "INVITE jay #den")
    await ivy.expect("INVITE")
    await jay.expect("INVITE")
    assert "jay" in await join_irc(jay, "#den")  # an invite works
    await ivy.send("QUIT :later")
    await ivy.closed()
    second = await irc(server, "ivy")
    await second.send("JOIN #den")
    assert (await second.expect("473", "366")).command == "473"


# -- 6. text from IRC reaches native clients clean ----------------------------------------------

HOSTILE = "\x1b[2J\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\ \x07bell \x00nul"


async def test_irc_notices_and_kick_reasons_never_reach_native_clients_raw(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    irk = await irc(server, "irk")
    await join_irc(irk, "#esc")
    carol = await native_user(raw, server, "carol", "esc")
    dan = await native_user(raw, server, "dan", "esc")
    await irk.send(f"NOTICE #esc :{HOSTILE} room-notice".encode())
    await irk.send(f"NOTICE carol :{HOSTILE} private-notice".encode())
    await irk.send(f"KICK #esc carol :{HOSTILE} kick-reason".encode())
    texts: list[str] = []
    for marker in ("room-notice", "private-notice"):
        frame = await carol.recv_until("notice", timeout=5)
        texts.append(frame["text"])
        assert marker in frame["text"] and "click me" in frame["text"], frame
    kicked = await dan.recv_until("presence", user="carol", state="left")
    texts.append(kicked["text"])
    assert "kick-reason" in kicked["text"], kicked
    for text in texts:
        assert not CONTROL.search(text), repr(text)

    # The terminal client in line mode prints the notice with nothing a terminal obeys.
    chat = await asyncio.create_subprocess_exec(
        *teahouse_command(
            "chat",
            f"127.0.0.1:{server.port}",
            "--user",
            "erin",
            "--register",
            "--password-stdin",
            "--plain",
            "--room",
            "esc",
        ),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert chat.stdin is not None and chat.stdout is not None
    out = b""

    async def read_until(marker: bytes) -> None:
        nonlocal out
        assert chat.stdout is not None
        while marker not in out:
            line = await asyncio.wait_for(chat.stdout.readline(), 10)
            if not line:
                raise AssertionError(f"chat ended before {marker!r}: {out!r}")
            out += line

    try:
        chat.stdin.write(PASSWORD.encode() + b"\n")
        await chat.stdin.drain()
        await read_until(b"joined #esc")
        await irk.send(f"NOTICE #esc :{HOSTILE} plain-notice".encode())
        await read_until(b"plain-notice")
    finally:
        chat.kill()
        await chat.communicate()
    assert b"click me" in out
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", out), out


# -- 7. nobody sees another user's address --------------------------------------------------------


async def test_nobody_sees_another_users_address_but_admins(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    admin(server, "user", "add", "boss", ROOT_PASSWORD, "--admin")
    irk = await irc(server, "irk")
    await join_irc(irk, "#open")
    alice = await native_user(raw, server, "alice", "open")
    peek = await irc(server, "peek")
    await join_irc(peek, "#open")
    await peek.send("WHOIS irk", "WHO #open", "USERHOST irk alice", "WHOIS alice")
    await peek.expect("318")
    await peek.expect("315")
    await peek.expect("302")
    await peek.expect("318")
    await irk.send("PRIVMSG #open :hello", "PART #open", "JOIN #open")
    await peek.expect("JOIN", where=lambda x: x.prefix.startswith("irk!"))
    lines = peek.lines + await peek.sync()
    assert [x for x in lines if x.command == "311"], "no WHOIS answer"
    assert not [x for x in lines if x.command == "338"]
    leaks = [x.raw for x in lines if "127.0.0." in x.raw]
    assert leaks == [], leaks
    irk_hosts = [x.prefix.split("@")[1] for x in lines if x.prefix.startswith("irk!")]
    irk_hosts += [x.params[3] for x in lines if x.command == "311" and x.params[1] == "irk"]
    assert irk_hosts and all(h.endswith(".ip") for h in irk_hosts), irk_hosts
    # A native user's whois carries no address either.
    whois = await request(alice, type="whois", user="irk")
    assert whois.get("address") is None, whois

    # Admins see the real address: IRC 338, native whois, the admin command who.
    boss = await irc(server, "boss", password=f"boss:{ROOT_PASSWORD}")
    await boss.send("WHOIS irk")
    real = await boss.expect("338")
    assert real.params[2] == "127.0.0.1", real.raw
    native_boss = await native_user(raw, server, "boss", register=False, password=ROOT_PASSWORD)
    assert (await request(native_boss, type="whois", user="irk"))["address"] == "127.0.0.1"
    rows = admin(server, "who")
    assert {r["user"]: r["address"].rsplit(":", 1)[0] for r in rows}["irk"] == "127.0.0.1"


# -- 8. look-alike and reserved names -------------------------------------------------------------


async def test_look_alike_and_reserved_names_are_refused(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    await native_user(raw, server, "alice")

    async def register(name: str) -> dict[str, Any]:
        client: RawClient = await raw(server.port)
        return await client.login(name, "a-good-password-3", register=True)

    look_alike = await register("aIice")  # a capital i
    assert (look_alike["type"], look_alike["code"]) == ("error", "user_taken"), look_alike
    reserved = await register("NickServ")
    assert (reserved["type"], reserved["code"]) == ("error", "invalid_name"), reserved
    assert (await register("alicia"))["type"] == "authed"  # a name of its own is fine

    await irc(server, "paul")  # a guest online
    for nick in ("pauI", "aIice"):
        client = await irc(server, None)
        await client.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :x")
        assert (await client.expect("433", "001")).command == "433", nick


# -- 9. password floods and address bans ----------------------------------------------------------


async def test_a_password_flood_from_one_address_cannot_lock_alice_out(
    server: ServerProcess, raw: Any
) -> None:
    await (await native_user(raw, server, "alice")).close()
    attacker: RawClient = await raw(server.port, local_ip="127.0.0.2")
    await attacker.send(type="hello", proto=1)
    await attacker.recv_until("welcome")
    codes = set()
    for i in range(12):
        answer = await request(attacker, type="login", user="alice", password=f"guess-{i}")
        codes.add(answer.get("code"))
    assert codes <= {"bad_credentials", "throttled"} and "throttled" in codes, codes
    alice: RawClient = await raw(server.port, local_ip="127.0.0.3")
    answer = await alice.login("alice", PASSWORD)
    assert answer["type"] == "authed", answer


async def test_address_bans_take_networks(server: ServerProcess, raw: Any) -> None:
    admin(server, "ban", "127.0.0.5/32", "a", "network")
    refused: RawClient = await raw(server.port, local_ip="127.0.0.5")
    frame = await refused.recv()
    assert (frame["type"], frame["code"]) == ("error", "banned"), frame
    assert await refused.closed()
    await native_user(raw, server, "neighbour", local_ip="127.0.0.6")
    admin(server, "ban", "2001:db8::/64", "a", "v6", "network")
    listed = admin(server, "bans")
    assert {"127.0.0.5/32", "2001:db8::/64"} <= {b["value"] for b in listed}, listed


# -- 10. operators are told what happened ----------------------------------------------------------


async def test_failed_logins_are_logged_for_fail2ban(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    await native_user(raw, server, "alice")
    wrong: RawClient = await raw(server.port)
    assert (await wrong.login("alice", "not-her-password"))["code"] == "bad_credentials"
    log = server.data_dir / "teahouse.log"
    await wait_for_text(
        log, 'auth failed peer=127.0.0.1 door=native reason=bad_credentials user="alice"'
    )
    client = await irc(server, None)
    await client.send("PASS alice:not-her-password", "NICK alice", "USER a 0 * :a")
    await client.expect("464")
    await wait_for_text(log, 'auth failed peer=127.0.0.1 door=irc reason=bad_pass user="alice"')


async def test_operator_actions_are_audited_with_their_actor(
    server: ServerProcess, raw: Any, irc: Any
) -> None:
    admin(server, "user", "add", "boss", ROOT_PASSWORD, "--admin")
    alice = await native_user(raw, server, "alice", "tea")
    await native_user(raw, server, "bob", "tea")
    await native_user(raw, server, "carol")
    guest = await irc(server, "operguest")
    assert await oper(guest, "boss", ROOT_PASSWORD) == "381"
    await wait_for_audit(server, actor="operguest", cmd="oper")

    assert (await request(alice, type="mode", room="tea", changes="+t"))["type"] == "mode"
    await wait_for_audit(server, actor="alice", cmd="mode")
    assert (await request(alice, type="kick", room="tea", user="bob", reason="off"))[
        "type"
    ] == "presence"
    await wait_for_audit(server, actor="alice", cmd="kick")
    assert (await request(alice, type="room", room="tea", action="register"))["registered"]
    await wait_for_audit(server, actor="alice", cmd="room register")

    boss = await native_user(raw, server, "boss", register=False, password=ROOT_PASSWORD)
    answer = await request(boss, type="admin", cmd="mute", args={"user": "carol"})
    assert answer["type"] == "admin_result", answer
    await wait_for_audit(server, actor="boss", cmd="mute")
    admin(server, "ban", "bob", "1h", "noise")
    await wait_for_audit(server, actor="server", cmd="ban")
    admin(server, "room", "owner", "tea", "boss")
    await wait_for_audit(server, actor="server", cmd="room")
    admin(server, "kick", "carol", "enough")
    await wait_for_audit(server, actor="server", cmd="kick")
    # Nothing of this touched alice.
    assert (await request(alice, type="say", room="tea", text="fine"))["type"] == "message"


async def test_a_sanctioned_user_is_told_why_and_for_how_long_at_once(
    server: ServerProcess, raw: Any
) -> None:
    carol = await native_user(raw, server, "carol", "lobby")
    dan = await native_user(raw, server, "dan")
    erin = await native_user(raw, server, "erin")
    bystander = await native_user(raw, server, "frank", "lobby")

    admin(server, "kick", "dan", "being rude")
    kicked = await dan.recv_until("error")
    assert kicked["code"] == "kicked" and "being rude" in kicked["message"], kicked

    admin(server, "ban", "erin", "1h", "flooding")
    banned = await erin.recv_until("error")
    assert banned["code"] == "banned", banned
    assert "flooding" in banned["message"] and "minutes" in banned["message"], banned

    admin(server, "mute", "carol", "10m", "spamming links")
    notice = await carol.recv_until("notice")
    assert "muted" in notice["text"] and "spamming links" in notice["text"], notice
    assert "10 more minutes" in notice["text"], notice
    refused = await request(carol, type="say", room="lobby", text="hi")
    assert refused["type"] == "error" and "muted" in refused["message"], refused

    assert (await request(bystander, type="say", room="lobby", text="calm"))["type"] == "message"
