"""A Hub with fakes around it: a fake clock that is also the scheduler, a real SQLite store
that commits inline (in memory, or on disk when a test needs a file or a full disk), cheap
hashing.

Hub commands return what happened; broadcasts reach the other sessions through their
encoder. The fake encoder spells every broadcast as the ``repr`` of a tuple, so tests read
what a session was sent with :meth:`FakeOutlet.events`. The fake outlet records bytes,
flushes and closes, and asks the hub for a flush on its first queued write (as a real door
does). ``kit.clock.run_soon()`` runs the end of the loop round: the outbox's commit, the
deliveries and acknowledgements waiting for it, and the outlets' flushes.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from teahouse.config import (
    AccountsSection,
    Config,
    HeartbeatSection,
    IrcSection,
    LimitsSection,
    RoomsSection,
    StorageSection,
)
from teahouse.core.clock import FakeClock
from teahouse.core.hub import Hub
from teahouse.core.passwords import HashParams, PasswordHasher
from teahouse.core.results import JoinResult, ModeChange, Replay
from teahouse.core.session import Session
from teahouse.errors import ChatError
from teahouse.store.base import Account, Role, StoredMessage
from teahouse.store.sqlite import SQLiteStore

PASSWORD = "correct horse battery"
Event = tuple[Any, ...]


def _spell(*parts: object) -> bytes:
    return repr(parts).encode()


class FakeEncoder:
    """Every broadcast as ``repr((kind, ...))``.

    A presence carries a last element, a dict of its keyword extras, only when one of them
    is set: ``("presence", "lobby", "bob", "left", "part", {"online": True})``.
    """

    def message(self, message: StoredMessage) -> bytes:
        """``("message", id, room, sender, recipient, text, sender_id, recipient_id)``."""
        m = message
        return _spell(
            "message", m.id, m.room, m.sender, m.recipient, m.text, m.sender_id, m.recipient_id
        )

    def presence(
        self,
        room: str,
        member: Session,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        extras = {
            k: v
            for k, v in (("online", online), ("by", by), ("text", text))
            if v not in (None, False)
        }
        if extras:
            return _spell("presence", room, member.user, state, reason, extras)
        return _spell("presence", room, member.user, state, reason)

    def topic(self, room: str, text: str, by: str, ts_ms: int) -> bytes:
        return _spell("topic", room, text, by)

    def mode(self, room: str, by: str, change: ModeChange) -> bytes:
        flags, args = change.flags_and_args()
        return _spell("mode", room, by, flags, args)

    def invited(self, room: str, by: str, target: str) -> bytes:
        return _spell("invited", room, by, target)

    def notice(self, text: str, by: str) -> bytes:
        return _spell("notice", text, by)

    def renamed(self, room: str, old: str, new: str) -> bytes:
        return _spell("renamed", room, old, new)

    def relay(
        self,
        kind: str,
        sender: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        if tags:
            return _spell("relay", kind, sender, room, to, text, tags)
        return _spell("relay", kind, sender, room, to, text)

    def error(self, error: ChatError) -> bytes:
        return _spell("error", error.code, error.fatal)

    def ping(self, t: int) -> bytes:
        return _spell("ping", t)


ENCODER = FakeEncoder()


class FakeOutlet:
    """Records what the hub writes, flushes and closes."""

    def __init__(
        self,
        hub: Hub | None = None,
        on_flush: Callable[[], None] | None = None,
        port: int = 40000,
        door: str = "native",
    ) -> None:
        self.hub = hub
        self.port = port
        self.door_name = door
        self.on_flush = on_flush
        self.written: list[bytes] = []
        self.queued: list[bytes] = []
        self.sent: list[bytes] = []
        self.flushes = 0
        self.closes: list[bool] = []
        self.after_close: list[bytes] = []
        self.open = True
        self.unsent = 0
        """What :meth:`backlog` adds to the queue: bytes a slow reader left unread."""
        self.holds: list[float] = []
        """Each ``hold_input`` the hub asked for (seconds): backpressure on this sender."""

    def write(self, data: bytes) -> None:
        if self.closes:
            self.after_close.append(data)
            return
        if not self.queued and self.hub is not None:
            self.hub.want_flush(self)
        self.queued.append(data)
        self.written.append(data)

    def write_all(self, lines: list[bytes], size: int) -> None:
        for data in lines:
            self.write(data)

    def peer_port(self) -> int:
        return self.port

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

    def backlog(self) -> int:
        return sum(len(d) for d in self.queued) + self.unsent

    def hold_input(self, seconds: float) -> None:
        self.holds.append(seconds)

    def events(self, kind: str | None = None) -> list[Event]:
        out = [ast.literal_eval(data.decode()) for data in self.written]
        return [e for e in out if kind is None or e[0] == kind]

    def clear(self) -> None:
        self.written.clear()


class Acks:
    """The two halves of one message's acknowledgement, as a door would get them."""

    def __init__(self) -> None:
        self.done: list[StoredMessage] = []
        self.failed: list[Exception] = []

    @property
    def message(self) -> StoredMessage:
        """The acknowledged message (exactly one must have come)."""
        assert not self.failed, self.failed
        [message] = self.done
        return message

    @property
    def id(self) -> int:
        return self.message.id

    def callbacks(self) -> tuple[Callable[[StoredMessage], None], Callable[[Exception], None]]:
        return self.done.append, self.failed.append


def make_config(**settings: Any) -> Config:
    """``make_config(max_replay=5, interval=2, registration="invite", guests=False)``: each
    key goes to the section that has it (heartbeat, accounts, irc, rooms, storage, else
    limits)."""
    heartbeat = {k: settings.pop(k) for k in ("interval", "timeout") if k in settings}

    def section(fields: tuple[str, ...]) -> dict[str, Any]:
        return {k: settings.pop(k) for k in list(settings) if k in fields}

    accounts = section(AccountsSection.__struct_fields__)
    irc = section(IrcSection.__struct_fields__)
    rooms = section(RoomsSection.__struct_fields__)
    storage = section(StorageSection.__struct_fields__)
    return Config(
        heartbeat=HeartbeatSection(**heartbeat),
        limits=LimitsSection(**settings),
        irc=IrcSection(**irc),
        rooms=RoomsSection(**rooms),
        storage=StorageSection(**storage),
        accounts=AccountsSection(
            argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1, **accounts
        ),
    )


FULL_DISK = 1 << 62
"""A free-space floor no disk reaches: every commit fails as on a full disk."""


class HubKit:
    """A hub, its fakes, and helpers to connect, log in and speak."""

    def __init__(self, config: Config, store: SQLiteStore | None = None) -> None:
        self.config = config
        self.clock = FakeClock()
        self.store = store if store is not None else SQLiteStore(":memory:")
        self.hasher = PasswordHasher(HashParams(1, 1024, 1), workers=1)
        self.hub = self.new_hub()
        self.doors: dict[str, Any] = {}
        """Doors made on this hub by the door tests (one of each kind)."""
        self.replays: dict[int, Replay] = {}
        """Session id -> the DM replay its login got (what a door sends after ``authed``)."""
        self._port = 40000

    def new_hub(self) -> Hub:
        """A hub on this kit's store, clock and hasher (a restart: see :meth:`restart`)."""
        return Hub(self.config, self.store, self.hasher, self.clock, self.clock, cloak_key=b"tests")

    def restart(self) -> None:
        """A server restart: the store file is closed and opened again, and a new hub made
        on it; nothing live survives (sessions of the old hub are left behind)."""
        path = self.store.path
        assert path != ":memory:", "a restart needs a store on disk"
        self.store.close()
        self.store = SQLiteStore(path)
        self.hub = self.new_hub()
        self.doors.clear()

    def run_soon(self) -> int:
        """End the loop round: commit, deliver, flush. How many callbacks ran."""
        return self.clock.run_soon()

    def fill_disk(self, full: bool = True) -> None:
        """Every commit fails (``full``), as on a full disk, or works again. The kit's
        store must be a file (``make_kit(on_disk=True)``)."""
        assert self.store.path != ":memory:", "a full disk needs a store on disk"
        self.store.min_free_bytes = FULL_DISK if full else 0

    def connect(self, ip: str = "10.0.0.1", door: str = "native") -> Session:
        self.hub.admit(ip)
        self._port += 1
        return self.hub.open_session(FakeOutlet(self.hub, port=self._port, door=door), ENCODER, ip)

    async def add_user(self, name: str, role: Role = "user", password: str = PASSWORD) -> Account:
        """An account made as ``user add`` makes it (a guest holding the name moves)."""
        return await self.hub.accounts.create(name, self.hasher.hash_now(password), role)

    def account(self, name: str) -> Account:
        account = self.store.get_account(name)
        assert account is not None, f"no account {name!r}"
        return account

    async def login(
        self,
        name: str,
        ip: str = "10.0.0.1",
        dm_since: int | None = None,
        create: bool = True,
        password: str = PASSWORD,
    ) -> Session:
        """A new connection logged in to ``name`` (created first unless ``create`` is
        False), with its DM replay taken as a door does (see :attr:`replays`)."""
        if create and self.store.get_account(name) is None:
            await self.add_user(name, password=password)
        session = self.connect(ip)
        await self.hub.accounts.login(session, name, password)
        assert session.authenticated
        self.replays[session.id] = self.hub.accounts.replay_dms(session, dm_since)
        return session

    def guest(self, nick: str, ip: str = "10.0.0.1") -> Session:
        session = self.connect(ip, door="irc")
        self.hub.accounts.authenticate_guest(session, nick)
        return session

    def join(self, session: Session, room: str, **kwargs: Any) -> JoinResult:
        return self.hub.rooms.join(session, room, **kwargs)

    def say(self, session: Session, room: str, text: str, nonce: str | None = None) -> Acks:
        """``messages.say``; the acknowledgement arrives at the next :meth:`run_soon`."""
        acks = Acks()
        self.hub.messages.say(session, room, text, nonce, *acks.callbacks())
        return acks

    def dm(self, session: Session, to: str, text: str, nonce: str | None = None) -> Acks:
        acks = Acks()
        self.hub.messages.dm(session, to, text, nonce, *acks.callbacks())
        return acks

    def say_many(self, session: Session, room: str, count: int) -> list[int]:
        """``count`` messages in one round, committed; their ids."""
        sent = [self.say(session, room, f"m{i}") for i in range(count)]
        self.run_soon()
        return [acks.id for acks in sent]

    def close(self) -> None:
        self.hasher.close()
        self.store.close()


MakeKit = Callable[..., HubKit]
"""The ``make_kit`` fixture: ``make_kit(max_replay=5, interval=2)`` -> a HubKit."""


def outlet(session: Session) -> FakeOutlet:
    assert isinstance(session.outlet, FakeOutlet)
    return session.outlet
