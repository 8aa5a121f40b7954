"""The IRC front door: TCP (asyncio.Protocol) <-> :mod:`teahouse.protocol.irc` <-> hub.

Like the native door, a connection owns no task or timer while idle: lines are parsed in
``data_received``, output is queued and written once per loop round by the hub's flush,
and heartbeats come from the hub's shared sweep (``PING`` after ``interval`` of silence,
``ERROR :Closing Link: ... (Ping timeout: N seconds)`` after ``timeout``).

Registration follows RFC 2812 and IRCv3: ``CAP LS 302`` holds registration until
``CAP END``; ``NICK`` and ``USER`` are needed; an account is used through SASL PLAIN,
``PASS account:password`` (or ``PASS password`` for the nick's account), or later through
NickServ. Without one, a client is a guest when ``irc.guests`` allows it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from teahouse import __version__
from teahouse.core.limits import cap_send_buffer
from teahouse.core.session import Session
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.encoder import ACTION_PREFIX, irc_time
from teahouse.doors.outlet import BufferedConnection
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
from teahouse.protocol.names import fold_user, is_room_name, is_user_name

if TYPE_CHECKING:
    from teahouse.doors.irc.door import IrcDoor

log = logging.getLogger("teahouse.irc")

SUPPORTED_CAPS = {
    "account-notify": None,
    "account-tag": None,
    "away-notify": None,
    "batch": None,
    "cap-notify": None,
    "draft/account-registration": "before-connect",
    "draft/chathistory": None,
    "echo-message": None,
    "extended-join": None,
    "labeled-response": None,
    "message-tags": None,
    "multi-prefix": None,
    "sasl": "PLAIN",
    "server-time": None,
    "userhost-in-names": None,
}
PRE_REGISTRATION = frozenset(
    {"CAP", "PASS", "NICK", "USER", "AUTHENTICATE", "PING", "PONG", "QUIT", "REGISTER"}
)
_HEX_COLOUR = re.compile(r"\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
_FORMATTING = str.maketrans("", "", "\x02\x0f\x11\x16\x1d\x1e\x1f")


def strip_formatting(text: str) -> str:
    """Drop mIRC formatting codes (bold, colours, ...): the core keeps plain text."""
    text = text.translate(_FORMATTING)
    if "\x04" in text:  # hex colours: \x04RRGGBB[,RRGGBB]
        text = _HEX_COLOUR.sub("", text)
    if "\x03" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\x03":
            i += 1
            for _ in range(2):
                if i < len(text) and text[i].isdigit():
                    i += 1
            if i + 1 < len(text) and text[i] == "," and text[i + 1].isdigit():
                i += 2
                if i < len(text) and text[i].isdigit():
                    i += 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def room_of(channel: str) -> str | None:
    """``#Lobby`` -> ``lobby``; None when it is not a channel teahouse can have."""
    if not channel.startswith("#"):
        return None
    room = channel[1:].lower()
    return room if is_room_name(room) else None


class IrcConnection(BufferedConnection):
    """One IRC client connection; the hub's Outlet for it."""

    __slots__ = (
        "_busy",
        "_door",
        "_penalty",
        "_reader",
        "_resume",
        "away",
        "cap_version",
        "caps",
        "negotiating",
        "nick",
        "password",
        "realname",
        "registered",
        "sasl_buffer",
        "sasl_mech",
        "session",
        "username",
    )

    _door: IrcDoor

    def __init__(self, door: IrcDoor) -> None:
        self._door = door
        self._init_outlet()
        self.session: Session | None = None
        self._reader = IrcReader()
        self._busy = False
        self._penalty = 0.0
        self._resume: asyncio.TimerHandle | None = None
        self.nick: str | None = None
        self.username: str | None = None
        self.realname = ""
        self.password: str | None = None
        self.caps: frozenset[str] = frozenset()
        self.cap_version = 0
        self.negotiating = False
        self.registered = False
        self.sasl_mech: str | None = None
        self.sasl_buffer = ""
        self.away: str | None = None

    # -- names -----------------------------------------------------------------------

    @property
    def me(self) -> str:
        return self.nick or "*"

    @property
    def server(self) -> str:
        return self._door.config.irc.server_name

    @property
    def hub(self) -> Any:
        return self._door.hub

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)
        self._door.transports_open += 1
        peer = transport.get_extra_info("peername") or ("?", 0)
        ip, port = str(peer[0]), int(peer[1])
        try:
            self._door.hub.admit(ip)
        except ChatError as exc:
            self._closed = True
            transport.write(
                serialize(IrcMessage("ERROR", (f"Closing Link: {ip} ({exc.message})",)))
            )
            transport.close()
            return
        self.session = self._door.hub.open_session(
            self, self._door.encoder_for(self.caps), ip, port
        )
        self._door.remember(self)
        cap_send_buffer(transport, self._door.config.limits.socket_send_buffer)
        log.info("irc connection opened peer=%s:%d", ip, port)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None or session.closed:
            return
        self._door.hub.received(session, len(data))
        self._reader.receive_data(data)
        self._process(session)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._door.transports_open -= 1
        if self._resume is not None:
            self._resume.cancel()
        if self.session is not None:
            self._door.hub.close_session(self.session, "disconnected" if exc is None else "reset")
            self._door.forget(self)
        self._pending.clear()

    # -- lines in --------------------------------------------------------------------

    def _process(self, session: Session) -> None:
        self._read_lines(session)
        # Once every complete line is handled, what is still buffered is an unfinished
        # line: the slowloris clock. (Lines held back by the penalty or a login do not count.)
        if self._busy or self._resume is not None or session.closed:
            return
        if self._reader.buffered == 0:
            session.partial_since = None
        elif session.partial_since is None:
            session.partial_since = self._door.hub.clock.monotonic()

    def _read_lines(self, session: Session) -> None:
        while not self._busy and not session.closed and self._resume is None:
            item = self._reader.next_message()
            if item is None:
                return
            if isinstance(item, LineTooLong):
                self.numeric(n.ERR_INPUTTOOLONG, "Input line was too long")
                continue
            registered = self.registered
            self._handle(session, item)
            if registered:  # the line that completes registration is free, like the others
                self._charge(session, item)

    def _charge(self, session: Session, msg: IrcMessage) -> None:
        """Flood control in the RFC 1459 spirit: each line costs time; too far ahead waits."""
        cfg = self._door.config.irc
        if cfg.flood_penalty <= 0 or (cfg.flood_exempt_opers and session.role == "admin"):
            return
        if msg.command in ("PONG", "PING") or not self.registered:
            return  # registration is bounded by login_timeout, not by the flood penalty
        now = time.monotonic()
        self._penalty = max(self._penalty, now) + cfg.flood_penalty
        ahead = self._penalty - now - cfg.flood_burst
        if ahead > 0 and self._transport is not None:
            self._transport.pause_reading()
            loop = asyncio.get_running_loop()
            self._resume = loop.call_later(ahead, self._unthrottle)

    def _unthrottle(self) -> None:
        self._resume = None
        if self.session is None or self.session.closed or self._transport is None:
            return
        if self._reader.buffered:
            # Its lines (a PONG among them) wait because we delay them: no silence of its own.
            self._door.hub.received(self.session, 0)
        if not self._busy:
            self._transport.resume_reading()
        self._process(self.session)

    def _handle(self, session: Session, msg: IrcMessage) -> None:
        command = msg.command
        if not self.registered and command not in PRE_REGISTRATION:
            if command.isdigit() or command in ("CAP",):
                return
            self.numeric(n.ERR_NOTREGISTERED, "You have not registered")
            return
        handler = HANDLERS.get(command)
        if handler is None:
            self.numeric(n.ERR_UNKNOWNCOMMAND, command, "Unknown command")
            return
        label = msg.tags.get("label") if "labeled-response" in self.caps else None
        if label is not None:
            self._capture = []
        try:
            handler(self, session, msg)
        except ChatError as exc:
            self._chat_error(session, command, msg, exc)
        except Exception:
            log.exception("internal error handling %s from %r", command, session)
            self.numeric(n.ERR_UNKNOWNCOMMAND, command, "Internal error")
        finally:
            if label is not None:
                self._release_capture(label)

    def _release_capture(self, label: str) -> None:
        captured, self._capture = self._capture or [], None
        if session_closed(self.session):
            return
        # One write may hold several lines (a long message split for IRC): count lines.
        lines = [line + b"\r\n" for chunk in captured for line in chunk.split(b"\r\n") if line]
        if not lines:
            self.send(IrcMessage("ACK", (), self.server, {"label": label}))
        elif len(lines) == 1:
            self.write_raw(_add_tag(lines[0], "label", label))
        else:
            ref = f"L{id(lines) % 100000}"
            self.write_raw(
                serialize(
                    IrcMessage(
                        "BATCH", (f"+{ref}", "labeled-response"), self.server, {"label": label}
                    )
                )
            )
            for line in lines:
                # A line of a nested batch (chathistory) keeps its own batch tag only.
                self.write_raw(line if _in_batch(line) else _add_tag(line, "batch", ref))
            self.write_raw(serialize(IrcMessage("BATCH", (f"-{ref}",), self.server)))

    def _chat_error(self, session: Session, command: str, msg: IrcMessage, exc: ChatError) -> None:
        if exc.fatal:
            self._door.hub.close_session(session, exc.code, exc)
            return
        target = msg.param(0, "*")
        if isinstance(exc, NoSuchUser):
            self.numeric(n.ERR_NOSUCHNICK, target, "No such nick/channel")
        elif isinstance(exc, NoSuchRoom):
            self.numeric(n.ERR_NOSUCHCHANNEL, target, "No such channel")
        elif isinstance(exc, NotInRoom):
            if command in ("PRIVMSG", "NOTICE"):
                self.numeric(n.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
            elif exc.detail == "target":
                self.numeric(
                    n.ERR_USERNOTINCHANNEL, msg.param(1), target, "They aren't on that channel"
                )
            else:
                self.numeric(n.ERR_NOTONCHANNEL, target, "You're not on that channel")
        elif isinstance(exc, Forbidden):
            self._forbidden(command, target, exc)
        elif isinstance(exc, InvalidName):
            self.numeric(n.ERR_BADCHANMASK, target, "Bad channel mask")
        elif isinstance(exc, InvalidField) and command in ("PRIVMSG", "NOTICE"):
            self.numeric(n.ERR_CANNOTSENDTOCHAN, target, f"Cannot send: {exc.message}")
        elif isinstance(exc, Throttled | RegistrationClosed | UserTaken | WeakPassword):
            self.send(IrcMessage("FAIL", (command, exc.code.upper(), exc.message), self.server))
        else:
            self.send(IrcMessage("NOTICE", (self.me, f"{command}: {exc.message}"), self.server))

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
        else:
            self.numeric(n.ERR_NOPRIVILEGES, f"Permission Denied- {exc.message}")

    # -- output ----------------------------------------------------------------------

    def numeric(self, code: str, *params: str) -> None:
        self.send(IrcMessage(code, (self.me, *params), self.server))

    def send(self, msg: IrcMessage) -> None:
        if "server-time" in self.caps and "time" not in msg.tags:
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

    # -- async work (password checks) --------------------------------------------------

    def start(
        self,
        session: Session,
        work: Coroutine[Any, Any, None],
        then: Callable[[], None] | None = None,
        on_error: Callable[[ChatError], None] | None = None,
    ) -> None:
        """Run ``work`` with reading paused; ``then`` on success, ``on_error`` on ChatError."""
        assert self._transport is not None
        self._busy = True
        self._transport.pause_reading()
        task = asyncio.get_running_loop().create_task(work)
        self._door.tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._door.tasks.discard(t)
            self._busy = False
            if session.closed or t.cancelled():
                return
            exc = t.exception()
            if isinstance(exc, ChatError):
                if exc.fatal:
                    self._door.hub.close_session(session, exc.code, exc)
                    return
                if on_error is not None:
                    on_error(exc)
            elif exc is not None:
                log.error("internal error in %r", session, exc_info=exc)
            elif then is not None:
                then()
            if session.closed or self._transport is None:
                return
            if self._resume is None:
                self._transport.resume_reading()
            self._process(session)

        task.add_done_callback(done)

    # -- registration ----------------------------------------------------------------

    def try_register(self, session: Session) -> None:
        """Complete registration once NICK, USER and CAP negotiation are all done."""
        if self.registered or self._busy or self.negotiating:
            return
        if self.nick is None or self.username is None:
            return
        if session.authenticated:
            self._welcome(session)
            return
        if self.password is not None:
            account, _, secret = self.password.partition(":")
            if not secret:
                account, secret = self.nick, self.password
            self.password = None
            self.start(
                session,
                self.hub.login(session, account, secret, None, None, replay_dms=False),
                then=lambda: self.try_register(session),
                on_error=lambda exc: self._pass_failed(session, exc),
            )
            return
        if not self._door.config.irc.guests:
            self.numeric(n.ERR_PASSWDMISMATCH, "This server needs an account: use SASL or PASS")
            self._door.hub.close_session(session, "no_account", BadCredentials("account required"))
            return
        try:
            self.hub.authenticate_guest(session, self.nick)
        except UserTaken as exc:
            why = (
                "Nickname is registered; log in with SASL or PASS account:password"
                if exc.detail == "registered"
                else "Nickname is already in use"
            )
            self.numeric(n.ERR_NICKNAMEINUSE, self.nick, why)
            return
        self._welcome(session)

    def _pass_failed(self, session: Session, exc: ChatError) -> None:
        self.numeric(n.ERR_PASSWDMISMATCH, f"Password incorrect ({exc.message})")
        self._door.hub.close_session(session, "bad_credentials", BadCredentials())

    def _welcome(self, session: Session) -> None:
        cfg = self._door.config.irc
        if session.user and session.user != self.nick and self.nick:
            self.nick = session.user  # an account's nick is its name
        self.nick = session.user or self.nick
        self.registered = True
        me = self.me
        self.numeric(n.RPL_WELCOME, f"Welcome to the {cfg.network} IRC network {self.hostmask()}")
        self.numeric(
            n.RPL_YOURHOST, f"Your host is {self.server}, running version teahouse-{__version__}"
        )
        self.numeric(n.RPL_CREATED, f"This server was created {self._door.created}")
        self.send(
            IrcMessage(
                n.RPL_MYINFO,
                (me, self.server, f"teahouse-{__version__}", "iow", "beiklmntov", "bklov"),
                self.server,
            )
        )
        for chunk in self._door.isupport_chunks():
            self.send(
                IrcMessage(
                    n.RPL_ISUPPORT, (me, *chunk, "are supported by this server"), self.server
                )
            )
        HANDLERS["LUSERS"](self, session, IrcMessage("LUSERS"))
        HANDLERS["MOTD"](self, session, IrcMessage("MOTD"))
        if session.role == "admin":
            self.send(IrcMessage("MODE", (me, "+o"), self.server))
        if not session.guest:
            self.numeric(
                n.RPL_LOGGEDIN,
                self.hostmask(),
                session.user or me,
                f"You are now logged in as {session.user}",
            )
        self.hub.replay_dms(session, None)
        log.info("irc registered nick=%s guest=%s peer=%s", me, session.guest, session.ip)

    def hostmask(self, nick: str | None = None) -> str:
        assert self.session is not None
        name = nick or self.me
        # The same mask the hub shows (and bans match): the nick stands in for the ident.
        return f"{name}!{name}@{self.session.ip}"

    def set_caps(self, caps: frozenset[str]) -> None:
        self.caps = caps
        if self.session is not None:
            self.session.encoder = self._door.encoder_for(caps)

    # -- helpers for handlers ----------------------------------------------------------

    def say(self, session: Session, target: str, text: str, command: str) -> None:
        """PRIVMSG/NOTICE to one target, in core terms."""
        if fold_user(target) == "nickserv":
            if command == "PRIVMSG":
                self._door.nickserv(self, session, text)
            return
        room = room_of(target) if target.startswith("#") else None
        if target.startswith("#") and room is None:
            raise NoSuchRoom()
        if room is None and not is_user_name(target):
            raise NoSuchUser()
        to = None if room is not None else target
        if text.startswith("\x01") and not text.upper().startswith("\x01ACTION "):
            # Other CTCP requests pass between IRC clients live, never stored.
            self.hub.relay(session, "ctcp", room, to, text)
            return
        if command == "NOTICE":
            self.hub.relay(session, "notice", room, to, strip_formatting(text) or text)
            return
        if text.startswith("\x01"):
            text = ACTION_PREFIX + text.strip("\x01")[7:]
        text = strip_formatting(text)
        if not text:
            self.numeric(n.ERR_NOTEXTTOSEND, "No text to send")
            return
        if room is not None:
            self.hub.say(session, room, text, None, "")
            return
        self.hub.dm(session, target, text, None, "")
        away = self._door.away_of(target)
        if away is not None:
            self.numeric(n.RPL_AWAY, target, away)


def session_closed(session: Session | None) -> bool:
    return session is None or session.closed


def _in_batch(line: bytes) -> bool:
    if not line.startswith(b"@"):
        return False
    return any(tag.startswith(b"batch=") for tag in line[1 : line.find(b" ")].split(b";"))


def _add_tag(line: bytes, key: str, value: str) -> bytes:
    tag = f"{key}={escape_tag(value)}".encode()  # a client's label may hold ' ', ';', CR LF
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


Handler = Callable[[IrcConnection, Session, IrcMessage], None]
HANDLERS: dict[str, Handler] = {}
