"""The web door end to end, without a browser: a real server, the websockets client library
and raw sockets for the HTTP side; native users beside."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import trustme
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

from tests.conftest import RawClient

PASSWORD = "correct-horse-1"


def web_url(server: Any, path: str = "/ws", scheme: str = "ws") -> str:
    port = server.doors["web_tls" if scheme in ("wss", "https") else "web"]
    return f"{scheme}://127.0.0.1:{port}{path}"


def own_origin(server: Any) -> str:
    return f"http://127.0.0.1:{server.doors['web']}"


async def open_ws(server: Any, **kw: Any) -> ClientConnection:
    kw.setdefault("origin", own_origin(server))
    return await connect(web_url(server), open_timeout=5, **kw)


async def send(ws: ClientConnection, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def recv_until(ws: ClientConnection, kind: str, timeout: float = 5, **match: Any) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            assert isinstance(message, str), "the server sends text messages only"
            frame = json.loads(message)
            if frame["type"] == "ping" and kind != "ping":
                await send(ws, type="pong", t=frame["t"])
                continue
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame


async def login(ws: ClientConnection, user: str, register: bool = True) -> Any:
    await send(ws, type="hello", proto=1, client="tests")
    await send(ws, type="register" if register else "login", user=user, password=PASSWORD)
    return await recv_until(ws, "authed")


async def http(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send ``raw`` as is and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    try:
        async with asyncio.timeout(timeout):
            return await reader.read(-1)
    finally:
        writer.close()


async def test_a_web_user_and_a_native_user_talk_in_one_room(server: Any, raw: Any) -> None:
    ws = await open_ws(server)
    try:
        welcome = await login(ws, "Webby")
        assert welcome["user"] == "Webby"
        await send(ws, type="join", room="lobby")
        await recv_until(ws, "replay_end", room="lobby")

        nat: RawClient = await raw(server.port)
        await nat.login("Nat", PASSWORD, register=True)
        await nat.send(type="join", room="lobby")
        await nat.recv_until("replay_end", room="lobby")
        joined = await recv_until(ws, "presence", user="Nat")
        assert joined["state"] == "joined"

        await send(ws, type="say", room="lobby", text="hello from a browser", ref=1)
        echo = await recv_until(ws, "message", ref=1)
        heard = await nat.recv_until("message", room="lobby")
        assert heard["text"] == "hello from a browser" and heard["id"] == echo["id"]

        await nat.send(type="say", room="lobby", text="hello from a terminal")
        got = await recv_until(ws, "message", **{"from": "Nat"})
        assert got["text"] == "hello from a terminal"

        # The native protocol's own heartbeat frames work over WebSocket, and so do
        # WebSocket pings.
        await send(ws, type="ping", t=42, ref="p")
        assert (await recv_until(ws, "pong", ref="p"))["t"] == 42
        await asyncio.wait_for(await ws.ping(b"tea"), 5)

        # No compression was negotiated, though the library offered it.
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers

        await send(ws, type="quit")
        await recv_until(ws, "bye")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        left = await nat.recv_until("presence", user="Webby")
        assert left["reason"] == "quit"
    finally:
        await ws.close()


async def test_the_client_files_come_with_strict_headers(server: Any) -> None:
    def fetch(path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(web_url(server, path, "http"), method=method)
        return urllib.request.urlopen(req, timeout=5)

    page = await asyncio.to_thread(fetch, "/")
    body = page.read()
    assert page.status == 200 and b'src="/app.js"' in body
    csp = page.headers["Content-Security-Policy"]
    for rule in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"):
        assert rule in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    script = await asyncio.to_thread(fetch, "/app.js", "HEAD")
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert int(script.headers["Content-Length"]) > 0 and script.read() == b""


@pytest.mark.parametrize(
    "target",
    [
        b"/../pyproject.toml",
        b"/../../../../etc/passwd",
        b"/..%2f..%2f..%2fetc%2fpasswd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"//etc/passwd",
        b"/static/../__init__.py",
        b"/__init__.py",
        b"/index.html/..",
    ],
)
async def test_no_file_outside_the_client_is_served(server: Any, target: bytes) -> None:
    answer = await http(
        server.doors["web"], b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith((b"HTTP/1.1 404", b"HTTP/1.1 400")), answer[:80]
    assert b"root:" not in answer and b"[project]" not in answer


async def test_a_page_of_another_site_may_not_open_the_chat(make_server: Any) -> None:
    server = make_server(web={"origins": ["https://friends.example"]})
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(server, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    for origin in (own_origin(server), "https://friends.example", None):
        ws = await open_ws(server, origin=origin)
        await login(ws, f"U{abs(hash(origin)) % 10000}")
        await ws.close()


async def test_an_oversized_message_is_fatal_and_never_buffered(server: Any) -> None:
    ws = await open_ws(server, max_size=None)
    try:
        await ws.send("x" * 5000)  # over max_frame_preauth (4096)
        error = await recv_until(ws, "error")
        assert error["code"] == "frame_too_large" and error["fatal"] is True
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        await ws.close()
    assert "reason=frame_too_large" in server.log()


async def test_after_login_the_limit_is_max_frame(server: Any) -> None:
    ws = await open_ws(server)
    try:
        await login(ws, "Longwinded")
        await send(ws, type="join", room="lobby")
        await recv_until(ws, "replay_end", room="lobby")
        text = "é" * 4000  # 8000 bytes: more than the pre-auth limit
        await send(ws, type="say", room="lobby", text=text, ref=9)
        assert (await recv_until(ws, "message", ref=9))["text"] == text
    finally:
        await ws.close()


async def test_binary_and_bad_messages_are_bad_frames(server: Any) -> None:
    ws = await open_ws(server)
    try:
        await ws.send(b'{"type":"hello","proto":1}')
        error = await recv_until(ws, "error")
        assert error["code"] == "bad_frame" and error["fatal"] is False
        await ws.send("{nope")
        assert (await recv_until(ws, "error"))["code"] == "bad_frame"
        await login(ws, "StillHere")
    finally:
        await ws.close()


async def test_a_connection_that_never_upgrades_is_closed_by_the_login_deadline(
    make_server: Any,
) -> None:
    server = make_server(limits={"login_timeout": 1.0})
    started = asyncio.get_running_loop().time()
    answer = await http(server.doors["web"], b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=10)
    assert answer == b""  # half a request head: no answer, closed
    assert asyncio.get_running_loop().time() - started < 5
    kept_alive = await http(server.doors["web"], b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=10)
    assert kept_alive.startswith(b"HTTP/1.1 200")  # then closed by the same deadline


async def test_a_kick_reaches_a_web_user_as_an_error_then_a_close(server: Any) -> None:
    ws = await open_ws(server)
    try:
        await login(ws, "Victim")
        result = await asyncio.to_thread(server.admin, "kick", "Victim", "enough")
        assert result.returncode == 0, result.stderr
        error = await recv_until(ws, "error")
        assert error["code"] == "kicked" and error["fatal"] is True
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    finally:
        await ws.close()


async def test_forwarded_for_counts_only_from_a_trusted_proxy(make_server: Any) -> None:
    server = make_server(web={"trusted_proxies": ["127.0.0.1"]})
    banned = await asyncio.to_thread(server.admin, "ban", "203.0.113.9")
    assert banned.returncode == 0, banned.stderr
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(server, additional_headers={"X-Forwarded-For": "203.0.113.9"})
    assert refused.value.response.status_code == 403
    # A client cannot hide behind an address it writes itself: the proxy appends the real
    # one, and that is the one taken.
    with pytest.raises(InvalidStatus):
        await open_ws(server, additional_headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    ws = await open_ws(server, additional_headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    await login(ws, "Proxied")
    await ws.close()
    assert "peer=198.51.100.1" in server.log()


async def test_forwarded_for_is_ignored_from_anyone_else(server: Any) -> None:
    banned = await asyncio.to_thread(server.admin, "ban", "203.0.113.9")
    assert banned.returncode == 0
    ws = await open_ws(server, additional_headers={"X-Forwarded-For": "203.0.113.9"})
    await login(ws, "Direct")
    await ws.close()


async def test_the_web_door_over_tls(make_server: Any, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "cert.pem")
    cert.private_key_pem.write_to_path(tmp_path / "key.pem")
    tls = {"cert": str(tmp_path / "cert.pem"), "key": str(tmp_path / "key.pem")}
    server = make_server(tls={**tls, "native_port": 0, "irc_port": 0, "web_port": 0})
    context = ssl.create_default_context()
    ca.configure_trust(context)
    origin = f"https://127.0.0.1:{server.doors['web_tls']}"
    ws = await connect(web_url(server, scheme="wss"), ssl=context, origin=origin, open_timeout=5)
    try:
        await login(ws, "Secure")
    finally:
        await ws.close()


async def test_shutdown_closes_websockets_and_idle_proxy_connections(make_server: Any) -> None:
    server = make_server(web={"trusted_proxies": ["127.0.0.1"]})
    ws = await open_ws(server)
    await login(ws, "Stayer")
    # A proxy's kept-alive connection that fetched a file: no session, the door's own.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.doors["web"])
    writer.write(b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    started = asyncio.get_running_loop().time()
    server.proc.send_signal(signal.SIGTERM)
    error = await recv_until(ws, "error")
    assert error["code"] == "server_shutdown" and error["fatal"] is True
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    async with asyncio.timeout(10):
        while await reader.read(65536):
            pass  # the rest of the file, then EOF
    writer.close()
    assert await asyncio.to_thread(server.proc.wait, 10) == 0
    assert asyncio.get_running_loop().time() - started < 8


async def test_a_websocket_frame_left_unfinished_is_a_slowloris(make_server: Any) -> None:
    server = make_server(limits={"partial_line_timeout": 1.0})
    ws = await open_ws(server)
    try:
        await login(ws, "Slow")
        # The start of a masked text frame whose length says 126+ bytes, and no more.
        ws.transport.write(b"\x81\xfe\x00\xc8")
        error = await recv_until(ws, "error", timeout=10)
        assert error["code"] == "timeout" and error["fatal"] is True
    finally:
        await ws.close()
    assert "reason=slowloris" in server.log()


async def test_a_ping_flood_is_slowed_down_like_a_frame_flood(make_server: Any) -> None:
    server = make_server(limits={"frames_per_second": 50.0, "frames_burst": 10.0})
    ws = await open_ws(server)
    try:
        await login(ws, "Pinger")
        ping = Frame(Opcode.PING, b"x").serialize(mask=True)
        started = asyncio.get_running_loop().time()
        ws.transport.write(ping * 200)  # 190 over the burst: about 3.8 s of debt at 50/s
        await send(ws, type="ping", t=7, ref="after")
        assert (await recv_until(ws, "pong", timeout=20, ref="after"))["t"] == 7
        assert asyncio.get_running_loop().time() - started >= 2.0
    finally:
        await ws.close()


METRICS_TOKEN = "scrape-me-0123456789"


async def test_metrics_need_the_token_and_count_connections_per_door(
    make_server: Any, raw: Any
) -> None:
    server = make_server(metrics={"token": METRICS_TOKEN})
    ws = await open_ws(server)
    await login(ws, "Metered")
    try:
        port = server.doors["web"]
        refused = await http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 401")
        wrong = await http(
            port,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer not-the-token\r\n\r\n",
        )
        assert wrong.startswith(b"HTTP/1.1 401")
        answer = await http(
            port,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Authorization: Bearer {METRICS_TOKEN}\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 200")
        text = answer.partition(b"\r\n\r\n")[2].decode()
        # The WebSocket, and the HTTP connection of this very scrape.
        assert 'teahouse_connections{door="web"} 2.0' in text
        assert 'teahouse_connections{door="native"} 0.0' in text
        assert 'teahouse_logins_total{result="ok"} 1.0' in text
        assert "teahouse_password_hashes_in_flight" in text
        assert "process_resident_memory_bytes" in text
    finally:
        await ws.close()


async def test_without_a_token_there_are_no_metrics(server: Any) -> None:
    answer = await http(
        server.doors["web"],
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer anything-at-all-123\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 404")
