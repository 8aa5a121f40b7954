"""Accounts and identities: the one login path, registration, guests, OPER, DM replay.

Every password check in the server — native ``login``, SASL, ``PASS``, NickServ, ``OPER``,
the admin socket — goes through :meth:`Accounts.verify`: the same throttle, the same two
hash lanes, the same ban check, the same log line on failure. A session's identity is its
account's id (or, for a guest, a number of its own that dies with it), never its name.

Names people can tell apart: a name whose look-alike key (Unicode TR39 skeletons, see
:mod:`teahouse.protocol.lookalike`) matches another account's, or another user's online,
is refused, and service and server names are reserved. Registering a name a guest holds
first moves the guest to a ``Guest…`` nick, so two identities never share a name.

The login throttle keys a failure to the *address and the name together*, and to the
address: a flood of wrong passwords for alice from one address slows that address down,
never alice logging in from another one. An address alice logged in from before is
trusted for her: its checks always take the trusted hash lane.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.limits import AddressRate, Allowlist, Rate
from teahouse.core.moderation import Moderation
from teahouse.core.outbox import Outbox
from teahouse.core.passwords import PasswordHasher
from teahouse.core.registry import Registry
from teahouse.core.results import Replay
from teahouse.core.session import Encoder, Session
from teahouse.core.throttle import LoginThrottle
from teahouse.errors import (
    BadCredentials,
    Forbidden,
    InvalidField,
    InvalidName,
    RegistrationClosed,
    Throttled,
    UserTaken,
    WeakPassword,
)
from teahouse.logs import AuthReason, log_audit, log_auth_failure, log_from
from teahouse.protocol.lookalike import confusable_key, reserved_name
from teahouse.protocol.names import fold_user, is_user_name
from teahouse.store.base import Account, Store

log = logging.getLogger("teahouse.hub")

MAX_PASSWORD = 1024
"""Longer passwords cannot be set, and never match at login (where they still cost the
one dummy hash every failure costs, so a refusal takes no less time than any other)."""
TRUSTED_PAIRS = 50_000
"""(account, address) pairs remembered as trusted: bounded, oldest forgotten first."""


@functools.lru_cache(maxsize=1024)
def _cloak(key: bytes, ip: str) -> str:
    """Cached: the guests of one address (a NAT, a bouncer) share one string."""
    digest = hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()
    return f"{digest[:8]}.{digest[8:16]}.ip"


def _spell_rename(room: str, old: str, new: str, encoder: Encoder) -> bytes:
    return encoder.renamed(room, old, new)


class Accounts:
    def __init__(
        self,
        config: Config,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        registry: Registry,
        moderation: Moderation,
        outbox: Outbox,
        allowlist: Allowlist,
        cloak_key: bytes,
    ) -> None:
        self.config = config
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.registry = registry
        self.moderation = moderation
        self.outbox = outbox
        self.allowlist = allowlist
        # Asked on every login; parsing the address each time was a twentieth of a storm.
        self._cloak_key = cloak_key
        acc = config.accounts
        self.throttle = LoginThrottle(
            free_attempts=acc.login_free_attempts,
            base_delay=acc.login_base_delay,
            max_delay=acc.login_max_delay,
        )
        per_hour = config.limits.registrations_per_ip_per_hour
        self.registration_rate = AddressRate(Rate(per_hour / 3600, max(per_hour, 1.0)))
        self._trusted: OrderedDict[tuple[int, str], None] = OrderedDict()
        self._reserved = (config.server.name, config.irc.network, config.irc.server_name)

    # -- hosts ---------------------------------------------------------------------------

    def cloak(self, ip: str) -> str:
        """The host others see for an address: a keyed hash, never the address itself."""
        return _cloak(self._cloak_key, ip)

    # -- the one login path ------------------------------------------------------------

    def _throttle_keys(self, session: Session, name: str) -> list[str]:
        if session.ip in self.allowlist:
            return [f"user:{fold_user(name)}@{session.ip}"]
        return [f"user:{fold_user(name)}@{session.ip}", f"ip:{session.ip}"]

    def check_login(self, session: Session, name: str) -> list[str]:
        """The cheap checks of a credential, synchronously: a door calls this first, so a
        throttled attempt (most of a login flood) costs no task and no pause in reading.
        Returns the throttle keys; raises :class:`Throttled`."""
        keys = self._throttle_keys(session, name)
        wait = self.throttle.retry_after(keys, self.clock.monotonic())
        if wait is not None:
            self.registry.stats.limits_hit["login_throttle"] += 1
            log_auth_failure(session.ip, name, session.door, "throttled")
            raise Throttled(retry_after=round(wait, 3))
        return keys

    def trusted(self, account: Account | None, session: Session) -> bool:
        """Has ``account`` logged in from ``session``'s address before? Its checks then
        take the trusted hash lane, never behind a flood of guesses from elsewhere."""
        return account is not None and (account.id, session.ip) in self._trusted

    async def verify(
        self, session: Session, name: str, password: str, failure: AuthReason = "bad_credentials"
    ) -> Account:
        """Check ``name``'s password for ``session``: throttle, hash lane, ban. Every
        credential check in the server comes here (``failure`` names it in the log when it
        fails). Raises :class:`BadCredentials`, :class:`Throttled` or :class:`Banned`
        (:class:`~teahouse.core.passwords.Gone` when the connection closes first: then
        nothing is hashed, counted or logged)."""
        keys = self.check_login(session, name)
        account = self.store.get_account(name) if is_user_name(name) else None
        exists = account is not None
        trusted = self.trusted(account, session)
        if len(password) > MAX_PASSWORD:
            account = None
        suspect = not trusted and self.throttle.suspect(
            [*keys, f"name:{fold_user(name)}"], self.clock.monotonic()
        )
        ok = await self.hasher.verify(
            account.password_hash if account else None,
            password,
            source=session.ip,
            trusted=trusted,
            suspect=suspect,
            wanted=session.outlet.is_open,
        )
        now = self.clock.monotonic()
        if not ok or account is None:
            # Per-name entries only for real accounts: names are no secret here
            # (register says user_taken), and random names would fill the table.
            failed = keys if exists else keys[1:]
            if exists:
                failed = [*failed, f"name:{fold_user(name)}"]  # lanes only, never blocks
            self.throttle.failure(failed, now)
            self.registry.stats.logins_failed += 1
            log_auth_failure(session.ip, name, session.door, failure)
            raise BadCredentials()
        self.throttle.success(keys)
        self._trusted[(account.id, session.ip)] = None
        self._trusted.move_to_end((account.id, session.ip))
        while len(self._trusted) > TRUSTED_PAIRS:
            self._trusted.popitem(last=False)
        ban = self.moderation.account_ban(account.id)
        if ban is not None:
            raise self.moderation.banned_error(ban)
        return account

    async def login(
        self, session: Session, name: str, password: str, failure: AuthReason = "bad_credentials"
    ) -> Account:
        """Log ``session`` in to an account (a guest becomes that account's session)."""
        self._require_unauthed(session)
        account = await self.verify(session, name, password, failure)
        if not session.closed:
            self._authenticate(session, account)
        return account

    async def oper(self, session: Session, name: str, password: str) -> Account:
        """IRC ``OPER``: the session gains the admin role while ``name`` is an admin
        account with this password. Raises like :meth:`verify`, and :class:`Forbidden`
        for an account that is not an admin."""
        account = await self.verify(session, name, password, "bad_oper_password")
        if account.role != "admin":
            log_auth_failure(session.ip, name, session.door, "bad_oper_password")
            raise Forbidden("that account is not an operator", detail="not_oper")
        if not session.closed:
            session.role = "admin"
            session.oper_id = account.id
            log_from(
                log,
                logging.INFO,
                session.ip,
                "oper user=%s as=%s peer=%s",
                session.user,
                account.name,
                session.ip,
            )
            log_audit(
                session.user or "-", session.door, "oper", account=account.name, peer=session.ip
            )
        return account

    async def register(
        self, session: Session, name: str, password: str, invite: str | None
    ) -> Account:
        self._require_unauthed(session)
        mode = self.config.accounts.registration
        if mode == "closed":
            raise RegistrationClosed()
        # Without a valid invite, say nothing about names or passwords.
        if mode == "invite" and (not invite or not self.store.invite_available(invite)):
            raise RegistrationClosed("registration needs a valid, unused invite code")
        self.check_new_name(name)
        self.check_password(name, password)
        if session.ip not in self.allowlist:
            wait = self.registration_rate.allow(session.ip, self.clock.monotonic())
            if wait is not None:
                raise Throttled(
                    "too many registrations from your address", retry_after=round(wait, 1)
                )
        suspect = self.throttle.suspect([f"ip:{session.ip}"], self.clock.monotonic())
        password_hash = await self.hasher.hash(
            password, source=session.ip, suspect=suspect, wanted=session.outlet.is_open
        )
        if session.closed:
            raise BadCredentials("the connection closed")
        # Used only now, so a throttled or failed hash does not burn the code.
        if mode == "invite" and (not invite or not await self.store.use_invite(invite, name)):
            raise RegistrationClosed("registration needs a valid, unused invite code")
        account = await self.create(name, password_hash, "user", keep=session)
        log_from(
            log,
            logging.INFO,
            session.ip,
            "account registered user=%s peer=%s",
            account.name,
            session.ip,
        )
        if not session.closed:
            self._authenticate(session, account)
        return account

    async def create(
        self, name: str, password_hash: str, role: str, keep: Session | None = None
    ) -> Account:
        """Create an account (registration, ``user add``): a guest holding the name is
        moved off it first (``keep``, the registering session itself, stays)."""
        self.check_new_name(name, for_operator=keep is None)
        account = await self.store.create_account(
            name, password_hash, "admin" if role == "admin" else "user"
        )
        self.evict_guest(name, keep)
        return account

    def check_name(self, name: str) -> None:
        if not is_user_name(name):
            raise InvalidName(
                "user names start with a letter and hold up to 32 letters, digits or _-[]\\^{}|"
            )

    def check_new_name(self, name: str, for_operator: bool = False) -> None:
        """May an account take ``name``? Raises :class:`InvalidName` (rules, reserved) or
        :class:`UserTaken` (taken, or it looks like another account's name)."""
        self.check_name(name)
        if not for_operator and reserved_name(name, extra=self._reserved):
            raise InvalidName(f"{name!r} is reserved for the server and its services")
        if self.store.get_account(name) is not None:
            raise UserTaken(f"the name {name!r} is taken")
        for other in self.store.confusable_accounts(confusable_key(name)):
            if fold_user(other.name) != fold_user(name):
                raise UserTaken(
                    f"{name!r} looks like the existing name {other.name!r}", detail="confusable"
                )

    def check_password(self, name: str, password: str) -> None:
        """Raise :class:`WeakPassword` unless ``password`` is acceptable for ``name``."""
        least = self.config.accounts.min_password_length
        if len(password) < least:
            raise WeakPassword(f"passwords need at least {least} characters")
        if len(password) > MAX_PASSWORD:
            raise WeakPassword(f"passwords may hold at most {MAX_PASSWORD} characters")
        if password.lower() == name.lower() or len(set(password)) < 3:
            raise WeakPassword("the password is too easy to guess")

    def _require_unauthed(self, session: Session) -> None:
        if session.authenticated and not session.guest:
            raise InvalidField("this connection is already logged in")
        if session.guest and session.rooms:
            raise InvalidField("leave every room before logging in to an account")

    def _authenticate(self, session: Session, account: Account) -> None:
        if session.guest:
            # A guest logging in to an account becomes that account's session.
            self.registry.unbind(session)  # bound to the account's id below: no guest
        # Whoever else holds the name online as a guest (an IRC nick) moves aside.
        self.evict_guest(account.name, keep=session)
        session.role = account.role
        session.host = None  # user/<name>, worked out when asked (a guest's cloak goes)
        self.registry.bind(session, account.id, account.name)
        self.registry.stats.logins_ok += 1
        log_from(
            log,
            logging.INFO,
            session.ip,
            "login user=%s role=%s peer=%s",
            account.name,
            account.role,
            session.ip,
        )

    # -- guests ------------------------------------------------------------------------

    def nick_problem(self, nick: str, mine: Session | None = None) -> str | None:
        """Why a guest may not take ``nick`` now: ``invalid``, ``registered`` (an account
        has it, or one like it) or ``in_use`` (someone online has it, or one like it)."""
        if not is_user_name(nick) or reserved_name(nick, extra=self._reserved):
            return "invalid"
        key = confusable_key(nick)
        if self.store.confusable_accounts(key):  # the account of that name, or one like it
            return "registered"
        holder = self.registry.look_alike(key)
        if holder is not None and (mine is None or holder != mine.ident):
            return "in_use"
        return None

    def authenticate_guest(self, session: Session, nick: str) -> None:
        """Let ``session`` in without an account, as ``nick`` (IRC guests).

        Raises :class:`InvalidName`, or :class:`UserTaken` (``detail`` ``registered`` or
        ``in_use``).
        """
        if session.authenticated:
            raise InvalidField("this connection is already logged in")
        self._check_nick(nick)
        session.role = "user"
        session.host = self.cloak(session.ip)
        self.registry.bind(session, session.id, nick)
        log_from(log, logging.INFO, session.ip, "guest login user=%s peer=%s", nick, session.ip)

    def _check_nick(self, nick: str, mine: Session | None = None) -> None:
        problem = self.nick_problem(nick, mine)
        if problem == "invalid":
            raise InvalidName("that nick does not follow the naming rules, or is reserved")
        if problem == "registered":
            raise UserTaken("that nick belongs to a registered account", detail="registered")
        if problem == "in_use":
            raise UserTaken("that nick is in use", detail="in_use")

    def rename_guest(self, session: Session, new: str) -> str:
        """Give a guest another name; everyone sharing a room with it is told. Returns the
        old name.

        Raises :class:`InvalidName` or :class:`UserTaken` (``detail`` ``registered`` or
        ``in_use``). Accounts cannot be renamed: their name is who they are.
        """
        if session.user is None or not session.authenticated:
            raise InvalidField("log in first")
        if not session.guest:
            raise Forbidden("an account's name cannot change", detail="account")
        old = session.user
        self._check_nick(new, mine=session)
        self._rename(session, old, new)
        return old

    def _rename(self, session: Session, old: str, new: str) -> None:
        self.registry.rename(session.ident, new)
        told = False
        for name in sorted(session.rooms):
            room = self.registry.rooms[name]
            room.rename(session.ident, new)
            self.registry.fanout(room.sessions, functools.partial(_spell_rename, name, old, new))
            told = True
        if not told:
            session.send(session.encoder.renamed("", old, new))
        log_from(log, logging.INFO, session.ip, "guest renamed %s -> %s", old, new)

    def evict_guest(self, name: str, keep: Session | None = None) -> None:
        """An account now owns ``name``, and the names that look like it: a guest holding
        one online moves to ``Guest…`` (so no two identities online look alike)."""
        # The look-alike table, not a scan of every session: this runs for every login.
        holder = self.registry.look_alike(confusable_key(name))
        if holder is None:
            return
        guests = [s for s in self.registry.online(holder) if s.guest and s is not keep]
        for session in guests:
            old = session.user or name
            # The rules of any guest nick (no look-alike of anyone online or of an
            # account): the look-alike table then holds one identity per key.
            new = f"Guest{secrets.randbelow(90000) + 10000}"
            while self.nick_problem(new) is not None:
                new = f"Guest{secrets.randbelow(90000) + 10000}"
            self._rename(session, old, new)
            if fold_user(old) == fold_user(name):
                text = f"{old} is now a registered account; you are {new}"
            else:
                text = f"{old} looks like the registered account {name}; you are {new}"
            session.send(session.encoder.notice(text, "server"))

    # -- direct messages ---------------------------------------------------------------

    def replay_dms(self, session: Session, dm_since: int | None) -> Replay:
        """Stored direct messages for a session that just logged in: after ``dm_since``,
        else those never delivered. They count as delivered once written to the session's
        socket (:meth:`dms_delivered`)."""
        account = session.account_id
        if account is None:
            return Replay([], False, None, last_id=0)  # nothing of a guest is kept
        limit = self.config.limits.max_replay
        if dm_since is not None:
            page = self.store.dms_after(account, dm_since, limit, incoming_only=False)
        else:
            cursor = self.store.dm_cursor(account)
            page = self.store.dms_after(account, cursor, limit, incoming_only=True)
        newest = self.store.dms_before(account, None, 1).messages
        oldest = page.messages[0].id if page.messages else None
        return Replay(page.messages, page.more, oldest, last_id=newest[0].id if newest else 0)

    def dms_delivered(self, session: Session, replay: Replay) -> None:
        """A DM replay reached the session's socket: those messages count as delivered."""
        if replay.messages and session.account_id is not None and not session.closed:
            self.store.set_dm_cursor(session.account_id, replay.messages[-1].id)
            self.outbox.wake()
