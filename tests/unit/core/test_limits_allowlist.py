"""The allowlist: networks and addresses, and its bounded memory of answers."""

from __future__ import annotations

from teahouse.core.limits import Allowlist


def test_addresses_in_listed_networks_are_allowed_and_answers_stay_right() -> None:
    allow = Allowlist(["127.0.0.0/8", "2001:db8::1"])
    for _ in range(2):  # the second pass answers from memory
        assert "127.0.0.9" in allow
        assert "2001:db8::1" in allow
        assert "10.0.0.1" not in allow
        assert "not an address" not in allow


def test_its_memory_of_answers_is_bounded() -> None:
    allow = Allowlist(["10.0.0.0/8"])
    for n in range(Allowlist.MEMO * 2 + 7):
        assert f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}" in allow
        assert len(allow._memo) <= Allowlist.MEMO


def test_an_empty_allowlist_allows_nothing() -> None:
    assert "127.0.0.1" not in Allowlist([])
