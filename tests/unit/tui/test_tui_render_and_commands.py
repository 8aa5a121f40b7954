"""The terminal client's drawing (pure Rich Text) and its input line."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from teahouse.client.errors import ConnectFailed, LoginFailed, ServerError
from teahouse.client.tui import render
from teahouse.client.tui.commands import (
    Command,
    Completer,
    InputHistory,
    Say,
    completes_any_name,
    parse,
    plain_error,
)
from teahouse.client.tui.model import Conversation, Line, Model, Status
from teahouse.protocol import frames as f

CONSOLE = Console(width=200)


def msg(id: int, sender: str, text: str, ts: str = "2026-11-25T12:59:19.262Z") -> f.Message:
    return f.Message(id=id, sender=sender, text=text, ts=ts, room="lobby")


def test_sender_colours_are_stable_and_case_blind() -> None:
    assert render.name_colour("alice") == render.name_colour("ALICE")
    assert render.name_colour("alice") in render.PALETTE
    assert len({render.name_colour(n) for n in ["alice", "bob", "carol", "dave", "erin"]}) > 2


def test_a_message_line_has_time_name_column_and_text() -> None:
    line = render.message_line(msg(1, "bob", "hi"), "alice")
    plain = line.plain
    assert plain.endswith("bob │ hi")
    assert plain.index("│") == render.INDENT - 2
    action = render.message_line(msg(2, "bob", "/me waves"), "alice").plain
    assert action.endswith("* │ bob waves")


def test_own_messages_and_mentions_look_different() -> None:
    mine = render.message_line(msg(1, "alice", "hi"), "alice")
    theirs = render.message_line(msg(2, "bob", "hi"), "alice")
    assert any("reverse" in str(span.style) for span in mine.spans)
    assert not any("reverse" in str(span.style) for span in theirs.spans)
    hot = render.message_line(msg(3, "bob", "alice!"), "alice", mention=True)
    assert any(render.MENTION_STYLE in str(span.style) for span in hot.spans)


def test_long_lines_wrap_under_the_text_column() -> None:
    text = render.message_line(msg(1, "bob", "word " * 40), "alice")
    lines = render.wrap(text, 60, CONSOLE)
    assert len(lines) > 1
    assert all(ln.cell_len <= 60 for ln in lines)
    assert all(ln.plain[render.INDENT - 2] == "│" for ln in lines)
    assert lines[1].plain.startswith(" " * (render.INDENT - 3))


def test_day_separators_come_where_the_day_changes() -> None:
    lines = [
        Line(message=msg(1, "bob", "late", ts="2026-11-24T12:00:00.000Z")),
        Line(message=msg(2, "bob", "later", ts="2026-11-24T12:01:00.000Z")),
        Line(message=msg(3, "bob", "next day", ts="2026-11-26T12:00:00.000Z")),
    ]
    out, last = render.render_lines(lines, "alice", 80, CONSOLE, None)
    separators = [t.plain for t in out if t.plain.startswith("──")]
    assert len(separators) == 2 and "November 2026" in separators[0]
    assert last is not None and last.day == 26
    again, _ = render.render_lines(lines[2:], "alice", 80, CONSOLE, last)
    assert not any(t.plain.startswith("──") for t in again)


def test_sidebar_label_shows_the_unread_count_right_aligned() -> None:
    conv = Conversation("#tea", "room", "tea")
    conv.joined = True
    assert render.sidebar_label(conv, 20).plain == "#tea"
    conv.unread, conv.mentioned = 12, True
    label = render.sidebar_label(conv, 20)
    assert label.plain.startswith("#tea") and label.plain.endswith(" 12 ")
    assert label.cell_len == 20
    assert any("red" in str(span.style) for span in label.spans)


def test_status_line_says_the_connection_state() -> None:
    status = Status(user="alice", address="h:6680", state="connected", server="teahouse/0.1")
    status.rtt = 0.0004
    assert render.status_text(status, 0).plain.startswith(" ● connected")
    assert "rtt 0.4 ms" in render.status_text(status, 0).plain
    status.state, status.retry_at, status.attempt, status.reason = "reconnecting", 12.0, 2, "eof"
    line = render.status_text(status, 10.0).plain
    assert "reconnecting in 2.0 s (attempt 2)" in line and "eof" in line
    assert "reconnecting… (attempt 2)" in render.status_text(status, 13.0).plain
    status.state = "offline"
    assert "offline" in render.status_text(status, 0).plain


def test_parse_commands_and_says() -> None:
    assert parse("   ") is None
    assert parse("hello") == Say("hello")
    assert parse("//etc/passwd is a path") == Say("/etc/passwd is a path")
    assert parse("/JOIN #lobby") == Command("join", "#lobby")
    assert parse("/msg bob hi there") == Command("msg", "bob hi there")
    assert parse("/msg bob hi there").args == ["bob", "hi", "there"]  # type: ignore[union-attr]
    assert parse("/exit") == Command("quit", "")


def test_input_history_goes_back_and_forth_and_keeps_the_draft() -> None:
    history = InputHistory()
    assert history.older("x") is None
    for line in ["one", "two", "two", "", "three"]:
        history.add(line)
    assert history.older("draft") == "three"
    assert history.older("three") == "two"
    assert history.older("two") == "one"
    assert history.older("one") is None
    assert history.newer() == "two"
    assert history.newer() == "three"
    assert history.newer() == "draft"
    assert history.newer() is None


def test_errors_in_plain_words() -> None:
    assert plain_error(LoginFailed("bad_credentials", "no")) == "Wrong user name or password."
    wait = plain_error(LoginFailed("throttled", "slow down", retry_after=4.2))
    assert wait == "Too many attempts: wait 4 s, then try again."
    assert plain_error(ServerError("weak_password", "too short")).startswith("Weak password:")
    assert plain_error(ConnectFailed("refused")).startswith("Cannot reach the server")


# -- what the server sends is shown, never obeyed --------------------------------------------

HOSTILE = [
    "\x1b[2J\x1b[31mred alert",  # clear the screen, colours
    "\x1b]8;;https://evil.example\x1b\\click me\x1b]8;;\x1b\\",  # an OSC 8 link
    "\x1b]0;pwned\x07",  # the window title
    "nul\x00, bell\x07, C1 csi\x9b31m, rtl \u202eevil",
]


def _segments_text(text: Text) -> str:
    return "".join(seg.text for seg in CONSOLE.render(text))


def test_control_characters_from_the_server_are_drawn_visibly() -> None:
    for hostile in HOSTILE:
        drawn = [
            render.message_line(msg(1, "bob", hostile), "alice"),
            render.message_line(f.Message(id=2, sender="b\x1bob", text="x", ts="", room="r"), "a"),
            render.note_line(Line(text="topic: " + hostile)),
        ]
        conv = Conversation("#lobby", "room", "lobby")
        conv.topic = hostile
        drawn.append(render.sidebar_label(Conversation("@x", "dm", "x\x1b[5m"), 20))
        drawn.append(render.member_label("m\x1b[5m", "online", "alice"))
        status = Status(user="alice", address="h:1", server="tea\x1b]0;x\x07", reason="\x9b")
        drawn.append(render.status_text(status, 0))
        for text in drawn:
            out = _segments_text(text) + text.plain
            assert not any(c in out for c in "\x00\x07\x1b\x9b\u202e"), repr(out)
    line = render.message_line(msg(1, "bob", HOSTILE[1]), "alice").plain
    assert line.endswith("^[]8;;https://evil.example^[\\click me^[]8;;^[\\")


def test_console_markup_in_a_message_is_shown_as_typed() -> None:
    hostile = "[bold red]shouting[/bold red] and [link=https://evil.example]a link[/link]"
    line = render.message_line(msg(1, "bob", hostile), "alice")
    assert line.plain.endswith(hostile)
    assert not any("link" in str(span.style) or "red" in str(span.style) for span in line.spans)
    note = render.note_line(Line(text=hostile))
    assert note.plain.endswith(hostile)


# -- Tab completion ----------------------------------------------------------------------------


def test_tab_completes_a_name_and_cycles_through_the_matches() -> None:
    names = ["bob", "Bobby", "carol"]
    done = Completer()
    assert done.complete("b", 1, lambda before: names) == ("bob: ", 5)
    assert done.complete("bob: ", 5, lambda before: names) == ("Bobby: ", 7)
    assert done.complete("Bobby: ", 7, lambda before: names) == ("bob: ", 5)  # round again
    assert done.complete("hi C", 4, lambda before: names) == ("hi carol ", 9)
    assert done.complete("hi @ca", 6, lambda before: names) == ("hi @carol ", 10)
    assert done.complete("hi x", 4, lambda before: names) is None
    assert done.complete("", 0, lambda before: names) is None
    # In the middle of a line: the rest stays, with no doubled space.
    assert done.complete("b and me", 1, lambda before: names) == ("bob: and me", 4)
    # Typing something else starts afresh.
    assert done.complete("bob: x b", 8, lambda before: names) == ("bob: x bob ", 11)


def test_tab_completes_commands_and_the_user_of_msg() -> None:
    seen: list[str] = []

    def names(before: str) -> list[str]:
        seen.append(before)
        return ["dave"] if completes_any_name(before) else ["bob"]

    done = Completer()
    assert done.complete("/wh", 3, names) == ("/who ", 5)
    assert done.complete("/who ", 5, names) == ("/whois ", 7)
    assert done.complete("/msg d", 6, names) == ("/msg dave ", 10)
    # In the text of a /msg: the conversation's members.
    assert done.complete("/msg dave b", 11, names) == ("/msg dave bob ", 14)
    assert seen == ["/msg ", "/msg dave "]
    assert completes_any_name("/WHOIS ") and completes_any_name("/kick ")
    assert not completes_any_name("hello ") and not completes_any_name("/join ")


def test_member_labels_mark_operators_and_away_and_the_topic_bar_the_modes() -> None:
    assert render.member_label("bob", "online", "alice", op=True).plain == "● @bob"
    assert render.member_label("bob", "away", "alice").plain == "○ bob"
    model = Model("alice", "h:1")
    model.apply(
        f.Joined(room="tea", topic="cakes", members=["alice"], modes="+knt", ops=["alice"]), 0
    )
    model.select("#tea")
    assert render.topic_text(model).plain == " #tea  +knt  cakes"
