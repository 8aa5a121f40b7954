"""The standard suite of `make bench`: its scenarios, their sizes, and every server setting
that differs from that server's defaults, with the reason.

This module is the one source of those settings: `servers.py` writes each server's config
from them and `report.py` prints them in docs/benchmarks.md, so the page always says what
ran. The rules (from the performance issue):

- every server at its defaults, logs included, except: per-address limits lifted for every
  server alike; heartbeats "20 + 10 s" (a PING after 20 s of silence, the drop 10 s later)
  where the server allows it; fanout senders opered on IRC and frame-rate-exempt on the
  native door; cheap password hashing only where a scenario's setup logs in thousands of
  accounts;
- things the machine forces on a peer (no DNS resolver, running as root, a file to log
  to, an oper block) are listed as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INSPIRCD = "inspircd"
NGIRCD = "ngircd"
TEAHOUSE_IRC = "teahouse-irc"
TEAHOUSE = "teahouse"
COLUMNS = (INSPIRCD, NGIRCD, TEAHOUSE_IRC, TEAHOUSE)
"""The table's columns, in order: the peers, then teahouse's IRC door and its native door."""
LABELS = {
    INSPIRCD: "InspIRCd",
    NGIRCD: "ngIRCd",
    TEAHOUSE_IRC: "teahouse IRC",
    TEAHOUSE: "teahouse native",
}
PEERS = (INSPIRCD, NGIRCD)
TEAHOUSES = (TEAHOUSE_IRC, TEAHOUSE)
EVERYONE = COLUMNS
OPER_NAME = "bench"
OPER_PASSWORD = "bench-oper-1"
"""The oper block of the peers and the password of teahouse's admin account ``bench``."""


@dataclass(frozen=True)
class Setting:
    """One value that differs from a server's default.

    ``key`` is written as the server's config spells it: teahouse ``section.key`` (TOML),
    ngIRCd ``Section.Key``, InspIRCd ``tag.attribute``.
    """

    servers: tuple[str, ...]
    key: str
    value: str | int | float | list[str]
    why: str
    in_template: bool = False
    """Written in the config template (bench/configs/) or made by the bench, not here."""


@dataclass(frozen=True)
class Heartbeat:
    """A PING after ``interval`` seconds of silence, the drop ``grace`` seconds later."""

    interval: int
    grace: int

    @property
    def timeout(self) -> int:
        """Seconds of total silence before the drop."""
        return self.interval + self.grace

    def settings(self) -> list[Setting]:
        hb = f"heartbeat {self.interval} + {self.grace} s"
        out = []
        if self.interval != 20:
            out.append(Setting(TEAHOUSES, "heartbeat.interval", self.interval, hb))
        out += [
            Setting(
                TEAHOUSES,
                "heartbeat.timeout",
                self.timeout,
                f"{hb}: teahouse's timeout counts the whole silence",
            ),
            Setting((NGIRCD,), "Limits.PingTimeout", self.interval, hb),
            Setting((NGIRCD,), "Limits.PongTimeout", self.grace, hb),
            Setting(
                (INSPIRCD,),
                "connect.pingfreq",
                self.timeout // 2,
                f"{hb} cannot be set: InspIRCd pings after `pingfreq` and drops the same "
                f"time later, so {self.timeout // 2} + {self.timeout // 2} s, the same "
                "total silence",
            ),
        ]
        return out


@dataclass(frozen=True)
class Scenario:
    """One scenario of the suite: ``teahouse stress`` arguments and server settings."""

    name: str
    title: str
    """What runs, as the table says it."""
    args: tuple[str, ...]
    heartbeat: Heartbeat
    settings: tuple[Setting, ...] = ()
    """Beyond :data:`COMMON` and the heartbeat's."""
    server_args: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Extra ``teahouse stress`` arguments for one server (how the tool must pace itself)."""
    warmup: tuple[str, ...] | None = None
    """A short run of the same scenario first, on the same server, not reported."""
    setup_timeout: int = 120
    duration: float = 0.0
    """The stress run's --duration (for fanout and deadpeer: the most it may take)."""

    def all_settings(self) -> list[Setting]:
        return [*COMMON, *MACHINE, *self.heartbeat.settings(), *self.settings]

    def settings_for(self, server: str) -> list[Setting]:
        return [s for s in self.all_settings() if server in s.servers]

    def stress_args(self, server: str) -> list[str]:
        """The arguments of ``teahouse stress <name>`` for ``server`` (no port, pid)."""
        irc = server != TEAHOUSE
        out = [
            *self.args,
            "--duration",
            f"{self.duration:g}",
            "--setup-timeout",
            str(self.setup_timeout),
            *self.server_args.get(server, ()),
        ]
        out += ["--irc"] if irc else ["--register"]
        if self.name == "fanout" and irc:
            out += ["--oper", f"{OPER_NAME}:{OPER_PASSWORD}"]
        if self.name == "deadpeer" and irc:
            out += ["--expect-timeout", str(self.heartbeat.timeout)]
        return out


PER_ADDRESS = "per-address limits lifted for every server alike (load comes from 249 addresses)"
COMMON: tuple[Setting, ...] = (
    Setting(TEAHOUSES, "limits.allowlist", ["127.0.0.0/8"], PER_ADDRESS),
    Setting((NGIRCD,), "Limits.MaxConnectionsIP", 0, PER_ADDRESS),
    Setting((INSPIRCD,), "connect.localmax", 20000, PER_ADDRESS),
    Setting((INSPIRCD,), "connect.globalmax", 20000, PER_ADDRESS),
)
"""Settings of every scenario."""

MACHINE: tuple[Setting, ...] = (
    Setting(
        (NGIRCD,),
        "Options.DNS",
        "no",
        "no resolver on this machine (teahouse does no lookups)",
    ),
    Setting((NGIRCD,), "Options.Ident", "no", "no ident servers here (teahouse does none)"),
    Setting(
        (NGIRCD,),
        "Options.PAM",
        "no",
        "no PAM accounts for IRC users (Debian's shipped config says no too)",
    ),
    Setting(
        (NGIRCD,),
        "Global.ServerUID",
        "nobody",
        "ngIRCd will not run as root (set only when the bench runs as root)",
        in_template=True,
    ),
    Setting(
        (INSPIRCD,),
        "connect.resolvehostnames",
        "no",
        "no resolver on this machine: each lookup would wait for its timeout",
    ),
    Setting(
        (INSPIRCD,),
        "log",
        'method="file" type="* -USERINPUT -USEROUTPUT" level="default"',
        "InspIRCd logs only where told: this is the log of its example config",
        in_template=True,
    ),
    Setting(
        (NGIRCD, INSPIRCD),
        "oper block",
        OPER_NAME,
        "fanout's senders OPER (InspIRCd: privs users/flood/no-fakelag, no-throttle, "
        "increased-buffers; ngIRCd: and user mode +F)",
        in_template=True,
    ),
    Setting(
        TEAHOUSES,
        "admin account",
        OPER_NAME,
        "made with `teahouse user add --admin`; IRC fanout senders OPER with it",
        in_template=True,
    ),
)
"""What the machine or the bench's mechanics force; the same in every scenario."""

CHEAP_HASH = (
    Setting((TEAHOUSE,), "accounts.argon2_memory_kib", 1024, "setup logs in {n} accounts"),
    Setting((TEAHOUSE,), "accounts.argon2_time_cost", 1, "setup logs in {n} accounts"),
    Setting((TEAHOUSE,), "accounts.argon2_parallelism", 1, "setup logs in {n} accounts"),
)


def cheap_hash(accounts: str) -> tuple[Setting, ...]:
    return tuple(Setting(s.servers, s.key, s.value, s.why.format(n=accounts)) for s in CHEAP_HASH)


def many_connections(n: int) -> tuple[Setting, ...]:
    """teahouse's cap of 10,000 connections, raised when ``n`` and the pair do not fit."""
    if n + 3 <= 10000:
        return ()
    return (
        Setting(
            TEAHOUSES,
            "limits.max_connections",
            19900,
            f"{n:,} connections and the person's; the default cap is 10,000 (ngIRCd and "
            "InspIRCd have no cap below the 20,000 open files here)",
        ),
    )


HEARTBEAT = Heartbeat(20, 10)
QUICK_HEARTBEAT = Heartbeat(5, 5)
"""--quick's deadpeer: dead peers are freed in 10 s instead of 30 s."""
INSPIRCD_IN_FLIGHT = ("--in-flight", "256")
"""InspIRCd finishes registrations once a second: the tool opens more at a time there."""
TEAHOUSE_REGISTERS = ("--in-flight", "8")
"""teahouse's native door hashes each registration (2 threads, 16 queued at most, others
told `throttled`) and drops a connection not logged in after 10 s: with the default hash
(0.2-0.5 s here) the tool registers 8 at a time, so none waits that long."""


def scenarios(quick: bool) -> list[Scenario]:
    """The suite; ``quick`` shrinks every size (a check of the harness, a few minutes)."""
    q = quick
    pair = ("--rtt-interval", "1", "--baseline", "2" if q else "5")
    idle_n = 1000 if q else 19000
    dead_n = 500 if q else 10000
    return [
        Scenario(
            "idle",
            f"idle: {idle_n:,} held {10 if q else 60} s",
            ("--count", str(idle_n), *pair),
            HEARTBEAT,
            settings=(*many_connections(idle_n), *cheap_hash(f"{idle_n:,}")),
            server_args={INSPIRCD: INSPIRCD_IN_FLIGHT},
            setup_timeout=600,
            duration=10 if q else 60,
        ),
        Scenario(
            "fanout",
            "fanout {} members × 10 senders × {} messages".format(
                *(("50", "500") if q else ("500", "5,000"))
            ),
            (
                "--members",
                "50" if q else "500",
                "--senders",
                "10",
                "--messages",
                "500" if q else "5000",
            ),
            HEARTBEAT,
            server_args={TEAHOUSE: TEAHOUSE_REGISTERS},
            settings=(
                Setting(
                    (TEAHOUSE,),
                    "limits.frames_per_second",
                    0,
                    "the senders' frame rate: teahouse has no per-account exemption, so the "
                    "limit is off for every connection (only the 10 senders send)",
                ),
                Setting(
                    (TEAHOUSE,),
                    "limits.bytes_per_second",
                    0,
                    "the same, for the byte rate",
                ),
                Setting(
                    (TEAHOUSE,),
                    "storage.messages_per_hour",
                    0,
                    "the hourly storage quota per account (2,000 by default): the IRC door's "
                    "senders are exempt as operators, the native door has no OPER",
                ),
                Setting(
                    (TEAHOUSE,),
                    "storage.bytes_per_hour",
                    0,
                    "the same, for the bytes stored per hour",
                ),
            ),
            setup_timeout=300,
            duration=300,
        ),
        Scenario(
            "flood",
            "flood {} × 32 KiB garbage, {} s".format(*(("100", 5) if q else ("1,000", 30))),
            ("--count", "100" if q else "1000", "--chunk", "32768", *pair),
            HEARTBEAT,
            duration=5 if q else 30,
        ),
        Scenario(
            "storm",
            f"storm: connect, random password, close; 32 at a time, {5 if q else 30} s",
            ("--count", "32", *pair),
            HEARTBEAT,
            warmup=("--count", "32", "--duration", "3", "--no-legit"),
            duration=5 if q else 30,
        ),
        Scenario(
            "loginflood",
            f"loginflood: {50 if q else 500} guessers, {5 if q else 30} s",
            ("--count", "50" if q else "500", *pair),
            HEARTBEAT,
            duration=5 if q else 30,
        ),
        Scenario(
            "deadpeer",
            f"deadpeer: {dead_n:,} silent",
            ("--count", str(dead_n), *pair),
            QUICK_HEARTBEAT if q else HEARTBEAT,
            settings=(*many_connections(dead_n), *cheap_hash(f"{dead_n:,}")),
            server_args={INSPIRCD: INSPIRCD_IN_FLIGHT},
            setup_timeout=600,
            duration=30 if q else 60,
        ),
    ]
