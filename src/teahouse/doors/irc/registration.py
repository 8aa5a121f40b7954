"""IRC connection registration as a sans-I/O state machine: CAP, NICK, USER, PASS, SASL.

No sockets, no hub, no clock: the connection feeds it what the client said and asks
:meth:`Registration.next_step` what to do. The rules (RFC 2812 and IRCv3):

- ``CAP LS`` or ``CAP REQ`` before registration holds it until ``CAP END``;
- registration needs ``NICK`` and ``USER``;
- an account comes from SASL PLAIN (checked as it arrives), or from ``PASS
  account:password`` (or ``PASS password`` for the nick's account), checked once NICK
  and USER are in; without one the client is a guest, where guests are allowed.
"""

from __future__ import annotations

import base64
import binascii
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from teahouse.core.seldom import SeldomField

SUPPORTED_CAPS: dict[str, str | None] = {
    "account-notify": None,
    "account-tag": None,
    "away-notify": None,
    "batch": None,
    "cap-notify": None,
    "draft/account-registration": "before-connect",
    "draft/chathistory": None,
    "echo-message": None,
    "extended-join": None,
    "extended-monitor": None,
    "labeled-response": None,
    "message-tags": None,
    "multi-prefix": None,
    "sasl": "PLAIN",
    "server-time": None,
    "setname": None,
    "userhost-in-names": None,
}
"""Capabilities offered, with their ``CAP LS 302`` values."""

MAX_SASL_CHUNK = 400
"""Bytes per AUTHENTICATE chunk (IRCv3 SASL)."""
MAX_SASL_TOTAL = 4096
"""A security limit on the whole SASL payload."""


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing to do yet: NICK, USER or CAP END is missing, or a check is running."""


@dataclass(frozen=True, slots=True)
class CheckPass:
    """Log in with the ``PASS`` credentials before welcoming the client."""

    account: str
    password: str


@dataclass(frozen=True, slots=True)
class Welcome:
    """Everything is in: welcome the client (as a guest unless it is logged in)."""

    nick: str


Step = Wait | CheckPass | Welcome


@dataclass(frozen=True, slots=True)
class SaslContinue:
    """Send ``AUTHENTICATE +`` (more, or the first chunk, please)."""


@dataclass(frozen=True, slots=True)
class SaslMore:
    """A full-size chunk arrived: wait for the next one, say nothing."""


@dataclass(frozen=True, slots=True)
class SaslFail:
    numeric: str
    """``904`` failed, ``905`` too long, ``906`` aborted, ``908`` + ``904`` bad mechanism."""


@dataclass(frozen=True, slots=True)
class SaslCheck:
    """The PLAIN payload is complete: check these credentials."""

    account: str
    password: str


SaslEvent = SaslContinue | SaslMore | SaslFail | SaslCheck


class SaslPlain:
    """SASL PLAIN over ``AUTHENTICATE``: chunks of 400 bytes, ``+`` for empty."""

    __slots__ = ("_buffer", "_mechanism")

    def __init__(self) -> None:
        self._mechanism: str | None = None
        self._buffer = ""

    @property
    def active(self) -> bool:
        return self._mechanism is not None

    def reset(self) -> None:
        self._mechanism, self._buffer = None, ""

    def feed(self, arg: str) -> SaslEvent:
        if arg == "*":
            self.reset()
            return SaslFail("906")
        if self._mechanism is None:
            if arg.upper() != "PLAIN":
                return SaslFail("908")
            self._mechanism = "PLAIN"
            return SaslContinue()
        if len(arg) > MAX_SASL_CHUNK:
            self.reset()
            return SaslFail("905")
        if arg != "+":
            self._buffer += arg
        if len(self._buffer) > MAX_SASL_TOTAL:
            self.reset()
            return SaslFail("905")
        if len(arg) == MAX_SASL_CHUNK:
            return SaslMore()
        payload = self._buffer
        self.reset()
        try:
            fields = base64.b64decode(payload, validate=True).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return SaslFail("904")
        if len(fields) != 3:
            return SaslFail("904")
        authz, authc, password = fields
        return SaslCheck(authc or authz, password)


NO_CAPS: frozenset[str] = frozenset()
"""The empty set of capabilities (or modes), shared: an empty frozenset is 216 bytes."""

_CAP_SETS: OrderedDict[frozenset[str], frozenset[str]] = OrderedDict()
SHARED_CAP_SETS = 256
"""How many different sets of capabilities are kept to be shared, the most recently asked
for. Clients of one kind ask for the same set, so connections share a few sets instead of
holding one each (216-728 bytes); a client that makes up new combinations only pushes out
sets nobody asked for since, and a set pushed out is simply kept again when next asked."""


def shared_caps(caps: frozenset[str]) -> frozenset[str]:
    """``caps``, as the one object every connection with the same set holds."""
    if not caps:
        return NO_CAPS
    found = _CAP_SETS.get(caps)
    if found is not None:
        _CAP_SETS.move_to_end(caps)
        return found
    _CAP_SETS[caps] = caps
    if len(_CAP_SETS) > SHARED_CAP_SETS:
        _CAP_SETS.popitem(last=False)
    return caps


class Seldom:
    """What a connection's registration holds only for a while: a ``PASS`` not yet
    checked, a SASL exchange. None of it outlives the welcome but a later SASL login's.

    The connection subclasses it for rare things of its own (one object, one slot)."""

    __slots__ = ("password", "sasl")

    def __init__(self) -> None:
        self.password: str | None = None
        self.sasl: SaslPlain | None = None
        """Made by the first ``AUTHENTICATE`` (most clients never send one)."""

    @property
    def empty(self) -> bool:
        return self.password is None and self.sasl is None


_DONE = 1 << 8
_NEGOTIATING = 1 << 9
_CAP_302 = 1 << 10
"""A ``CAP LS 302`` (or later) was seen: the only difference a version makes here."""
_REGISTRATION_BITS = _DONE | _NEGOTIATING | _CAP_302

REGISTRATION_SLOTS = ("_seldom", "caps", "nick", "realname", "username")
"""The slots a class that inherits :class:`Registration` must declare (besides the
connection's ``_state``, whose bits from 256 up are registration's)."""


class Registration:
    """The state of one connection's registration, and its rules.

    A base with no slots of its own: the connection class that inherits it declares
    :data:`REGISTRATION_SLOTS`, so a connection and its registration are one object (an
    idle IRC connection keeps no second one). Call :meth:`_start_registration` first.
    Flags are bits of the connection's own flag int (``_state``, from bit 8 up: the
    connection's are below), and what registration needs only for a while (``PASS``,
    SASL) is in a :class:`Seldom` made when needed and let go at the welcome.
    """

    if TYPE_CHECKING:
        __slots__ = REGISTRATION_SLOTS  # what the inheriting class declares
    else:
        __slots__ = ()

    nick: str | None
    username: str | None
    realname: str
    caps: frozenset[str]
    _state: int
    """The connection's flags; registration's are :data:`_DONE`, :data:`_NEGOTIATING`,
    :data:`_CAP_302`."""
    _seldom: Seldom | None

    def _start_registration(self) -> None:
        self.nick = None
        self.username = None
        self.realname = ""
        self.caps = NO_CAPS
        self._state &= ~_REGISTRATION_BITS
        self._seldom = None

    password = SeldomField[str | None](None, "What ``PASS`` gave, until it is checked.")

    def _seldom_state(self) -> Seldom:
        """The rare state, made if there is none (a subclass may make a subclass)."""
        seldom = self._seldom
        if seldom is None:
            seldom = self._seldom = Seldom()
        return seldom

    def _forget_seldom(self) -> None:
        seldom = self._seldom
        if seldom is not None and seldom.empty:
            self._seldom = None

    def _bit(self, bit: int, on: bool) -> None:
        self._state = self._state | bit if on else self._state & ~bit

    @property
    def done(self) -> bool:
        """Registration is complete (the client was welcomed)."""
        return bool(self._state & _DONE)

    @done.setter
    def done(self, value: bool) -> None:
        self._bit(_DONE, value)
        seldom = self._seldom
        if value and seldom is not None:
            # A PASS left unchecked (the client logged in by SASL first) is never read
            # again, and a SASL exchange cannot be under way at the welcome.
            seldom.password = None
            if seldom.sasl is not None and not seldom.sasl.active:
                seldom.sasl = None
            self._forget_seldom()

    @property
    def negotiating(self) -> bool:
        """A ``CAP LS`` or ``CAP REQ`` holds registration until ``CAP END``."""
        return bool(self._state & _NEGOTIATING)

    @negotiating.setter
    def negotiating(self, value: bool) -> None:
        self._bit(_NEGOTIATING, value)

    @property
    def cap_version(self) -> int:
        """The highest ``CAP LS`` version the client gave, as far as it matters: 302 or 0."""
        return 302 if self._state & _CAP_302 else 0

    @cap_version.setter
    def cap_version(self, value: int) -> None:
        self._bit(_CAP_302, value >= 302)

    def sasl_over(self) -> None:
        """A SASL exchange ended (failed, or its check began): after the welcome nothing
        reads its state again, so it is let go (one made again by the next exchange)."""
        seldom = self._seldom
        if self.done and seldom is not None and seldom.sasl is not None and not seldom.sasl.active:
            seldom.sasl = None
            self._forget_seldom()

    @property
    def _sasl(self) -> SaslPlain | None:
        seldom = self._seldom
        return seldom.sasl if seldom is not None else None

    @property
    def sasl(self) -> SaslPlain:
        seldom = self._seldom_state()
        if seldom.sasl is None:
            seldom.sasl = SaslPlain()
        return seldom.sasl

    # -- CAP ---------------------------------------------------------------------------

    def cap_ls(self, version: str) -> list[str]:
        """``CAP LS [version]``: the capability tokens to list."""
        if version.isascii() and version.isdigit() and len(version) < 6:
            self.cap_version = max(self.cap_version, int(version))
        if not self.done:
            self.negotiating = True
        return [
            f"{name}={value}" if value and self.cap_version >= 302 else name
            for name, value in sorted(SUPPORTED_CAPS.items())
        ]

    def cap_req(self, request: str) -> bool:
        """``CAP REQ :a -b``: True (ACK) when every capability is known, all applied;
        False (NAK) otherwise, none applied."""
        if not self.done:
            self.negotiating = True
        wanted = request.split()
        adds = {w for w in wanted if not w.startswith("-")}
        drops = {w[1:] for w in wanted if w.startswith("-")}
        if not wanted or not (adds | drops) <= set(SUPPORTED_CAPS):
            return False
        self.caps = shared_caps(frozenset((self.caps | adds) - drops))
        return True

    def cap_end(self) -> None:
        self.negotiating = False

    # -- NICK, USER, PASS --------------------------------------------------------------

    def set_user(self, username: str, realname: str) -> None:
        clean = "".join(ch for ch in username if ch.isalnum() or ch in "-_.")[:32] or "user"
        # Interned: clients send the same few real names (their default), and the string
        # goes when the last connection holding it does.
        realname = sys.intern(realname[:200])
        # Clients often send the nick as both: keep one string, not three (idle memory).
        nick = self.nick
        if nick is not None and clean == nick:
            clean = nick
        if realname == clean:
            realname = clean
        elif nick is not None and realname == nick:
            realname = nick
        self.username = clean
        self.realname = realname

    def next_step(self, busy: bool, logged_in: bool) -> Step:
        """What to do now; call after every registration command and check."""
        sasl = self._sasl
        if self.done or busy or self.negotiating or (sasl is not None and sasl.active):
            return Wait()
        if self.nick is None or self.username is None:
            return Wait()
        if self.password is not None and not logged_in:
            account, _, secret = self.password.partition(":")
            if not secret:
                account, secret = self.nick, self.password
            self.password = None
            return CheckPass(account, secret)
        return Welcome(self.nick)
