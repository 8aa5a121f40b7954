"""/away, /whois, /nick, /kick, /kill, /invite, /join KEY, /room and /mode: parsing and
wording (the requests themselves are tested against a real server in
tests/integration/test_tui_commands.py, and the ``unknown_type`` fallback against the
hostile server there)."""

from __future__ import annotations

import msgspec

from teahouse.client import operations as ops
from teahouse.client.events import Incoming
from teahouse.protocol import frames as f
from teahouse.protocol.native import encode


def test_the_frames_on_the_wire() -> None:
    assert encode(f.Away(text="tea", ref=1)) == b'{"type":"away","text":"tea","ref":1}\n'
    assert encode(f.Away(ref=2)) == b'{"type":"away","ref":2}\n'
    assert encode(f.Whois(user="bob", ref=3)) == b'{"type":"whois","user":"bob","ref":3}\n'
    assert encode(f.Mode(room="lobby", ref=4)) == b'{"type":"mode","room":"lobby","ref":4}\n'
    assert encode(f.Mode(room="lobby", changes="+k", args=["s"], ref=5)) == (
        b'{"type":"mode","room":"lobby","changes":"+k","args":["s"],"ref":5}\n'
    )
    assert encode(f.Kick(room="tea", user="bob", reason="out", ref=6)) == (
        b'{"type":"kick","room":"tea","user":"bob","reason":"out","ref":6}\n'
    )
    assert encode(f.Join(room="tea", key="k", ref=7)) == (
        b'{"type":"join","room":"tea","key":"k","ref":7}\n'
    )
    assert encode(f.RoomAction(room="tea", action="register", ref=8)) == (
        b'{"type":"room","room":"tea","action":"register","ref":8}\n'
    )
    decoder = msgspec.json.Decoder(Incoming)
    whois = decoder.decode(
        b'{"type":"whois","user":"bob","rooms":["lobby"],"away":"lunch","door":"irc",'
        b'"idle":12.5,"ref":3,"something_new":1}'
    )
    assert whois == f.WhoisInfo(
        user="bob", rooms=["lobby"], away="lunch", door="irc", idle=12.5, ref=3
    )
    assert decoder.decode(b'{"type":"away","user":"bob"}') == f.AwayChanged(user="bob")
    page = decoder.decode(b'{"type":"history","messages":[],"room":"tea","more":true}')
    assert isinstance(page, f.HistoryPage) and page.more


def test_whois_answers_as_lines() -> None:
    info = f.WhoisInfo(user="bob", rooms=["lobby", "tea"], away="lunch", door="irc", idle=12.4)
    assert ops.whois_lines(info) == [
        "bob is online through IRC",
        "  rooms: #lobby, #tea",
        "  away: lunch",
        "  idle: 12 s",
    ]
    admin = f.WhoisInfo(user="root", role="admin", idle=0.25, door="native,web", address="::1")
    assert ops.whois_lines(admin) == [
        "root (admin) is online through the native protocol and the web",
        "  rooms: none you can see",
        "  idle: 0.2 s",
        "  address: ::1",
    ]
    guest = f.WhoisInfo(user="guest7", guest=True, door="irc", idle=3725)
    assert ops.whois_lines(guest)[0] == "guest7 is online through IRC, as a guest (no account)"
    assert ops.whois_lines(guest)[-1] == "  idle: 1 h 2 min"
    assert ops.whois_lines(f.WhoisInfo(user="carol", online=False)) == ["carol is not online"]


def test_away_and_nick_lines() -> None:
    assert ops.away_line(f.AwayChanged(user="Alice", text="tea"), "alice") == "you are away: tea"
    assert ops.away_line(f.AwayChanged(user="bob"), "alice") == "bob is back"
    [line] = ops.nick("alice", "bob")
    assert "account alice" in line and "keeps its name" in line and "IRC guests" in line


def test_kick_words_and_lines() -> None:
    assert ops.kick_words(["bob", "you", "know", "why"], "bob you know  why") == (
        "bob",
        "you know  why",
    )
    assert ops.kick_words(["bob"], "bob") == ("bob", None)
    assert ops.kick_words([], "") == "who? /kick NICK [REASON]"
    assert "not a user name" in str(ops.kick_words(["#tea"], "#tea"))

    def kicked(user: str, text: str | None) -> f.Presence:
        return f.Presence(
            room="tea", user=user, state="left", reason="kicked", by="alice", text=text
        )

    assert ops.kick_line(kicked("bob", "flooding"), "carol") == (
        "bob was kicked from #tea by alice: flooding"
    )
    assert ops.kick_line(kicked("bob", "flooding"), "carol", room=False) == (
        "bob was kicked by alice: flooding"
    )
    # The server's default reason is the kicker's name: not worth repeating.
    assert ops.kick_line(kicked("Carol", "alice"), "carol") == "you were kicked from #tea by alice"
    assert ops.kick_line(kicked("bob", None), "ALICE", room=False) == "bob was kicked by you"


def test_invite_join_and_room_words() -> None:
    invited = f.Invited(room="tea", user="Bob", by="alice")
    assert ops.invited_line(invited, "bob") == "alice invited you to #tea: /join tea"
    assert ops.invited_line(invited, "carol") == "alice invited Bob to #tea"
    assert ops.join_words(["#tea", "sekrit"]) == ("tea", "sekrit")
    assert ops.join_words(["tea"]) == ("tea", None)
    assert ops.join_words([]) == "which room? /join ROOM [KEY]"
    assert "not a room name" in str(ops.join_words(["Bad!"]))
    assert ops.room_words([], "lobby") == ("lobby", "info")
    assert ops.room_words(["register"], "lobby") == ("lobby", "register")
    assert ops.room_words(["DROP", "#tea"], "lobby") == ("tea", "drop")
    assert ops.room_words(["info", "tea"], None) == ("tea", "info")
    assert ops.room_words([], None) == "which room? " + ops.ROOM_USAGE
    assert ops.room_words(["tea"], "lobby") == ("tea", "info")
    assert str(ops.room_words(["Bad!"], "lobby")).startswith("'Bad!'?")
    registered = f.RoomInfoReply(
        room="tea", registered=True, owner="alice", operators=["alice"], modes="+nt", topic="t"
    )
    assert ops.room_lines(registered) == [
        "#tea is registered to alice",
        "  operators: alice",
        "  modes: +nt",
        "  topic: t",
    ]
    assert ops.room_lines(f.RoomInfoReply(room="x", registered=False, modes="+")) == [
        "#x is not registered",
        "  operators: none listed",
        "  modes: none",
    ]


def test_mode_words() -> None:
    assert ops.parse_mode([], "lobby") == ("lobby", None, [])
    assert ops.parse_mode(["#tea"], "lobby") == ("tea", None, [])
    assert ops.parse_mode(["+k", "secret"], "lobby") == ("lobby", "+k", ["secret"])
    assert ops.parse_mode(["#tea", "-m+t"], None) == ("tea", "-m+t", [])
    assert ops.parse_mode([], None) == "which room? " + ops.MODE_USAGE
    assert "user modes" in str(ops.parse_mode(["alice", "+i"], "lobby"))
    assert "not a room name" in str(ops.parse_mode(["#Bad!"], "lobby"))


def test_mode_lines() -> None:
    asked = f.ModeChanged(room="lobby", modes="+kt", params=["secret"])
    assert ops.mode_line(asked, "alice") == "#lobby modes: +kt secret"
    assert ops.mode_line(f.ModeChanged(room="lobby", modes="+"), "alice") == "#lobby modes: none"
    mine = f.ModeChanged(room="lobby", modes="+t", changes="-k", args=["secret"], by="alice")
    assert ops.mode_line(mine, "ALICE") == "you set -k secret on #lobby (modes now: +t)"
    theirs = f.ModeChanged(room="lobby", modes="+mt", changes="+m", by="bob")
    assert ops.mode_line(theirs, "alice") == "bob set +m on #lobby (modes now: +mt)"


def test_operator_changes_follow_the_arguments() -> None:
    def changes(flags: str, args: list[str]) -> list[tuple[str, bool]]:
        return ops.operator_changes(f.ModeChanged(room="r", changes=flags, args=args))

    assert changes("+o", ["bob"]) == [("bob", True)]
    assert changes("+ko-o", ["key", "bob", "carol"]) == [("bob", True), ("carol", False)]
    # "-k" with the old key, and without it: the count of arguments tells.
    assert changes("-ko", ["key", "bob"]) == [("bob", False)]
    assert changes("-ko", ["bob"]) == [("bob", False)]
    assert changes("+lv-i", ["10", "bob"]) == []
    assert ops.operator_changes(f.ModeChanged(room="r", modes="+o")) == []
