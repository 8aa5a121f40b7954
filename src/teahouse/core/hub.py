"""The hub: sessions, rooms, presence, fan-out, heartbeats, and the one cleanup routine.

Doors call the hub with decoded requests; the hub checks them, stores what must last, and
hands bytes (spelled by each session's :class:`~teahouse.core.session.Encoder`) to
outlets. Requests either succeed or raise :class:`~teahouse.errors.ChatError`; the door
answers errors.

Two rules keep it fast and bounded:

- *Group commit, then write.* Outlets queue bytes and ask for a flush; once per event-loop
  round the hub commits the store and then lets every dirty outlet write its queue in one
  call. A message a client saw is always stored.
- *No timer per connection.* :meth:`Hub.sweep` runs on one shared timer and applies the
  heartbeat policy to every session.

Every way a connection ends (EOF, reset, error, heartbeat timeout, kick, ban, shutdown,
quit, slow consumer) goes through :meth:`Hub.close_session`, which releases everything the
session held at once.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from teahouse.config import Config
from teahouse.core.clock import Clock
from teahouse.core.heartbeat import Action, HeartbeatPolicy, heartbeat_action
from teahouse.core.limits import AddressRate, Allowlist, Rate
from teahouse.core.passwords import PasswordHasher
from teahouse.core.room import Room
from teahouse.core.session import Encoder, Outlet, Ref, Session, SessionState
from teahouse.core.throttle import LoginThrottle
from teahouse.errors import (
    BadCredentials,
    Banned,
    ChatError,
    Forbidden,
    HeartbeatTimeout,
    InvalidField,
    InvalidName,
    Kicked,
    NoSuchRoom,
    NoSuchUser,
    NotAuthed,
    NotInRoom,
    RegistrationClosed,
    SlowConsumer,
    Throttled,
    Timeout,
    TooManyConnections,
    UserTaken,
    WeakPassword,
)
from teahouse.protocol.names import fold_user, is_room_name, is_user_name, text_problem
from teahouse.store.base import Account, Ban, BanKind, Role, Store, StoredMessage

log = logging.getLogger("teahouse.hub")


def _spell_rename(room: str, old: str, new: str, encoder: Encoder) -> bytes:
    return encoder.renamed(room, old, new)


def mask_matches(mask: str, target: str) -> bool:
    """IRC wildcard match (``*``, ``?``), case-insensitive; ``[`` and ``]`` are literal."""
    pattern = re.escape(mask.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(pattern, target.lower()) is not None


DEFAULT_REPLAY = 50
"""Messages replayed on ``join`` without ``since``."""
NONCE_MEMORY_MS = 15 * 60 * 1000
"""How long a (user, nonce) pair is remembered; the contract asks for at least 10 minutes."""
MAX_TOPIC = 390
SWEEP_SLICE = 0.02
"""Longest the heartbeat sweep runs before it lets other work in (seconds)."""
MAX_PASSWORD = 1024
"""Longer passwords are refused before hashing: a security limit on CPU per attempt."""


@dataclass(slots=True)
class Stats:
    connections_total: int = 0
    messages_total: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    janitor_repairs: int = 0
    closed: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class JanitorReport:
    sessions: int
    authenticated: int
    rooms: int
    transports_open: int
    repaired: int


class AdminRunner:
    """What the hub calls for ``admin`` frames (set by the server; see teahouse.admin)."""

    async def run_for(
        self, session: Session, cmd: str, args: dict[str, object]
    ) -> tuple[str, object]:
        raise Forbidden("operator commands are not available")


class Hub:
    def __init__(
        self,
        config: Config,
        store: Store,
        hasher: PasswordHasher,
        clock: Clock,
        call_soon: Callable[[Callable[[], None]], object],
    ) -> None:
        self.config = config
        self.store = store
        self.hasher = hasher
        self.clock = clock
        self._call_soon = call_soon
        self.policy = HeartbeatPolicy(
            interval=config.heartbeat.interval,
            timeout=config.heartbeat.timeout,
            login_timeout=config.limits.login_timeout,
        )
        acc = config.accounts
        self.throttle = LoginThrottle(
            free_attempts=acc.login_free_attempts,
            base_delay=acc.login_base_delay,
            max_delay=acc.login_max_delay,
        )
        self.sessions: dict[int, Session] = {}
        self.users: dict[str, set[Session]] = {}
        self.rooms: dict[str, Room] = {}
        self.ip_counts: dict[str, int] = {}
        self.stats = Stats()
        self.admin: AdminRunner = AdminRunner()
        self.accepting = True
        lim = config.limits
        self.allowlist = Allowlist(lim.allowlist)
        self.accept_rate = AddressRate(
            Rate(lim.connections_per_ip_per_second, lim.connections_per_ip_burst)
        )
        per_hour = lim.registrations_per_ip_per_hour
        self.registration_rate = AddressRate(Rate(per_hour / 3600, max(per_hour, 1.0)))
        self.shedding = False
        """True while the memory guard refuses new connections (RSS over the limit)."""
        self._ids = itertools.count(1)
        self._dirty: list[Outlet] = []
        self._flush_scheduled = False
        self._doomed: list[tuple[Session, str, ChatError]] = []
        """Sessions the sweep condemned, closed a slice at a time."""
        self._doomed_ids: set[int] = set()
        self._bans: dict[tuple[BanKind, str], int | None] = {}
        self._mutes: dict[str, int | None] = {}
        self.reload_moderation()

    # -- output: group commit, then one write per outlet per loop round ----------------

    def want_flush(self, outlet: Outlet) -> None:
        """An outlet has queued bytes; it will be flushed at the end of this loop round."""
        self._dirty.append(outlet)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._call_soon(self.flush)

    def flush(self) -> None:
        """Commit the store, then write every dirty outlet's queue."""
        self._flush_scheduled = False
        try:
            self.store.flush()
        except Exception:
            # A failing disk must not wedge every connection's output as well.
            log.exception("store commit failed; the last round's writes may be lost")
        dirty, self._dirty = self._dirty, []
        for outlet in dirty:
            outlet.flush()

    # -- connections -----------------------------------------------------------------

    def admit(self, ip: str) -> None:
        """Check a new connection from ``ip`` before anything is read from it.

        Raises :class:`Banned` or :class:`TooManyConnections`.
        """
        if not self.accepting:
            raise TooManyConnections("the server is shutting down")
        self.check_address(ip)
        lim = self.config.limits
        if self.shedding:
            raise TooManyConnections("the server is low on memory; try again later")
        if len(self.sessions) >= lim.max_connections:
            raise TooManyConnections("the server is full")
        if ip in self.allowlist:
            return
        if self.ip_counts.get(ip, 0) >= lim.max_connections_per_ip:
            raise TooManyConnections("too many connections from your address")
        if self.accept_rate.allow(ip, self.clock.monotonic()) is not None:
            raise TooManyConnections("your address opens connections too fast")

    def check_address(self, ip: str) -> None:
        """Raise :class:`Banned` for a banned address: the first check, before TLS."""
        if self._banned("ip", ip):
            raise Banned("this address is banned")

    def open_session(self, outlet: Outlet, encoder: Encoder, ip: str, port: int) -> Session:
        """Register a connection (after :meth:`admit` passed)."""
        session = Session(
            next(self._ids),
            outlet,
            encoder,
            ip,
            port,
            self.clock.monotonic(),
            self.clock.wall_ms(),
        )
        self.sessions[session.id] = session
        self.ip_counts[ip] = self.ip_counts.get(ip, 0) + 1
        self.stats.connections_total += 1
        return session

    def received(self, session: Session, nbytes: int) -> None:
        """Bytes arrived from ``session``: a sign of life."""
        session.last_received = self.clock.monotonic()
        session.bytes_in += nbytes
        self.stats.bytes_in += nbytes

    def close_session(
        self,
        session: Session,
        reason: str,
        error: ChatError | None = None,
        *,
        abort: bool = False,
        ref: Ref = None,
    ) -> None:
        """The one cleanup routine. Idempotent.

        Sends ``error`` (best effort) when given, leaves every room (others see presence
        ``left`` with ``reason``), forgets the session, and closes its transport.
        """
        if session.state is SessionState.CLOSED:
            return
        if error is not None and not abort:
            session.outlet.write(session.encoder.error(error, ref))
        session.state = SessionState.CLOSED
        if session.key is not None:
            peers = self.users.get(session.key)
            if peers is not None:
                peers.discard(session)
                if not peers:
                    del self.users[session.key]
        for name in session.rooms:
            self._leave(session, name, reason)
        session.rooms.clear()
        self.sessions.pop(session.id, None)
        left = self.ip_counts.get(session.ip, 0) - 1
        if left > 0:
            self.ip_counts[session.ip] = left
        else:
            self.ip_counts.pop(session.ip, None)
        self.stats.closed[reason] += 1
        # Commit before the last bytes leave: anything acknowledged must be stored.
        self.store.flush()
        session.outlet.close_transport(abort)
        log.info(
            "connection closed peer=%s:%d user=%s reason=%s",
            session.ip,
            session.port,
            session.user or "-",
            reason,
        )

    def shutdown_all(self, error: ChatError) -> None:
        """Stop accepting and close every session with ``error``."""
        self.accepting = False
        for session in list(self.sessions.values()):
            self.close_session(session, "shutdown", error)

    # -- heartbeats ------------------------------------------------------------------

    def sweep(self) -> None:
        """Apply the heartbeat policy to every session. Called on one shared timer.

        The scan is cheap and runs at once; the sessions it condemns are closed by
        :meth:`_close_doomed` in slices of at most ``SWEEP_SLICE`` seconds, so when ten
        thousand dead peers time out together live users never wait behind all of it.
        """
        now = self.clock.monotonic()
        quiet_since = now - self.policy.interval
        line_deadline = now - self.config.limits.partial_line_timeout
        doomed: list[tuple[Session, str, ChatError]] = []
        pending = self._doomed_ids
        for session in list(self.sessions.values()):
            if session.id in pending:
                continue  # condemned by an earlier sweep, its slice is still to come
            verdict = self._sweep_check(session, now, quiet_since, line_deadline)
            if verdict is not None:
                doomed.append((session, *verdict))
                pending.add(session.id)
        if doomed:
            self._doomed.extend(doomed)
            self._leave_quietly([(s, reason) for s, reason, _ in doomed])
            self._close_doomed()

    def _sweep_check(
        self, session: Session, now: float, quiet_since: float, line_deadline: float
    ) -> tuple[str, ChatError] | None:
        """Ping ``session`` if due; the reason and error to close it with, if it must go."""
        partial = session.partial_since
        if partial is not None and partial < line_deadline:
            # Slowloris: a line that never ends holds a buffer and a slot for nothing.
            return "slowloris", Timeout("a line was not finished in time")
        if session.last_received > quiet_since and session.state is SessionState.AUTHED:
            return None
        action = heartbeat_action(
            self.policy,
            now=now,
            last_received=session.last_received,
            last_ping=session.last_ping,
            connected_at=session.connected_at,
            authenticated=session.authenticated,
        )
        if action is Action.PING:
            session.last_ping = now
            session.last_ping_t = int(now * 1000)
            session.send(session.encoder.ping(session.last_ping_t))
        elif action is Action.TIMEOUT:
            silent = now - session.last_received
            return "timeout", HeartbeatTimeout(f"nothing received for {silent:.1f} s")
        elif action is Action.LOGIN_TIMEOUT:
            return "login_timeout", Timeout()
        return None

    def _leave_quietly(self, sessions: list[tuple[Session, str]]) -> None:
        """Take many sessions out of their rooms at once; the members who stay hear one
        ``left`` per user, and no presence goes to a session that is about to close too."""
        for session, _ in sessions:
            if session.key is not None:
                peers = self.users.get(session.key)
                if peers is not None:
                    peers.discard(session)
                    if not peers:
                        del self.users[session.key]
        departures: list[tuple[Room, str, str]] = []
        for session, reason in sessions:
            for name in session.rooms:
                room = self.rooms.get(name)
                if room is not None and room.remove(session) and session.user is not None:
                    departures.append((room, session.user, reason))
            session.rooms.clear()
        for room, user, reason in departures:
            online = fold_user(user) in self.users
            self._presence(room, user, "left", reason, online=online)
            if not room.sessions:
                self.rooms.pop(room.name, None)

    def _close_doomed(self) -> None:
        started = time.perf_counter()
        doomed = self._doomed
        while doomed:
            session, reason, error = doomed.pop()
            self._doomed_ids.discard(session.id)
            self.close_session(session, reason, error)
            if len(doomed) & 63 == 0 and time.perf_counter() - started > SWEEP_SLICE:
                self._call_soon(self._close_doomed)
                return

    def check_memory(self, rss_bytes: int) -> int:
        """The memory guard: above ``limits.max_rss_mb``, refuse new connections and drop
        the connections with the most unsent output. Returns how many were dropped."""
        limit = self.config.limits.max_rss_mb * 1024 * 1024
        if limit <= 0:
            return 0
        if rss_bytes < limit * 0.9:
            if self.shedding:
                log.warning("memory guard: RSS %d MiB, accepting again", rss_bytes >> 20)
            self.shedding = False
            return 0
        if rss_bytes < limit:
            return 0
        if not self.shedding:
            log.warning("memory guard: RSS %d MiB over the limit; shedding load", rss_bytes >> 20)
        self.shedding = True
        backlogged = [s for s in self.sessions.values() if s.outlet.backlog() > 65536]
        backlogged.sort(key=lambda s: s.outlet.backlog(), reverse=True)
        victims = backlogged[: max(1, len(backlogged) // 10)]
        for session in victims:
            self.close_session(
                session, "memory_guard", SlowConsumer("the server is low on memory"), abort=True
            )
        return len(victims)

    def pong(self, session: Session, t: int) -> None:
        if session.last_ping is not None and t == session.last_ping_t:
            session.rtt = self.clock.monotonic() - session.last_ping

    # -- janitor ---------------------------------------------------------------------

    def janitor(self, transports_open: int) -> JanitorReport:
        """Check the invariants and repair any leak (the tutorial's ``clear_socket``).

        ``transports_open`` is how many transports the doors hold open. Every leak found
        is repaired, logged and counted in ``stats.janitor_repairs``.
        """
        repaired = 0
        for session in list(self.sessions.values()):
            if not session.outlet.is_open():
                log.warning("janitor: session %r had a closed transport; releasing", session)
                self.close_session(session, "leak")
                repaired += 1
        for room in list(self.rooms.values()):
            for session in list(room.sessions):
                if session.id not in self.sessions:
                    log.warning("janitor: room %s held dead session %r", room.name, session)
                    if room.remove(session) and session.user is not None:
                        self._presence(room, session.user, "left", "leak")
                    repaired += 1
            if not room.sessions:
                del self.rooms[room.name]
        for key, peers in list(self.users.items()):
            for session in list(peers):
                if session.id not in self.sessions:
                    log.warning("janitor: user %s held dead session %r", key, session)
                    peers.discard(session)
                    repaired += 1
            if not peers:
                del self.users[key]
        if transports_open != len(self.sessions):
            log.warning(
                "janitor: %d transports open but %d sessions registered",
                transports_open,
                len(self.sessions),
            )
        self.stats.janitor_repairs += repaired
        report = JanitorReport(
            sessions=len(self.sessions),
            authenticated=sum(1 for s in self.sessions.values() if s.authenticated),
            rooms=len(self.rooms),
            transports_open=transports_open,
            repaired=repaired,
        )
        log.info(
            "janitor: sessions=%d authenticated=%d rooms=%d transports=%d repaired=%d",
            report.sessions,
            report.authenticated,
            report.rooms,
            report.transports_open,
            report.repaired,
        )
        return report

    # -- accounts --------------------------------------------------------------------

    def _throttle_keys(self, session: Session, name: str) -> list[str]:
        keys = [f"user:{fold_user(name)}"]
        if session.ip not in self.allowlist:
            keys.append(f"ip:{session.ip}")
        return keys

    def check_login(self, session: Session, name: str) -> list[str]:
        """The cheap checks of a login, synchronously: a door calls this first, so a
        throttled attempt (most of a login flood) costs no task and no pause in reading.
        Returns the throttle keys; raises :class:`Throttled` or :class:`InvalidField`."""
        self._require_unauthed(session)
        keys = self._throttle_keys(session, name)
        wait = self.throttle.retry_after(keys, self.clock.monotonic())
        if wait is not None:
            raise Throttled(retry_after=round(wait, 3))
        return keys

    async def login(
        self,
        session: Session,
        name: str,
        password: str,
        dm_since: int | None,
        ref: Ref,
        *,
        replay_dms: bool = True,
    ) -> None:
        """Check the password off the loop; on success send ``authed`` and the DM replay."""
        keys = self.check_login(session, name)
        account = self.store.get_account(name) if is_user_name(name) else None
        exists = account is not None
        if len(password) > MAX_PASSWORD:
            account = None
        suspect = self.throttle.suspect(keys, self.clock.monotonic())
        ok = await self.hasher.verify(
            account.password_hash if account else None, password, suspect=suspect
        )
        if session.closed:
            return
        if not ok or account is None:
            # Per-name entries only for real accounts: names are no secret here
            # (register says user_taken), and random names would fill the table.
            self.throttle.failure(keys if exists else keys[1:], self.clock.monotonic())
            raise BadCredentials()
        self.throttle.success(keys)
        if self._banned("user", fold_user(account.name)):
            raise Banned()
        self._authenticate(session, account, ref)
        if replay_dms:
            self.replay_dms(session, dm_since)

    async def register(
        self,
        session: Session,
        name: str,
        password: str,
        invite: str | None,
        ref: Ref,
        *,
        replay_dms: bool = True,
    ) -> None:
        self._require_unauthed(session)
        mode = self.config.accounts.registration
        if mode == "closed":
            raise RegistrationClosed()
        # Without a valid invite, say nothing about names or passwords.
        if mode == "invite" and (not invite or not self.store.invite_available(invite)):
            raise RegistrationClosed("registration needs a valid, unused invite code")
        if not is_user_name(name):
            raise InvalidName(
                "user names start with a letter and hold up to 32 letters, digits or _-[]\\^{}|"
            )
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
        password_hash = await self.hasher.hash(password, suspect=suspect)
        if session.closed:
            return
        # Used only now, so a throttled or failed hash does not burn the code.
        if mode == "invite" and (not invite or not self.store.use_invite(invite, name)):
            raise RegistrationClosed("registration needs a valid, unused invite code")
        account = self.store.create_account(name, password_hash, "user")
        log.info("account registered user=%s peer=%s", account.name, session.ip)
        self._authenticate(session, account, ref)
        if replay_dms:
            self.replay_dms(session, None)

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

    def authenticate_guest(self, session: Session, nick: str) -> None:
        """Let ``session`` in without an account, as ``nick`` (IRC guests).

        Raises :class:`UserTaken` when an account owns the name or someone online uses it.
        """
        if session.authenticated:
            raise InvalidField("this connection is already logged in")
        if not is_user_name(nick):
            raise InvalidName("that nick does not follow the naming rules")
        if self.store.get_account(nick) is not None:
            raise UserTaken("that nick belongs to a registered account", detail="registered")
        if self.users.get(fold_user(nick)):
            raise UserTaken("that nick is in use", detail="in_use")
        session.state = SessionState.AUTHED
        session.user = nick
        session.key = fold_user(nick)
        session.role = "user"
        session.guest = True
        self.users.setdefault(session.key, set()).add(session)
        log.info("guest login user=%s peer=%s", nick, session.ip)

    def _authenticate(self, session: Session, account: Account, ref: Ref) -> None:
        if session.guest and session.key is not None:
            # A guest logging in to an account becomes that account's session.
            self._forget_user_session(session)
            session.guest = False
        session.state = SessionState.AUTHED
        session.user = account.name
        session.key = fold_user(account.name)
        session.role = account.role
        self.users.setdefault(session.key, set()).add(session)
        session.send(session.encoder.authed(account.name, account.role, ref))
        log.info("login user=%s role=%s peer=%s", account.name, account.role, session.ip)

    def _forget_user_session(self, session: Session) -> None:
        assert session.key is not None
        peers = self.users.get(session.key)
        if peers is not None:
            peers.discard(session)
            if not peers:
                del self.users[session.key]

    def replay_dms(self, session: Session, dm_since: int | None) -> None:
        """Send stored direct messages: after ``dm_since``, else those never delivered."""
        assert session.user is not None
        limit = self.config.limits.max_replay
        if dm_since is not None:
            page = self.store.dms_after(session.user, dm_since, limit, incoming_only=False)
        else:
            cursor = self.store.dm_cursor(session.user)
            page = self.store.dms_after(session.user, cursor, limit, incoming_only=True)
        encoder = session.encoder
        for message in page.messages:
            session.send(encoder.message(message, replay=True))
        oldest = page.messages[0].id if page.messages else None
        newest = self.store.dms_before(session.user, None, 1).messages
        last_id = newest[0].id if newest else 0
        session.send(
            encoder.replay_end(None, len(page.messages), page.more, oldest, last_id=last_id)
        )
        if page.messages:
            self.store.set_dm_cursor(session.user, page.messages[-1].id)

    # -- rooms -----------------------------------------------------------------------

    def _authed(self, session: Session) -> tuple[str, str]:
        if session.user is None or session.key is None or not session.authenticated:
            raise NotAuthed()
        return session.user, session.key

    def _room_name(self, name: str) -> str:
        if not is_room_name(name):
            raise InvalidName(
                "room names are 1-50 lower-case letters, digits, _ or -, starting with a "
                "letter or digit"
            )
        return name

    def _live_room(self, name: str, create: bool) -> Room:
        room = self.rooms.get(name)
        if room is not None:
            return room
        record = self.store.get_room(name)
        if record is None:
            if not create:
                raise NoSuchRoom(f"there is no room {name!r}")
            record = self.store.create_room(name, self.clock.wall_ms())
        room = Room(record.name, record.topic, record.topic_by, record.created_ms)
        self.rooms[name] = room
        return room

    def _known_room(self, name: str) -> Room | None:
        """The live room, or None when it exists only in the store; NoSuchRoom otherwise."""
        room = self.rooms.get(name)
        if room is None and self.store.get_room(name) is None:
            raise NoSuchRoom(f"there is no room {name!r}")
        return room

    def join(
        self, session: Session, name: str, since: int | None, ref: Ref, key: str | None = None
    ) -> None:
        user, user_key = self._authed(session)
        room = self._live_room(self._room_name(name), create=True)
        if session not in room.sessions:
            self._check_can_join(session, room, key)
        if not room.sessions:
            room.ops.add(user_key)  # whoever opens an empty room runs it, as on IRC
        room.invited.discard(user_key)
        first = room.add(session)
        session.rooms.add(room.name)
        encoder = session.encoder
        session.send(encoder.joined(room.name, room.topic, room.member_names(), ref))
        if since is not None:
            page = self.store.room_after(room.name, since, self.config.limits.max_replay)
            truncated = page.more
        else:
            # Never more than the max_replay announced in welcome; say so when it cut.
            limit = min(DEFAULT_REPLAY, self.config.limits.max_replay)
            page = self.store.room_before(room.name, None, limit)
            truncated = page.more and limit < DEFAULT_REPLAY
        for message in page.messages:
            session.send(encoder.message(message, replay=True))
        oldest = page.messages[0].id if page.messages else None
        session.send(encoder.replay_end(room.name, len(page.messages), truncated, oldest))
        if first:
            self._presence(room, user, "joined", None, exclude=session)

    def hostmask(self, session: Session) -> str:
        """``nick!user@host`` as IRC shows it; also what room ban masks match."""
        return f"{session.user}!{session.user}@{session.ip}"

    def is_room_op(self, session: Session, room: Room) -> bool:
        return session.role == "admin" or session.key in room.ops

    def _check_can_join(self, session: Session, room: Room, key: str | None) -> None:
        if session.role == "admin":
            return
        assert session.key is not None
        mask = self.hostmask(session)
        if any(mask_matches(ban, mask) for ban, _, _ in room.bans):
            raise Forbidden(f"you are banned from {room.name}", detail="banned")
        if "i" in room.modes and session.key not in room.invited:
            raise Forbidden(f"{room.name} is invite only", detail="invite_only")
        if room.key is not None and key != room.key:
            raise Forbidden(f"{room.name} needs a key", detail="bad_key")
        if room.limit is not None and room.member_count >= room.limit:
            raise Forbidden(f"{room.name} is full", detail="full")

    def kick_from_room(self, session: Session, name: str, target: str, reason: str) -> None:
        """Remove every session of ``target`` from a room (needs operator status)."""
        by, _ = self._authed(session)
        room = self.rooms.get(self._room_name(name))
        if room is None or session not in room.sessions:
            self._known_room(name)
            raise NotInRoom(f"you are not in {name!r}")
        if not self.is_room_op(session, room):
            raise Forbidden("you are not a room operator", detail="not_op")
        victims = [s for s in room.sessions if s.key == fold_user(target)]
        if not victims:
            raise NotInRoom(f"{target} is not in {name}", detail="target")
        display = victims[0].user or target
        for victim in victims:
            victim.rooms.discard(room.name)
            room.remove(victim)
            victim.send(
                victim.encoder.presence(
                    room.name, display, "left", "kicked", online=True, by=by, text=reason
                )
            )
        self._fanout(
            room.sessions,
            lambda enc: enc.presence(
                room.name, display, "left", "kicked", online=True, by=by, text=reason
            ),
        )
        if not room.sessions:
            del self.rooms[room.name]

    def part(self, session: Session, name: str, ref: Ref) -> None:
        self._authed(session)
        name = self._room_name(name)
        if name not in session.rooms:
            self._known_room(name)
            raise NotInRoom(f"you are not in {name!r}")
        session.rooms.discard(name)
        session.send(session.encoder.parted(name, ref))
        self._leave(session, name, "part")

    def _leave(self, session: Session, name: str, reason: str) -> None:
        room = self.rooms.get(name)
        if room is None:
            return
        if room.remove(session) and session.user is not None:
            online = session.key in self.users
            self._presence(room, session.user, "left", reason, online=online)
        if not room.sessions:
            del self.rooms[name]

    def _presence(
        self,
        room: Room,
        user: str,
        state: str,
        reason: str | None,
        exclude: Session | None = None,
        *,
        online: bool = False,
    ) -> None:
        self._fanout(
            room.sessions,
            lambda enc: enc.presence(room.name, user, state, reason, online=online),
            exclude,
        )

    def _fanout(
        self,
        sessions: Iterable[Session],
        spell: Callable[[Encoder], bytes],
        exclude: Session | None = None,
    ) -> None:
        """Send one event to many sessions, encoded once per encoder (door and variant)."""
        last_encoder: Encoder | None = None
        data = b""
        cache: dict[int, bytes] = {}
        for session in sessions:
            if session is exclude:
                continue
            encoder = session.encoder
            if encoder is not last_encoder:
                last_encoder = encoder
                found = cache.get(id(encoder))
                if found is None:
                    found = cache[id(encoder)] = spell(encoder)
                data = found
            if data:
                session.outlet.write(data)

    def say(self, session: Session, name: str, text: str, nonce: str | None, ref: Ref) -> None:
        user, _ = self._authed(session)
        name = self._room_name(name)
        if name not in session.rooms:
            self._known_room(name)
            raise NotInRoom(f"join {name!r} before you speak in it")
        self._check_text(text)
        self._check_not_muted(session)
        room = self.rooms[name]
        if "m" in room.modes and not (self.is_room_op(session, room) or session.key in room.voiced):
            raise Forbidden(
                f"{name} is moderated: only operators and voiced users speak", detail="moderated"
            )
        if nonce is not None and self._resend(session, nonce, ref, (name, "")):
            return
        message = self._store_message(user, text, nonce, room=name)
        self._fanout(room.sessions, lambda enc: enc.message(message), exclude=session)
        session.send(session.encoder.message(message, ref=ref))

    def dm(self, session: Session, to: str, text: str, nonce: str | None, ref: Ref) -> None:
        user, key = self._authed(session)
        self._check_text(text)
        account = self.store.get_account(to) if is_user_name(to) else None
        to_key = fold_user(to)
        if account is not None:
            to_name = account.name
        else:
            online = self.users.get(to_key)
            if not online:
                raise NoSuchUser(f"there is no user {to!r}")
            to_name = next(iter(online)).user or to
        self._check_not_muted(session)
        if nonce is not None and self._resend(session, nonce, ref, (None, to_key)):
            return
        message = self._store_message(user, text, nonce, recipient=to_name)
        targets = set(self.users.get(to_key, ())) | self.users.get(key, set())
        self._fanout(targets, lambda enc: enc.message(message), exclude=session)
        session.send(session.encoder.message(message, ref=ref))
        if account is not None and self.users.get(to_key):
            self.store.set_dm_cursor(account.name, message.id)

    def _check_text(self, text: str) -> None:
        problem = text_problem(text, self.config.limits.max_text)
        if problem is not None:
            raise InvalidField(problem)

    def _check_not_muted(self, session: Session) -> None:
        assert session.key is not None
        if session.key not in self._mutes:
            return
        until = self._mutes[session.key]
        now_ms = self.clock.wall_ms()
        if until is not None and until <= now_ms:
            del self._mutes[session.key]
            return
        left = "" if until is None else f" for {(until - now_ms) / 1000:.0f} more seconds"
        raise Forbidden(f"you are muted{left}", detail="muted")

    def _resend(
        self, session: Session, nonce: str, ref: Ref, target: tuple[str | None, str]
    ) -> bool:
        """A retried say/dm: send the original back to the sender only. True if found."""
        assert session.user is not None
        since = self.clock.wall_ms() - NONCE_MEMORY_MS
        original = self.store.find_by_nonce(session.user, nonce, since)
        if original is None or (original.room, fold_user(original.recipient or "")) != target:
            return False  # a nonce reused for another room or person is a new message
        session.send(session.encoder.message(original, ref=ref))
        return True

    def _store_message(
        self,
        sender: str,
        text: str,
        nonce: str | None,
        *,
        room: str | None = None,
        recipient: str | None = None,
    ) -> StoredMessage:
        message = StoredMessage(
            id=self.store.next_message_id(),
            sender=sender,
            text=text,
            ts_ms=self.clock.wall_ms(),
            room=room,
            recipient=recipient,
            nonce=nonce,
        )
        self.store.append_message(message)
        self.stats.messages_total += 1
        return message

    def relay(
        self, session: Session, kind: str, room: str | None, to: str | None, text: str
    ) -> None:
        """Pass a live-only ``notice``/``ctcp`` to a room's members or to a user; not stored.

        Raises like :meth:`say` and :meth:`dm` do (membership, mute, moderation, no such
        user), so a door can decide whether to tell the sender.
        """
        user, key = self._authed(session)
        self._check_not_muted(session)
        if room is not None:
            name = self._room_name(room)
            if name not in session.rooms:
                self._known_room(name)
                raise NotInRoom(f"join {name!r} before you speak in it")
            live = self.rooms[name]
            if "m" in live.modes and not (self.is_room_op(session, live) or key in live.voiced):
                raise Forbidden(f"{name} is moderated", detail="moderated")
            targets: Iterable[Session] = live.sessions
        else:
            assert to is not None
            targets = self.users.get(fold_user(to), set())
            if not targets:
                raise NoSuchUser(f"{to!r} is not online")
        self._fanout(targets, lambda enc: enc.relay(kind, user, room, to, text), exclude=session)

    def list_rooms(self, session: Session, ref: Ref) -> None:
        self._authed(session)
        session.send(session.encoder.room_list(self.room_summaries(), ref))

    def room_summaries(self) -> list[tuple[str, int, str]]:
        """(name, members online, topic) of every room, live or stored."""
        out = []
        for record in self.store.list_rooms():
            live = self.rooms.get(record.name)
            out.append((record.name, live.member_count if live else 0, record.topic))
        return out

    def who(self, session: Session, name: str, ref: Ref) -> None:
        self._authed(session)
        room = self._known_room(self._room_name(name))
        members = room.member_names() if room else []
        session.send(session.encoder.members(name, members, ref))

    def history(
        self,
        session: Session,
        name: str,
        before: int | None,
        since: int | None,
        limit: int | None,
        ref: Ref,
    ) -> None:
        self._authed(session)
        name = self._room_name(name)
        self.check_history_access(session, name)
        count = self._page_size(before, since, limit)
        if since is not None:
            page = self.store.room_since(name, since, count)
        else:
            page = self.store.room_before(name, before, count)
        session.send(session.encoder.history(name, page.messages, ref))

    def _page_size(self, before: int | None, since: int | None, limit: int | None) -> int:
        """Check a history request's paging; the number of messages to send."""
        cap = self.config.limits.max_replay
        count = min(DEFAULT_REPLAY, cap) if limit is None else limit
        if not 1 <= count <= cap:
            raise InvalidField(f"limit must be between 1 and {cap}")
        if before is not None and since is not None:
            raise InvalidField("give 'before' or 'since', not both")
        return count

    def check_history_access(self, session: Session, name: str) -> None:
        """A closed room (+i or +k) shows its history to members and admins only."""
        room = self._known_room(name)
        if room is None or session.role == "admin" or session in room.sessions:
            return
        if "i" in room.modes or room.key is not None:
            raise Forbidden(f"{name} is closed; join it to read its history", detail="closed")

    def dm_history(
        self,
        session: Session,
        before: int | None,
        since: int | None,
        limit: int | None,
        ref: Ref,
    ) -> None:
        """Page through the user's direct messages (sent and received), oldest first."""
        user, _ = self._authed(session)
        count = self._page_size(before, since, limit)
        if since is not None:
            page = self.store.dms_since(user, since, count)
        else:
            page = self.store.dms_before(user, before, count)
        session.send(session.encoder.history(None, page.messages, ref))

    def set_topic(self, session: Session, name: str, text: str, ref: Ref) -> None:
        user, _ = self._authed(session)
        name = self._room_name(name)
        if name not in session.rooms and session.role != "admin":
            self._known_room(name)
            raise NotInRoom(f"join {name!r} to set its topic")
        room = self.rooms.get(name)
        if room is not None and "t" in room.modes and not self.is_room_op(session, room):
            raise Forbidden(f"only operators set the topic of {name}", detail="not_op")
        self.change_topic(name, text, user, session, ref)

    def rename_guest(self, session: Session, new: str) -> None:
        """Give a guest another name; everyone sharing a room with it is told.

        Raises :class:`InvalidName` or :class:`UserTaken` (``detail`` ``registered`` or
        ``in_use``). Accounts cannot be renamed: their name is who they are.
        """
        old, old_key = self._authed(session)
        if not session.guest:
            raise Forbidden("an account's name cannot change", detail="account")
        if not is_user_name(new):
            raise InvalidName("that nick does not follow the naming rules")
        new_key = fold_user(new)
        if new_key != old_key:
            if self.store.get_account(new) is not None:
                raise UserTaken("that nick belongs to a registered account", detail="registered")
            if self.users.get(new_key):
                raise UserTaken("that nick is in use", detail="in_use")
        self._forget_user_session(session)
        session.user, session.key = new, new_key
        self.users.setdefault(new_key, set()).add(session)
        told: set[Session] = set()
        for name in sorted(session.rooms):
            room = self.rooms[name]
            _, count = room.users.pop(old_key)
            room.users[new_key] = (new, count)
            for group in (room.ops, room.voiced):
                if old_key in group:
                    group.discard(old_key)
                    group.add(new_key)
            self._fanout(room.sessions, functools.partial(_spell_rename, name, old, new))
            told |= room.sessions
        if session not in told:
            session.send(session.encoder.renamed("", old, new))
        log.info("guest renamed %s -> %s", old, new)

    def change_topic(
        self, name: str, text: str, by: str, session: Session | None = None, ref: Ref = None
    ) -> None:
        """Set a room's topic and tell its members; ``session`` gets the copy with ``ref``."""
        if len(text) > MAX_TOPIC or (text and text_problem(text, MAX_TOPIC)):
            raise InvalidField(f"a topic holds at most {MAX_TOPIC} characters, no control codes")
        room = self._known_room(name)
        self.store.set_topic(name, text, by)
        members: Iterable[Session] = ()
        if room is not None:
            room.topic, room.topic_by = text, by
            members = room.sessions
        self._fanout(members, lambda enc: enc.topic(name, text, by), exclude=session)
        if session is not None:
            session.send(session.encoder.topic(name, text, by, ref))

    def quit(self, session: Session, ref: Ref) -> None:
        session.send(session.encoder.bye(ref))
        self.close_session(session, "quit")

    async def run_admin(
        self, session: Session, cmd: str, args: dict[str, object], ref: Ref
    ) -> None:
        self._authed(session)
        if session.role != "admin":
            raise Forbidden("operator commands need the admin role")
        text, data = await self.admin.run_for(session, cmd, args)
        if not session.closed:
            session.send(session.encoder.admin_result(cmd, text, data, ref))

    # -- moderation (used by the operator commands) ----------------------------------

    def reload_moderation(self) -> None:
        now = self.clock.wall_ms()
        self._bans = {(b.kind, b.value): b.until_ms for b in self.store.active_bans(now)}
        self._mutes = self.store.active_mutes(now)

    def _banned(self, kind: BanKind, value: str) -> bool:
        if (kind, value) not in self._bans:
            return False
        until = self._bans[(kind, value)]
        if until is not None and until <= self.clock.wall_ms():
            del self._bans[(kind, value)]
            return False
        return True

    def sessions_of(self, user: str) -> list[Session]:
        return list(self.users.get(fold_user(user), ()))

    def kick(self, user: str, reason: str) -> int:
        """Close every session of ``user``; how many there were."""
        sessions = self.sessions_of(user)
        for session in sessions:
            self.close_session(session, "kicked", Kicked(reason or "kicked by an operator"))
        return len(sessions)

    def ban(self, kind: BanKind, value: str, until_ms: int | None, reason: str, by: str) -> int:
        """Store a ban and close the sessions it covers; how many were closed."""
        if kind == "user":
            value = fold_user(value)
        self.store.add_ban(Ban(kind, value, until_ms, reason, by, self.clock.wall_ms()))
        self._bans[(kind, value)] = until_ms
        if kind == "user":
            victims = list(self.users.get(value, ()))
        else:
            victims = [s for s in self.sessions.values() if s.ip == value]
        for session in victims:
            self.close_session(session, "banned", Banned(reason or "banned by an operator"))
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
        self._check_text(text)
        targets = [s for s in self.sessions.values() if s.authenticated]
        self._fanout(targets, lambda enc: enc.notice(text, by))
        return len(targets)

    def set_live_role(self, user: str, role: Role) -> None:
        for session in self.sessions_of(user):
            session.role = role
