"""Registration and account commands: CAP, PASS, NICK, USER, AUTHENTICATE, REGISTER."""

from __future__ import annotations

from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.registration import (
    SaslCheck,
    SaslContinue,
    SaslFail,
    SaslMore,
)
from teahouse.errors import ChatError
from teahouse.protocol.irc import IrcMessage
from teahouse.protocol.names import fold_user


def cap(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    sub = msg.param(0).upper()
    reg = conn.reg
    if sub == "LS":
        tokens = reg.cap_ls(msg.param(1))
        # 302 clients get long lists split over several lines, "*" marking all but the last.
        lines: list[list[str]] = [[]]
        for token in tokens:
            if sum(len(t) + 1 for t in lines[-1]) + len(token) > 380:
                lines.append([])
            lines[-1].append(token)
        for i, chunk in enumerate(lines):
            more = i < len(lines) - 1 and reg.cap_version >= 302
            params = (
                (conn.me, "LS", "*", " ".join(chunk)) if more else (conn.me, "LS", " ".join(chunk))
            )
            conn.send(IrcMessage("CAP", params, conn.server))
    elif sub == "LIST":
        conn.send(IrcMessage("CAP", (conn.me, "LIST", " ".join(sorted(reg.caps))), conn.server))
    elif sub == "REQ":
        if reg.cap_req(msg.param(1)):
            session.encoder = conn.door.encoder_for(reg.caps)
            conn.send(IrcMessage("CAP", (conn.me, "ACK", msg.param(1)), conn.server))
        else:
            conn.send(IrcMessage("CAP", (conn.me, "NAK", msg.param(1)), conn.server))
    elif sub == "END":
        if not reg.done:
            reg.cap_end()
            conn.try_register(session)
    else:
        conn.numeric("410", sub or "*", "Invalid CAP command")


def pass_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if conn.registered:
        conn.numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
    else:
        conn.reg.password = msg.params[0]


def nick(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if not msg.params or not msg.params[0]:
        conn.numeric(n.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    wanted = msg.params[0]
    accounts = conn.door.hub.accounts
    problem = accounts.nick_problem(wanted)
    if problem == "invalid":
        conn.numeric(n.ERR_ERRONEUSNICKNAME, wanted, "Erroneous nickname")
        return
    if not conn.registered:
        if problem == "in_use" and not session.authenticated:
            conn.numeric(n.ERR_NICKNAMEINUSE, wanted, "Nickname is already in use")
            return
        conn.reg.nick = wanted
        conn.try_register(session)
        return
    if wanted == conn.me:
        return  # the nick it has (the hub may have moved a guest off reg.nick)
    if not session.guest:
        if fold_user(wanted) == session.key:
            conn.send(IrcMessage("NICK", (wanted,), conn.hostmask()))  # case only
            conn.reg.nick = wanted
            return
        conn.numeric(
            n.ERR_ERRONEUSNICKNAME, wanted, "Your nick is your account name; it cannot change"
        )
        return
    try:
        # The hub tells everyone concerned, this client too (in no room: it alone).
        accounts.rename_guest(session, wanted)
    except ChatError as exc:
        conn.numeric(n.ERR_NICKNAMEINUSE, wanted, exc.message)
        return
    conn.reg.nick = wanted


def user(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if conn.registered:
        conn.numeric(n.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    conn.reg.set_user(msg.params[0], msg.params[3])
    conn.try_register(session)


def authenticate(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    if "sasl" not in conn.caps:
        conn.numeric(n.ERR_UNKNOWNCOMMAND, "AUTHENTICATE", "Unknown command")
        return
    if session.authenticated and not session.guest:
        conn.numeric(n.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    event = conn.reg.sasl.feed(msg.param(0))
    if isinstance(event, SaslContinue):
        conn.send(IrcMessage("AUTHENTICATE", ("+",)))
    elif isinstance(event, SaslMore):
        return
    elif isinstance(event, SaslFail):
        if event.numeric == "908":
            conn.numeric(n.RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
            conn.numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        elif event.numeric == "905":
            conn.numeric(n.ERR_SASLTOOLONG, "SASL message too long")
        elif event.numeric == "906":
            conn.numeric(n.ERR_SASLABORTED, "SASL authentication aborted")
        else:
            conn.numeric(n.ERR_SASLFAIL, "SASL authentication failed")
        conn.try_register(session)
    elif isinstance(event, SaslCheck):
        _sasl_check(conn, session, event)
    if isinstance(event, SaslFail | SaslCheck):
        conn.reg.sasl_over()


def follow_account(conn: IrcConnection, session: Session, old_mask: str) -> None:
    """A registered guest logged in to an account: its nick becomes the account's name."""
    name = session.user
    if conn.registered and name is not None and name != conn.reg.nick:
        conn.send(IrcMessage("NICK", (name,), old_mask))
        conn.reg.nick = name


def _sasl_check(conn: IrcConnection, session: Session, check: SaslCheck) -> None:
    old_mask = conn.hostmask()

    def ok() -> None:
        name = session.user or check.account
        conn.numeric(n.RPL_LOGGEDIN, conn.hostmask(), name, f"You are now logged in as {name}")
        conn.numeric(n.RPL_SASLSUCCESS, "SASL authentication successful")
        follow_account(conn, session, old_mask)

    def failed(exc: ChatError) -> None:
        conn.numeric(n.ERR_SASLFAIL, f"SASL authentication failed ({exc.code})")

    conn.run_check(
        session,
        conn.door.hub.accounts.login(session, check.account, check.password, "bad_sasl"),
        then=ok,
        on_error=failed,
    )


def register(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """IRCv3 draft/account-registration: ``REGISTER <account> <email|*> <password>``."""
    account, _, password = msg.params[0], msg.params[1], msg.params[2]
    if account == "*":
        account = conn.reg.nick or ""
    if session.authenticated and not session.guest:
        conn.send(
            IrcMessage(
                "FAIL",
                ("REGISTER", "ALREADY_AUTHENTICATED", account, "You are logged in"),
                conn.server,
            )
        )
        return
    old_mask = conn.hostmask()

    def ok() -> None:
        name = session.user or account
        conn.send(IrcMessage("REGISTER", ("SUCCESS", name, "Account created"), conn.server))
        conn.numeric(n.RPL_LOGGEDIN, conn.hostmask(), name, f"You are now logged in as {name}")
        follow_account(conn, session, old_mask)

    def failed(exc: ChatError) -> None:
        code = {
            "user_taken": "ACCOUNT_EXISTS",
            "invalid_name": "BAD_ACCOUNT_NAME",
            "weak_password": "UNACCEPTABLE_PASSWORD",
            "registration_closed": "DISALLOWED",
        }.get(exc.code, "TEMPORARILY_UNAVAILABLE")
        conn.send(IrcMessage("FAIL", ("REGISTER", code, account, exc.message), conn.server))

    conn.run_check(
        session,
        conn.door.hub.accounts.register(session, account, password, None),
        then=ok,
        on_error=failed,
    )
