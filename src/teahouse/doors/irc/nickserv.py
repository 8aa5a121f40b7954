"""A small NickServ for IRC clients that log in by message: IDENTIFY, REGISTER, INFO.

It is a front to the same login path as SASL and PASS (:class:`teahouse.core.accounts.Accounts`);
nothing here checks a password itself.
"""

from __future__ import annotations

import time

from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.errors import ChatError
from teahouse.protocol.irc import IrcMessage

SOURCE = "NickServ!NickServ@services"


def reply(conn: IrcConnection, text: str) -> None:
    conn.send(IrcMessage("NOTICE", (conn.me, text), SOURCE))


def nickserv(conn: IrcConnection, session: Session, text: str) -> None:
    words = text.split()
    verb = words[0].upper() if words else "HELP"
    accounts = conn.door.hub.accounts
    old_mask = conn.hostmask()
    if verb == "IDENTIFY" and len(words) in (2, 3):
        account, password = (words[1], words[2]) if len(words) == 3 else (conn.me, words[1])
        conn.run_check(
            session,
            accounts.login(session, account, password),
            then=lambda: identified(conn, session, old_mask),
            on_error=lambda exc: _failed(conn, "Identification", exc),
        )
    elif verb == "REGISTER" and len(words) >= 2:
        conn.run_check(
            session,
            accounts.register(session, conn.me, words[1], None),
            then=lambda: identified(conn, session, old_mask),
            on_error=lambda exc: _failed(conn, "Registration", exc),
        )
    elif verb == "INFO" and len(words) == 2:
        found = conn.door.hub.store.get_account(words[1])
        if found is None:
            reply(conn, f"{words[1]} is not registered.")
        else:
            since = time.strftime("%Y-%m-%d", time.gmtime(found.created_ms / 1000))
            online = "online" if conn.door.hub.registry.by_name(found.name) else "offline"
            reply(conn, f"{found.name} is registered since {since} ({online}).")
    else:
        reply(conn, "Commands: REGISTER <password>, IDENTIFY [account] <password>, INFO <nick>")


def _failed(conn: IrcConnection, what: str, exc: ChatError) -> None:
    reply(conn, f"{what} failed: {exc.message}")


def identified(conn: IrcConnection, session: Session, old_mask: str) -> None:
    name = session.user or conn.me
    if name != conn.me:
        conn.send(IrcMessage("NICK", (name,), old_mask))
        conn.reg.nick = name
    reply(conn, f"You are now identified as {name}.")
    conn.numeric(n.RPL_LOGGEDIN, conn.hostmask(), name, f"You are now logged in as {name}")
    line = IrcMessage("ACCOUNT", (name,), conn.hostmask())
    for other in conn.door.irc_connections():
        if other is not conn and "account-notify" in other.caps:
            other.send(line)
    conn.door.replay_dms(conn, session)
