"""The server process: store, hub, doors, admin entrances, timers, signals, shutdown.

:class:`Server` wires the parts together and owns their lifetime. ``teahouse serve`` runs
one; the integration tests run one in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from teahouse.admin.commands import CommandSet
from teahouse.admin.socket import AdminSocketServer
from teahouse.config import Config, ConfigError
from teahouse.core.clock import LoopScheduler, SystemClock
from teahouse.core.hub import Hub
from teahouse.core.passwords import HashParams, PasswordHasher
from teahouse.doors.irc.door import IrcDoor
from teahouse.doors.native import NativeDoor
from teahouse.doors.tls import TlsContext
from teahouse.doors.web.door import WebDoor
from teahouse.doors.web.http import MetricsEndpoint
from teahouse.errors import ChatError, ServerShutdown
from teahouse.logs import flush_summaries
from teahouse.logsupport.files import make_private_dir
from teahouse.metrics import Metrics
from teahouse.protocol.names import is_user_name
from teahouse.store.base import StoreError
from teahouse.store.sqlite import SQLiteStore

log = logging.getLogger("teahouse.server")

DB_FILE = "teahouse.db"
ADMIN_SOCKET = "admin.sock"
LOCK_FILE = "teahouse.lock"
CLOAK_FILE = "cloak.key"
RETENTION_PERIOD = 600.0
"""Seconds between two passes of the retention rules (storage.retention_*)."""


_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident memory, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class MemoryTrimmer:
    """Give memory back to the system after a wave of connections has come and gone.

    CPython frees its small-object arenas when they empty, but glibc keeps the freed heap
    for reuse, so after a storm of short connections RSS stays at its peak. ``malloc_trim``
    returns it. It runs at most once a second, only when a thousand connections have closed
    since the last time, only once the wave is over (fewer than ``CALM`` connections opened,
    and fewer than ``CALM`` closed, in the last second: during a storm the freed heap is
    reused anyway), and in a thread of its own (ctypes lets go of the GIL), so the loop
    never waits the milliseconds it takes to walk the heap. Not during a wave of closes
    either: the trim holds the allocator's lock while it walks, and the loop, freeing and
    allocating as it closes connections, would wait for it (a mass timeout stalled the
    loop for a quarter of a second). No full collection first: it alone paused the loop for tens of
    milliseconds with ten thousand sessions, and the collector runs on its own.
    """

    CALM = 100

    def __init__(self) -> None:
        self._trim = _load_malloc_trim()
        self._seen = 0
        self._last = 0.0
        self._total = 0
        self._open = 0
        self._busy = threading.Event()

    def after_churn(self, connections_total: int, open_now: int) -> None:
        if self._trim is None:
            return
        arrived = connections_total - self._total
        left = self._open + arrived - open_now
        self._total = connections_total
        self._open = open_now
        now = time.monotonic()
        churned = connections_total - self._seen - open_now
        if churned < 1000 or now - self._last < 1.0 or arrived >= self.CALM or left >= self.CALM:
            return
        if self._busy.is_set():
            return
        self._seen = connections_total - open_now
        self._last = now
        self._busy.set()
        threading.Thread(
            target=self._run, args=(self._trim,), name="malloc-trim", daemon=True
        ).start()

    def _run(self, trim: Callable[[int], int]) -> None:
        try:
            trim(0)
        finally:
            self._busy.clear()


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def restore_backup(config: Config, backup: Path) -> Path:
    """Put ``backup`` in place of the data dir's database (the server must be stopped).
    The database it replaces is kept next to it. Raises ValueError with what to do."""
    data_dir = Path(config.server.data_dir)
    lock = lock_data_dir(data_dir)
    if lock is None:
        raise ValueError(f"a teahouse server is running on {data_dir}: stop it first")
    current = data_dir / DB_FILE
    staged = data_dir / f"{DB_FILE}.restoring"
    try:
        # The backup is checked (and brought to this version's schema) as a copy: the
        # operator's file stays exactly as it was, whatever happens here.
        _unlink_database(staged)
        shutil.copyfile(backup, staged)
        os.chmod(staged, 0o600)
        try:
            SQLiteStore(staged).close()
        except StoreError:
            _unlink_database(staged)
            raise ValueError(
                f"{backup} cannot be restored: it is not a teahouse database, or it is "
                "damaged; nothing was changed"
            ) from None
        kept = data_dir / f"{DB_FILE}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
        if current.exists():
            # Fold the old database's WAL into it before it moves aside.
            SQLiteStore(current).close()
            os.replace(current, kept)
        _unlink_database(current)
        os.replace(staged, current)
        return kept
    finally:
        lock.close()


def _unlink_database(path: Path) -> None:
    """Remove a database file and its WAL companions, those that exist."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def lock_data_dir(data_dir: Path) -> IO[str] | None:
    """Take the data dir's lock (held while the returned file stays open), or None when a
    running server holds it: one writer at a time, never behind a server's back."""
    make_private_dir(data_dir)
    # Append: a second server that fails to lock must not wipe the first one's pid.
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    lock = os.fdopen(fd, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def open_store(config: Config, *, threaded: bool = False) -> SQLiteStore:
    """The data dir's database, with the storage settings (raises StoreError)."""
    storage = config.storage
    return SQLiteStore(
        Path(config.server.data_dir) / DB_FILE,
        threaded=threaded,
        min_free_bytes=storage.min_free_mb << 20,
        write_timeout=storage.write_timeout,
    )


def cloak_key(data_dir: Path) -> bytes:
    """The secret behind host cloaks, made once per data dir (0600): without it nobody can
    tell a cloak's address by trying addresses."""
    path = data_dir / CLOAK_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def make_hasher(config: Config) -> PasswordHasher:
    acc = config.accounts
    return PasswordHasher(
        HashParams(acc.argon2_time_cost, acc.argon2_memory_kib, acc.argon2_parallelism),
        workers=acc.hash_workers,
        queue_limit=acc.hash_queue,
    )


class _Repeater:
    """Calls ``fn`` every ``period`` seconds on the loop; one handle, no task."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float, fn: Callable[[], object]):
        self._loop, self._period, self._fn = loop, period, fn
        self._handle: asyncio.TimerHandle | None = loop.call_later(period, self._tick)

    def _tick(self) -> None:
        try:
            self._fn()
        except Exception:
            log.exception("periodic job %s failed", getattr(self._fn, "__qualname__", self._fn))
        if self._handle is not None:
            self._handle = self._loop.call_later(self._period, self._tick)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Server:
    def __init__(self, config: Config, *, console: bool | None = None) -> None:
        self.config = config
        self.data_dir = Path(config.server.data_dir)
        self._want_console = console
        self._stop: asyncio.Future[float] | None = None
        self._signals = 0
        self._lock: IO[str] | None = None

    def _take_lock(self) -> None:
        if not make_private_dir(self.data_dir):
            log.warning(
                "the data dir %s can be read by other users of this machine; make it 0700 "
                "(chmod 700 %s): it holds password hashes and direct messages",
                self.data_dir,
                self.data_dir,
            )
        lock = lock_data_dir(self.data_dir)
        if lock is None:
            raise ConfigError(
                f"another teahouse server is using {self.data_dir}; stop it or pick another "
                "--data-dir"
            )
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def request_shutdown(self, grace: float) -> None:
        """Begin a graceful shutdown (idempotent); ``run`` returns once it is done."""
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(grace)

    def _shutdown_soon(self, grace: float) -> None:
        # Later in the loop, so the operator's answer leaves before the connections close.
        asyncio.get_running_loop().call_soon(self.request_shutdown, grace)

    def _on_signal(self) -> None:
        self._signals += 1
        if self._signals > 1:
            # Nothing is lost that anyone was told was kept: acknowledgements follow commits.
            log.warning("second signal: exiting at once")
            os._exit(1)
        log.info("signal received: shutting down (send it again to exit at once)")
        self.request_shutdown(self.config.server.shutdown_grace)

    async def run(self) -> int:
        """Serve until shutdown; returns the process exit status."""
        loop = asyncio.get_running_loop()
        config = self.config
        self._take_lock()
        self._stop = loop.create_future()
        try:
            self.store = open_store(config, threaded=True)
        except StoreError as exc:
            raise ConfigError(str(exc)) from None
        self.hasher = make_hasher(config)
        self.hub = hub = Hub(
            config,
            self.store,
            self.hasher,
            SystemClock(),
            LoopScheduler(loop),
            cloak_key=cloak_key(self.data_dir),
        )
        door = NativeDoor(hub, config)
        self.door = door
        self.irc = IrcDoor(hub, config) if config.irc.enabled else None
        self.web = WebDoor(hub, config) if config.web.enabled else None
        if self.web is not None and config.metrics.token:
            metrics = Metrics(hub, self.open_doors, self.hasher)
            self.web.metrics = MetricsEndpoint(config.metrics.token, metrics.render)
        commands = CommandSet(
            hub,
            transports_open=self.transports_open,
            bytes_out=self.bytes_out,
            shutdown=self._shutdown_soon,
            default_grace=config.server.shutdown_grace,
        )
        hub.admin = commands
        await self._initial_admin()

        tls = TlsContext(config.tls.cert, config.tls.key) if config.tls.enabled else None
        self.tls = tls
        listening = []
        if config.native.enabled:
            host, port = await door.start(config.native.host, config.native.port)
            listening.append(f"native={host}:{port}")
            if tls is not None:
                host, port = await door.start_tls(config.native.host, config.tls.native_port, tls)
                listening.append(f"native_tls={host}:{port}")
        if self.irc is not None:
            host, port = await self.irc.start(config.irc.host, config.irc.port)
            listening.append(f"irc={host}:{port}")
            if tls is not None:
                host, port = await self.irc.start_tls(config.irc.host, config.tls.irc_port, tls)
                listening.append(f"irc_tls={host}:{port}")
        if self.web is not None:
            host, port = await self.web.start(config.web.host, config.web.port)
            listening.append(f"web={host}:{port}")
            if tls is not None:
                host, port = await self.web.start_tls(config.web.host, config.tls.web_port, tls)
                listening.append(f"web_tls={host}:{port}")
        admin_socket: AdminSocketServer | None = None
        if config.admin.socket:
            admin_socket = AdminSocketServer(commands, self.data_dir / ADMIN_SOCKET)
            await admin_socket.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)
        # SIGHUP reloads the certificate; without TLS it must still not kill the server.
        loop.add_signal_handler(
            signal.SIGHUP, tls.reload if tls is not None else lambda: log.info("SIGHUP: no TLS")
        )

        house = hub.housekeeping
        sweep = _Repeater(loop, house.policy.sweep_period, house.sweep)
        janitor = _Repeater(loop, config.admin.janitor_interval, self._janitor)

        trimmer = MemoryTrimmer()

        def every_second() -> None:
            flush_summaries()
            commands.rate.sample(loop.time(), hub.stats.messages_total)
            house.check_memory(rss_bytes())
            trimmer.after_churn(hub.stats.connections_total, len(hub.sessions))

        sampler = _Repeater(loop, 1.0, every_second)
        retention = _Repeater(loop, RETENTION_PERIOD, hub.messages.apply_retention)
        log.info(
            "teahouse serving data_dir=%s heartbeat=%s/%s registration=%s",
            self.data_dir,
            config.heartbeat.interval,
            config.heartbeat.timeout,
            config.accounts.registration,
        )
        print("teahouse listening " + " ".join(listening), flush=True)

        console_task = None
        use_console = self._want_console
        if use_console is None:
            use_console = config.admin.console and sys.stdin.isatty() and sys.stdout.isatty()
        if use_console:
            from teahouse.admin.console import run_console

            console_task = loop.create_task(run_console(commands, hub))

        grace = await self._stop
        log.info("shutting down (grace %.1f s)", grace)
        door.stop_accepting()
        if self.irc is not None:
            self.irc.stop_accepting()
        if self.web is not None:
            self.web.stop_accepting()
        if console_task is not None:
            console_task.cancel()
        hub.shutdown_all(ServerShutdown())
        deadline = loop.time() + grace
        while self.transports_open() > 0 and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for timer in (sweep, janitor, sampler, retention):
            timer.cancel()
        if admin_socket is not None:
            await admin_socket.stop()
        await door.wait_closed()
        if self.irc is not None:
            await self.irc.wait_closed()
        if self.web is not None:
            await self.web.wait_closed()
        self.store.close()
        self.hasher.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("stopped")
        return 0

    def open_doors(self) -> list[NativeDoor | IrcDoor]:
        """The doors this server runs."""
        return [door for door in (self.door, self.irc, self.web) if door is not None]

    def bytes_out(self) -> int:
        """Bytes written to clients by every door."""
        doors = [self.door, self.irc, self.web]
        return sum(door.bytes_out for door in doors if door is not None)

    def transports_open(self) -> int:
        """Transports the doors hold open (the janitor compares this with the sessions)."""
        irc = self.irc.transports_open if self.irc is not None else 0
        web = self.web.transports_open if self.web is not None else 0
        return self.door.transports_open + irc + web

    def _janitor(self) -> None:
        self.hub.housekeeping.janitor(self.transports_open())

    async def _initial_admin(self) -> None:
        adm = self.config.admin
        if not adm.initial_user:
            return
        if not is_user_name(adm.initial_user):
            raise ConfigError(f"admin.initial_user {adm.initial_user!r} is not a valid user name")
        if self.store.get_account(adm.initial_user) is not None:
            return
        password = adm.initial_password
        if adm.initial_password_env:
            password = os.environ.get(adm.initial_password_env, "")
        if not password:
            raise ConfigError(
                "admin.initial_user is set but no password: set admin.initial_password or "
                "admin.initial_password_env"
            )
        try:
            self.hub.accounts.check_password(adm.initial_user, password)
        except ChatError as exc:
            raise ConfigError(f"admin.initial_password: {exc.message}") from None
        await self.hub.accounts.create(adm.initial_user, self.hasher.hash_now(password), "admin")
        log.info("created the initial admin account %s", adm.initial_user)


def new_event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when asked for or available ("auto"), else asyncio's own loop."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop

            return uvloop.new_event_loop  # type: ignore[no-any-return,unused-ignore]
        except ImportError:
            if choice == "uvloop":
                raise ConfigError(
                    "server.event_loop = 'uvloop' but uvloop is not installed"
                ) from None
    return asyncio.new_event_loop
