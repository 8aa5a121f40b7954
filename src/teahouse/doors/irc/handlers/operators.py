"""Operator commands: OPER (through the one login path), KILL, WALLOPS."""

from __future__ import annotations

from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.errors import ChatError
from teahouse.logs import log_audit
from teahouse.protocol.irc import IrcMessage, serialize


def oper(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    name, password = msg.params[0], msg.params[1]

    def granted() -> None:
        conn.numeric(n.RPL_YOUREOPER, "You are now an IRC operator")
        conn.send(IrcMessage("MODE", (conn.me, "+o"), conn.server))

    def refused(exc: ChatError) -> None:
        if exc.code == "throttled":
            conn.numeric(n.ERR_PASSWDMISMATCH, f"Password incorrect ({exc.message})")
        else:
            conn.numeric(n.ERR_PASSWDMISMATCH, "Password incorrect")

    conn.run_check(session, conn.door.hub.accounts.oper(session, name, password), granted, refused)


def kill(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    target = msg.params[0]
    reason = msg.param(1) or "no reason"
    hub = conn.door.hub
    victims = list(hub.registry.by_name(target))
    if not victims:
        conn.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        return
    by = session.user or "-"
    log_audit(by, "irc", "kill", user=target, reason=reason)
    hub.moderation.kick(victims, f"Killed by {by}: {reason}", by)


def wallops(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    line = serialize(IrcMessage("WALLOPS", (msg.params[0],), conn.hostmask()))
    for other in conn.door.irc_connections():
        if other.session is not None and other.session.role == "admin":
            other.write_raw(line)
