"""The web door's HTTP side without sockets: bytes in, responses (or an upgrade) out."""

from __future__ import annotations

import pytest

from teahouse.doors.web.http import (
    CONTENT_SECURITY_POLICY,
    HttpSide,
    Respond,
    StaticFiles,
    Upgrade,
)

INDEX = b"<!doctype html><title>tea</title>"
APP = b"export const x = 1;\n"


def files() -> StaticFiles:
    index = StaticFiles.make(INDEX, "text/html; charset=utf-8")
    return StaticFiles(
        {"/": index, "/index.html": index, "/app.js": StaticFiles.make(APP, "text/javascript")}
    )


def ask(side: HttpSide, raw: bytes) -> list[Respond | Upgrade]:
    side.receive_data(raw)
    steps: list[Respond | Upgrade] = []
    while (step := side.next_step()) is not None:
        steps.append(step)
        if isinstance(step, Upgrade) or step.close:
            break
    return steps


def parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def get(path: str, *extra: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: chat.example.org", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_the_index_is_served_with_the_security_headers() -> None:
    (step,) = ask(HttpSide(files()), get("/"))
    assert isinstance(step, Respond) and not step.close
    status, headers, body = parse(step.data)
    assert status == 200 and body == INDEX
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-cache"
    assert headers["content-length"] == str(len(INDEX))


def test_keep_alive_serves_pipelined_requests_in_order() -> None:
    steps = ask(HttpSide(files()), get("/app.js") + get("/index.html") + get("/nope"))
    statuses = [parse(step.data)[0] for step in steps if isinstance(step, Respond)]
    assert statuses == [200, 200, 404]
    assert parse(steps[0].data)[2] == APP  # type: ignore[union-attr]


def test_head_has_the_headers_and_no_body() -> None:
    (step,) = ask(HttpSide(files()), get("/app.js", method="HEAD"))
    assert isinstance(step, Respond)
    status, headers, body = parse(step.data)
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len(APP))


def test_a_known_etag_gets_304() -> None:
    side = HttpSide(files())
    (first,) = ask(side, get("/app.js"))
    etag = parse(first.data)[1]["etag"]  # type: ignore[union-attr]
    (second,) = ask(side, get("/app.js", f"If-None-Match: {etag}"))
    status, _, body = parse(second.data)  # type: ignore[union-attr]
    assert status == 304 and body == b""


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/..%2f..%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "//etc/passwd",
        "/static/../index.html",
        "/./app.js",
        "/app.js/",
        "/APP.JS",
        "/__init__.py",
        "/web/__init__.py",
        "http://chat.example.org/../../etc/passwd",
        "/index.html%00.js",
    ],
)
def test_no_path_outside_the_table_is_served(path: str) -> None:
    side = HttpSide(files())
    steps = ask(side, get(path))
    assert steps and isinstance(steps[0], Respond)
    assert parse(steps[0].data)[0] in (400, 404)


def test_the_packaged_client_is_loaded_and_only_known_kinds() -> None:
    packaged = StaticFiles.from_package()
    paths = packaged.paths()
    assert "/" in paths and "/index.html" in paths and "/app.js" in paths
    assert not [p for p in paths if p.endswith(".py")]
    index = packaged.get("/")
    assert index is not None and b'<script type="module" src="/app.js">' in index.body


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT"])
def test_other_methods_are_refused_and_the_connection_closed(method: str) -> None:
    target = "chat.example.org:443" if method == "CONNECT" else "/"
    (step,) = ask(HttpSide(files()), get(target, method=method))
    assert isinstance(step, Respond) and step.close
    status, headers, _ = parse(step.data)
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_a_request_with_a_body_is_refused() -> None:
    (step,) = ask(HttpSide(files()), get("/", "Content-Length: 5") + b"hello")
    assert isinstance(step, Respond) and step.close
    assert parse(step.data)[0] == 413


def test_an_oversized_head_is_refused_before_it_ends() -> None:
    side = HttpSide(files(), max_head=8192)
    steps = ask(side, b"GET / HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 9000)
    assert len(steps) == 1 and isinstance(steps[0], Respond) and steps[0].close
    assert parse(steps[0].data)[0] == 431


def test_garbage_is_a_bad_request() -> None:
    (step,) = ask(HttpSide(files()), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
    assert isinstance(step, Respond) and step.close and parse(step.data)[0] == 400


def test_an_unfinished_head_waits_and_counts_as_buffered() -> None:
    side = HttpSide(files())
    assert ask(side, b"GET / HTTP/1.1\r\nHost: x\r\n") == []
    assert side.buffered > 0
    (step,) = ask(side, b"\r\n")
    assert isinstance(step, Respond) and parse(step.data)[0] == 200
    assert side.buffered == 0


def test_http_10_and_connection_close_end_after_the_answer() -> None:
    (old,) = ask(HttpSide(files()), b"GET / HTTP/1.0\r\n\r\n")
    assert isinstance(old, Respond) and old.close
    (closing,) = ask(HttpSide(files()), get("/", "Connection: close"))
    assert isinstance(closing, Respond) and closing.close


def test_the_websocket_path_hands_over_the_request_and_what_follows() -> None:
    upgrade = get(
        "/ws?x=1",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    steps = ask(HttpSide(files()), get("/app.js") + upgrade + b"\x81\x85rest!")
    assert isinstance(steps[0], Respond)
    assert isinstance(steps[1], Upgrade)
    assert steps[1].request.target == b"/ws?x=1"
    assert steps[1].rest == b"\x81\x85rest!"
