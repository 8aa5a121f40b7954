"""Server-wide moderation: bans (by user or address), mutes, kicks, broadcasts, live roles.

Bans and mutes are kept in the store and mirrored here for the checks that run on every
connection and message. Each power a session holds comes from its account's role, and a
change reaches open sessions at once (:meth:`Moderation.set_live_role`).
"""

from __future__ import annotations

import re

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.registry import Registry
from teahouse.core.session import Session
from teahouse.errors import Banned, Forbidden, InvalidField, Kicked
from teahouse.protocol.names import fold_user, text_problem
from teahouse.store.base import Ban, BanKind, Role, Store

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class Moderation:
    def __init__(self, config: Config, store: Store, clock: Clock, registry: Registry) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self._bans: dict[tuple[BanKind, str], int | None] = {}
        self._mutes: dict[str, int | None] = {}
        self.reload()

    def reload(self) -> None:
        now = self.clock.wall_ms()
        self._bans = {(b.kind, b.value): b.until_ms for b in self.store.active_bans(now)}
        self._mutes = self.store.active_mutes(now)

    # -- checks ------------------------------------------------------------------------

    def banned(self, kind: BanKind, value: str) -> bool:
        if (kind, value) not in self._bans:
            return False
        until = self._bans[(kind, value)]
        if until is not None and until <= self.clock.wall_ms():
            del self._bans[(kind, value)]
            return False
        return True

    def check_address(self, ip: str) -> None:
        """Raise :class:`Banned` for a banned address: the first check, before TLS."""
        if self.banned("ip", ip):
            raise Banned("this address is banned")

    def check_not_muted(self, session: Session) -> None:
        key = session.key
        if key is None or key not in self._mutes:
            return
        until = self._mutes[key]
        now_ms = self.clock.wall_ms()
        if until is not None and until <= now_ms:
            del self._mutes[key]
            return
        left = "" if until is None else f" for {(until - now_ms) / 1000:.0f} more seconds"
        raise Forbidden(f"you are muted{left}", detail="muted")

    # -- actions -----------------------------------------------------------------------

    def kick(self, user: str, reason: str) -> int:
        """Close every session of ``user``; how many there were."""
        sessions = list(self.registry.by_name(user))
        text = _CONTROL.sub("", reason)[:300] or "kicked by an operator"
        for session in sessions:
            self.registry.close_session(session, "kicked", Kicked(text), text=text)
        return len(sessions)

    def ban(self, kind: BanKind, value: str, until_ms: int | None, reason: str, by: str) -> int:
        """Store a ban and close the sessions it covers; how many were closed."""
        if kind == "user":
            value = fold_user(value)
        self.store.add_ban(Ban(kind, value, until_ms, reason, by, self.clock.wall_ms()))
        self._bans[(kind, value)] = until_ms
        if kind == "user":
            victims = list(self.registry.by_name(value))
        else:
            victims = [s for s in self.registry.sessions.values() if s.ip == value]
        text = _CONTROL.sub("", reason)[:300] or "banned by an operator"
        for session in victims:
            self.registry.close_session(session, "banned", Banned(text), text=text)
        return len(victims)

    def unban(self, kind: BanKind, value: str) -> bool:
        if kind == "user":
            value = fold_user(value)
        self._bans.pop((kind, value), None)
        return self.store.remove_ban(kind, value)

    def mute(self, user: str, until_ms: int | None, by: str) -> None:
        self.store.set_mute(user, until_ms, by)
        self._mutes[fold_user(user)] = until_ms

    def unmute(self, user: str) -> bool:
        self._mutes.pop(fold_user(user), None)
        return self.store.remove_mute(user)

    def broadcast(self, text: str, by: str) -> int:
        problem = text_problem(text, self.config.limits.max_text)
        if problem is not None:
            raise InvalidField(problem)
        targets = [s for s in self.registry.sessions.values() if s.authenticated]
        self.registry.fanout(targets, lambda enc: enc.notice(text, by))
        return len(targets)

    def set_live_role(self, user: str, role: Role) -> None:
        for session in self.registry.by_name(user):
            if not session.guest:
                session.role = role
