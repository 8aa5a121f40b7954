"""parse_words and parse_duration: operator words -> command arguments."""

from __future__ import annotations

import math

import pytest

from teahouse.admin.commands import COMMANDS, parse_duration, parse_words
from teahouse.errors import InvalidField

PARSED: list[tuple[str, tuple[str, dict[str, object]]]] = [
    ("help", ("help", {})),
    ("who", ("who", {})),
    ("who lobby", ("who", {"room": "lobby"})),
    ("rooms", ("rooms", {})),
    ("kick bob", ("kick", {"user": "bob"})),
    ("kick bob flooding the lobby", ("kick", {"user": "bob", "reason": "flooding the lobby"})),
    ("KICK Bob x", ("kick", {"user": "Bob", "reason": "x"})),
    ("ban bob", ("ban", {"target": "bob"})),
    ("ban bob 2h", ("ban", {"target": "bob", "duration": "2h"})),
    (
        "ban bob 2h spam and abuse",
        ("ban", {"target": "bob", "duration": "2h", "reason": "spam and abuse"}),
    ),
    ("ban bob spam", ("ban", {"target": "bob", "reason": "spam"})),
    (
        "ban 10.0.0.9 forever flood",
        ("ban", {"target": "10.0.0.9", "duration": "forever", "reason": "flood"}),
    ),
    ("ban bob 90", ("ban", {"target": "bob", "duration": "90"})),
    ("unban bob", ("unban", {"target": "bob"})),
    ("bans", ("bans", {})),
    ("mute bob", ("mute", {"user": "bob"})),
    ("mute bob 10m", ("mute", {"user": "bob", "duration": "10m"})),
    ("mute bob spam", ("mute", {"user": "bob", "reason": "spam"})),
    (
        "mute bob 10m calm down",
        ("mute", {"user": "bob", "duration": "10m", "reason": "calm down"}),
    ),
    ("unmute bob", ("unmute", {"user": "bob"})),
    ("broadcast restart in 5 minutes", ("broadcast", {"text": "restart in 5 minutes"})),
    ("topic lobby tea and biscuits", ("topic", {"room": "lobby", "text": "tea and biscuits"})),
    ("topic lobby", ("topic", {"room": "lobby"})),
    ("stats", ("stats", {})),
    ("user list", ("user", {"action": "list"})),
    (
        "user add bob pw12345678",
        ("user", {"action": "add", "name": "bob", "password": "pw12345678"}),
    ),
    (
        "user add bob pw12345678 --admin",
        ("user", {"action": "add", "name": "bob", "password": "pw12345678", "admin": True}),
    ),
    (
        "user --admin add bob pw12345678",
        ("user", {"action": "add", "name": "bob", "password": "pw12345678", "admin": True}),
    ),
    ("user del bob", ("user", {"action": "del", "name": "bob"})),
    (
        "user passwd bob newpass99",
        ("user", {"action": "passwd", "name": "bob", "password": "newpass99"}),
    ),
    ("user role bob admin", ("user", {"action": "role", "name": "bob", "role": "admin"})),
    ("invite", ("invite", {})),
    ("room info lobby", ("room", {"action": "info", "room": "lobby"})),
    (
        "room mode lobby +o-v bob carol",
        ("room", {"action": "mode", "room": "lobby", "modes": "+o-v", "args": "bob carol"}),
    ),
    (
        "room mode lobby +m",
        ("room", {"action": "mode", "room": "lobby", "modes": "+m", "args": ""}),
    ),
    ("room owner lobby alice", ("room", {"action": "owner", "room": "lobby", "user": "alice"})),
    ("room owner lobby -", ("room", {"action": "owner", "room": "lobby", "user": "-"})),
    ("room delete lobby", ("room", {"action": "delete", "room": "lobby"})),
    ("backup /var/backups/teahouse.db", ("backup", {"path": "/var/backups/teahouse.db"})),
    ("purge lobby", ("purge", {"target": "lobby"})),
    ("purge dms 30d", ("purge", {"target": "dms", "duration": "30d"})),
    ("shutdown", ("shutdown", {})),
    ("shutdown 3", ("shutdown", {"grace": "3"})),
]


def test_the_examples_cover_every_command() -> None:
    assert {expected[0] for _, expected in PARSED} == set(COMMANDS)


@pytest.mark.parametrize(("words", "expected"), PARSED, ids=[w for w, _ in PARSED])
def test_words_parse_into_command_arguments(
    words: str, expected: tuple[str, dict[str, object]]
) -> None:
    assert parse_words(words.split()) == expected


USAGE_ERRORS = [
    "",
    "frobnicate",
    "help me",
    "who lobby tea",
    "rooms x",
    "kick",
    "ban",
    "unban",
    "unban bob alice",
    "bans x",
    "mute",
    "room",
    "room info",
    "room frob lobby",
    "room info lobby extra",
    "room mode lobby",
    "room owner lobby",
    "room owner lobby alice bob",
    "backup",
    "backup a.db b.db",
    "purge",
    "purge lobby 30d more",
    "unmute",
    "unmute bob alice",
    "topic",
    "stats now",
    "user",
    "user add",
    "user add bob",
    "user add bob pw extra",
    "user del",
    "user passwd bob",
    "user role bob",
    "user list bob",
    "user frob bob",
    "user add bob pw12345678 --root",
    "invite x",
    "shutdown 3 4",
]


@pytest.mark.parametrize("words", USAGE_ERRORS)
def test_words_that_do_not_fit_are_a_usage_error(words: str) -> None:
    with pytest.raises(InvalidField):
        parse_words(words.split())


@pytest.mark.parametrize(
    "words", ["kick", "ban", "mute", "user add bob", "who a b", "room owner lobby"], ids=str
)
def test_a_usage_error_shows_the_usage(words: str) -> None:
    cmd = words.split(maxsplit=1)[0]
    with pytest.raises(InvalidField) as info:
        parse_words(words.split())
    assert COMMANDS[cmd].usage in info.value.message


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (2.5, 2.5),
        ("90", 90.0),
        ("30s", 30.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1w", 604800.0),
        ("1.5h", 5400.0),
        (" 10M ", 600.0),
    ],
)
def test_durations_parse_to_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [0, 0.0, "0", "forever", "Permanent", "perm"])
def test_zero_and_forever_mean_no_end(value: object) -> None:
    assert parse_duration(value) is None


@pytest.mark.parametrize(
    "value", [None, True, False, "", "abc", "10x", "10 m", "-5", "m", "1e3", "1h30m"]
)
def test_bad_durations_are_invalid_field(value: object) -> None:
    with pytest.raises(InvalidField):
        parse_duration(value)


@pytest.mark.parametrize(
    "value",
    [math.inf, -math.inf, math.nan, 1e300, "99999999999999999999w", -5, -0.5],
    ids=["inf", "-inf", "nan", "1e300", "huge-words", "negative-int", "negative-float"],
)
def test_non_finite_absurd_or_negative_durations_are_invalid_field(value: object) -> None:
    with pytest.raises(InvalidField):
        parse_duration(value)
