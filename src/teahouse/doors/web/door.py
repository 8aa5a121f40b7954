"""The web door: the browser client's files and the native protocol over WebSocket, on one
port (``web.port``, and ``tls.web_port`` with TLS), served by the same hub as the other
doors."""

from __future__ import annotations

from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.limits import Allowlist
from teahouse.doors.native import ENCODER, NativeDoor
from teahouse.doors.web.connection import WebConnection
from teahouse.doors.web.http import MetricsEndpoint, StaticFiles
from teahouse.doors.web.wire import WebEncoder


class WebDoor(NativeDoor):
    """A native door whose connections speak HTTP first (see :mod:`.connection`).

    It shares the native door's welcome frame, rate limits and login path; what it adds is
    its encoder (WebSocket frames), the static files, and the handshake's settings.
    """

    name = "web"

    def __init__(self, hub: Hub, config: Config, files: StaticFiles | None = None) -> None:
        super().__init__(hub, config)
        self.encoder = WebEncoder(ENCODER)
        """One for every web connection, so a fan-out frames an event once for all."""
        self.files = files if files is not None else StaticFiles.from_package()
        self.origins = frozenset(origin.lower() for origin in config.web.origins)
        self.trusted_proxies = Allowlist(config.web.trusted_proxies)
        self.metrics: MetricsEndpoint | None = None
        """``/metrics``, once the server sets it up (``metrics.token``)."""
        self.sessionless: set[WebConnection] = set()
        """Open connections from trusted proxies that have no session yet: the hub does not
        know them, so the door closes them itself at shutdown."""

    def connection(self) -> WebConnection:
        return WebConnection(self)

    def stop_accepting(self) -> None:
        super().stop_accepting()
        for connection in list(self.sessionless):
            connection.close_transport(abort=False)
