"""Saving the open conversation as HTML, JSON Lines or text, through :mod:`teahouse.export`.

The window saves what it holds: the messages loaded so far (the newest, and any older
ones the user scrolled up to), not the server's whole history; ``teahouse export`` on
the server reads all of it. Lines still being sent, and the window's own notes ("bob
joined"), are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from teahouse.export.output import private_file
from teahouse.export.record import TranscriptMessage, split_action
from teahouse.export.render import Format, write
from teahouse.gui.models import Conversation, ConversationKind
from teahouse.gui.transcript import Kind, Row

NAME_FILTERS: dict[Format, str] = {
    Format.HTML: "Web page (*.html *.htm)",
    Format.JSONL: "JSON Lines (*.jsonl)",
    Format.TEXT: "Plain text (*.txt *.log)",
}
"""The save dialog's file types, the first one the default."""


def _ms(when: datetime | None) -> int:
    # A time the client could not read (never sent by a teahouse server) shows as 1970.
    return round(when.timestamp() * 1000) if when is not None else 0


def transcript_messages(
    rows: Iterable[Row], kind: ConversationKind, name: str, me: str
) -> Iterator[TranscriptMessage]:
    """The messages among ``rows`` of conversation ``name`` (a room, or the other user of a
    direct conversation), as the renderers take them; ``me`` is the user of this window."""
    for row in rows:
        if row.kind is not Kind.MESSAGE or row.id is None:
            continue
        text, action = split_action(row.text)
        if kind is ConversationKind.ROOM:
            room, to = name, None
        else:
            room, to = None, name if row.sender.lower() == me.lower() else me
        yield TranscriptMessage(row.id, row.sender, text, _ms(row.when), room, to, action)


def title_of(conversation: Conversation, me: str) -> str:
    """``#lobby``, or ``alice and bob`` for a direct conversation."""
    if conversation.kind is ConversationKind.ROOM:
        return conversation.title
    return f"{me} and {conversation.name}"


def suggested_stem(conversation: Conversation, today: datetime) -> str:
    """``lobby-2026-11-25``, ``dm-bob-2026-11-25``: a file name before its suffix."""
    if conversation.kind is ConversationKind.ROOM:
        return f"{conversation.name}-{today:%Y-%m-%d}"
    return f"dm-{conversation.name}-{today:%Y-%m-%d}"


def choose_format(path: str, name_filter: str) -> Format:
    """The format of the file's suffix if it has a known one, else of the chosen filter."""
    by_suffix = Format.of_file(path)
    if by_suffix is not None:
        return by_suffix
    for fmt, text in NAME_FILTERS.items():
        if text == name_filter:
            return fmt
    return Format.HTML


def save_conversation(conversation: Conversation, me: str, path: Path, fmt: Format) -> int:
    """Write the messages ``conversation`` holds to ``path`` (created 0600, replaced whole
    or not at all); returns how many. Raises :class:`OSError` if the file cannot be
    written."""
    messages = transcript_messages(
        conversation.messages.transcript.rows, conversation.kind, conversation.name, me
    )
    exported = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    details = ["Saved from the desktop client: the messages it had loaded", f"Exported {exported}"]
    with private_file(path) as out:
        return write(fmt, messages, out, title=title_of(conversation, me), details=details)
