"""The pure helpers: input commands, links and mentions, colours, error wording."""

from __future__ import annotations

from datetime import date

import pytest

from teahouse.gui import commands as c
from teahouse.gui.markup import (
    LIGHT_PALETTE,
    action_body,
    day_label,
    find_links,
    is_action,
    mentions,
    notification_text,
    sender_colour,
    tooltip_html,
)
from teahouse.gui.transcript import Transcript, message_row
from teahouse.gui.wording import (
    Field,
    Link,
    describe_error,
    explain_connect_failure,
    explain_login_error,
    rtt_text,
    seconds,
    status_text,
)


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("hello", c.Say("hello")),
        ("  ", None),
        ("//join me", c.Say("/join me")),
        ("/me pours the tea", c.Say("/me pours the tea")),
        ("/me", c.Invalid("/me needs an action: /me pours the tea")),
        ("/join #Lobby", c.Join("lobby")),
        ("/j kitchen", c.Join("kitchen")),
        ("/join #vault sesame", c.Join("vault", "sesame")),
        ("/part", c.Part(None)),
        ("/part #kitchen", c.Part("kitchen")),
        ("/msg bob are you there?", c.Msg("bob", "are you there?")),
        ("/query bob", c.Msg("bob", None)),
        ("/topic tea and cake", c.SetTopic(None, "tea and cake")),
        ("/topic #garden roses", c.SetTopic("garden", "roses")),
        ("/topic", c.SetTopic(None, "")),
        ("/quit gone for tea", c.Quit("gone for tea")),
        ("/QUIT", c.Quit(None)),
        ("/rooms", c.ListRooms()),
        ("/who", c.Who()),
        ("/whois bob", c.Whois("bob")),
        ("/away gone for tea", c.SetAway("gone for tea")),
        ("/away", c.SetAway(None)),
        ("/back", c.SetAway(None)),
        ("/kick bob", c.Kick("bob", None)),
        ("/kick bob  too loud ", c.Kick("bob", "too loud")),
        ("/invite carol", c.Invite("carol")),
        ("/mode", c.Mode(None)),
        ("/mode +kl sesame 10", c.Mode("+kl", ("sesame", "10"))),
        ("/room", c.RoomCommand("info")),
        ("/room Register", c.RoomCommand("register")),
        ("/room drop", c.RoomCommand("drop")),
        ("/help", c.Help()),
        ("/highlight", c.Highlight(None)),
        ("/highlight scones", c.Highlight("scones")),
        ("/unhighlight scones", c.Unhighlight("scones")),
        ("/unhighlight", c.Invalid("/unhighlight needs the word: /unhighlight scones")),
    ],
)
def test_parse_input(line: str, command: c.Command | None) -> None:
    assert c.parse_input(line) == command


def test_unknown_and_malformed_commands_say_what_to_do() -> None:
    unknown = c.parse_input("/dance")
    assert isinstance(unknown, c.Invalid) and "/help" in unknown.message
    assert isinstance(c.parse_input("/join"), c.Invalid)
    assert isinstance(c.parse_input("/join three room words"), c.Invalid)
    assert isinstance(c.parse_input("/msg"), c.Invalid)
    for line in ("/kick", "/whois", "/whois a b", "/invite", "/mode bob", "/room steal"):
        assert isinstance(c.parse_input(line), c.Invalid), line


def test_links() -> None:
    text = "see https://example.org/a_(b) and www.tea.org/x, (http://x.io/y)."
    assert [url for *_, url in find_links(text)] == [
        "https://example.org/a_(b)",
        "http://www.tea.org/x",
        "http://x.io/y",
    ]
    start, end, _ = find_links("go to https://a.b/c!")[0]
    assert "go to https://a.b/c!"[start:end] == "https://a.b/c"
    assert find_links("no links here, just tea.") == []


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("alice: hi", True),
        ("hi ALICE!", True),
        ("malice aforethought", False),
        ("alice_2 is someone else", False),
        ("ask [alice]", False),  # another valid name
        ("", False),
    ],
)
def test_mentions(text: str, mentioned: bool) -> None:
    assert mentions(text, "alice") is mentioned


def test_mentions_of_names_with_special_characters() -> None:
    assert mentions("hey [bot]|x, ping", "[bot]|x")
    assert not mentions("hey [bot]|xy", "[bot]|x")


def test_actions() -> None:
    assert is_action("/me waves") and action_body("/me waves") == "waves"
    assert not is_action("/meow") and action_body("plain") == "plain"


ALICE, BOB = "#c2185b", "#c0392b"


def test_sender_colours_are_stable_and_case_blind() -> None:
    assert sender_colour("Alice") == sender_colour("alice") == sender_colour("ALICE")
    assert sender_colour("alice") in LIGHT_PALETTE
    # Known values: the colour of a name never changes between runs or versions.
    assert (sender_colour("alice"), sender_colour("bob")) == (ALICE, BOB)
    names = [f"user{i}" for i in range(64)]
    assert len({sender_colour(n) for n in names}) > 8  # spread over the palette
    assert sender_colour("bob", dark=True) != sender_colour("bob")


def test_day_labels() -> None:
    today = date(2026, 11, 25)
    assert day_label(today, today) == "Today"
    assert day_label(date(2026, 11, 24), today) == "Yesterday"
    assert day_label(date(2026, 11, 20), today) == "Friday 20 November 2026"


@pytest.mark.parametrize(
    ("code", "field", "start"),
    [
        ("bad_credentials", Field.PASSWORD, "Wrong user name or password."),
        ("throttled", Field.PASSWORD, "Too many attempts. Try again in 5 s."),
        ("user_taken", Field.USER, "This name is taken."),
        ("weak_password", Field.PASSWORD, "This password is too weak: need 8."),
        ("invalid_name", Field.USER, "A user name starts with a letter"),
        ("banned", Field.USER, "Banned from this server: need 8"),
        ("too_many_connections", Field.SERVER, "The server is full"),
        ("mystery", Field.FORM, "The server refused: need 8 (mystery)."),
    ],
)
def test_login_errors_in_plain_words_next_to_their_field(
    code: str, field: Field, start: str
) -> None:
    error = explain_login_error(code, "need 8", retry_after=4.2)
    assert error.field is field
    assert error.text.startswith(start)
    assert (error.retry_after is not None) == (code == "throttled")


def test_registration_closed_depends_on_the_mode() -> None:
    assert explain_login_error("registration_closed", "", register=True).field is Field.INVITE
    assert explain_login_error("registration_closed", "", register=False).field is Field.FORM


def test_connect_failures() -> None:
    refused = explain_connect_failure(
        "cannot connect to h:1: [Errno 111] Connection refused", tls=False
    )
    assert refused.field is Field.SERVER and "Is the server running?" in refused.text
    cert = explain_connect_failure(
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", tls=True
    )
    assert cert.field is Field.TLS and "not trusted" in cert.text
    silent = explain_connect_failure("no answer from h:1 within 10.0 s", tls=True)
    assert silent.field is Field.SERVER and "TLS" in silent.text


def test_status_line() -> None:
    assert status_text(Link.CONNECTED, now=0) == "Connected"
    assert status_text(Link.RECONNECTING, now=10, retry_at=12.2, attempt=1) == "Reconnecting in 3 s"
    assert (
        status_text(Link.RECONNECTING, now=10, retry_at=9, attempt=3) == "Reconnecting… (attempt 3)"
    )
    assert status_text(Link.OFFLINE, now=0, reason="kicked") == "Offline: you were kicked"
    assert rtt_text(None) == "RTT -" and rtt_text(0.0123) == "RTT 12 ms"
    assert seconds(0.2) == "1 s" and seconds(125) == "2 min 5 s" and seconds(120) == "2 min"
    assert describe_error("not_in_room", "join it") == "You are not in that room. (join it)"
    assert describe_error("forbidden", "you are muted") == "Not allowed: you are muted"


def test_text_for_places_qt_reads_as_html_stays_text() -> None:
    topic = "<b>bold</b> & <img src='x.png'> \x1b[31m"
    assert tooltip_html(topic) == (
        "<qt>&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src='x.png'&gt; ^[[31m</qt>"
    )
    assert notification_text("<a href='https://evil.example'>win</a> & \x07") == (
        "‹a href='https://evil.example'›win‹/a› ＆ ^G"
    )


def test_rows_show_control_characters_visibly() -> None:
    row = message_row(1, "b\x1bob", "hi\u202eereh\x00", None)
    assert (row.sender, row.text) == ("b^[ob", "hi<U+202E>ereh^@")
    assert Transcript().add_system("bob left (\x1b[2J)").text == "bob left (^[[2J)"
