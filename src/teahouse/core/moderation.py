"""Server-wide moderation: bans (accounts, addresses, networks), mutes, kicks, broadcasts,
and powers that follow an account's role *now*.

Bans and mutes are kept in the store by account id (or address) and mirrored here for
the checks that run on every connection and message. A change reaches open sessions at
once: a demoted admin loses admin in that second, an account that is deleted or banned
is closed with the reason, and an OPER granted with an account's password ends when that
account stops being an admin, changes its password, or goes.
"""

from __future__ import annotations

import ipaddress
import logging
import time

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.outbox import Outbox
from teahouse.core.registry import Registry
from teahouse.core.session import Session
from teahouse.errors import Banned, Forbidden, InvalidField, Kicked
from teahouse.protocol.names import text_problem
from teahouse.protocol.text import clean_text
from teahouse.store.base import Ban, BanKind, Role, Store

log = logging.getLogger("teahouse.hub")

MAX_REASON = 300

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def until_text(until_ms: int | None, now_ms: int) -> str:
    """``for 10 more minutes`` / ``until lifted``: how long, in words a user reads."""
    if until_ms is None:
        return "until lifted"
    left = max(0, until_ms - now_ms) / 1000
    if left < 120:
        return f"for {left:.0f} more seconds"
    if left < 7200:
        return f"for {left / 60:.0f} more minutes"
    if left < 172800:
        return f"for {left / 3600:.0f} more hours"
    return "until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until_ms / 1000))


def parse_network(value: str) -> Network:
    """An address or a CIDR network (``198.51.100.7``, ``2001:db8::/64``); ValueError if not."""
    return ipaddress.ip_network(value.strip(), strict=False)


class Moderation:
    def __init__(
        self, config: Config, store: Store, clock: Clock, registry: Registry, outbox: Outbox
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self.outbox = outbox
        self._user_bans: dict[int, Ban] = {}
        self._net_bans: dict[Network, Ban] = {}
        self._mutes: dict[int, int | None] = {}
        self.reload()

    def reload(self) -> None:
        now = self.clock.wall_ms()
        self._user_bans, self._net_bans = {}, {}
        for ban in self.store.active_bans(now):
            if ban.kind == "user":
                if ban.value.isdigit():
                    self._user_bans[int(ban.value)] = ban
            else:
                try:
                    self._net_bans[parse_network(ban.value)] = ban
                except ValueError:
                    log.warning("ignoring a stored ban on %r: not an address", ban.value)
        self._mutes = self.store.active_mutes(now)

    # -- checks ------------------------------------------------------------------------

    def _live(self, ban: Ban | None) -> Ban | None:
        if ban is None or (ban.until_ms is not None and ban.until_ms <= self.clock.wall_ms()):
            return None
        return ban

    def account_ban(self, account_id: int) -> Ban | None:
        """The ban in force on an account, if any."""
        return self._live(self._user_bans.get(account_id))

    def address_ban(self, ip: str) -> Ban | None:
        """The ban in force on an address (an address ban, or a network holding it)."""
        if not self._net_bans:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for network, ban in self._net_bans.items():
            if address in network and self._live(ban) is not None:
                return ban
        return None

    def banned_error(self, ban: Ban) -> Banned:
        why = f": {ban.reason}" if ban.reason else ""
        return Banned(f"banned {until_text(ban.until_ms, self.clock.wall_ms())}{why}")

    def check_address(self, ip: str) -> None:
        """Raise :class:`Banned` for a banned address: the first check, before TLS."""
        ban = self.address_ban(ip)
        if ban is not None:
            raise self.banned_error(ban)

    def check_not_muted(self, session: Session) -> None:
        account = session.account_id
        if account is None or account not in self._mutes:
            return
        until = self._mutes[account]
        now_ms = self.clock.wall_ms()
        if until is not None and until <= now_ms:
            del self._mutes[account]
            return
        raise Forbidden(f"you are muted {until_text(until, now_ms)}", detail="muted")

    # -- actions -----------------------------------------------------------------------

    def _text(self, reason: str, default: str) -> str:
        return clean_text(reason, MAX_REASON).strip() or default

    def sessions_of(self, account_id: int) -> list[Session]:
        """Every session that is the account, and every session OPER'd with it."""
        own = list(self.registry.online(account_id))
        opered = [s for s in self.registry.sessions.values() if s.oper_id == account_id]
        return own + [s for s in opered if s not in own]

    def kick(self, sessions: list[Session], reason: str, by: str) -> int:
        """Close these sessions with ``reason``; how many there were."""
        text = self._text(reason, f"kicked by {by}")
        for session in sessions:
            self.registry.close_session(session, "kicked", Kicked(text), text=text)
        return len(sessions)

    def ban_account(self, account_id: int, until_ms: int | None, reason: str, by: str) -> int:
        """Ban an account and close its sessions (they are told why and for how long);
        OPER powers granted with it end. Returns how many sessions were closed."""
        ban = Ban("user", str(account_id), until_ms, reason, by, self.clock.wall_ms())
        self.store.add_ban(ban)
        self.outbox.wake()
        self._user_bans[account_id] = ban
        self.revoke_oper(account_id)
        error = self.banned_error(ban)
        victims = list(self.registry.online(account_id))
        for session in victims:
            self.registry.close_session(session, "banned", error, text=error.message)
        return len(victims)

    def ban_address(self, value: str, until_ms: int | None, reason: str, by: str) -> int:
        """Ban an address or a network; every session from it is closed with the reason."""
        network = parse_network(value)
        ban = Ban("ip", str(network), until_ms, reason, by, self.clock.wall_ms())
        self.store.add_ban(ban)
        self.outbox.wake()
        self._net_bans[network] = ban
        error = self.banned_error(ban)
        victims = []
        for session in list(self.registry.sessions.values()):
            try:
                if ipaddress.ip_address(session.ip) in network:
                    victims.append(session)
            except ValueError:
                continue
        for session in victims:
            self.registry.close_session(session, "banned", error, text=error.message)
        return len(victims)

    def unban(self, kind: BanKind, value: str) -> bool:
        if kind == "user":
            found = self._user_bans.pop(int(value), None) if value.isdigit() else None
        else:
            network = parse_network(value)
            value = str(network)
            found = self._net_bans.pop(network, None)
        self.store.remove_ban(kind, value)
        self.outbox.wake()
        return found is not None

    def bans(self) -> list[Ban]:
        now = self.clock.wall_ms()
        return [
            b
            for b in [*self._user_bans.values(), *self._net_bans.values()]
            if b.until_ms is None or b.until_ms > now
        ]

    def mute(self, account_id: int, until_ms: int | None, by: str, reason: str = "") -> None:
        """Mute an account; its open sessions are told at once, with how long."""
        self.store.set_mute(account_id, until_ms, by)
        self.outbox.wake()
        self._mutes[account_id] = until_ms
        why = f": {self._text(reason, '')}" if reason.strip() else ""
        text = f"you are muted {until_text(until_ms, self.clock.wall_ms())} by {by}{why}"
        self.registry.fanout(self.registry.online(account_id), lambda enc: enc.notice(text, by))

    def unmute(self, account_id: int, by: str) -> bool:
        found = account_id in self._mutes  # its value is None for a mute until lifted
        self._mutes.pop(account_id, None)
        self.store.remove_mute(account_id)
        self.outbox.wake()
        if found:
            self.registry.fanout(
                self.registry.online(account_id),
                lambda enc: enc.notice("you may speak again", by),
            )
        return found

    def broadcast(self, text: str, by: str) -> int:
        problem = text_problem(text, self.config.limits.max_text)
        if problem is not None:
            raise InvalidField(problem)
        targets = [s for s in self.registry.sessions.values() if s.authenticated]
        self.registry.fanout(targets, lambda enc: enc.notice(text, by))
        return len(targets)

    # -- powers that follow the account ----------------------------------------------

    def set_live_role(self, account_id: int, role: Role) -> None:
        """The account's role changed: its sessions have that power from now on."""
        for session in self.registry.online(account_id):
            session.role = role
        if role != "admin":
            self.revoke_oper(account_id)

    def revoke_oper(self, account_id: int) -> None:
        """Sessions that became operators with this account's password lose it now."""
        for session in list(self.registry.sessions.values()):
            if session.oper_id == account_id:
                session.oper_id = None
                if session.account_id is None or session.account_id != account_id:
                    own = (
                        self.store.account_by_id(session.account_id) if session.account_id else None
                    )
                    session.role = own.role if own is not None else "user"
                log.info("oper revoked user=%s account=%s", session.user, account_id)
