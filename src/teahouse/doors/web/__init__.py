"""The web door: the browser client (static files) and the native protocol over WebSocket.

- ``http.py``: the static files and HTTP/1.1 until the upgrade (h11), sans I/O;
- ``handshake.py``: the origin check and the client's address behind a proxy;
- ``wire.py``: native frames as WebSocket messages, both ways (websockets, sans I/O);
- ``connection.py``: :class:`WebConnection`, the asyncio side, built on the native door's;
- ``door.py``: :class:`WebDoor`.
"""

from teahouse.doors.web.door import WebDoor

__all__ = ["WebDoor"]
