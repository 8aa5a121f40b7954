"""A door's listening sockets: plain ports and TLS ports, opened and closed together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.limits import cap_listener_send_buffer
from teahouse.doors.tls import TlsContext, TlsListener


class Listeners:
    def __init__(self, hub: Hub, config: Config, make: Callable[[], asyncio.BaseProtocol]) -> None:
        self._hub = hub
        self._config = config
        self._make = make
        self._servers: list[asyncio.Server] = []
        self._tls: list[TlsListener] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        """Handshakes and password checks in flight (kept so they are not collected)."""

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Start listening; returns the address actually bound (port 0 picks one)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._make, host, port, backlog=1024, reuse_address=True)
        self._servers.append(server)
        for listening in server.sockets:
            cap_listener_send_buffer(listening, self._config.limits.socket_send_buffer)
        sock = server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def start_tls(self, host: str, port: int, tls: TlsContext) -> tuple[str, int]:
        """Listen for TLS connections (checked for bans before the handshake)."""
        deadline = self._config.limits.login_timeout
        listener = TlsListener(self._hub, tls, self._make, deadline, self.tasks)
        self._tls.append(listener)
        return listener.start(host, port)

    def stop_accepting(self) -> None:
        for server in self._servers:
            server.close()
        for listener in self._tls:
            listener.close()

    async def wait_closed(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for server in self._servers:
            await server.wait_closed()
