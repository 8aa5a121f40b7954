"""What a stress run may do: its options, and the hard limits that keep it a test.

Security limits, checked here before any socket exists (and the target again in every
worker, by :class:`~teahouse.stress.targets.Target`):

- only loopback targets and sources: IPv4 addresses in 127.0.0.0/8 (``localhost`` means
  127.0.0.1); anything else is refused, never resolved;
- at most :data:`MAX_CONNECTIONS` connections held at once by one run;
- at most :data:`MAX_DURATION` seconds of load, :data:`MAX_SETUP` seconds of setup, and
  :data:`MAX_CONNECTS` new connections in all (storms and floods reconnect).
"""

from __future__ import annotations

import ipaddress
import os
import resource
import secrets
import string
from typing import Final

import msgspec

MAX_CONNECTIONS: Final = 19_500
MAX_DURATION: Final = 600.0
MAX_SETUP: Final = 600.0
MAX_CONNECTS: Final = 5_000_000
MAX_WORKERS: Final = 64
MAX_MESSAGES: Final = 1_000_000
MAX_CHUNK: Final = 1 << 20
MAX_TEXT_PAD: Final = 4000
FD_RESERVE: Final = 64
"""File descriptors a worker keeps for itself (pipes, the event loop, imports)."""

SCENARIOS: Final = (
    "flood",
    "storm",
    "loginflood",
    "idle",
    "fanout",
    "deadpeer",
    "slowloris",
    "slowreader",
)
DEFAULT_SOURCES: Final = "127.0.0.2-127.0.0.250"


class StressError(Exception):
    """An option that cannot work; the message says what to change."""


class ScenarioDefaults(msgspec.Struct, frozen=True):
    duration: float
    count: int


DEFAULTS: Final = {
    "flood": ScenarioDefaults(10.0, 100),
    "storm": ScenarioDefaults(10.0, 32),
    "loginflood": ScenarioDefaults(10.0, 100),
    "idle": ScenarioDefaults(10.0, 1000),
    "fanout": ScenarioDefaults(60.0, 100),
    "deadpeer": ScenarioDefaults(120.0, 1000),
    "slowloris": ScenarioDefaults(10.0, 100),
    "slowreader": ScenarioDefaults(30.0, 1),
}
"""``duration`` is the load time, or for fanout, deadpeer and slowreader the most it may
take (they end as soon as everything is delivered, freed or dropped)."""


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """One run, validated by :func:`check`. Field names are the CLI's option names."""

    scenario: str
    host: str = "127.0.0.1"
    port: int
    irc: bool = False
    duration: float = 0.0
    count: int = 0
    workers: int = 1
    server_pid: int | None = None
    user: str | None = None
    password: str | None = None
    register: bool = False
    sources: tuple[str, ...] = ()
    legit_source: str = "127.0.0.1"
    legit: bool = True
    rtt_interval: float = 0.0
    baseline: float = 1.0
    login_interval: float = 0.0
    members: int = 100
    senders: int = 0
    """0: the scenario's default (fanout 10, slowreader 1)."""
    messages: int = 100
    window: int = 200
    size: int = 0
    chunk: int = 32768
    await_reply: bool = False
    attack_user: str | None = None
    byte_interval: float = 1.0
    after_login: bool = False
    expect_timeout: float | None = None
    room_size: int = 50
    in_flight: int = 32
    oper: str | None = None
    settle: float = 1.0
    setup_timeout: float = 120.0
    run_id: str = ""
    secret: str = ""
    """The password of the throwaway accounts of this run (``--register``)."""

    @property
    def dialect(self) -> str:
        return "irc" if self.irc else "native"

    def public(self) -> dict[str, object]:
        """The options as reported (no passwords)."""
        out = msgspec.to_builtins(self)
        assert isinstance(out, dict)
        for key in ("password", "secret", "oper"):
            if out.get(key):
                out[key] = "***"
        out["sources"] = f"{self.sources[0]}..{self.sources[-1]} ({len(self.sources)})"
        return out


def loopback(host: str) -> str:
    """The address as text if it is an IPv4 loopback address (127.0.0.0/8), else refuse.

    A security rule: names other than ``localhost`` are not resolved, so a DNS answer can
    never point the tool elsewhere.
    """
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise StressError(
            f"{host!r} is not an IP address: the stress tool only targets loopback "
            "addresses (127.0.0.0/8)"
        ) from None
    if not isinstance(ip, ipaddress.IPv4Address) or not ip.is_loopback:
        raise StressError(
            f"{host} is not a loopback address: the stress tool only connects within 127.0.0.0/8"
        )
    return str(ip)


def parse_sources(text: str) -> tuple[str, ...]:
    """``127.0.0.2-127.0.0.250``, ``127.0.1.0/24`` or ``127.0.0.2,127.0.0.3``, in order."""
    out: list[str] = []
    for item in text.split(","):
        part = item.strip()
        if not part:
            continue
        if "/" in part:
            try:
                net = ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise StressError(f"bad source network {part!r}") from None
            hosts = [str(ip) for ip in net.hosts()] or [str(net.network_address)]
            out += [loopback(h) for h in hosts]
        elif "-" in part:
            first, _, last = part.partition("-")
            lo = ipaddress.IPv4Address(loopback(first.strip()))
            hi = ipaddress.IPv4Address(loopback(last.strip()))
            if hi < lo:
                raise StressError(f"source range {part!r} ends before it starts")
            if int(hi) - int(lo) >= 1 << 16:
                raise StressError(f"source range {part!r} is longer than 65,536 addresses")
            out += [str(ipaddress.IPv4Address(n)) for n in range(int(lo), int(hi) + 1)]
        else:
            out.append(loopback(part))
    if not out:
        raise StressError("--sources names no address")
    return tuple(dict.fromkeys(out))


def random_secret(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def connections_held(opts: Options) -> int:
    """The most connections the run holds at once (load, plus the measuring pair)."""
    legit = 2 if opts.legit and opts.scenario != "fanout" else 0
    if opts.scenario == "fanout":
        load = opts.members + opts.senders
    elif opts.scenario == "slowreader":
        load = opts.senders + 1
    else:
        load = opts.count
    return load + legit + (1 if opts.login_interval > 0 else 0)


def needs_accounts(opts: Options) -> bool:
    """Whether native connections of this run must log in (IRC ones register as guests)."""
    if opts.irc:
        return False
    if opts.legit and opts.scenario != "fanout":
        return True
    return opts.scenario in ("idle", "fanout", "deadpeer", "slowreader") or (
        opts.scenario == "slowloris" and opts.after_login
    )


def check(opts: Options) -> Options:
    """Validate every limit; fill in what depends on the scenario. Raises StressError."""
    if opts.scenario not in SCENARIOS:
        raise StressError(f"unknown scenario {opts.scenario!r}; one of {', '.join(SCENARIOS)}")
    host = loopback(opts.host)
    legit_source = loopback(opts.legit_source)
    sources = opts.sources or parse_sources(DEFAULT_SOURCES)
    for source in sources:
        loopback(source)
    if not 1 <= opts.port <= 65535:
        raise StressError("--port must be 1 to 65535")
    defaults = DEFAULTS[opts.scenario]
    duration = opts.duration or defaults.duration
    count = opts.count or defaults.count
    if opts.scenario == "slowreader":
        count = 1
    if not 0 < duration <= MAX_DURATION:
        raise StressError(f"--duration must be above 0 and at most {MAX_DURATION:g} s")
    if not 0 < opts.setup_timeout <= MAX_SETUP:
        raise StressError(f"--setup-timeout must be above 0 and at most {MAX_SETUP:g} s")
    if not 0 <= opts.baseline <= 60 or not 0 <= opts.settle <= 60:
        raise StressError("--baseline and --settle must be 0 to 60 s")
    if not 1 <= opts.workers <= MAX_WORKERS:
        raise StressError(f"--workers must be 1 to {MAX_WORKERS}")
    if count < 1 or opts.members < 1 or opts.senders < 0 or opts.messages < 1:
        raise StressError("--count, --members, --senders and --messages must be at least 1")
    if opts.messages > MAX_MESSAGES:
        raise StressError(f"--messages must be at most {MAX_MESSAGES:,}")
    if not 1 <= opts.chunk <= MAX_CHUNK:
        raise StressError(f"--chunk must be 1 to {MAX_CHUNK:,} bytes")
    if not 0 <= opts.size <= MAX_TEXT_PAD:
        raise StressError(f"--size must be 0 to {MAX_TEXT_PAD} characters")
    if opts.room_size < 0:
        raise StressError("--room-size must be 0 (one room) or more")
    if opts.window < 1 or opts.in_flight < 1:
        raise StressError("--window and --in-flight must be at least 1")
    if opts.rtt_interval < 0 or opts.login_interval < 0 or opts.byte_interval <= 0:
        raise StressError("intervals must be positive")
    if (opts.user is None) != (opts.password is None):
        raise StressError("--user and --password go together")
    if opts.oper is not None and ":" not in opts.oper:
        raise StressError("--oper takes NAME:PASSWORD")
    rtt_interval = opts.rtt_interval or (1.0 if opts.irc else 0.2)
    senders = opts.senders or (10 if opts.scenario == "fanout" else 1)
    login_interval = opts.login_interval
    if opts.scenario == "loginflood" and not login_interval and opts.legit:
        login_interval = 1.0
    filled = msgspec.structs.replace(
        opts,
        host=host,
        legit_source=legit_source,
        sources=sources,
        duration=duration,
        count=count,
        rtt_interval=rtt_interval,
        senders=senders,
        login_interval=login_interval,
        run_id=opts.run_id or random_prefix(),
        secret=opts.secret or random_secret(),
    )
    held = connections_held(filled)
    if held > MAX_CONNECTIONS:
        raise StressError(
            f"this run would hold {held:,} connections; the limit is {MAX_CONNECTIONS:,}"
        )
    per_worker = -(-held // filled.workers)
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if fd_limit != resource.RLIM_INFINITY and per_worker + FD_RESERVE > fd_limit:
        raise StressError(
            f"{per_worker:,} connections per worker exceed this machine's limit of "
            f"{fd_limit:,} open files per process: use more --workers"
        )
    if needs_accounts(filled) and filled.user is None and not filled.register:
        raise StressError(
            f"native {filled.scenario} needs accounts: pass --register (throwaway accounts) "
            "or --user/--password"
        )
    return filled


def random_prefix() -> str:
    """Four random lower-case letters: names of this run start with them."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(4))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
