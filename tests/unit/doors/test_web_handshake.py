"""Whose page may open the WebSocket, and who the client is behind a proxy."""

from __future__ import annotations

import h11
import pytest

from teahouse.core.limits import Allowlist
from teahouse.doors.web.handshake import client_address, origin_allowed, websocket_request


def request(*headers: tuple[str, str]) -> h11.Request:
    return h11.Request(method="GET", target="/ws", headers=[*headers])


HOST = ("Host", "chat.example.org")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://chat.example.org", True),
        ("http://chat.example.org", True),
        ("HTTPS://Chat.Example.Org", True),
        ("https://evil.example", False),
        ("https://chat.example.org.evil.example", False),
        ("https://chat.example.org:8443", False),
        ("null", False),
        ("file://", False),
        ("https://friends.example", True),  # configured
    ],
)
def test_origin_must_be_the_host_or_configured(origin: str, allowed: bool) -> None:
    req = request(HOST, ("Origin", origin))
    assert origin_allowed(req, {"https://friends.example"}) is allowed


def test_no_origin_is_not_a_browser_and_allowed() -> None:
    assert origin_allowed(request(HOST), set())


def test_two_origins_are_refused() -> None:
    req = request(HOST, ("Origin", "https://chat.example.org"), ("Origin", "https://x.example"))
    assert not origin_allowed(req, set())


def test_the_port_is_part_of_the_host() -> None:
    req = request(("Host", "127.0.0.1:6690"), ("Origin", "http://127.0.0.1:6690"))
    assert origin_allowed(req, set())
    other = request(("Host", "127.0.0.1:6690"), ("Origin", "http://127.0.0.1:6691"))
    assert not origin_allowed(other, set())


PROXIES = Allowlist(["127.0.0.1", "10.0.0.0/8"])


def test_forwarded_for_is_ignored_from_an_untrusted_peer() -> None:
    req = request(HOST, ("X-Forwarded-For", "203.0.113.9"))
    assert client_address("198.51.100.7", req, PROXIES) == "198.51.100.7"


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    # The client forged the first entry; the proxies appended the real ones.
    req = request(HOST, ("X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.0.0.2"))
    assert client_address("127.0.0.1", req, PROXIES) == "203.0.113.9"


def test_several_headers_are_one_list() -> None:
    req = request(HOST, ("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "203.0.113.9"))
    assert client_address("127.0.0.1", req, PROXIES) == "203.0.113.9"


def test_a_garbled_hop_ends_the_walk_at_the_last_trusted_address() -> None:
    req = request(HOST, ("X-Forwarded-For", "203.0.113.9, not-an-ip, 10.0.0.2"))
    assert client_address("127.0.0.1", req, PROXIES) == "10.0.0.2"


def test_no_header_from_a_proxy_is_the_proxy() -> None:
    assert client_address("127.0.0.1", request(HOST), PROXIES) == "127.0.0.1"


def test_ipv6_hops_are_normalised() -> None:
    req = request(HOST, ("X-Forwarded-For", "2001:DB8::0:1"))
    assert client_address("127.0.0.1", req, PROXIES) == "2001:db8::1"


def test_the_request_converts_for_the_websockets_checks() -> None:
    req = request(HOST, ("Sec-WebSocket-Key", "abc"))
    converted = websocket_request(req)
    assert converted.path == "/ws" and converted.method == "GET"
    assert converted.protocol == "HTTP/1.1"
    assert converted.headers["sec-websocket-key"] == "abc"
