"""PRIVMSG, NOTICE and TAGMSG: messages to channels and to users.

A PRIVMSG is stored and then delivered by the hub; the sender's own copy (with
``echo-message``) and a labelled command's answer wait for that commit. NOTICE is relayed
live, never stored and never answered with an error (RFC 2812). CTCP requests other than
ACTION pass between IRC clients live.
"""

from __future__ import annotations

from collections.abc import Callable

from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.encoder import ACTION_PREFIX
from teahouse.doors.irc.render import room_of
from teahouse.errors import ChatError, NoSuchRoom, NoSuchUser
from teahouse.protocol.irc import IrcMessage, serialize
from teahouse.protocol.names import fold_user, is_user_name
from teahouse.protocol.text import strip_irc_formatting
from teahouse.store.base import StoredMessage

MAX_TARGETS = 4
"""Targets of one PRIVMSG/NOTICE (ISUPPORT TARGMAX)."""


def privmsg(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    command = msg.command
    if not msg.params or not msg.params[0]:
        if command == "PRIVMSG":
            conn.numeric(n.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    if len(msg.params) < 2 or not msg.params[1]:
        if command == "PRIVMSG":
            conn.numeric(n.ERR_NOTEXTTOSEND, "No text to send")
        return
    for given in msg.params[0].split(",")[:MAX_TARGETS]:
        try:
            say(conn, session, given, msg.params[1], command)
        except ChatError as exc:
            if command == "PRIVMSG":  # NOTICE never gets an automatic answer
                conn.chat_error(session, command, given, exc)


def say(conn: IrcConnection, session: Session, target: str, text: str, command: str) -> None:
    """One PRIVMSG/NOTICE to one target, in core terms."""
    hub = conn.door.hub
    if fold_user(target) == "nickserv":
        if command == "PRIVMSG":
            conn.door.nickserv(conn, session, text)
        return
    statusmsg = target[:1] in "@+" and target[1:2] == "#"
    if statusmsg:
        target = target[1:]
    room = room_of(target) if target.startswith("#") else None
    if target.startswith("#") and room is None:
        raise NoSuchRoom()
    if room is None and not is_user_name(target):
        raise NoSuchUser()
    to = None if room is not None else target
    if text.startswith("\x01") and not text.upper().startswith("\x01ACTION "):
        # Other CTCP requests pass between IRC clients live, never stored.
        hub.chat.relay(session, "ctcp", room, to, text)
        return
    if command == "NOTICE" or statusmsg:
        kind = "notice" if command == "NOTICE" else "privmsg"
        plain = strip_irc_formatting(text) or text
        if statusmsg and room is not None:
            hub.chat.relay_to_ops(session, kind, room, plain)
        else:
            hub.chat.relay(session, "notice", room, to, plain)
        if "echo-message" in conn.caps:
            shown = ("@" if statusmsg else "") + target
            conn.send(IrcMessage(command, (shown, text), conn.hostmask()))
        return
    if text.startswith("\x01"):
        text = ACTION_PREFIX + text.strip("\x01")[7:]
    text = strip_irc_formatting(text)
    if not text:
        conn.numeric(n.ERR_NOTEXTTOSEND, "No text to send")
        return
    done, failed = _acks(conn, session, target)
    if room is not None:
        hub.chat.say(session, room, text, None, done, failed)
        return
    hub.chat.dm(session, target, text, None, done, failed)
    away = away_of(conn, target)
    if away is not None:
        conn.numeric(n.RPL_AWAY, target, away)


def away_of(conn: IrcConnection, name: str) -> str | None:
    sessions = conn.door.hub.registry.by_name(name)
    if sessions and all(s.away is not None for s in sessions):
        return next(iter(sessions)).away
    return None


def _acks(
    conn: IrcConnection, session: Session, target: str
) -> tuple[Callable[[StoredMessage], None], Callable[[Exception], None]]:
    """The sender's copy (echo-message) and the error, both after the commit; a labelled
    command's answer waits for them."""
    held = conn.labeled.hold() if conn.labeled is not None else None
    echo = "echo-message" in conn.caps

    def done(message: StoredMessage) -> None:
        data = b""
        if echo:
            encoder = conn.door.encoder_for(conn.caps)
            data = encoder.privmsg_lines(message, target, "PRIVMSG")
        if held is not None:
            held(data)
        elif data:
            conn.write_raw(data)

    def failed(exc: Exception) -> None:
        line = IrcMessage(
            "FAIL", ("PRIVMSG", "TEMPORARILY_UNAVAILABLE", target, str(exc)), conn.server
        )
        data = serialize(line)
        if held is not None:
            held(data)
        else:
            conn.write_raw(data)

    return done, failed


def tagmsg(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """Client-only tags (typing notices) are accepted and not relayed."""
