"""How the terminal client draws things: pure functions from model values to Rich ``Text``.

Nothing here touches Textual or the network, so the unit tests call these directly. Widths
are in terminal cells; a message line is wrapped here (with a hanging indent under the
text column) so the log widget only has to place finished lines.

Two security rules hold here, for every text that comes from the server (messages, names,
topics, notes built from them): it is made :func:`~teahouse.client.chat.printable` (no
escape sequence reaches the terminal), and it goes into a Rich ``Text`` with ``append``,
never through console markup, so ``[bold]`` or ``[link=...]`` in a message is shown as
typed.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import date, datetime

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from teahouse.client.chat import ACTION_PREFIX
from teahouse.client.printable import printable
from teahouse.client.tui.model import Conversation, Line, Model, Presence, Status
from teahouse.protocol import frames as f

NAME_WIDTH = 12
"""Sender names are right-aligned in a column this wide (longer ones overflow it)."""

PALETTE = (
    "#e06c75",
    "#98c379",
    "#e5c07b",
    "#61afef",
    "#c678dd",
    "#56b6c2",
    "#d19a66",
    "#be5046",
    "#7ec699",
    "#f0a6ca",
    "#9aa5ff",
    "#c8ae9d",
)
"""Sender colours: readable on dark and light backgrounds, told apart at a glance."""

OWN_STYLE = "bold reverse"
MENTION_STYLE = "on #3d3000"
NOTE_STYLE = "dim"
NOTICE_STYLE = "bold magenta"
ERROR_STYLE = "bold red"
TIME_STYLE = "dim"


def name_colour(name: str) -> str:
    """The colour of ``name``: the same for a name in every session (case-insensitive)."""
    return PALETTE[zlib.crc32(name.lower().encode()) % len(PALETTE)]


def local_time(ts: str) -> datetime | None:
    """A message's ISO 8601 UTC ``ts`` in local time, or None if it does not parse."""
    try:
        return datetime.fromisoformat(ts).astimezone()
    except ValueError:
        return None


def day_of(line: Line) -> date | None:
    if line.message is None:
        return None
    when = local_time(line.message.ts)
    return when.date() if when is not None else None


def day_separator(day: date, width: int) -> Text:
    """``──── Tuesday 25 November 2026 ────`` across ``width`` cells."""
    label = f" {day.strftime('%A')} {day.day} {day.strftime('%B %Y')} "
    side = max(2, (width - cell_len(label)) // 2)
    return Text("─" * side + label + "─" * side, style="dim cyan", no_wrap=True)


def message_line(message: f.Message, me: str, *, mention: bool = False) -> Text:
    """``12:00        alice │ hi``, not wrapped; an action is ``12:00    * │ alice waves``."""
    when = local_time(message.ts)
    stamp = when.strftime("%H:%M") if when is not None else "--:--"
    colour = name_colour(message.sender)
    own = message.sender.lower() == me.lower()
    name, body = printable(message.sender), printable(message.text)
    text = Text(no_wrap=True)
    text.append(stamp + " ", TIME_STYLE)
    if body.startswith(ACTION_PREFIX):
        text.append("*".rjust(NAME_WIDTH), "bold " + colour)
        text.append(" │ ", "dim")
        text.append(name + " ", "bold " + colour)
        text.append(body[len(ACTION_PREFIX) :], "italic " + colour)
    else:
        pad = " " * max(0, NAME_WIDTH - cell_len(name))
        text.append(pad)
        text.append(name, f"{OWN_STYLE} {colour}" if own else "bold " + colour)
        text.append(" │ ", "dim")
        text.append(body, "grey70" if own else "")
    if mention:
        text.stylize(MENTION_STYLE)
    return text


def note_line(line: Line) -> Text:
    """An info, notice or error line: ``12:00            — │ bob joined #lobby``."""
    when = local_time(line.ts) if line.ts else None
    stamp = when.strftime("%H:%M") if when is not None else "     "
    style, mark = {
        "error": (ERROR_STYLE, "!!"),
        "notice": (NOTICE_STYLE, "notice"),
    }.get(line.level, (NOTE_STYLE, "—"))
    text = Text(no_wrap=True)
    text.append(stamp + " ", TIME_STYLE)
    text.append(mark.rjust(NAME_WIDTH), style)
    text.append(" │ ", "dim")
    text.append(printable(line.text), style)
    return text


INDENT = 6 + NAME_WIDTH + 3
"""Where the text column starts: continuation lines of a long message start there."""


def wrap(text: Text, width: int, console: Console) -> list[Text]:
    """``text`` cut into lines of at most ``width`` cells, continuation lines indented to
    the text column (a hanging indent, so names and times stay a clean column)."""
    if text.cell_len <= width or width <= INDENT + 8:
        return [text]
    head = text[:INDENT]
    body = text[INDENT:]
    body.no_wrap = False
    pieces = body.wrap(console, width - INDENT)
    out = []
    for i, piece in enumerate(pieces):
        if i == 0:
            line = head.copy()
        else:
            line = Text(" " * (INDENT - 3))
            line.append(" │ ", "dim")
        line.append_text(piece)
        line.no_wrap = True
        out.append(line)
    return out


def render_lines(
    lines: Iterable[Line], me: str, width: int, console: Console, last_day: date | None
) -> tuple[list[Text], date | None]:
    """Screen lines for ``lines`` (messages and notes), with a day separator wherever the
    local day changes from ``last_day`` (the day of the message drawn just before).

    Returns the screen lines and the day of the last message, for the next call.
    """
    out: list[Text] = []
    for line in lines:
        day = day_of(line)
        if day is not None and day != last_day:
            out.append(day_separator(day, width))
            last_day = day
        if line.message is not None:
            text = message_line(line.message, me, mention=line.mention)
        else:
            text = note_line(line)
        out.extend(wrap(text, width, console))
    return out, last_day


# -- side panes and status -------------------------------------------------------------------


def sidebar_label(conv: Conversation, width: int) -> Text:
    """``#lobby       3``: the conversation's name and its unread count, right-aligned.

    A count with a mention in it (or any unread direct message) is drawn as a badge.
    """
    name = printable(conv.title)
    count = f" {conv.unread} " if conv.unread else ""
    room_for_name = max(4, width - cell_len(count) - 1)
    if cell_len(name) > room_for_name:
        name = name[: room_for_name - 1] + "…"
    text = Text(no_wrap=True, overflow="crop")
    style = "bold" if conv.unread else ""
    if not conv.joined and conv.kind == "room":
        style = "dim strike"
    text.append(name, style)
    if count:
        text.append(" " * max(1, width - cell_len(name) - cell_len(count)))
        text.append(count, "bold white on red" if conv.mentioned else "bold reverse")
    return text


def member_label(name: str, presence: Presence, me: str, *, op: bool = False) -> Text:
    """``● alice``: a green dot for online, a yellow ring for away, a dim one for unknown
    (while reconnecting); ``@`` before a room operator's name."""
    dot = {"online": ("●", "green"), "away": ("○", "yellow"), "unknown": ("○", "dim")}[presence]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(dot[0] + " ", dot[1])
    if op:
        text.append("@", "bold")
    style = name_colour(name) + (" bold" if name.lower() == me.lower() else "")
    if presence != "online":
        style += " dim"
    text.append(printable(name), style)
    return text


def topic_text(model: Model) -> Text:
    conv = model.current_conversation
    text = Text(no_wrap=True, overflow="ellipsis")
    if conv is None:
        text.append(" teahouse ", "bold reverse")
        text.append("  /join ROOM to start; /help lists the commands")
        return text
    text.append(f" {printable(conv.title)} ", "bold reverse")
    if conv.kind == "room" and conv.modes.strip("+"):
        text.append(f" {printable(conv.modes)}", "dim")
    if conv.kind == "dm":
        text.append(f"  direct messages with {printable(conv.name)}")
        away = model.away.get(conv.name.lower())
        if away:
            text.append(f"  (away: {printable(away)})", "yellow")
    elif conv.topic:
        text.append("  " + printable(conv.topic))
    elif not conv.joined:
        text.append("  (you left this room; /join to come back)", "dim")
    else:
        text.append("  (no topic)", "dim")
    return text


def prompt_text(model: Model) -> Text:
    """The input prompt, ``#lobby`` and an arrow: where what you type goes."""
    conv = model.current_conversation
    return Text("›" if conv.kind == "server" else f"{printable(conv.title)} ›", no_wrap=True)


def status_text(status: Status, now: float) -> Text:
    """The status line: connection state, who and where, server, heartbeat round trip."""
    text = Text(no_wrap=True, overflow="ellipsis")
    match status.state:
        case "connected":
            text.append(" ● connected ", "bold black on green")
        case "reconnecting":
            label = " ○ reconnecting… "
            if status.retry_at is not None and status.retry_at > now:
                left = status.retry_at - now
                label = (
                    f" ○ reconnecting in {left:.1f} s "
                    if left < 10
                    else f" ○ reconnecting in {left:.0f} s "
                )
            if status.attempt:
                label += f"(attempt {status.attempt}) "
            text.append(label, "bold black on yellow")
        case "offline":
            text.append(" ✕ offline ", "bold white on red")
        case _:
            text.append(" … connecting ", "bold black on cyan")
    if status.reason and status.state != "connected":
        colour = "yellow" if status.state == "reconnecting" else "red"
        text.append(f" {printable(status.reason)}", colour)
    text.append(f"  {printable(status.user)}@{printable(status.address)}")
    if status.away is not None:
        text.append(" (away)", "yellow")
    if status.server:
        text.append(f" · {printable(status.server)}", "dim")
    if status.rtt is not None:
        rtt_ms = status.rtt * 1000
        text.append(f" · rtt {rtt_ms:.1f} ms" if rtt_ms < 10 else f" · rtt {rtt_ms:.0f} ms")
    else:
        text.append(" · rtt -", "dim")
    if status.sending:
        text.append(f" · {status.sending} sending", "yellow")
    return text
