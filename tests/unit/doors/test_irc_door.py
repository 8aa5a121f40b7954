"""The IRC door in-process: registration, limits and labeled responses on a fake transport."""

from __future__ import annotations

import base64
import re

import pytest

from teahouse.doors.connection import BUSY_READ_AHEAD, OnceLine
from teahouse.doors.irc.registration import _CAP_SETS, NO_CAPS, SHARED_CAP_SETS, shared_caps
from teahouse.protocol.irc import IrcMessage, serialize

from ..hubkit import PASSWORD, HubKit, MakeKit
from .fakes import IrcClient, NativeClient, irc, native, small_hash_queue

LABELS = ("labeled-response", "batch", "message-tags")


def connect(kit: HubKit, ip: str = "10.0.0.1") -> IrcClient:
    return IrcClient(kit, irc(kit), ip)


async def registered(
    kit: HubKit, nick: str, ip: str = "10.0.0.1", *lines: str, caps: tuple[str, ...] = ()
) -> IrcClient:
    c = connect(kit, ip)
    await c.register(nick, *lines, caps=caps)
    return c


def codes(messages: list[IrcMessage]) -> list[str]:
    return [m.command for m in messages]


def sasl_payload(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


# -- registration ---------------------------------------------------------------------------


async def test_a_guest_registers_with_nick_and_user(kit: HubKit) -> None:
    c = connect(kit)
    c.send("NICK Guesty")
    assert c.messages() == [], "USER is still missing"
    c.send("USER tester 0 * :Real Name")
    got = c.messages()
    order = ["001", "002", "003", "004", "005", "251", "252", "253", "254", "255", "265", "266"]
    order += ["375", "372", "376"]
    seen = codes(got)
    positions = [seen.index(code) for code in order]
    assert positions == sorted(positions), seen
    assert "900" not in seen, "a guest is logged in to no account"
    welcome = got[0]
    assert welcome.prefix == "teahouse.local" and welcome.params[0] == "Guesty"
    cloak = kit.hub.accounts.cloak("10.0.0.1")  # the address itself is never shown
    assert f"Guesty!~tester@{cloak}" in welcome.params[1]
    assert got[seen.index("251")].params[1].startswith("There are 1 users")
    assert c.session.guest and c.session.user == "Guesty"
    assert c.conn.registered


async def test_cap_negotiation_holds_registration_until_cap_end(kit: HubKit) -> None:
    c = connect(kit)
    c.send("CAP LS 302", "NICK capper", "USER capper 0 * :Cap Per")
    [ls] = c.messages()
    assert ls.command == "CAP" and ls.params[:2] == ("*", "LS")
    offered = ls.params[-1].split()
    for cap in ("sasl=PLAIN", "draft/chathistory", "labeled-response", "echo-message"):
        assert cap in offered
    c.send("PING :held")
    assert codes(c.messages()) == ["PONG"], "NICK and USER are in, CAP END is not"
    c.send("CAP REQ :server-time bogus-cap")
    [nak] = c.messages()
    assert nak.params[1:] == ("NAK", "server-time bogus-cap")
    c.send("CAP REQ :server-time message-tags")
    [ack] = c.messages()
    assert ack.params[1:] == ("ACK", "server-time message-tags")
    c.send("CAP LIST")
    [listed] = c.messages()
    assert set(listed.params[2].split()) == {"server-time", "message-tags"}
    c.send("CAP END")
    welcome = c.messages()[0]
    assert welcome.command == "001" and welcome.params[0] == "capper"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", welcome.tags["time"])


async def test_a_31_client_gets_capability_names_without_values(kit: HubKit) -> None:
    c = connect(kit)
    c.send("CAP LS")
    [ls] = c.messages()
    assert "sasl" in ls.params[-1].split()
    assert "sasl=PLAIN" not in ls.params[-1].split()


async def test_without_guests_a_client_needs_an_account(make_kit: MakeKit) -> None:
    kit = make_kit(guests=False)
    c = connect(kit)
    c.send("NICK visitor", "USER v 0 * :V")
    got = c.messages()
    assert codes(got) == ["464", "ERROR"]
    assert c.closed
    assert kit.hub.stats.closed["no_account"] == 1


async def test_a_guest_cannot_take_a_registered_or_used_nick(kit: HubKit) -> None:
    await kit.add_user("Carol")
    await registered(kit, "Inuse", "10.0.0.2")
    c = connect(kit)
    c.send("NICK carol", "USER c 0 * :C")
    [taken] = c.messages()
    assert taken.command == "433" and taken.params[1] == "carol"
    assert "registered" in taken.params[2]
    c.send("NICK INUSE")
    [in_use] = c.messages()
    assert in_use.command == "433" and "in use" in in_use.params[2]
    c.send("NICK Guest77")
    assert c.messages()[0].params[0] == "Guest77"


async def test_pass_account_password_logs_in_with_the_accounts_name(kit: HubKit) -> None:
    await kit.add_user("Bob")
    c = connect(kit)
    got = await c.register("someone", f"PASS :bob:{PASSWORD}")
    seen = codes(got)
    assert got[seen.index("001")].params[0] == "Bob", "an account's nick is its name"
    assert got[seen.index("900")].params[2] == "Bob"
    assert not c.session.guest and c.session.user == "Bob"
    # PASS with only a password logs in to the nick's account.
    d = connect(kit, "10.0.0.2")
    got = await d.register("BOB", f"PASS :{PASSWORD}")
    assert "900" in codes(got)


async def test_a_wrong_pass_is_464_and_the_connection_closes(kit: HubKit) -> None:
    await kit.add_user("Bob")
    c = connect(kit)
    c.send("PASS Bob:not-the-password", "NICK bobby", "USER b 0 * :B")
    assert c.messages() == [], "the password is checked in a task"
    await c.settle()
    got = c.messages()
    assert codes(got) == ["464", "ERROR"]
    assert c.closed
    kit.run_soon()
    assert kit.hub.stats.closed == {"bad_credentials": 1}, "closed once, never made a guest"


async def test_sasl_plain_in_chunks_logs_in_before_the_welcome(kit: HubKit) -> None:
    password = "p" * 593  # "\0Alice\0" + 593 bytes: 600 bytes, 800 of base64, two full chunks
    await kit.add_user("Alice", password=password)
    c = connect(kit)
    c.send("CAP LS 302", "CAP REQ :sasl", "NICK tmpnick", "USER t 0 * :T")
    assert codes(c.messages()) == ["CAP", "CAP"]
    c.send("AUTHENTICATE PLAIN")
    [go] = c.messages()
    assert (go.command, go.params) == ("AUTHENTICATE", ("+",))
    payload = sasl_payload("Alice", password)
    assert len(payload) == 800
    c.send(f"AUTHENTICATE {payload[:400]}")
    assert c.messages() == [], "a full chunk: more to come"
    c.send(f"AUTHENTICATE {payload[400:]}")
    assert c.messages() == []
    c.send("AUTHENTICATE +")  # the payload was a multiple of 400: "+" ends it
    await c.settle()
    got = c.messages()
    assert codes(got) == ["900", "903"]
    assert got[0].params[2] == "Alice"
    c.send("CAP END")
    welcome = c.messages()[0]
    assert (welcome.command, welcome.params[0]) == ("001", "Alice")


async def test_sasl_failures_and_details(kit: HubKit) -> None:
    await kit.add_user("Alice")
    c = connect(kit)
    c.send("AUTHENTICATE PLAIN")  # before CAP REQ sasl
    assert codes(c.messages()) == ["421"]
    c.send("CAP LS 302", "CAP REQ :sasl")
    c.messages()
    c.send("AUTHENTICATE SCRAM-SHA-256")
    mechs, fail = c.messages()
    assert (mechs.command, mechs.params[1]) == ("908", "PLAIN") and fail.command == "904"
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE *")
    assert codes(c.messages()) == ["AUTHENTICATE", "906"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE !!not-base64!!")
    assert codes(c.messages()) == ["AUTHENTICATE", "904"]
    c.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {sasl_payload('Alice', 'wrong-password')}")
    await c.settle()
    got = c.messages()
    assert codes(got) == ["AUTHENTICATE", "904"]
    assert "bad_credentials" in got[1].params[-1]
    # Registration goes on as a guest, who cannot have the account's nick.
    c.send("NICK Alice", "USER a 0 * :A", "CAP END")
    assert codes(c.messages()) == ["433"]


async def test_sasl_after_registration_renames_the_guest(kit: HubKit) -> None:
    await kit.add_user("Alice")
    c = await registered(kit, "visitor", caps=("sasl",))
    c.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {sasl_payload('Alice', PASSWORD)}")
    await c.settle()
    got = c.messages()
    assert codes(got) == ["AUTHENTICATE", "900", "903", "NICK"]
    assert got[-1].prefix is not None and got[-1].prefix.startswith("visitor!")
    assert got[-1].params == ("Alice",)
    assert c.session.user == "Alice" and not c.session.guest
    assert c.conn._seldom is None, "the exchange is over: its state let go"


async def test_a_failed_sasl_after_registration_leaves_no_state_behind(kit: HubKit) -> None:
    await kit.add_user("Alice")
    c = await registered(kit, "visitor", caps=("sasl",))
    c.send("AUTHENTICATE PLAIN")
    assert codes(c.messages()) == ["AUTHENTICATE"]
    assert c.conn._seldom is not None, "under way: kept"
    c.send("AUTHENTICATE *")
    assert codes(c.messages()) == ["906"]
    assert c.conn._seldom is None
    c.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {sasl_payload('Alice', 'wrong-password')}")
    await c.settle()
    assert codes(c.messages()) == ["AUTHENTICATE", "904"]
    assert c.conn._seldom is None and c.session.guest


async def test_oper_goes_through_the_one_login_path(kit: HubKit) -> None:
    await kit.add_user("root", role="admin")
    c = await registered(kit, "visitor")
    for _ in range(3):
        c.send("OPER root wrong-password")
        await c.settle()
        [refused] = c.messages()
        assert refused.command == "464"
    c.send(f"OPER root :{PASSWORD}")  # throttled now: refused without a check
    await c.settle()
    [throttled] = c.messages()
    assert throttled.command == "464" and "too many attempts" in throttled.params[-1]
    assert c.session.role == "user"
    c.advance(1.0)
    c.send(f"OPER root :{PASSWORD}")
    await c.settle()
    got = c.messages()
    assert codes(got) == ["381", "MODE"]
    assert c.session.role == "admin"
    assert kit.hub.stats.logins_failed == 3


# -- admission ----------------------------------------------------------------------------------


async def test_a_banned_address_is_refused_with_an_error_line(kit: HubKit) -> None:
    kit.hub.moderation.ban_address("10.6.6.6", None, "abuse", "op")
    c = connect(kit, "10.6.6.6")
    [error] = c.messages()
    assert error.command == "ERROR"
    assert error.params[0] == "Closing Link: 10.6.6.6 (banned until lifted: abuse)"
    assert c.closed
    assert irc(kit).transports_open == 0


async def test_the_per_address_cap_and_the_shutdown_refuse_at_the_door(make_kit: MakeKit) -> None:
    kit = make_kit(max_connections_per_ip=1)
    first = connect(kit, "10.0.0.5")
    second = connect(kit, "10.0.0.5")
    [error] = second.messages()
    assert "too many connections" in error.params[0] and second.closed
    assert not first.closed
    kit.hub.accepting = False
    late = connect(kit, "10.0.0.6")
    assert "shutting down" in late.messages()[0].params[0]


# -- bad input and flood control ---------------------------------------------------------------


async def test_unknown_commands_before_registration_are_strikes(kit: HubKit) -> None:
    c = connect(kit)
    c.send("JOIN #lobby", "PRIVMSG #lobby :hi", "FROBNICATE", "QUUX garbage")
    assert codes(c.messages()) == ["451"] * 4
    c.send("001 numeric")  # no 451 for a numeric, but a strike all the same
    assert c.messages() == []
    assert not c.closed
    c.send("MORE garbage")
    got = c.messages()
    assert codes(got) == ["451", "ERROR"]
    assert "Too many" in got[-1].params[0]
    assert c.dropped_for_garbage()
    assert kit.hub.stats.closed["bad_frame"] == 1


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00 hello\r\n",  # a TLS ClientHello on the plain port
        b"GET / HTTP/1.1\r\n",  # "GET" is a command word: a strike; "/" below is not
        bytes(range(256)) * 4,
    ],
)
async def test_garbage_before_registration_ends_the_connection_with_one_line(
    kit: HubKit, garbage: bytes
) -> None:
    c = connect(kit)
    c.send_raw(garbage + b"\n" + b"\xff\xfe junk\n" * 500)
    got = c.messages()
    assert codes(got)[-1] == "ERROR" and c.dropped_for_garbage()
    assert "Not an IRC client" in got[-1].params[0]
    assert c.conn._buffered == 0, "a dropped connection keeps none of its junk"
    assert codes(got).count("451") <= 1, "no numeric per line to a peer that sends junk"
    assert kit.hub.stats.closed["bad_frame"] == 1


async def test_after_registration_junk_is_421_and_the_connection_goes_on(kit: HubKit) -> None:
    c = await registered(kit, "Junko")
    c.send_raw(b"\xff\xfe junk\r\n")
    assert codes(c.messages()) == ["421"]
    assert not c.closed


async def test_after_registration_an_unknown_command_is_421_and_no_strike(kit: HubKit) -> None:
    c = await registered(kit, "Errol")
    for _ in range(10):
        c.send("FROBNICATE now")
    got = c.messages()
    assert codes(got) == ["421"] * 10
    assert got[0].params[:2] == ("Errol", "FROBNICATE")
    assert not c.closed


async def test_an_overlong_line_before_registration_closes_at_once(kit: HubKit) -> None:
    c = connect(kit)
    c.send_raw(b"NICK " + b"x" * 600 + b"\r\n")
    [error] = c.messages()
    assert error.command == "ERROR" and "Input line too long" in error.params[0]
    assert c.dropped_for_garbage()
    assert kit.hub.stats.closed["frame_too_large"] == 1


async def test_an_overlong_line_after_registration_is_417_and_a_strike(kit: HubKit) -> None:
    c = await registered(kit, "Longo")
    exact = "PRIVMSG nobody-here :"
    c.send(exact + "a" * (510 - len(exact)))  # 512 bytes with CR LF: fine
    assert codes(c.messages()) == ["401"]
    c.send(exact + "a" * (511 - len(exact)))
    [too_long] = c.messages()
    assert too_long.command == "417" and too_long.params[0] == "Longo"
    c.send_raw(b"B" * 200_000)  # no end of line in sight: not kept
    assert codes(c.messages()) == ["417"]
    assert c.conn._buffered < 5000
    c.send("BBBB", "PING :still-here")
    assert c.messages()[-1].params[-1] == "still-here"
    for _ in range(4):
        c.send("x" * 600)
    got = c.messages()
    assert codes(got)[-1] == "ERROR" and c.dropped_for_garbage(), "the strikes add up"


async def test_the_flood_penalty_slows_a_client_down_and_never_refuses(make_kit: MakeKit) -> None:
    kit = make_kit(flood_penalty=1.0, flood_burst=5.0)
    c = await registered(kit, "Flo")  # NICK and USER spent two of the five seconds
    c.send(*[f"PING :p{i}" for i in range(8)])
    first = [m.params[-1] for m in c.messages()]
    assert first == ["p0", "p1", "p2", "p3"], "three in the burst, and the one that went over"
    assert not c.transport.reading
    for i in range(4, 8):
        c.advance(0.99)
        assert c.messages() == []
        c.advance(0.01)
        assert [m.params[-1] for m in c.messages()] == [f"p{i}"]
    assert not c.closed
    assert kit.hub.stats.closed == {}
    c.advance(1.0)
    assert c.transport.reading
    c.advance(5.0)
    c.send("PING :within")
    assert [m.params[-1] for m in c.messages()] == ["within"]
    assert c.conn._rare is None, "within the rate again: the pause's state is let go"


async def test_operators_are_exempt_from_the_flood_penalty(make_kit: MakeKit) -> None:
    kit = make_kit(flood_penalty=1.0, flood_burst=3.0)
    await kit.add_user("Boss", role="admin")
    c = await registered(kit, "Boss", "10.0.0.1", f"PASS :{PASSWORD}")
    c.send(*[f"PING :p{i}" for i in range(20)])
    assert len(c.messages()) == 20
    assert c.transport.reading


async def test_a_throttled_client_that_answers_pings_is_not_timed_out(make_kit: MakeKit) -> None:
    kit = make_kit(flood_penalty=1.0, flood_burst=1.0, interval=2.0, timeout=5.0)
    c = await registered(kit, "Paster")
    c.advance(5.0)
    c.send(*[f"PING :p{i}" for i in range(10)])  # a 10 s backlog, longer than the timeout
    for _ in range(12):
        c.advance(1.0)
        kit.hub.housekeeping.sweep()
        kit.run_soon()
    assert not c.closed, "its lines wait because the server delays them: no silence"
    assert [m.params[-1] for m in c.messages() if m.command == "PONG"] == [
        f"p{i}" for i in range(10)
    ]


async def test_clients_asking_for_the_same_capabilities_share_one_set(kit: HubKit) -> None:
    a = await registered(kit, "Ann", "10.0.0.1", caps=("server-time", "message-tags"))
    b = await registered(kit, "Ben", "10.0.0.2", caps=("message-tags", "server-time"))
    assert a.conn.caps == {"server-time", "message-tags"}
    assert a.conn.caps is b.conn.caps


# -- deadlines ---------------------------------------------------------------------------------


async def test_an_unregistered_client_gets_registration_timeout(kit: HubKit) -> None:
    c = connect(kit)
    c.send("NICK slow")
    c.advance(10.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    [error] = c.messages()
    assert error.params[0] == "Closing Link: teahouse.local (Registration timeout)"
    assert c.closed


async def test_a_silent_client_is_pinged_then_timed_out(kit: HubKit) -> None:
    watcher = NativeClient(kit, native(kit), "10.0.0.2")
    await kit.add_user("wat")
    await watcher.login("wat", PASSWORD)
    watcher.send(type="join", room="lobby")
    c = await registered(kit, "Silent")
    c.send("JOIN #lobby")
    c.messages()
    silent_since = kit.clock.monotonic()
    for _ in range(70):
        watcher.send(type="ping", t=1)  # the watcher is lively; Silent says nothing
        c.advance(1.0)
        kit.hub.housekeeping.sweep()
        kit.run_soon()
        if c.closed:
            break
    assert kit.clock.monotonic() - silent_since == 60.0
    *pings, error = c.messages()
    assert [p.command for p in pings] == ["PING", "PING"], "at 20 s and at 40 s of silence"
    assert all(p.params[-1].isdigit() for p in pings)
    assert error.params[0] == "Closing Link: teahouse.local (Ping timeout: 60 seconds)"
    assert c.closed
    assert watcher.frames()[-1]["reason"] == "timeout"


async def test_an_answered_irc_ping_measures_rtt_and_rests_the_buckets(kit: HubKit) -> None:
    c = await registered(kit, "Quiet")
    c.advance(20.0)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    [ping] = c.messages()
    c.advance(0.03)
    c.send(f"PONG teahouse.local :{ping.params[-1]}")
    assert c.session.rtt_ms == 30
    assert c.conn._items_full_at == c.conn._bytes_full_at == 0.0
    c.send(f"PONG teahouse.local :{ping.params[-1]}")  # again: charged like any line
    assert c.conn._items_full_at > 0.0


async def test_an_unfinished_irc_line_is_cut_by_the_sweep(make_kit: MakeKit) -> None:
    kit = make_kit(partial_line_timeout=3.0)
    c = await registered(kit, "Slowpoke")
    c.send_raw(b"PRIVMSG #lobby :never ends")
    assert c.session.partial_since is not None
    c.advance(3.01)
    kit.hub.housekeeping.sweep()
    kit.run_soon()
    assert c.closed
    assert kit.hub.stats.closed["slowloris"] == 1


async def test_an_irc_reader_past_the_high_water_mark_is_dropped(make_kit: MakeKit) -> None:
    kit = make_kit(output_high_water=65536)
    c = await registered(kit, "Sleeper")
    c.transport.buffer_size = 70000
    c.send("PING :x")
    assert c.closed and c.transport.aborted
    assert kit.hub.stats.closed["slow_consumer"] == 1


async def test_quit_says_goodbye_and_tells_the_room(kit: HubKit) -> None:
    other = await registered(kit, "Other", "10.0.0.2")
    c = await registered(kit, "Quitter")
    for client in (other, c):
        client.send("JOIN #lobby")
    other.messages()
    c.messages()
    c.send("QUIT :off to bed")
    [error] = c.messages()
    cloak = kit.hub.accounts.cloak("10.0.0.1")
    assert error.params[0] == f"Closing Link: {cloak} (Quit: off to bed)"
    assert c.closed
    [quit_line] = other.messages()
    assert quit_line.command == "QUIT" and quit_line.params == ("Quit: off to bed",)


# -- messages and labeled-response -------------------------------------------------------------


async def two_in_lobby(kit: HubKit, caps: tuple[str, ...]) -> tuple[IrcClient, IrcClient]:
    c = await registered(kit, "Echo", "10.0.0.1", caps=caps)
    plain = await registered(kit, "Plain", "10.0.0.2")
    c.send("JOIN #lobby")
    plain.send("JOIN #lobby")
    c.messages()
    plain.messages()
    return c, plain


async def test_a_privmsg_is_delivered_after_the_commit(kit: HubKit) -> None:
    c, plain = await two_in_lobby(kit, ())
    c.conn.received(b"PRIVMSG #lobby :hello\r\n")  # within the round: not yet delivered
    assert plain.transport.data[plain._read :] == b""
    kit.run_soon()
    [heard] = plain.messages()
    assert (heard.command, heard.params) == ("PRIVMSG", ("#lobby", "hello"))
    assert heard.prefix is not None and heard.prefix.startswith("Echo!")
    assert c.messages() == [], "without echo-message the sender hears nothing"


async def test_a_labelled_command_with_one_line_gets_it_tagged(kit: HubKit) -> None:
    c = await registered(kit, "Echo", caps=LABELS)
    c.send(r"@label=a\sb\:c PING :x")
    [pong] = c.messages()
    assert pong.command == "PONG" and pong.tags["label"] == "a b;c"


async def test_a_labelled_command_without_a_reply_gets_an_ack(kit: HubKit) -> None:
    c = await registered(kit, "Echo", caps=LABELS)
    c.send("@label=p1 PONG :123")
    [ack] = c.messages()
    assert (ack.command, ack.params, ack.tags["label"]) == ("ACK", (), "p1")


async def test_a_labelled_command_with_several_lines_gets_one_batch(kit: HubKit) -> None:
    c, _ = await two_in_lobby(kit, LABELS)
    c.send("@label=w1 WHOIS Plain")
    start, *inner, end = c.messages()
    assert start.command == "BATCH" and start.tags == {"label": "w1"}
    ref = start.params[0]
    assert ref.startswith("+") and start.params[1] == "labeled-response"
    assert (end.command, end.params) == ("BATCH", ("-" + ref[1:],))
    assert inner[0].command == "311" and inner[-1].command == "318"
    assert all(line.tags.get("batch") == ref[1:] for line in inner)


async def test_a_labelled_privmsg_is_answered_after_the_commit_with_its_echo(kit: HubKit) -> None:
    c, plain = await two_in_lobby(kit, (*LABELS, "echo-message"))
    c.conn.received(b"@label=m1 PRIVMSG #lobby :hello\r\n")
    assert c.transport.data[c._read :] == b"", "no answer before the commit"
    kit.run_soon()
    [echo] = c.messages()
    assert (echo.command, echo.params) == ("PRIVMSG", ("#lobby", "hello"))
    assert echo.tags["label"] == "m1" and echo.tags["msgid"].isdigit()
    [heard] = plain.messages()
    assert heard.tags == {} and heard.params == ("#lobby", "hello")


async def test_a_labelled_privmsg_without_echo_is_acked_after_the_commit(kit: HubKit) -> None:
    c, plain = await two_in_lobby(kit, LABELS)
    c.send("@label=m2 PRIVMSG #lobby :quiet")
    [ack] = c.messages()
    assert (ack.command, ack.tags["label"]) == ("ACK", "m2")
    assert plain.messages()[0].params == ("#lobby", "quiet")


async def test_a_failed_commit_answers_the_labelled_privmsg_with_fail(make_kit: MakeKit) -> None:
    kit = make_kit(on_disk=True)
    c, plain = await two_in_lobby(kit, (*LABELS, "echo-message"))
    kit.fill_disk()
    c.send("@label=f1 PRIVMSG #lobby :lost")
    [fail] = c.messages()
    assert fail.command == "FAIL" and fail.tags["label"] == "f1"
    assert fail.params[:3] == ("PRIVMSG", "TEMPORARILY_UNAVAILABLE", "#lobby")
    assert plain.messages() == []


async def test_a_long_privmsg_is_cut_to_one_line_that_its_echo_fits(kit: HubKit) -> None:
    c, plain = await two_in_lobby(kit, (*LABELS, "echo-message"))
    text = " ".join(["chai"] * 97)  # fits the client's line, not the echo with its source
    c.send(f"@label=long PRIVMSG #lobby :{text}")
    [echo] = c.messages()
    assert echo.command == "PRIVMSG" and echo.tags["label"] == "long"
    kept = echo.params[1]
    assert text.startswith(kept) and len(kept) < len(text)
    assert len(serialize(IrcMessage("PRIVMSG", echo.params, echo.prefix))) <= 512
    [heard] = plain.messages()
    assert heard.params[1] == kept, "one line in, one line out, as IRC servers do"


async def test_a_labelled_pass_check_answers_once_it_is_done(kit: HubKit) -> None:
    await kit.add_user("root", role="admin")
    c = await registered(kit, "visitor", caps=LABELS)
    c.send(f"@label=o1 OPER root :{PASSWORD}")
    assert c.messages() == []
    await c.settle()
    start, *inner, end = c.messages()
    assert start.command == "BATCH" and start.tags["label"] == "o1"
    assert [m.command for m in inner] == ["381", "MODE"]
    assert end.command == "BATCH"


async def test_a_nick_change_is_heard_once_however_many_rooms_are_shared(kit: HubKit) -> None:
    other = await registered(kit, "Other", "10.0.0.2")
    c = await registered(kit, "Guest1")
    for client in (other, c):
        client.send("JOIN #lobby", "JOIN #tea")
    other.messages()
    c.messages()
    c.send("NICK Guest2")
    [nick] = other.messages()
    assert (nick.command, nick.params) == ("NICK", ("Guest2",))
    assert nick.prefix is not None and nick.prefix.startswith("Guest1!")
    assert codes(c.messages()) == ["NICK"], "the renamed client hears it once too"
    assert kit.hub.registry.by_name("guest2") == {c.session}


async def test_messages_that_say_quit_or_nick_are_all_delivered(kit: HubKit) -> None:
    """Two identical lines in one round are two messages, not a repeated departure."""
    other = await registered(kit, "Ira", "10.0.0.2")
    c = await registered(kit, "Sayer")
    for client in (other, c):
        client.send("JOIN #lobby")
    other.messages()
    said = "PRIVMSG #lobby :type QUIT to leave"
    c.send(said, said, "PRIVMSG #lobby :a NICK is a name", "PRIVMSG #lobby :a NICK is a name")
    got = [m.params[1] for m in other.messages()]
    assert got == ["type QUIT to leave"] * 2 + ["a NICK is a name"] * 2


async def test_a_connection_waiting_for_its_password_check_reads_a_bounded_amount(
    kit: HubKit,
) -> None:
    await kit.add_user("Bob")
    c = connect(kit)
    c.send(f"PASS :Bob:{PASSWORD}", "NICK Bob", "USER b 0 * :B")
    assert c.transport.reading, "still read: a hang-up is seen at once"
    line = "PING :" + "x" * 400
    c.send(*[line] * (BUSY_READ_AHEAD // len(line)))
    assert c.transport.reading
    c.send(line, line)
    assert not c.transport.reading, "past the read-ahead, the socket waits"
    await c.settle()
    got = c.messages()
    assert "001" in codes(got) and not c.closed, got[:3]


async def test_a_pass_whose_peer_hung_up_is_never_hashed_nor_welcomed(kit: HubKit) -> None:
    with small_hash_queue(kit, 4) as hasher:
        await kit.add_user("Bob")
        c = connect(kit)
        c.send("PASS Bob:a-wrong-guess", "NICK Bob", "USER b 0 * :B")
        c.transport.reset()
        await c.settle()
        assert c.session.closed and c.messages() == []
        assert hasher.dropped == 1 and hasher.in_flight == 0


async def test_a_pass_refused_for_a_full_hash_queue_is_answered_after_its_retry_after(
    kit: HubKit,
) -> None:
    # A guesser that reconnects for every try would otherwise cost a whole registration per
    # "busy" answer, as fast as it can reconnect.
    with small_hash_queue(kit, 1):
        await kit.add_user("Bob")
        first, second = connect(kit, "10.0.0.1"), connect(kit, "10.0.0.2")
        first.send("PASS :Bob:guess-1", "NICK g1", "USER g 0 * :G")
        second.send("PASS :Bob:guess-2", "NICK g2", "USER g 0 * :G")
        await first.settle()
        assert codes(first.messages()) == ["464", "ERROR"], "checked and refused"
        assert second.messages() == [] and not second.closed, "the busy answer waits"
        second.advance(0.99)
        assert second.messages() == []
        second.advance(0.01)
        got = second.messages()
        assert codes(got) == ["464", "ERROR"] and "busy" in got[0].params[-1]
        assert second.closed
        kit.run_soon()
        assert kit.hub.stats.closed == {"bad_credentials": 2}, "no guest registration"


async def test_an_idle_guest_shares_its_empty_sets_and_keeps_no_sasl_state(kit: HubKit) -> None:
    """Thousands idle at once (``make bench`` idle): an empty set is 216 bytes each."""
    a, b = await registered(kit, "alice"), await registered(kit, "bob", ip="10.0.0.2")
    assert a.conn.umodes is b.conn.umodes and a.conn.reg.caps is b.conn.reg.caps
    assert a.conn.reg._sasl is None
    assert a.conn._reader is None  # made per read, dropped once every line is handled
    a.send("MODE alice +i")
    await a.settle()
    assert a.conn.umodes == {"i"} and not b.conn.umodes
    assert a.conn.reg.username is a.conn.reg.nick  # USER alice repeats the nick: one string


async def test_pass_and_sasl_state_is_let_go_at_the_welcome_and_the_cap_version_kept(
    kit: HubKit,
) -> None:
    """PASS and SASL live in a rare object only while registration needs them."""
    await kit.add_user("Alice")
    c = connect(kit)
    c.send("CAP LS 302", "CAP REQ :sasl", "PASS :never-checked")
    c.messages()
    assert c.conn.reg.password == "never-checked" and c.conn.reg.negotiating
    c.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {sasl_payload('Alice', PASSWORD)}")
    await c.settle()
    assert codes(c.messages()) == ["AUTHENTICATE", "900", "903"]
    assert c.conn._seldom is not None
    c.send("NICK whoever", "USER a 0 * :A", "CAP END")
    await c.settle()
    assert codes(c.messages())[0] == "001", "logged in by SASL: the PASS is not checked"
    assert c.conn.registered and c.session.user == "Alice"
    assert c.conn._seldom is None, "the unchecked PASS and the finished SASL exchange are gone"
    assert not c.conn.reg.negotiating and c.conn.reg.password is None
    c.send("CAP LS")
    [ls] = c.messages()
    assert "sasl=PLAIN" in ls.params[-1].split(), "CAP LS 302 was seen: values are still shown"


async def test_a_pass_before_the_welcome_still_logs_in_and_leaves_nothing_behind(
    kit: HubKit,
) -> None:
    await kit.add_user("Bob")
    c = connect(kit)
    got = await c.register("Bob", f"PASS :{PASSWORD}")
    assert "001" in codes(got) and "900" in codes(got)
    assert c.session.account_id is not None
    assert c.conn._seldom is None and c.conn._rare is None


async def test_labels_and_user_modes_leave_no_rare_state_once_over(kit: HubKit) -> None:
    c = await registered(kit, "Echo", caps=LABELS)
    c.send("@label=r1 PING :x")
    [pong] = c.messages()
    assert pong.tags["label"] == "r1"
    assert c.conn.labeled is None and c.conn._capture is None
    assert c.conn._seldom is None and c.conn._rare is None
    c.send("@label=r2 WHOIS Echo")
    got = c.messages()
    assert got[0].command == "BATCH" and got[0].tags["label"] == "r2"
    assert c.conn._seldom is None and c.conn._rare is None
    c.send("MODE Echo +B")
    await c.settle()
    c.messages()
    assert c.conn.umodes == {"B"} and c.conn._seldom is not None
    c.send("MODE Echo -B")
    await c.settle()
    c.messages()
    assert c.conn.umodes is NO_CAPS and c.conn._seldom is None


async def test_an_idle_guest_is_one_object_and_shares_a_repeated_real_name(kit: HubKit) -> None:
    """Thousands idle at once: the registration state lives in the connection's slots, and
    a real name many clients send (their default) is one string."""
    first, second = connect(kit), connect(kit, "10.0.0.2")
    for c, nick in ((first, "alice"), (second, "bob")):
        c.send(f"NICK {nick}", "USER " + nick + " 0 * :" + "".join(["Same", " Client"]))
        await c.settle()
        assert "001" in codes(c.messages())
    a, b = first.conn, second.conn
    assert a.reg is a and not hasattr(a, "__dict__")
    assert a.reg.realname == "Same Client" and a.reg.realname is b.reg.realname


def test_made_up_capability_sets_push_out_only_sets_nobody_asks_for() -> None:
    common = ["server-time", "message-tags"]
    shared = shared_caps(frozenset(common))
    for i in range(SHARED_CAP_SETS * 2):
        shared_caps(frozenset({f"made-up-{i}"}))
        if i % 16 == 0:
            assert shared_caps(frozenset(common)) is shared, "asked for: kept"
    assert len(_CAP_SETS) <= SHARED_CAP_SETS
    late = ["away-notify", "server-time"]  # a new frozenset per call, as clients make
    first = shared_caps(frozenset(late))
    assert shared_caps(frozenset(late)) is first, "a set first asked for after them: shared"
    assert shared_caps(frozenset()) is NO_CAPS


async def test_a_departure_line_goes_once_a_round(kit: HubKit) -> None:
    """The hub tells a departure per shared room; the client hears it once a round."""
    c = await registered(kit, "alice")
    conn = c.conn
    c.received()
    quit_line = b":bob!b@h QUIT :gone\r\n"
    conn.write(OnceLine(quit_line))
    conn.write(OnceLine(quit_line))  # the same departure through another shared room
    conn.write(b":bob!b@h NICK :after\r\n")
    kit.run_soon()
    assert c.received() == quit_line + b":bob!b@h NICK :after\r\n"
    conn.write(OnceLine(quit_line))
    kit.run_soon()
    assert c.received() == quit_line, "a new round: sent again"
    assert conn._rare is None, "no rare state for it"


async def test_a_departure_held_behind_a_stream_is_sent_when_the_stream_ends(
    kit: HubKit,
) -> None:
    """No round's flush comes while output is held: the departure line must not be taken,
    when it is let go, for one already sent this round."""
    c = await registered(kit, "alice")
    conn = c.conn
    c.received()
    quit_line = b":bob!b@h QUIT :gone\r\n"
    c.transport.buffer_size = 10**6  # the peer does not read: the stream waits
    conn.stream(iter([b":srv NOTICE alice :chunk\r\n"]))
    conn.write(OnceLine(quit_line))
    conn.write(OnceLine(quit_line))  # the same departure through another room: once
    kit.run_soon()
    assert c.received() == b""
    c.transport.buffer_size = 0
    conn.resume_writing()
    kit.run_soon()
    assert c.received() == b":srv NOTICE alice :chunk\r\n" + quit_line
    assert conn._rare is None and not conn._state & 0xFF, "nothing aside: the fast path"
