"""Naming and text rules of protocol v1."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teahouse.protocol.names import fold_user, is_room_name, is_user_name, text_problem

# The contract's regular expressions, matched as whole strings.
CONTRACT_USER = re.compile(r"[A-Za-z][A-Za-z0-9_\-\[\]\\^{}|]{0,31}\Z")
CONTRACT_ROOM = re.compile(r"[a-z0-9][a-z0-9_\-]{0,49}\Z")


@pytest.mark.parametrize(
    "name",
    ["a", "Alice", "bob_2", "x-y", "n[1]", "back\\slash", "c^d", "e{f}", "g|h", "a" * 32],
)
def test_valid_user_names_are_accepted(name: str) -> None:
    assert is_user_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1abc",
        "_abc",
        "-abc",
        "a" * 33,
        "al ice",
        "alice\n",
        "\nalice",
        "al.ice",
        "al@ice",
        "élise",
        "alİce",
        "ａlice",
        "alice\x00",
        "#lobby",
    ],
)
def test_invalid_user_names_are_refused(name: str) -> None:
    assert not is_user_name(name)


@pytest.mark.parametrize("name", ["lobby", "0day", "a-b_c", "a" * 50, "9"])
def test_valid_room_names_are_accepted(name: str) -> None:
    assert is_room_name(name)


@pytest.mark.parametrize(
    "name", ["", "Lobby", "_x", "-x", "a" * 51, "#lobby", "lobby\n", "lob by", "lobby!", "ö"]
)
def test_invalid_room_names_are_refused(name: str) -> None:
    assert not is_room_name(name)


@given(st.text(max_size=40))
def test_user_names_follow_the_contract_regex_exactly(name: str) -> None:
    assert is_user_name(name) == (CONTRACT_USER.match(name) is not None)


@given(st.text(alphabet="abcz09_-A#\n ", max_size=60))
def test_room_names_follow_the_contract_regex_exactly(name: str) -> None:
    assert is_room_name(name) == (CONTRACT_ROOM.match(name) is not None)


def test_user_names_fold_case_insensitively() -> None:
    assert fold_user("Alice") == fold_user("ALICE") == fold_user("alice") == "alice"
    assert fold_user("N[1]") == "n[1]"


def test_text_of_one_to_max_text_characters_is_fine() -> None:
    assert text_problem("a", 10) is None
    assert text_problem("a" * 10, 10) is None


def test_empty_text_is_refused() -> None:
    assert text_problem("", 10) is not None


def test_text_longer_than_max_text_is_refused() -> None:
    problem = text_problem("a" * 11, 10)
    assert problem is not None
    assert "10" in problem


def test_text_length_counts_characters_not_bytes() -> None:
    assert text_problem("ü" * 10, 10) is None
    assert text_problem("😀" * 10, 10) is None
    assert text_problem("😀" * 11, 10) is not None


def test_tab_is_the_one_control_character_allowed() -> None:
    assert text_problem("a\tb", 10) is None


CONTROL = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]


@pytest.mark.parametrize("char", [c for c in CONTROL if c != "\t"], ids=lambda c: f"U+{ord(c):04X}")
def test_every_other_control_character_is_refused(char: str) -> None:
    assert text_problem(f"a{char}b", 10) is not None


@pytest.mark.parametrize("text", ["日本語", "a\u200bb", "emoji 🍵", "a\u2028b", "ÿ", "\u00a0"])
def test_printable_and_non_control_unicode_is_fine(text: str) -> None:
    assert text_problem(text, 10) is None
