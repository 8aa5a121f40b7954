"""Server configuration: defaults, the TOML file, and command-line overrides.

Every key is documented in the README ("Configuration") and in ``teahouse.example.toml``.
An unknown key or a value of the wrong type is an error that names the key, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

Registration = Literal["open", "closed", "invite"]


class ConfigError(Exception):
    """The configuration file or a flag is wrong; the message says which key and why."""


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class ServerSection(_Section):
    name: str = "teahouse"
    data_dir: str = "./var"
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    shutdown_grace: float = 5.0


class NativeSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 6680


class IrcSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 6667
    guests: bool = True
    network: str = "teahouse"
    server_name: str = "teahouse.local"
    motd: str = "Welcome to teahouse. Be kind; the tea is hot."
    flood_penalty: float = 1.0
    flood_burst: float = 20.0
    flood_exempt_opers: bool = True


class WebSection(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 6690
    origins: list[str] = msgspec.field(default_factory=list)
    """Origins (``https://chat.example.org``) whose pages may open the WebSocket, besides
    the page's own host (the request's ``Host``). Checked against the ``Origin`` header."""
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    """Addresses or networks of reverse proxies whose ``X-Forwarded-For`` is believed."""


class TlsSection(_Section):
    cert: str = ""
    key: str = ""
    native_port: int = 6681
    irc_port: int = 6697
    web_port: int = 6691

    @property
    def enabled(self) -> bool:
        return bool(self.cert and self.key)


class HeartbeatSection(_Section):
    interval: float = 20.0
    timeout: float = 60.0


class LimitsSection(_Section):
    max_frame: int = 65536
    max_frame_preauth: int = 4096
    max_text: int = 4096
    max_replay: int = 500
    login_timeout: float = 10.0
    bad_frame_strikes: int = 5
    bad_frame_window: float = 10.0
    output_high_water: int = 1 << 20
    socket_send_buffer: int = 131072
    max_connections: int = 10000
    max_connections_per_ip: int = 128
    frames_per_second: float = 20.0
    frames_burst: float = 60.0
    bytes_per_second: float = 131072.0
    bytes_burst: float = 524288.0
    throttle_grace: float = 2.0
    rate_limit_strikes: int = 10
    rate_limit_window: float = 10.0
    connections_per_ip_per_second: float = 20.0
    connections_per_ip_burst: float = 40.0
    registrations_per_ip_per_hour: float = 10.0
    partial_line_timeout: float = 15.0
    max_rss_mb: int = 1024
    allowlist: list[str] = msgspec.field(default_factory=list)


class AccountsSection(_Section):
    registration: Registration = "open"
    min_password_length: int = 8
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    hash_workers: int = 2
    hash_queue: int = 16
    login_free_attempts: int = 3
    login_base_delay: float = 1.0
    login_max_delay: float = 300.0


class RoomsSection(_Section):
    first_joiner_ops: Literal["never", "new", "guest_rooms", "always"] = "guest_rooms"
    max_joined: int = 100
    create_per_hour: float = 10.0
    max_rooms: int = 10000


class StorageSection(_Section):
    min_free_mb: int = 64
    write_timeout: float = 10.0
    retention_days: float = 0.0
    retention_messages: int = 0
    dm_retention_days: float = 0.0
    messages_per_hour: int = 2000
    bytes_per_hour: int = 4 * 1024 * 1024


class AdminSection(_Section):
    socket: bool = True
    console: bool = True
    initial_user: str = ""
    initial_password: str = ""
    initial_password_env: str = ""
    janitor_interval: float = 30.0


class MetricsSection(_Section):
    token: str = ""
    """Off while empty. Set: the web door serves Prometheus metrics at ``/metrics`` to a
    request with ``Authorization: Bearer <token>`` (and only to it)."""


class LogSection(_Section):
    level: str = "info"
    format: Literal["text", "json"] = "text"
    file: bool = True
    file_max_bytes: int = 10 * 1024 * 1024
    file_backups: int = 5


class Config(_Section):
    server: ServerSection = msgspec.field(default_factory=ServerSection)
    native: NativeSection = msgspec.field(default_factory=NativeSection)
    irc: IrcSection = msgspec.field(default_factory=IrcSection)
    web: WebSection = msgspec.field(default_factory=WebSection)
    tls: TlsSection = msgspec.field(default_factory=TlsSection)
    heartbeat: HeartbeatSection = msgspec.field(default_factory=HeartbeatSection)
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    accounts: AccountsSection = msgspec.field(default_factory=AccountsSection)
    rooms: RoomsSection = msgspec.field(default_factory=RoomsSection)
    storage: StorageSection = msgspec.field(default_factory=StorageSection)
    admin: AdminSection = msgspec.field(default_factory=AdminSection)
    metrics: MetricsSection = msgspec.field(default_factory=MetricsSection)
    log: LogSection = msgspec.field(default_factory=LogSection)

    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir)

    def check(self) -> None:
        """Raise :class:`ConfigError` for values that cannot work together."""
        hb, lim = self.heartbeat, self.limits
        if hb.interval <= 0 or hb.timeout <= 0:
            raise ConfigError("heartbeat.interval and heartbeat.timeout must be positive")
        if hb.timeout < hb.interval:
            raise ConfigError("heartbeat.timeout must be at least heartbeat.interval")
        if lim.max_frame_preauth > lim.max_frame:
            raise ConfigError("limits.max_frame_preauth must not exceed limits.max_frame")
        if lim.max_frame < 1024:
            raise ConfigError("limits.max_frame must be at least 1024")
        if lim.max_text * 4 + 512 > lim.max_frame:
            raise ConfigError("limits.max_frame must hold a say frame of max_text characters")
        if self.log.level.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ConfigError("log.level is one of debug, info, warning, error, critical")
        if self.metrics.token and len(self.metrics.token) < 16:
            raise ConfigError(
                "metrics.token needs at least 16 characters (try: openssl rand -hex 16)"
            )
        if lim.partial_line_timeout <= 0:
            raise ConfigError("limits.partial_line_timeout must be positive")
        for rate in ("frames_per_second", "bytes_per_second", "connections_per_ip_per_second"):
            if getattr(lim, rate) < 0:
                raise ConfigError(f"limits.{rate} must be >= 0 (0 turns it off)")
        try:
            for entry in lim.allowlist:
                ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ConfigError(f"limits.allowlist: {exc}") from None
        if lim.login_timeout <= 0:
            raise ConfigError("limits.login_timeout must be positive")
        for door in (self.native, self.irc, self.web):
            if not 0 <= door.port <= 65535:
                raise ConfigError("native.port, irc.port and web.port must be 0 to 65535")
        for port in (self.tls.native_port, self.tls.irc_port, self.tls.web_port):
            if not 0 <= port <= 65535:
                raise ConfigError("the tls.*_port keys must be between 0 and 65535")
        try:
            for entry in self.web.trusted_proxies:
                ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ConfigError(f"web.trusted_proxies: {exc}") from None
        for origin in self.web.origins:
            if not is_origin(origin):
                raise ConfigError(
                    f"web.origins: {origin!r} is not an origin like 'https://chat.example.org'"
                )
        if bool(self.tls.cert) != bool(self.tls.key):
            raise ConfigError("tls.cert and tls.key go together: give both or neither")
        if self.irc.flood_penalty < 0 or self.irc.flood_burst <= 0:
            raise ConfigError("irc.flood_penalty must be >= 0 and irc.flood_burst > 0")


def is_origin(text: str) -> bool:
    """``http(s)://host[:port]`` with nothing after it: the form of an ``Origin`` header."""
    return _ORIGIN.fullmatch(text) is not None


_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read ``path`` (or the defaults when None), apply ``overrides``, and check the result.

    ``overrides`` maps dotted keys (``"native.port"``) to values; None values are skipped,
    so command-line flags that were not given change nothing.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        raw.setdefault(section, {})[key] = value
    try:
        config = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"bad configuration{where}: {exc}") from None
    config.check()
    return config
