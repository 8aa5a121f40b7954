"""Accounts and identities: the one login path, registration, guests, OPER, DM replay.

Every password check in the server — native ``login``, SASL, ``PASS``, NickServ, ``OPER``
— goes through :meth:`Accounts.verify`: the same throttle, the same two hash lanes, the
same ban check. A session's identity is its account's id (or, for a guest, a number of its
own that dies with it), never its name.
"""

from __future__ import annotations

import functools
import itertools
import logging

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.limits import AddressRate, Allowlist, Rate
from teahouse.core.moderation import Moderation
from teahouse.core.passwords import PasswordHasher
from teahouse.core.registry import Registry
from teahouse.core.results import Replay
from teahouse.core.session import Encoder, Session
from teahouse.core.throttle import LoginThrottle
from teahouse.errors import (
    BadCredentials,
    Banned,
    Forbidden,
    InvalidField,
    InvalidName,
    RegistrationClosed,
    Throttled,
    UserTaken,
    WeakPassword,
)
from teahouse.logs import PEER, AuthReason, log_auth_failure
from teahouse.protocol.names import fold_user, is_user_name
from teahouse.store.base import Account, Store

log = logging.getLogger("teahouse.hub")

MAX_PASSWORD = 1024
"""Longer passwords are refused before hashing: a security limit on CPU per attempt."""
RESERVED_NICKS = frozenset({"nickserv", "chanserv"})


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
        allowlist: Allowlist,
    ) -> None:
        self.config = config
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self.registry = registry
        self.moderation = moderation
        self.allowlist = allowlist
        acc = config.accounts
        self.throttle = LoginThrottle(
            free_attempts=acc.login_free_attempts,
            base_delay=acc.login_base_delay,
            max_delay=acc.login_max_delay,
        )
        per_hour = config.limits.registrations_per_ip_per_hour
        self.registration_rate = AddressRate(Rate(per_hour / 3600, max(per_hour, 1.0)))
        self._guest_ids = itertools.count(-1, -1)

    # -- the one login path ------------------------------------------------------------

    def _throttle_keys(self, session: Session, name: str) -> list[str]:
        keys = [f"user:{fold_user(name)}"]
        if session.ip not in self.allowlist:
            keys.append(f"ip:{session.ip}")
        return keys

    def check_login(self, session: Session, name: str) -> list[str]:
        """The cheap checks of a credential, synchronously: a door calls this first, so a
        throttled attempt (most of a login flood) costs no task and no pause in reading.
        Returns the throttle keys; raises :class:`Throttled`."""
        keys = self._throttle_keys(session, name)
        wait = self.throttle.retry_after(keys, self.clock.monotonic())
        if wait is not None:
            log_auth_failure(session.ip, name, session.door, "throttled")
            raise Throttled(retry_after=round(wait, 3))
        return keys

    async def verify(
        self, session: Session, name: str, password: str, failure: AuthReason = "bad_credentials"
    ) -> Account:
        """Check ``name``'s password for ``session``: throttle, hash lane, ban. Every
        credential check in the server comes here (``failure`` names it in the log when it
        fails). Raises :class:`BadCredentials`, :class:`Throttled` or :class:`Banned`."""
        keys = self.check_login(session, name)
        account = self.store.get_account(name) if is_user_name(name) else None
        exists = account is not None
        if len(password) > MAX_PASSWORD:
            account = None
        suspect = self.throttle.suspect(keys, self.clock.monotonic())
        ok = await self.hasher.verify(
            account.password_hash if account else None,
            password,
            suspect=suspect,
            wanted=lambda: not session.closed,
        )
        if not ok or account is None:
            # Per-name entries only for real accounts: names are no secret here
            # (register says user_taken), and random names would fill the table.
            self.throttle.failure(keys if exists else keys[1:], self.clock.monotonic())
            self.registry.stats.logins_failed += 1
            log_auth_failure(session.ip, name, session.door, failure)
            raise BadCredentials()
        self.throttle.success(keys)
        if self.moderation.banned("user", fold_user(account.name)):
            raise Banned()
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
        account whose password it knows. Raises like :meth:`verify`, and
        :class:`Forbidden` for an account that is not an admin."""
        account = await self.verify(session, name, password, "bad_oper_password")
        if account.role != "admin":
            raise Forbidden("that account is not an operator", detail="not_oper")
        if not session.closed:
            session.role = "admin"
            log.info(
                "oper user=%s as=%s peer=%s",
                session.user,
                account.name,
                session.ip,
                extra={PEER: session.ip},
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
        self.check_name(name)
        self.check_password(name, password)
        if self.store.get_account(name) is not None:
            raise UserTaken(f"the name {name!r} is taken")
        if session.ip not in self.allowlist:
            wait = self.registration_rate.allow(session.ip, self.clock.monotonic())
            if wait is not None:
                raise Throttled(
                    "too many registrations from your address", retry_after=round(wait, 1)
                )
        suspect = self.throttle.suspect([f"ip:{session.ip}"], self.clock.monotonic())
        password_hash = await self.hasher.hash(
            password, suspect=suspect, wanted=lambda: not session.closed
        )
        if session.closed:
            raise BadCredentials("the connection closed")
        # Used only now, so a throttled or failed hash does not burn the code.
        if mode == "invite" and (not invite or not self.store.use_invite(invite, name)):
            raise RegistrationClosed("registration needs a valid, unused invite code")
        account = self.store.create_account(name, password_hash, "user")
        log.info(
            "account registered user=%s peer=%s", account.name, session.ip, extra={PEER: session.ip}
        )
        self._authenticate(session, account)
        return account

    def check_name(self, name: str) -> None:
        if not is_user_name(name):
            raise InvalidName(
                "user names start with a letter and hold up to 32 letters, digits or _-[]\\^{}|"
            )
        if fold_user(name) in RESERVED_NICKS:
            raise InvalidName(f"{name!r} is reserved")

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
            self.registry.unbind(session)
            session.guest = False
        session.account_id = account.id
        session.role = account.role
        self.registry.bind(session, account.id, account.name)
        self.registry.stats.logins_ok += 1
        log.info(
            "login user=%s role=%s peer=%s",
            account.name,
            account.role,
            session.ip,
            extra={PEER: session.ip},
        )

    # -- guests ------------------------------------------------------------------------

    def nick_problem(self, nick: str) -> str | None:
        """Why a guest may not take ``nick`` now: ``invalid``, ``registered`` or ``in_use``."""
        if not is_user_name(nick) or fold_user(nick) in RESERVED_NICKS:
            return "invalid"
        if self.store.get_account(nick) is not None:
            return "registered"
        if self.registry.by_name(nick):
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
        session.guest = True
        self.registry.bind(session, next(self._guest_ids), nick)
        log.info("guest login user=%s peer=%s", nick, session.ip, extra={PEER: session.ip})

    def _check_nick(self, nick: str, mine: str | None = None) -> None:
        problem = self.nick_problem(nick)
        if problem == "invalid":
            raise InvalidName("that nick does not follow the naming rules")
        if problem == "registered":
            raise UserTaken("that nick belongs to a registered account", detail="registered")
        if problem == "in_use" and fold_user(nick) != mine:
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
        self._check_nick(new, mine=session.key)
        self.registry.rename(session.ident, new)
        for name in sorted(session.rooms):
            room = self.registry.rooms[name]
            room.rename(session.ident, new)
            self.registry.fanout(room.sessions, functools.partial(_spell_rename, name, old, new))
        log.info("guest renamed %s -> %s", old, new, extra={PEER: session.ip})
        return old

    # -- direct messages ---------------------------------------------------------------

    def replay_dms(self, session: Session, dm_since: int | None) -> Replay:
        """Stored direct messages for a session that just logged in: after ``dm_since``,
        else those never delivered. They count as delivered from now on."""
        assert session.user is not None
        if session.guest:
            return Replay([], False, None, last_id=0)
        limit = self.config.limits.max_replay
        if dm_since is not None:
            page = self.store.dms_after(session.user, dm_since, limit, incoming_only=False)
        else:
            cursor = self.store.dm_cursor(session.user)
            page = self.store.dms_after(session.user, cursor, limit, incoming_only=True)
        newest = self.store.dms_before(session.user, None, 1).messages
        if page.messages:
            self.store.set_dm_cursor(session.user, page.messages[-1].id)
        oldest = page.messages[0].id if page.messages else None
        return Replay(page.messages, page.more, oldest, last_id=newest[0].id if newest else 0)
