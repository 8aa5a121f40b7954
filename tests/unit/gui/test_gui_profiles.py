"""What the connect dialog remembers: servers and names in QSettings, passwords only in a
keyring (here an in-memory one), and nothing at all without a keyring."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtCore", exc_type=ImportError)
keyring = pytest.importorskip("keyring")

from keyring.backend import KeyringBackend  # noqa: E402
from PySide6.QtCore import QObject, QSettings  # noqa: E402

from teahouse.gui import profiles  # noqa: E402
from teahouse.gui.profiles import ProfileStore  # noqa: E402


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    profiles.keyring_available.cache_clear()
    yield backend
    keyring.set_keyring(previous)
    profiles.keyring_available.cache_clear()


def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))


def test_servers_and_names_most_recent_first(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.remember("chat.example.org", 6680, "alice", tls=False, ca_file="", keyring=False)
    s.remember("127.0.0.1", 6681, "bob", tls=True, ca_file="/ca.pem", keyring=False)
    s.remember("chat.example.org", 6680, "Carol", tls=False, ca_file="", keyring=True)
    again = store(tmp_path)  # a new run of the program
    servers = again.servers()
    assert [e.label for e in servers] == ["chat.example.org:6680", "127.0.0.1:6681"]
    assert servers[0].users == ["Carol", "alice"] and servers[0].keyring_users == ["Carol"]
    assert servers[1].tls and servers[1].ca_file == "/ca.pem"
    again.set_rooms("chat.example.org", 6680, "CAROL", ["lobby", "garden"])
    assert store(tmp_path).rooms("chat.example.org", 6680, "carol") == ["garden", "lobby"]


def test_a_broken_settings_value_is_ignored(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.settings.setValue(ProfileStore.KEY, "{not json")
    assert s.servers() == []
    s.settings.setValue(ProfileStore.KEY, '[{"host": "h"}, {"host": "ok", "port": 1}]')
    assert [e.label for e in s.servers()] == ["ok:1"]


def test_passwords_go_to_the_keyring_only(memory_keyring: MemoryKeyring) -> None:
    assert profiles.keyring_available()
    assert profiles.save_password("h", 1, "Alice", "tea-for-two-1")
    assert memory_keyring.items == {("teahouse", "alice@h:1"): "tea-for-two-1"}
    assert profiles.load_password("h", 1, "alice") == "tea-for-two-1"
    profiles.forget_password("h", 1, "alice")
    assert profiles.load_password("h", 1, "alice") is None


def test_no_keyring_no_password() -> None:
    previous = keyring.get_keyring()
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    profiles.keyring_available.cache_clear()
    try:
        assert not profiles.keyring_available()
        assert profiles.load_password("h", 1, "alice") is None
        assert not profiles.save_password("h", 1, "alice", "x")
    finally:
        keyring.set_keyring(previous)
        profiles.keyring_available.cache_clear()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12 on")
def test_this_pyside_keeps_none_alive() -> None:
    """PySide6 6.12.0 returns None without a reference for an empty QVariant, which crashes
    Python 3.11 ("deallocating None"); pyproject.toml keeps it out. This test says whether
    the installed PySide6 is safe."""
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        obj.property("nothing")
    assert sys.getrefcount(None) > before - 500
