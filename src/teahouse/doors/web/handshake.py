"""The WebSocket handshake's decisions, as pure functions: whose page may connect, and who
the client is behind a reverse proxy.

- :func:`origin_allowed` stops cross-site WebSocket hijacking: a browser always says which
  page opens a WebSocket (the ``Origin`` header), and only the server's own pages (the
  origin whose host is the request's ``Host``) and the configured ``web.origins`` may.
- :func:`client_address` believes ``X-Forwarded-For`` only from a trusted proxy, and takes
  the rightmost address that is not one of the trusted proxies: the one the nearest
  untrusted hop gave, which a client cannot forge.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

import h11
from websockets.datastructures import Headers
from websockets.http11 import Request

from teahouse.core.limits import Allowlist


def header_values(request: h11.Request, name: bytes) -> list[str]:
    """Every value of header ``name`` (lower case) in ``request``, as text."""
    return [value.decode("latin-1") for key, value in request.headers if key == name]


def origin_allowed(request: h11.Request, allowed: Collection[str]) -> bool:
    """True when the page that asks for the WebSocket may have it (see the module doc).

    A request without ``Origin`` is not from a browser page, and is allowed: such a client
    could send any ``Origin`` it likes, and no browser credential rides on it (teahouse
    logs in inside the protocol, with no cookie).
    """
    origins = header_values(request, b"origin")
    if not origins:
        return True
    if len(origins) > 1:
        return False
    origin = origins[0].strip().lower()
    if origin in allowed:
        return True
    scheme, sep, netloc = origin.partition("://")
    if not sep or scheme not in ("http", "https"):
        return False  # "null" (a sandboxed frame, a file), or something odder
    hosts = header_values(request, b"host")
    return len(hosts) == 1 and netloc == hosts[0].strip().lower()


def client_address(peer: str, request: h11.Request, trusted: Allowlist) -> str:
    """The client's address: ``peer``, or from ``X-Forwarded-For`` when ``peer`` is a
    trusted proxy (see the module doc). An unreadable hop ends the walk."""
    if peer not in trusted:
        return peer
    hops = [
        hop.strip()
        for value in header_values(request, b"x-forwarded-for")
        for hop in value.split(",")
    ]
    client = peer
    for hop in reversed(hops):
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            break
        if client not in trusted:
            break
    return client


def websocket_request(request: h11.Request) -> Request:
    """The request as the websockets library takes it, for its handshake checks."""
    headers = Headers()
    for name, value in request.headers:
        headers[name.decode("latin-1")] = value.decode("latin-1")
    return Request(
        path=request.target.decode("latin-1"),
        headers=headers,
        method=request.method.decode("latin-1"),
        protocol="HTTP/" + request.http_version.decode("latin-1"),
    )
