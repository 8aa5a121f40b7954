"""IRCv3 ``draft/chathistory`` for channels: LATEST, BEFORE, AFTER, BETWEEN (msgid refs)."""

from __future__ import annotations

from collections.abc import Iterator

from teahouse.core.results import HistoryPage
from teahouse.core.session import Session
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.render import room_of
from teahouse.errors import ChatError
from teahouse.protocol.irc import IrcMessage, serialize

MAX_MSGID = 2**62
"""Message ids a client may refer to: bounded so they fit the store's 64-bit column."""


class BadReference(ValueError):
    pass


def msgref(value: str) -> int | None:
    """``msgid=123`` (or a split piece ``msgid=123-2``) -> 123; ``*`` -> None."""
    if value == "*":
        return None
    kind, _, ref = value.partition("=")
    number = ref.split("-", 1)[0]  # pieces of a split message are N-2, N-3, ...
    if kind == "msgid" and number.isascii() and number.isdigit() and len(number) < 20:
        found = int(number)
        if found <= MAX_MSGID:
            return found
    raise BadReference(value)


def _fail(conn: IrcConnection, code: str, *params: str) -> None:
    conn.send(IrcMessage("FAIL", ("CHATHISTORY", code, *params), conn.server))


def chathistory(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    sub, target = msg.params[0].upper(), msg.params[1]
    hub = conn.door.hub
    cap = hub.config.limits.max_replay
    room_name = room_of(target)
    if room_name is None or not hub.rooms.exists(room_name):
        _fail(conn, "INVALID_TARGET", sub, target, "No such channel")
        return
    last = msg.params[-1]
    limit = min(int(last), cap) if last.isascii() and last.isdigit() and len(last) < 9 else cap
    limit = max(limit, 1)
    messages = hub.messages
    try:
        if sub == "LATEST":
            page = messages.latest(session, room_name, msgref(msg.params[2]) or 0, limit)
        elif sub == "BEFORE":
            page = messages.history(session, room_name, before=msgref(msg.params[2]), limit=limit)
        elif sub == "AFTER":
            after = msgref(msg.params[2]) or 0
            page = messages.history(session, room_name, since=after, limit=limit)
        elif sub == "BETWEEN" and len(msg.params) >= 5:
            a, b = msgref(msg.params[2]) or 0, msgref(msg.params[3]) or 0
            page = messages.between(session, room_name, min(a, b), max(a, b), limit)
        else:
            _fail(conn, "INVALID_PARAMS", sub, "Unknown subcommand")
            return
    except BadReference:
        _fail(conn, "INVALID_PARAMS", sub, "Bad message reference")
        return
    except ChatError as exc:
        _fail(conn, "INVALID_TARGET", sub, target, exc.message)
        return
    send_page(conn, session, target, page)


def page_lines(conn: IrcConnection, target: str, page: HistoryPage) -> Iterator[bytes]:
    """A CHATHISTORY answer, made as it is written (in a ``chathistory`` batch)."""
    encoder = conn.door.encoder_for(conn.caps | {"server-time", "message-tags"})
    batch = "batch" in conn.caps
    ref = conn.door.batch_ref()
    if batch:
        yield serialize(IrcMessage("BATCH", (f"+{ref}", "chathistory", target), conn.server))
    for message in page.messages:
        data = encoder.privmsg_lines(message, target, "PRIVMSG")
        if batch:
            data = b"".join(
                b"@batch=" + ref.encode() + b";" + line[1:] + b"\r\n"
                for line in data.split(b"\r\n")
                if line
            )
        yield data
    if batch:
        yield serialize(IrcMessage("BATCH", (f"-{ref}",), conn.server))


def send_page(conn: IrcConnection, session: Session, target: str, page: HistoryPage) -> None:
    if conn.labeled is not None:
        for data in page_lines(conn, target, page):  # the label's batch holds it all
            conn.write_raw(data)
    else:
        conn.stream(page_lines(conn, target, page))
