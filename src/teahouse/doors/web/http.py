"""The web door's HTTP side, sans I/O: the client's static files, and the road to /ws.

:class:`StaticFiles` loads the web client from the installed package once, at start
(``teahouse/web/static``, through :mod:`importlib.resources`), and answers a request path
by exact lookup in that table: no path is ever joined, decoded or resolved, so no request
can reach a file outside it. Every response carries the same security headers (a strict
Content-Security-Policy first of all).

:class:`HttpSide` reads HTTP/1.1 with h11 (keep-alive, ``HEAD``, pipelining) until a request
for the WebSocket path arrives, then hands that request and the bytes after it to the
caller::

    side = HttpSide(files)
    side.receive_data(data)
    while (step := side.next_step()) is not None:
        ...   # Respond(data, close) to write, or Upgrade(request, rest) to switch

``/metrics`` answers Prometheus (a :class:`MetricsEndpoint`) only when the server has a
metrics token, and only to a request that carries it as ``Authorization: Bearer``; else
it is a 404 like any path that is not a file.

Limits: a request head may hold ``max_head`` bytes (8 KiB; more is answered 431); request
bodies are refused (413), methods other than GET and HEAD too (405).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import h11

WS_PATH = "/ws"
"""Where the WebSocket is served."""
METRICS_PATH = "/metrics"
"""Where Prometheus scrapes, when a token is set."""
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

MAX_HEAD = 8192
"""The longest request head accepted, in bytes (a security limit)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
"""The only kinds of file served; a file of any other kind in the folder is left out."""


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: bytes
    """A strong validator: the first 16 hex digits of the body's SHA-256, quoted."""


class StaticFiles:
    """The web client's files, by request path (``/`` is ``index.html``)."""

    def __init__(self, files: dict[str, StaticFile]) -> None:
        self._files = files

    @classmethod
    def from_package(cls, package: str = "teahouse.web", folder: str = "static") -> StaticFiles:
        """Load every servable file of ``package``'s ``folder`` (and its subfolders)."""
        root = resources.files(package).joinpath(folder)
        files: dict[str, StaticFile] = {}
        for path, entry in _walk(root, ""):
            suffix = "." + path.rpartition(".")[2] if "." in path else ""
            content_type = CONTENT_TYPES.get(suffix)
            if content_type is None:
                continue
            files[path] = cls.make(entry.read_bytes(), content_type)
        if "/index.html" in files:
            files["/"] = files["/index.html"]
        return cls(files)

    @staticmethod
    def make(body: bytes, content_type: str) -> StaticFile:
        etag = b'"' + hashlib.sha256(body).hexdigest()[:16].encode() + b'"'
        return StaticFile(body, content_type, etag)

    def get(self, path: str) -> StaticFile | None:
        return self._files.get(path)

    def paths(self) -> list[str]:
        return sorted(self._files)


def _walk(folder: Traversable, prefix: str) -> Iterable[tuple[str, Traversable]]:
    for entry in folder.iterdir():
        name = entry.name
        if name.startswith((".", "_")):
            continue
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}/{name}")
        elif entry.is_file():
            yield f"{prefix}/{name}", entry


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """``/metrics``: the bearer token a scrape must carry, and the text to answer."""

    token: str
    render: Callable[[], bytes]

    def allows(self, request: h11.Request) -> bool:
        wanted = b"bearer " + self.token.encode()
        for name, value in request.headers:
            # One constant-time comparison: the token is a password.
            if name == b"authorization" and hmac.compare_digest(
                value.lower()[:7] + value[7:], wanted
            ):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Respond:
    """Bytes to write; ``close``: then close the connection."""

    data: bytes
    close: bool


@dataclass(frozen=True, slots=True)
class Upgrade:
    """A request for the WebSocket path, and the bytes received after it."""

    request: h11.Request
    rest: bytes


class HttpSide:
    """HTTP/1.1 until the WebSocket upgrade (see the module doc). One per connection."""

    __slots__ = ("_conn", "_files", "_metrics", "_upgrade")

    def __init__(
        self,
        files: StaticFiles,
        max_head: int = MAX_HEAD,
        metrics: MetricsEndpoint | None = None,
    ) -> None:
        self._files = files
        self._metrics = metrics
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head)
        self._upgrade: h11.Request | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet read: part of a request head, or pipelined requests."""
        return len(self._conn.trailing_data[0])

    def receive_data(self, data: bytes) -> None:
        self._conn.receive_data(data)

    def next_step(self) -> Respond | Upgrade | None:
        """What to do next, or None until more bytes arrive. After a ``Respond`` with
        ``close`` or an ``Upgrade`` this object must not be used again."""
        conn = self._conn
        while True:
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                return self._refuse(exc.error_status_hint, "bad request")
            if event is h11.NEED_DATA:
                return None
            if event is h11.PAUSED:
                # Only the upgrade request pauses the reader (h11 waits for our 101).
                if self._upgrade is not None:
                    return Upgrade(self._upgrade, conn.trailing_data[0])
                return None
            if isinstance(event, h11.Request):
                answer = self._answer(event)
                if answer is not None:
                    return answer
            elif isinstance(event, h11.EndOfMessage):
                if self._upgrade is not None:
                    return Upgrade(self._upgrade, conn.trailing_data[0])
            elif isinstance(event, h11.ConnectionClosed):
                return Respond(b"", close=True)
            # h11.Data cannot come: a request with a body is refused before it is read.

    def _answer(self, request: h11.Request) -> Respond | None:
        method = request.method
        if method not in (b"GET", b"HEAD"):
            return self._refuse(405, "only GET and HEAD", extra=((b"allow", b"GET, HEAD"),))
        if _has_body(request):
            return self._refuse(413, "requests with a body are not accepted")
        path = _path(request.target)
        if path == WS_PATH and method == b"GET":
            self._upgrade = request
            return None  # answered by the caller once the request has ended
        if path == METRICS_PATH and self._metrics is not None:
            return self._scrape(request, self._metrics)
        found = self._files.get(path)
        if found is None:
            return self._text(404, "not found", head=method == b"HEAD")
        headers = [
            (b"content-type", found.content_type.encode()),
            (b"etag", found.etag),
            (b"cache-control", b"no-cache"),
            *SECURITY_HEADERS,
        ]
        if _etag_matches(request, found.etag):
            return self._send(304, headers, None)
        headers.append((b"content-length", str(len(found.body)).encode()))
        return self._send(200, headers, None if method == b"HEAD" else found.body)

    def _scrape(self, request: h11.Request, metrics: MetricsEndpoint) -> Respond:
        head = request.method == b"HEAD"
        if not metrics.allows(request):
            text = "metrics need Authorization: Bearer <metrics.token>"
            return self._text(401, text, head=head, extra=((b"www-authenticate", b"Bearer"),))
        body = metrics.render()
        headers = [
            (b"content-type", METRICS_TYPE),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *SECURITY_HEADERS,
        ]
        return self._send(200, headers, None if head else body)

    def _text(
        self,
        status: int,
        text: str,
        *,
        head: bool = False,
        extra: tuple[tuple[bytes, bytes], ...] = (),
    ) -> Respond:
        body = text.encode() + b"\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            *extra,
            *SECURITY_HEADERS,
        ]
        return self._send(status, headers, None if head else body)

    def _refuse(
        self, status: int, text: str, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> Respond:
        """An error after which the connection closes (its request is not read further)."""
        body = text.encode() + b"\n"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            *extra,
            *SECURITY_HEADERS,
        ]
        return Respond(refusal(status, headers, body), close=True)

    def _send(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes | None) -> Respond:
        """One whole response through h11, which keeps the connection alive or not as
        the request asked (HTTP/1.0, ``Connection: close``)."""
        conn = self._conn
        data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        if body:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        return Respond(data, close=conn.our_state is h11.MUST_CLOSE)


def refusal(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A complete HTTP/1.1 response written without h11, for connections whose state h11
    cannot answer from (a malformed request, or a refusal before any request was read)."""
    reason = _REASONS.get(status, b"Error")
    lines = [b"HTTP/1.1 %d %s" % (status, reason)]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_REASONS = {
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Content Too Large",
    414: b"URI Too Long",
    426: b"Upgrade Required",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def _path(target: bytes) -> str:
    """The path of a request target, without the query; anything else (absolute or
    authority form, non-ASCII) becomes a path that names no file."""
    if not target.startswith(b"/"):
        return ""
    path = target.split(b"?", 1)[0].split(b"#", 1)[0]
    try:
        return path.decode("ascii")
    except UnicodeDecodeError:
        return ""


def _has_body(request: h11.Request) -> bool:
    for name, value in request.headers:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length" and value.strip() != b"0":
            return True
    return False


def _etag_matches(request: h11.Request, etag: bytes) -> bool:
    for name, value in request.headers:
        if name == b"if-none-match":
            tags = [tag.strip().removeprefix(b"W/") for tag in value.split(b",")]
            if b"*" in tags or etag in tags:
                return True
    return False
