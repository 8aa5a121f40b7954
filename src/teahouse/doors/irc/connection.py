"""One IRC client connection, on the shared :class:`~teahouse.doors.connection.Connection`.

Like the native door, a connection owns no task or timer while idle: lines are parsed in
``received``, output is queued and written once per loop round by the hub's flush,
and heartbeats come from the hub's shared sweep (``PING`` after ``interval`` of silence,
``ERROR :Closing Link: ... (Ping timeout: N seconds)`` after ``timeout``).

What is IRC's own here: registration (:mod:`~teahouse.doors.irc.registration` decides,
this class carries it out), the command table's preconditions, labeled responses, and
turning a :class:`~teahouse.errors.ChatError` into the numeric a client expects. Lines are
charged to the flood limit from the first byte; before registration, unknown commands are
strikes, and a line that is no IRC command at all (garbage) or an overlong line ends the
connection at once, with one ``ERROR`` line.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from teahouse.core.seldom import SeldomField
from teahouse.core.session import Session
from teahouse.doors.connection import Connection, Door, OnceLine
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.encoder import IrcEncoder, irc_time
from teahouse.doors.irc.registration import (
    NO_CAPS,
    REGISTRATION_SLOTS,
    CheckPass,
    Registration,
    Seldom,
    Welcome,
)
from teahouse.errors import (
    BadCredentials,
    ChatError,
    Forbidden,
    InvalidField,
    InvalidName,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    RegistrationClosed,
    Throttled,
    UserTaken,
    WeakPassword,
)
from teahouse.protocol.irc import IrcMessage, IrcReader, LineTooLong, escape_tag, serialize

log = logging.getLogger("teahouse.irc")

Handler = Callable[["IrcConnection", Session, IrcMessage], None]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command's handler and the preconditions the connection checks before calling it
    (as ergo's command table declares them)."""

    handler: Handler
    min_params: int = 0
    """Fewer (or empty ones) get ``461 ERR_NEEDMOREPARAMS``."""
    before_registration: bool = False
    """Usable before registration completes (else ``451`` and a strike)."""
    oper: bool = False
    """IRC operators only (else ``481``)."""
    text: bool = False
    """Carries text others will read: refused (``FAIL ... INVALID_UTF8``) when not UTF-8."""
    help: str = ""
    """What HELP says about it: the syntax first."""


@dataclass(frozen=True, slots=True)
class Departed:
    """A user who left, as WHOWAS tells of them."""

    nick: str
    username: str
    host: str
    realname: str
    left_ms: int


class IrcServer(Door, Protocol):
    """What a connection and the command handlers need from the IRC door."""

    server_name: str
    opers_exempt: bool
    commands: dict[str, CommandSpec]

    def encoder_for(self, caps: frozenset[str]) -> IrcEncoder: ...

    def mask(self, session: Session) -> str: ...

    def mask_of(self, name: str) -> str: ...

    def account_of(self, name: str) -> str | None: ...

    def connection_of(self, session: Session) -> IrcConnection | None:
        """A session's IRC connection, for what only IRC clients have (caps, ident)."""

    def irc_connections(self) -> list[IrcConnection]: ...

    def forget(self, conn: IrcConnection, session: Session) -> None: ...

    def welcome(self, conn: IrcConnection, session: Session) -> None: ...

    def batch_ref(self) -> str: ...

    def replay_dms(self, conn: IrcConnection, session: Session) -> None: ...

    def whowas_of(self, name: str) -> list[Departed]: ...

    def highest_users(self, now: int) -> int: ...

    def opers_online(self) -> int: ...

    def send_isupport(self, conn: IrcConnection) -> None: ...

    def nickserv(self, conn: IrcConnection, session: Session, text: str) -> None: ...

    def realname(self, session: Session) -> str: ...

    def monitor(self, conn: IrcConnection, nick: str, add: bool) -> bool: ...

    def monitor_clear(self, conn: IrcConnection) -> None: ...

    def watchers_of(self, nick: str) -> list[IrcConnection]: ...


class LabeledReply:
    """The lines answering one labelled command (IRCv3 labeled-response).

    They go out together once the command and everything it waits for (a message's
    commit) are done: one line tagged with the label, several in a batch, none as ACK.
    """

    __slots__ = ("conn", "label", "lines", "pending")

    def __init__(self, conn: IrcConnection, label: str) -> None:
        self.conn = conn
        self.label = label
        self.lines: list[bytes] = []
        self.pending = 1  # the command itself

    def hold(self) -> Callable[[bytes], None]:
        """Wait for one more piece of the answer; call the result with its bytes (or b"")."""
        self.pending += 1
        return self._piece

    def _piece(self, data: bytes) -> None:
        if data:
            self.lines.append(data)
        self.release()

    def release(self) -> None:
        self.pending -= 1
        if self.pending == 0:
            self.conn.emit_labeled(self.label, self.lines)


class IrcSeldom(Seldom):
    """What only some IRC connections hold: registration's (``PASS``, SASL), and a
    labelled reply being collected, MONITOR targets, user modes."""

    __slots__ = ("labeled", "monitoring", "umodes")

    def __init__(self) -> None:
        super().__init__()
        self.labeled: LabeledReply | None = None
        self.monitoring: set[str] | None = None
        self.umodes: frozenset[str] = NO_CAPS

    @property
    def empty(self) -> bool:
        return (
            self.password is None
            and self.sasl is None
            and self.labeled is None
            and self.monitoring is None
            and not self.umodes
        )


class IrcConnection(Connection, Registration):
    """One IRC client connection; the hub's Outlet for it; its own registration state."""

    __slots__ = ("_last_once", "_reader", *REGISTRATION_SLOTS)

    _door: IrcServer
    _seldom: IrcSeldom | None

    labeled = SeldomField[LabeledReply | None](
        None, "The reply being collected for the labelled command now running, if any."
    )
    umodes = SeldomField[frozenset[str]](
        NO_CAPS,
        "User modes of this connection: ``i`` (invisible), ``B`` (a bot). Replaced, never "
        "changed in place: most connections share the one empty set.",
    )
    monitoring = SeldomField[set[str] | None](
        None, "Folded nicks this client MONITORs (None until it monitors any)."
    )

    def __init__(self, door: IrcServer) -> None:
        super().__init__(door)
        self._reader: IrcReader | None = None
        """Made when bytes arrive, dropped once all of them are handled: an idle
        connection keeps no reader (80 bytes) between reads."""
        self._last_once: OnceLine | None = None
        """The last :class:`OnceLine` queued this round. A slot, not rare state: a mass
        departure sets it on every member each round."""
        self._start_registration()

    def _seldom_state(self) -> IrcSeldom:
        seldom = self._seldom
        if seldom is None:
            seldom = self._seldom = IrcSeldom()
        return seldom

    # -- names -------------------------------------------------------------------------

    @property
    def me(self) -> str:
        session = self.session
        if session is not None and session.user is not None:
            return session.user  # the hub may have renamed us (a guest moved off a name)
        return self.reg.nick or "*"

    @property
    def server(self) -> str:
        return self._door.server_name

    @property
    def reg(self) -> Registration:
        """The registration state: the connection itself (one object, not two)."""
        return self

    @property
    def registered(self) -> bool:
        return self.reg.done

    @property
    def door(self) -> IrcServer:
        return self._door

    def hostmask(self) -> str:
        assert self.session is not None
        return self._door.mask(self.session)

    # -- the base's hooks --------------------------------------------------------------

    def _encoder(self) -> IrcEncoder:
        return self._door.encoder_for(self.reg.caps)

    def _refusal(self, ip: str, error: ChatError) -> bytes:
        return serialize(IrcMessage("ERROR", (f"Closing Link: {ip} ({error.message})",)))

    def _once_again(self, line: OnceLine) -> bool:
        if line == self._last_once:
            return True
        self._last_once = line
        return False

    def _forget_once(self) -> None:
        self._last_once = None

    def _lost(self, session: Session) -> None:
        self._door.forget(self, session)

    def _discard_input(self) -> None:
        self._reader = None

    def _feed(self, data: bytes) -> None:
        reader = self._reader
        if reader is None:
            reader = self._reader = IrcReader()
        reader.receive_data(data)

    def _next_item(self) -> object | None:
        reader = self._reader
        if reader is None:
            return None
        item = reader.next_message()
        if item is None and reader.idle:
            self._reader = None
        return item

    @property
    def _buffered(self) -> int:
        return self._reader.buffered if self._reader is not None else 0

    def _on_item(self, session: Session, item: object) -> None:
        door = self._door
        if not (door.opers_exempt and session.role == "admin"):
            self._charge(session, 0)  # IRC only slows a flooder down (fakelag)
        if isinstance(item, LineTooLong):
            if not self.reg.done:
                self.close(session, "frame_too_large", "Input line too long")
                return
            self.numeric(n.ERR_INPUTTOOLONG, "Input line was too long")
            self.strike(session)
            return
        assert isinstance(item, IrcMessage)
        self._handle(session, item)

    # -- commands ----------------------------------------------------------------------

    def strike(self, session: Session) -> None:
        """Bad input; past the limit the connection ends."""
        if self._strike(session):
            self.close(session, "bad_frame", "Too many unknown commands or bad lines")

    def close(self, session: Session, reason: str, why: str) -> None:
        """End the connection with ``ERROR :Closing Link: host (why)`` (every reason it is
        used for is bad input: the socket lingers, see :meth:`drop_for_garbage`)."""
        self.drop_for_garbage()
        self.write_raw(serialize(IrcMessage("ERROR", (f"Closing Link: {session.host} ({why})",))))
        self._door.hub.close_session(session, reason)

    def _handle(self, session: Session, msg: IrcMessage) -> None:
        label = msg.tags.get("label") if "labeled-response" in self.reg.caps else None
        reply = None
        if label is not None:
            reply = self.labeled = LabeledReply(self, label)
            self._capture = reply.lines
        try:
            self._run(session, msg)
        finally:
            if reply is not None:
                self._capture = None
                self.labeled = None
                reply.release()

    def _run(self, session: Session, msg: IrcMessage) -> None:
        command = msg.command
        spec = self._door.commands.get(command)
        if spec is None:
            if not self.reg.done:
                if not _is_command(command):
                    # Not IRC at all (random bytes, another protocol): one line, then gone,
                    # rather than a numeric per line to a peer that does not read them.
                    self.close(session, "bad_frame", "Not an IRC client")
                    return
                if not command.isdigit():
                    self.numeric(n.ERR_NOTREGISTERED, "You have not registered")
                self.strike(session)
                return
            self.numeric(n.ERR_UNKNOWNCOMMAND, command, "Unknown command")
            return
        if not self.reg.done and not spec.before_registration:
            self.numeric(n.ERR_NOTREGISTERED, "You have not registered")
            self.strike(session)
            return
        if not msg.valid_utf8 and spec.text:
            # UTF8ONLY is announced: text that is not UTF-8 is refused, never relayed.
            self.send(
                IrcMessage("FAIL", (command, "INVALID_UTF8", "Message is not UTF-8"), self.server)
            )
            return
        try:
            if len(msg.params) < spec.min_params or not all(msg.params[: spec.min_params]):
                self.numeric(n.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
            elif spec.oper and session.role != "admin":
                self.numeric(n.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
            else:
                spec.handler(self, session, msg)
        except ChatError as exc:
            self.chat_error(session, command, msg.param(0, "*"), exc, msg.param(1))
        except Exception:
            log.exception("internal error handling %s from %r", command, session)
            self.numeric(n.ERR_UNKNOWNCOMMAND, command, "Internal error")

    def emit_labeled(self, label: str, captured: list[bytes]) -> None:
        """Send a labelled command's answer: tagged line, batch, or ACK."""
        if self.session is None or self.session.closed:
            return
        # One write may hold several lines (a long message split for IRC): count lines.
        lines = [line + b"\r\n" for chunk in captured for line in chunk.split(b"\r\n") if line]
        if not lines:
            self.send(IrcMessage("ACK", (), self.server, {"label": label}))
        elif len(lines) == 1:
            self.write_raw(add_tag(lines[0], "label", label))
        else:
            ref = self._door.batch_ref()
            start = IrcMessage(
                "BATCH", (f"+{ref}", "labeled-response"), self.server, {"label": label}
            )
            self.write_raw(serialize(start))
            for line in lines:
                # A line of a nested batch (chathistory) keeps its own batch tag only.
                self.write_raw(line if in_batch(line) else add_tag(line, "batch", ref))
            self.write_raw(serialize(IrcMessage("BATCH", (f"-{ref}",), self.server)))

    def chat_error(
        self, session: Session, command: str, target: str, exc: ChatError, second: str = ""
    ) -> None:
        """Answer a ChatError from the hub with the numeric an IRC client expects."""
        if exc.fatal:
            self.write_raw(session.encoder.error(exc))
            self._door.hub.close_session(session, exc.code)
            return
        if isinstance(exc, NoSuchUser):
            self.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        elif isinstance(exc, NoSuchRoom):
            self.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        elif isinstance(exc, NotInRoom):
            if command in ("PRIVMSG", "NOTICE", "TAGMSG"):
                self.numeric(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
            elif exc.detail == "target":
                self.numeric(n.ERR_USERNOTINCHANNEL, second, target, "They aren't on that channel")
            else:
                self.numeric(n.ERR_NOTONCHANNEL, target, "You're not on that channel")
        elif isinstance(exc, Forbidden):
            self._forbidden(command, target, exc)
        elif isinstance(exc, InvalidName):
            if target.startswith("#"):
                self.numeric(n.ERR_BADCHANMASK, target, "Bad channel mask")
            else:
                self.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        elif isinstance(exc, InvalidField) and command in ("PRIVMSG", "NOTICE"):
            self.numeric(n.ERR_CANNOTSENDTOCHAN, target, f"Cannot send: {exc.message}")
        elif isinstance(exc, Throttled | RegistrationClosed | UserTaken | WeakPassword):
            self.send(IrcMessage("FAIL", (command, exc.code.upper(), exc.message), self.server))
        else:
            self.send(IrcMessage("FAIL", (command, exc.code.upper(), exc.message), self.server))

    def _forbidden(self, command: str, target: str, exc: ChatError) -> None:
        detail = exc.detail
        if detail == "banned":
            self.numeric(n.ERR_BANNEDFROMCHAN, target, "Cannot join channel (+b)")
        elif detail == "invite_only":
            self.numeric(n.ERR_INVITEONLYCHAN, target, "Cannot join channel (+i)")
        elif detail == "bad_key":
            self.numeric(n.ERR_BADCHANNELKEY, target, "Cannot join channel (+k)")
        elif detail == "full":
            self.numeric(n.ERR_CHANNELISFULL, target, "Cannot join channel (+l)")
        elif detail == "not_op":
            self.numeric(n.ERR_CHANOPRIVSNEEDED, target, "You're not channel operator")
        elif detail in ("moderated", "muted"):
            self.numeric(n.ERR_CANNOTSENDTOCHAN, target, f"Cannot send to channel ({exc.message})")
        elif detail == "too_many_rooms":
            self.numeric(n.ERR_TOOMANYCHANNELS, target, "You have joined too many channels")
        elif detail == "rooms_full":
            self.numeric(n.ERR_NOSUCHCHANNEL, target, f"No such channel ({exc.message})")
        elif detail == "closed":
            self.numeric(n.ERR_NOTONCHANNEL, target, "You're not on that channel")
        else:
            self.numeric(n.ERR_NOPRIVILEGES, f"Permission Denied- {exc.message}")

    # -- output --------------------------------------------------------------------------

    @contextlib.contextmanager
    def uncaptured(self) -> Iterator[None]:
        """Output in this block is not part of a labelled reply: what this client receives
        as any other recipient (a message to itself) arrives as a line of its own."""
        capture, self._capture = self._capture, None
        try:
            yield
        finally:
            self._capture = capture

    def numeric(self, code: str, *params: str) -> None:
        self.send(IrcMessage(code, (self.me, *params), self.server))

    def send(self, msg: IrcMessage) -> None:
        if "server-time" in self.reg.caps and "time" not in msg.tags:
            msg = IrcMessage(
                msg.command,
                msg.params,
                msg.prefix,
                {**msg.tags, "time": irc_time(self._door.hub.clock.wall_ms())},
            )
        self.write_raw(serialize(msg))

    def write_raw(self, data: bytes) -> None:
        if self.session is not None and not self.session.closed:
            self.write(data)

    # -- async work (password checks) ----------------------------------------------------

    def run_check(
        self,
        session: Session,
        work: Coroutine[Any, Any, object],
        then: Callable[[], None],
        on_error: Callable[[ChatError], None],
    ) -> None:
        """Run a password check with reading paused; ``then`` or ``on_error`` afterwards.

        A labelled command's answer waits for it. Then registration may go on.
        """
        held = self.labeled.hold() if self.labeled is not None else None

        def done(_: object) -> None:
            self._settle(held, then)
            self.try_register(session)

        def failed(exc: ChatError) -> None:
            if exc.fatal:
                self.write_raw(session.encoder.error(exc))
                self._door.hub.close_session(session, exc.code)
                return
            self._settle(held, lambda: on_error(exc))
            self.try_register(session)

        self._start(session, work, done, failed)

    def later(self, then: Callable[[], None]) -> Callable[[], None]:
        """``then``, to run after the command returned, its output still the command's
        (labelled) answer."""
        held = self.labeled.hold() if self.labeled is not None else None
        return lambda: self._settle(held, then)

    def _settle(self, held: Callable[[bytes], None] | None, then: Callable[[], None]) -> None:
        if held is None:
            then()
            return
        captured: list[bytes] = []
        self._capture = captured
        try:
            then()
        finally:
            self._capture = None
        held(b"".join(captured))

    def _answer_throttled_later(self, session: Session) -> bool:
        # Before registration a refused PASS ends the connection, and a guesser simply
        # connects again: the refusal waits out its retry_after, as a held connection
        # waits on the native door, or a full hash queue would cost a reconnect per answer.
        return not self.reg.done

    # -- registration --------------------------------------------------------------------

    def try_register(self, session: Session) -> None:
        """Complete registration once NICK, USER and CAP negotiation are all done."""
        if session.closed:
            return  # a refused PASS ended it: no guest registration, no welcome to render
        step = self.reg.next_step(self._busy, session.authenticated and not session.guest)
        if isinstance(step, CheckPass):
            accounts = self._door.hub.accounts
            self.run_check(
                session,
                accounts.login(session, step.account, step.password, "bad_pass"),
                then=lambda: None,
                on_error=lambda exc: self._pass_failed(session, exc),
            )
        elif isinstance(step, Welcome):
            self._welcome(session, step.nick)

    def _pass_failed(self, session: Session, exc: ChatError) -> None:
        self.numeric(n.ERR_PASSWDMISMATCH, f"Password incorrect ({exc.message})")
        self.write_raw(session.encoder.error(BadCredentials("Bad password")))
        self._door.hub.close_session(session, "bad_credentials")

    def _welcome(self, session: Session, nick: str) -> None:
        hub = self._door.hub
        if not session.authenticated:
            if not self._door.config.irc.guests:
                self.numeric(n.ERR_PASSWDMISMATCH, "This server needs an account: use SASL or PASS")
                self.write_raw(session.encoder.error(BadCredentials("account required")))
                hub.close_session(session, "no_account")
                return
            try:
                hub.accounts.authenticate_guest(session, nick)
            except UserTaken as exc:
                why = (
                    "Nickname is registered; log in with SASL or PASS account:password"
                    if exc.detail == "registered"
                    else "Nickname is already in use"
                )
                self.reg.nick = None
                self.numeric(n.ERR_NICKNAMEINUSE, nick, why)
                return
            except InvalidName:
                self.reg.nick = None
                self.numeric(n.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
                return
        self.reg.nick = session.user or nick  # an account's nick is its name
        self.reg.done = True
        self._door.welcome(self, session)


def _is_command(word: str) -> bool:
    """A command as RFC 1459 spells one: letters, or a three-digit numeric."""
    if word.isascii() and word.isalpha():
        return True
    return len(word) == 3 and word.isascii() and word.isdigit()


def in_batch(line: bytes) -> bool:
    if not line.startswith(b"@"):
        return False
    return any(tag.startswith(b"batch=") for tag in line[1 : line.find(b" ")].split(b";"))


def add_tag(line: bytes, key: str, value: str) -> bytes:
    tag = f"{key}={escape_tag(value)}".encode()  # a client's label may hold ' ', ';', CR LF
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line
