"""A Hub with fakes around it: fake clock, in-memory store, cheap hashing, hand-run loop.

The fake encoder spells every event as the ``repr`` of a tuple, so tests read what a
session was sent with :meth:`FakeOutlet.events`. The fake outlet records bytes, flushes
and closes, and asks the hub for a flush on its first queued write (as a real door does).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from teahouse.config import AccountsSection, Config, HeartbeatSection, LimitsSection
from teahouse.core.clock import FakeClock
from teahouse.core.hub import Hub
from teahouse.core.passwords import HashParams, PasswordHasher
from teahouse.core.session import Ref, Session
from teahouse.errors import ChatError
from teahouse.store.base import Role, StoredMessage
from teahouse.store.sqlite import SQLiteStore

PASSWORD = "correct horse battery"
Event = tuple[Any, ...]


def _spell(*parts: object) -> bytes:
    return repr(parts).encode()


class FakeEncoder:
    """Every event as ``repr((kind, ...))``; keyword extras a door may add are ignored."""

    def authed(self, user: str, role: Role, ref: Ref, **extra: object) -> bytes:
        return _spell("authed", user, role, ref)

    def joined(
        self, room: str, topic: str, members: Sequence[str], ref: Ref, **extra: object
    ) -> bytes:
        return _spell("joined", room, topic, list(members), ref)

    def parted(self, room: str, ref: Ref, **extra: object) -> bytes:
        return _spell("parted", room, ref)

    def message(
        self, message: StoredMessage, *, replay: bool = False, ref: Ref = None, **extra: object
    ) -> bytes:
        m = message
        return _spell("message", m.id, m.room, m.sender, m.recipient, m.text, replay, ref)

    def replay_end(
        self, room: str | None, count: int, truncated: bool, oldest_id: int | None, **extra: object
    ) -> bytes:
        return _spell("replay_end", room, count, truncated, oldest_id)

    def presence(
        self, room: str, user: str, state: str, reason: str | None, **extra: object
    ) -> bytes:
        return _spell("presence", room, user, state, reason)

    def room_list(self, rooms: Sequence[tuple[str, int, str]], ref: Ref, **extra: object) -> bytes:
        return _spell("room_list", [tuple(r) for r in rooms], ref)

    def members(self, room: str, members: Sequence[str], ref: Ref, **extra: object) -> bytes:
        return _spell("members", room, list(members), ref)

    def history(
        self, room: str, messages: Sequence[StoredMessage], ref: Ref, **extra: object
    ) -> bytes:
        return _spell("history", room, [m.id for m in messages], ref)

    def topic(self, room: str, text: str, by: str, ref: Ref = None, **extra: object) -> bytes:
        return _spell("topic", room, text, by, ref)

    def notice(self, text: str, by: str, **extra: object) -> bytes:
        return _spell("notice", text, by)

    def admin_result(self, cmd: str, text: str, data: object, ref: Ref, **extra: object) -> bytes:
        return _spell("admin_result", cmd, text, msgspec.json.encode(data).decode(), ref)

    def error(self, error: ChatError, ref: Ref = None, **extra: object) -> bytes:
        return _spell("error", error.code, error.fatal, ref)

    def ping(self, t: int, **extra: object) -> bytes:
        return _spell("ping", t)

    def pong(self, t: int, ref: Ref, **extra: object) -> bytes:
        return _spell("pong", t, ref)

    def bye(self, ref: Ref, **extra: object) -> bytes:
        return _spell("bye", ref)


ENCODER = FakeEncoder()


class FakeOutlet:
    """Records what the hub writes, flushes and closes."""

    def __init__(self, hub: Hub | None = None, on_flush: Callable[[], None] | None = None) -> None:
        self.hub = hub
        self.on_flush = on_flush
        self.written: list[bytes] = []
        self.queued: list[bytes] = []
        self.sent: list[bytes] = []
        self.flushes = 0
        self.closes: list[bool] = []
        self.after_close: list[bytes] = []
        self.open = True

    def write(self, data: bytes) -> None:
        if self.closes:
            self.after_close.append(data)
            return
        if not self.queued and self.hub is not None:
            self.hub.want_flush(self)
        self.queued.append(data)
        self.written.append(data)

    def flush(self) -> None:
        self.flushes += 1
        if self.on_flush is not None:
            self.on_flush()
        self.sent += self.queued
        self.queued.clear()

    def close_transport(self, abort: bool) -> None:
        self.closes.append(abort)
        self.open = False

    def is_open(self) -> bool:
        return self.open

    def events(self, kind: str | None = None) -> list[Event]:
        out = [ast.literal_eval(data.decode()) for data in self.written]
        return [e for e in out if kind is None or e[0] == kind]

    def clear(self) -> None:
        self.written.clear()


def make_config(**limits: Any) -> Config:
    heartbeat = {k: limits.pop(k) for k in ("interval", "timeout") if k in limits}
    accounts = {
        k: limits.pop(k)
        for k in list(limits)
        if k in AccountsSection.__struct_fields__  # registration, login_* ...
    }
    return Config(
        heartbeat=HeartbeatSection(**heartbeat),
        limits=LimitsSection(**limits),
        accounts=AccountsSection(
            argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1, **accounts
        ),
    )


class HubKit:
    """A hub, its fakes, and helpers to connect and log in."""

    def __init__(self, config: Config, store: SQLiteStore | None = None) -> None:
        self.clock = FakeClock()
        self.store = store if store is not None else SQLiteStore(":memory:")
        self.hasher = PasswordHasher(HashParams(1, 1024, 1), workers=1)
        self.pending: list[Callable[[], None]] = []
        self.hub = Hub(config, self.store, self.hasher, self.clock, self.pending.append)
        self._port = 40000

    def run_soon(self) -> int:
        """Run what the hub scheduled with call_soon; how many callbacks ran."""
        ran = 0
        while self.pending:
            self.pending.pop(0)()
            ran += 1
        return ran

    def connect(self, ip: str = "10.0.0.1") -> Session:
        self.hub.admit(ip)
        self._port += 1
        return self.hub.open_session(FakeOutlet(self.hub), ENCODER, ip, self._port)

    def add_user(self, name: str, role: Role = "user", password: str = PASSWORD) -> None:
        self.store.create_account(name, self.hasher.hash_now(password), role)

    async def login(
        self, name: str, ip: str = "10.0.0.1", dm_since: int | None = None, create: bool = True
    ) -> Session:
        if create and self.store.get_account(name) is None:
            self.add_user(name)
        session = self.connect(ip)
        await self.hub.login(session, name, PASSWORD, dm_since, None)
        assert session.authenticated
        return session

    def close(self) -> None:
        self.hasher.close()
        self.store.close()


MakeKit = Callable[..., HubKit]
"""The ``make_kit`` fixture: ``make_kit(max_replay=5, interval=2)`` -> a HubKit."""


def outlet(session: Session) -> FakeOutlet:
    assert isinstance(session.outlet, FakeOutlet)
    return session.outlet
