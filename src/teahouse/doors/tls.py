"""TLS for every door: bans are checked before the handshake, certificates reload on SIGHUP.

A :class:`TlsListener` accepts sockets itself, checks the peer's address first (a banned
address costs the server no handshake), then lets the event loop run the handshake
(``connect_accepted_socket``) under the unauthenticated deadline (``limits.login_timeout``)
and hand the TLS transport to the door's own connection object, which then behaves exactly
as on the plain port. (``start_tls`` from a protocol would be simpler, but bytes that
arrive before it takes over are lost under uvloop.)

:class:`TlsContext` holds the current ``SSLContext``. :meth:`TlsContext.reload` builds a
new one from the files; connections already open keep the one they started with.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teahouse.core.hub import Hub
from teahouse.core.limits import cap_listener_send_buffer
from teahouse.errors import ChatError

log = logging.getLogger("teahouse.tls")


class TlsContext:
    """The server's certificate and key, loaded into an ``SSLContext``."""

    def __init__(self, cert: str | Path, key: str | Path) -> None:
        self.cert = Path(cert)
        self.key = Path(key)
        self.context = self._load()

    def _load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context

    def reload(self) -> bool:
        """Load the files again (after a certificate renewal). False, and the old context
        kept, when they cannot be loaded."""
        try:
            self.context = self._load()
        except (OSError, ssl.SSLError) as exc:
            log.error("TLS reload failed, keeping the old certificate: %s", exc)
            return False
        log.info("TLS certificate reloaded from %s", self.cert)
        return True


async def _handshake(
    sock: socket.socket,
    tls: TlsContext,
    make: Callable[[], asyncio.BaseProtocol],
    handshake_deadline: float,
) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.connect_accepted_socket(
            make, sock, ssl=tls.context, ssl_handshake_timeout=handshake_deadline
        )
    except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
        log.info("TLS handshake failed: %s", exc)
        sock.close()


class TlsListener:
    """Accepts on a TLS port: checks the address first, then hands the socket to TLS.

    One accept loop per listener (a task), one short-lived task per handshake in flight;
    nothing per established connection.
    """

    def __init__(
        self,
        hub: Hub,
        tls: TlsContext,
        make: Callable[[], asyncio.BaseProtocol],
        handshake_deadline: float,
        tasks: set[asyncio.Task[Any]],
    ) -> None:
        self.hub = hub
        self.tls = tls
        self.make = make
        self.handshake_deadline = handshake_deadline
        self.tasks = tasks
        self.sock: socket.socket | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def start(self, host: str, port: int) -> tuple[str, int]:
        sock = socket.create_server((host, port), backlog=1024, reuse_port=False)
        sock.setblocking(False)
        cap_listener_send_buffer(sock, self.hub.config.limits.socket_send_buffer)
        self.sock = sock
        self._loop_task = asyncio.get_running_loop().create_task(self._accept_loop(sock))
        name = sock.getsockname()
        return str(name[0]), int(name[1])

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:
                if self.sock is None:
                    return
                log.warning("TLS accept failed: %s", exc)
                await asyncio.sleep(0.1)  # out of fds: do not spin
                continue
            try:
                self.hub.moderation.check_address(str(peer[0]))
            except ChatError:
                conn.close()  # banned: no handshake, fd freed now
                continue
            conn.setblocking(False)
            task = loop.create_task(_handshake(conn, self.tls, self.make, self.handshake_deadline))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if self._loop_task is not None:
            self._loop_task.cancel()
        if sock is not None:
            sock.close()
