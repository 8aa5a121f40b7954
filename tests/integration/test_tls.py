"""TLS on both doors: real handshakes with certificates made by trustme."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

PASSWORD = "correct-horse-1"


@pytest.fixture
def certs(tmp_path: Path) -> dict[str, Any]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "cert.pem")
    cert.private_key_pem.write_to_path(tmp_path / "key.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    return {
        "ca": ca,
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "cafile": tmp_path / "ca.pem",
    }


def tls_server(make_server: Any, certs: dict[str, Any], **sections: Any) -> Any:
    tls = {"cert": str(certs["cert"]), "key": str(certs["key"]), "native_port": 0, "irc_port": 0}
    return make_server(tls=tls, **sections)


async def shut(writer: asyncio.StreamWriter) -> None:
    """Close and wait: a TLS transport needs the loop to finish closing."""
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        await writer.wait_closed()


def client_context(certs: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certs["cafile"]))


async def test_native_protocol_over_tls(make_server: Any, certs: dict[str, Any]) -> None:
    server = tls_server(make_server, certs)
    port = server.doors["native_tls"]
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=client_context(certs), server_hostname="127.0.0.1"
    )
    writer.write(b'{"type":"hello","proto":1}\n')
    writer.write(
        json.dumps({"type": "register", "user": "alice", "password": PASSWORD}).encode() + b"\n"
    )
    welcome = json.loads(await asyncio.wait_for(reader.readline(), 5))
    authed = json.loads(await asyncio.wait_for(reader.readline(), 5))
    assert welcome["type"] == "welcome" and authed["type"] == "authed"
    assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    await shut(writer)


async def test_irc_over_tls(make_server: Any, certs: dict[str, Any]) -> None:
    server = tls_server(make_server, certs)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.doors["irc_tls"], ssl=client_context(certs), server_hostname="127.0.0.1"
    )
    writer.write(b"NICK tlsguest\r\nUSER t 0 * :TLS guest\r\n")
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        if b" 001 " in line:
            break
    await shut(writer)


async def test_an_untrusted_certificate_is_refused_by_the_client(
    make_server: Any, certs: dict[str, Any]
) -> None:
    server = tls_server(make_server, certs)

    def handshake() -> None:
        # A blocking socket in a thread: a failed handshake leaves no transport behind.
        port = server.doors["native_tls"]
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1").close()
        finally:
            raw.close()

    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(handshake)


async def test_a_banned_address_gets_no_handshake(make_server: Any, certs: dict[str, Any]) -> None:
    server = tls_server(make_server, certs)
    assert server.admin("ban", "127.0.0.77", "1h").returncode == 0
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.doors["native_tls"], local_addr=("127.0.0.77", 0)
    )
    # Closed before any TLS byte comes back (EOF, or a reset if our bytes were unread).
    try:
        writer.write(b"\x16\x03\x01\x00\x05hello")  # the start of a ClientHello
        assert await asyncio.wait_for(reader.read(100), 5) == b""
    except ConnectionResetError:
        pass
    await shut(writer)


async def test_a_silent_handshake_is_closed_at_the_login_deadline(
    make_server: Any, certs: dict[str, Any]
) -> None:
    server = tls_server(make_server, certs, limits={"login_timeout": 0.5})
    baseline = server.fd_count()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.doors["native_tls"])
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(100), 5) == b""  # no ClientHello ever sent
    assert time.monotonic() - started < 0.5 + 1.0
    await shut(writer)
    deadline = time.monotonic() + 3
    while server.fd_count() != baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert server.fd_count() == baseline


async def test_sighup_reloads_the_certificate_without_dropping_connections(
    make_server: Any, certs: dict[str, Any]
) -> None:
    server = tls_server(make_server, certs)
    port = server.doors["native_tls"]
    ctx = client_context(certs)
    old_reader, old_writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
    )
    first = old_writer.get_extra_info("ssl_object").getpeercert(binary_form=True)

    renewed = certs["ca"].issue_cert("127.0.0.1", "localhost")
    renewed.cert_chain_pems[0].write_to_path(certs["cert"])
    renewed.private_key_pem.write_to_path(certs["key"])
    server.proc.send_signal(signal.SIGHUP)
    await asyncio.sleep(0.5)

    _new_reader, new_writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1"
    )
    second = new_writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    assert first != second
    # The connection made before the reload still works.
    old_writer.write(b'{"type":"ping","t":5}\n')
    assert json.loads(await asyncio.wait_for(old_reader.readline(), 5)) == {"type": "pong", "t": 5}
    assert "TLS certificate reloaded" in server.log()
    for w in (old_writer, new_writer):
        await shut(w)
