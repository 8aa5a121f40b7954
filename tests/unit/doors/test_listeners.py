"""A door's listening sockets, on real sockets: what accepted connections inherit."""

from __future__ import annotations

import asyncio
import socket

from teahouse.doors.listeners import Listeners

from ..hubkit import HubKit


async def test_accepted_connections_inherit_the_send_buffer_cap(kit: HubKit) -> None:
    # The cap is set once on the listening socket (no system call per connection).
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
            transport.close()

    listeners = Listeners(kit.hub, kit.config, Probe)
    host, port = await listeners.start("127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection(host, port)
        size = await asyncio.wait_for(seen, 5)
        writer.close()
    finally:
        listeners.stop_accepting()
        await listeners.wait_closed()
    cap = kit.config.limits.socket_send_buffer
    assert cap > 0 and size == 2 * cap, "Linux doubles the value set, for its bookkeeping"
