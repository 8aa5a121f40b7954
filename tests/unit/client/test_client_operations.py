"""/away, /whois, /nick, /kick and /mode: parsing and wording (the requests themselves are
tested against a real server in tests/integration/test_tui_commands.py)."""

from __future__ import annotations

import msgspec

from teahouse.client import operations as ops
from teahouse.client.draft_frames import (
    Away,
    AwayRequest,
    ModeInfo,
    ModeRequest,
    WhoisInfo,
    WhoisRequest,
)
from teahouse.client.events import Incoming
from teahouse.protocol.native import encode


def test_the_draft_frames_on_the_wire() -> None:
    assert encode(AwayRequest(text="tea", ref=1)) == b'{"type":"away","text":"tea","ref":1}\n'
    assert encode(AwayRequest(ref=2)) == b'{"type":"away","ref":2}\n'
    assert encode(WhoisRequest(user="bob", ref=3)) == b'{"type":"whois","user":"bob","ref":3}\n'
    assert encode(ModeRequest(room="lobby", ref=4)) == b'{"type":"mode","room":"lobby","ref":4}\n'
    assert encode(ModeRequest(room="lobby", changes="+k", args=["s"], ref=5)) == (
        b'{"type":"mode","room":"lobby","changes":"+k","args":["s"],"ref":5}\n'
    )
    decoder = msgspec.json.Decoder(Incoming)
    whois = decoder.decode(
        b'{"type":"whois","user":"bob","rooms":["lobby"],"away":"lunch","door":"irc",'
        b'"idle":12.5,"ref":3,"something_new":1}'
    )
    assert whois == WhoisInfo(
        user="bob", rooms=["lobby"], away="lunch", door="irc", idle=12.5, ref=3
    )
    assert decoder.decode(b'{"type":"away","user":"bob"}') == Away(user="bob")


def test_whois_answers_as_lines() -> None:
    info = WhoisInfo(user="bob", rooms=["lobby", "tea"], away="lunch", door="irc", idle=12.4)
    assert ops.whois_lines(info) == [
        "bob is online through IRC, idle 12 s",
        "bob is away: lunch",
        "bob is in #lobby, #tea",
    ]
    assert ops.whois_lines(WhoisInfo(user="root", role="admin", idle=0.25)) == [
        "root (admin) is online, idle 0.2 s",
        "root is in no room",
    ]
    assert ops.whois_lines(WhoisInfo(user="carol", online=False)) == ["carol is not online"]


def test_away_and_nick_lines() -> None:
    assert ops.away_line(Away(user="Alice", text="tea"), "alice") == "you are away: tea"
    assert ops.away_line(Away(user="bob"), "alice") == "bob is back"
    [line] = ops.nick("alice", "bob")
    assert "account alice" in line and "keeps its name" in line and "IRC guests" in line


def test_mode_words() -> None:
    assert ops.parse_mode([], "lobby") == ("lobby", None, [])
    assert ops.parse_mode(["#tea"], "lobby") == ("tea", None, [])
    assert ops.parse_mode(["+k", "secret"], "lobby") == ("lobby", "+k", ["secret"])
    assert ops.parse_mode(["#tea", "-m+t"], None) == ("tea", "-m+t", [])
    assert ops.parse_mode([], None) == "which room? " + ops.MODE_USAGE
    assert "user modes" in str(ops.parse_mode(["alice", "+i"], "lobby"))
    assert "not a room name" in str(ops.parse_mode(["#Bad!"], "lobby"))


def test_mode_lines() -> None:
    asked = ModeInfo(room="lobby", modes="+kt")
    assert ops.mode_line(asked, "alice") == "#lobby modes: +kt"
    assert ops.mode_line(ModeInfo(room="lobby", modes="+"), "alice") == "#lobby modes: none"
    mine = ModeInfo(room="lobby", modes="+t", changes="-k", args=["secret"], by="alice")
    assert ops.mode_line(mine, "ALICE") == "you set -k secret on #lobby (modes now: +t)"
    theirs = ModeInfo(room="lobby", modes="+mt", changes="+m", by="bob")
    assert ops.mode_line(theirs, "alice") == "bob set +m on #lobby (modes now: +mt)"
    # A change as the server broadcasts it: without the modes now.
    heard = ModeInfo(room="lobby", changes="+k", args=["s"], by="bob")
    assert ops.mode_line(heard, "alice") == "bob set +k s on #lobby"


def test_the_clients_decoder_takes_the_servers_mode_frame() -> None:
    decoder = msgspec.json.Decoder(Incoming)
    mode = decoder.decode(b'{"type":"mode","room":"lobby","changes":"+k","args":["s"],"by":"b"}')
    assert mode == ModeInfo(room="lobby", changes="+k", args=["s"], by="b")
