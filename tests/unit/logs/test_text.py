"""What may go into a log line: one line, no terminal controls, attacker text quoted."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from teahouse.logsupport.text import USER_LOG_LIMIT, address, one_line, quote_name, token

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_one_line_keeps_plain_text_as_it_is() -> None:
    text = "connection closed peer=127.0.0.1:5000 user=alice reason=quit — ünïcode ok"
    assert one_line(text) is text


def test_one_line_escapes_line_breaks_and_terminal_controls() -> None:
    assert one_line("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert one_line("\x1b[2J\x07") == "\\x1b[2J\\x07"
    assert one_line("x\u2028y\u202ez") == "x\\u2028y\\u202ez"


@given(st.text())
def test_one_line_never_leaves_a_control_character(text: str) -> None:
    assert CONTROL.search(one_line(text)) is None


def test_a_name_is_json_quoted_ascii() -> None:
    assert quote_name("alice") == '"alice"'
    assert quote_name('al" door=irc\n2026') == '"al\\" door=irc\\n2026"'
    assert quote_name("zoë\u202e") == '"zo\\u00eb\\u202e"'
    assert quote_name("a\x7fb") == '"a\\u007fb"'


def test_no_name_is_a_dash_that_no_quoted_name_can_be() -> None:
    assert quote_name(None) == "-"
    assert quote_name("-") == '"-"'
    assert quote_name("") == '""'


def test_a_long_name_is_cut_and_says_how_long_it_was() -> None:
    assert quote_name("x" * 1000) == '"' + "x" * USER_LOG_LIMIT + '" cut_from=1000'


@given(st.text(max_size=200))
def test_a_quoted_name_is_one_printable_ascii_field_that_reads_back(name: str) -> None:
    quoted = quote_name(name)
    field, _, rest = quoted.partition('" ')
    assert quoted.isascii() and quoted.isprintable()
    if len(name) <= USER_LOG_LIMIT:
        assert json.loads(quoted) == name
    else:
        assert rest == f"cut_from={len(name)}"
        assert json.loads(field + '"') == name[:USER_LOG_LIMIT]


def test_an_address_is_normalised_for_the_firewall() -> None:
    assert address("198.51.100.7") == "198.51.100.7"
    assert address("::ffff:198.51.100.7") == "198.51.100.7"
    assert address("2001:DB8:0:0::1") == "2001:db8::1"
    assert address("fe80::1%eth0") == "fe80::1"


def test_what_is_not_an_address_is_a_dash() -> None:
    for peer in ("", None, "localhost", "1.2.3.4 door=x", "198.51.100.7:6680", "1.2.3.4\n"):
        assert address(peer) == "-"


def test_a_token_is_a_bounded_word() -> None:
    assert token("bad_credentials") == "bad_credentials"
    assert token("Bad Pass\n") == "bad_pass_"
    assert token("") == "-"
    assert len(token("x" * 100)) == 32
