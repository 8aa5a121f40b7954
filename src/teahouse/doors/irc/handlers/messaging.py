"""PRIVMSG, NOTICE and TAGMSG: messages to channels and to users.

A PRIVMSG is stored and then delivered by the hub; the sender's own copy (with
``echo-message``) and a labelled command's answer wait for that commit. NOTICE and TAGMSG
are relayed live, never stored; NOTICE is never answered with an error (RFC 2812). CTCP
requests other than ACTION pass between IRC clients live. Client-only tags (``+key``)
travel with the message to recipients that negotiated ``message-tags``.
"""

from __future__ import annotations

import itertools
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
MAX_CLIENT_TAGS = 4094
"""Bytes of client-only tags a message may carry on (IRCv3 message-tags)."""

Tags = tuple[tuple[str, str], ...]
_live_ids = itertools.count(1)
"""Ids of messages that are not stored (NOTICE, TAGMSG): ``l<n>``, apart from stored ids."""


def client_tags(conn: IrcConnection, msg: IrcMessage) -> Tags:
    """The client-only tags to pass on (and the ``bot`` tag of a bot); others are dropped."""
    tags = [(k, v) for k, v in msg.tags.items() if k.startswith("+") and len(k) > 1]
    if sum(len(k) + len(v) + 2 for k, v in tags) > MAX_CLIENT_TAGS:
        tags = []
    if "B" in conn.umodes:
        tags.append(("bot", ""))
    return tuple(tags)


def fit_line(conn: IrcConnection, command: str, target: str, text: str) -> str:
    """``text`` cut so ``:<mask> <command> <target> :<text>`` fits in 512 bytes, at a
    character boundary: one line in, one line out, as IRC servers do."""
    room = 512 - 2 - len(f":{conn.hostmask()} {command} {target} :".encode())
    data = text.encode()
    if len(data) <= room:
        return text
    return data[: max(room, 0)].decode(errors="ignore")


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
    tags = client_tags(conn, msg)
    for given in msg.params[0].split(",")[:MAX_TARGETS]:
        try:
            say(conn, session, given, msg.params[1], command, tags)
        except ChatError as exc:
            if command == "PRIVMSG":  # NOTICE never gets an automatic answer
                conn.chat_error(session, command, given, exc)


def _target(target: str) -> tuple[str | None, str | None, bool]:
    """``#room`` -> (room, None, statusmsg); ``nick`` -> (None, nick, False)."""
    statusmsg = target[:1] in "@+" and target[1:2] == "#"
    if statusmsg:
        target = target[1:]
    if target.startswith("#"):
        room = room_of(target)
        if room is None:
            raise NoSuchRoom()
        return room, None, statusmsg
    if not is_user_name(target):
        raise NoSuchUser()
    return None, target, False


def say(
    conn: IrcConnection, session: Session, target: str, text: str, command: str, tags: Tags
) -> None:
    """One PRIVMSG/NOTICE to one target, in core terms."""
    hub = conn.door.hub
    if fold_user(target) == "nickserv":
        if command == "PRIVMSG":
            conn.door.nickserv(conn, session, text)
        return
    room, to, statusmsg = _target(target)
    text = fit_line(conn, command, target, text)
    if text.startswith("\x01") and not text.upper().startswith("\x01ACTION "):
        # Other CTCP requests pass between IRC clients live, never stored.
        hub.messages.relay(session, "ctcp", room, to, text, tags)
        return
    if command == "NOTICE" or statusmsg:
        plain = text
        live = (*tags, ("msgid", f"l{next(_live_ids)}"))
        with conn.uncaptured():
            if statusmsg and room is not None:
                kind = "notice" if command == "NOTICE" else "privmsg"
                hub.messages.relay_to_ops(session, kind, room, plain)
            else:
                hub.messages.relay(session, "notice", room, to, plain, live)
        if "echo-message" in conn.caps:
            conn.write_raw(_echo(conn, command, target, plain, live))
        return
    if text.startswith("\x01"):
        text = ACTION_PREFIX + text.strip("\x01")[7:]
    if not strip_irc_formatting(text).strip():
        conn.numeric(n.ERR_NOTEXTTOSEND, "No text to send")
        return
    done, failed = _acks(conn, target)
    # IRC formatting stays in the stored text: IRC clients see it, native clients do not.
    if room is not None:
        hub.messages.say(session, room, text, None, done, failed, tags, formatting=True)
        return
    hub.messages.dm(session, target, text, None, done, failed, tags, formatting=True)
    away = away_of(conn, target)
    if away is not None:
        conn.numeric(n.RPL_AWAY, target, away)


def _echo(conn: IrcConnection, command: str, target: str, text: str, tags: Tags) -> bytes:
    """The sender's own copy of a live message, as the others get it (echo-message)."""
    encoder = conn.door.encoder_for(conn.caps)
    line_tags = encoder.tags(conn.door.hub.clock.wall_ms(), None, None)
    if encoder.tags_ok:
        line_tags.update(tags)
    params = (target, text) if command != "TAGMSG" else (target,)
    return serialize(IrcMessage(command, params, conn.hostmask(), line_tags))


def away_of(conn: IrcConnection, name: str) -> str | None:
    sessions = conn.door.hub.registry.by_name(name)
    if sessions and all(s.away is not None for s in sessions):
        return next(iter(sessions)).away
    return None


def _acks(
    conn: IrcConnection, target: str
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
    """A message of tags only (typing notices, reactions): live to message-tags clients."""
    tags = client_tags(conn, msg)
    live = (*tags, ("msgid", f"l{next(_live_ids)}"))
    for given in msg.params[0].split(",")[:MAX_TARGETS]:
        try:
            room, to, _ = _target(given)
            with conn.uncaptured():
                conn.door.hub.messages.relay(session, "tagmsg", room, to, "", live)
        except ChatError as exc:
            conn.chat_error(session, "TAGMSG", given, exc)
            continue
        if "echo-message" in conn.caps and "message-tags" in conn.caps:
            conn.write_raw(_echo(conn, "TAGMSG", given, "", live))
