"""What the connect dialog remembers: servers, user names, rooms (QSettings), and, only when
the user asks and a system keyring exists, passwords (``keyring``).

Passwords never go to QSettings: its file is plain text. The keyring may talk to a desktop
service over D-Bus and can be slow or hang, so its functions are meant to run in a thread
(``asyncio.to_thread``), never on the Qt thread.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from PySide6.QtCore import QSettings

log = logging.getLogger("teahouse.gui")

_T = TypeVar("_T")

KEYRING_SERVICE = "teahouse"
MAX_SERVERS = 20


@dataclass
class ServerEntry:
    """A server the user connected to, and the names they used there (latest first)."""

    host: str
    port: int
    tls: bool = False
    ca_file: str = ""
    users: list[str] = field(default_factory=list)
    rooms: dict[str, list[str]] = field(default_factory=dict)
    """Rooms joined, per lower-case user name: joined again on the next login."""
    keyring_users: list[str] = field(default_factory=list)
    """Users whose password the user asked to keep in the keyring."""

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


class ProfileStore:
    """Remembered servers in a :class:`QSettings` (as one JSON value: portable and typed)."""

    KEY = "connect/servers"

    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def servers(self) -> list[ServerEntry]:
        """Most recently used first."""
        raw = self.settings.value(self.KEY, "[]")
        try:
            items = json.loads(str(raw))
        except ValueError:
            return []
        entries = []
        for item in items if isinstance(items, list) else []:
            try:
                entries.append(_entry(item))
            except (TypeError, ValueError, KeyError):
                continue
        return entries

    def find(self, host: str, port: int) -> ServerEntry | None:
        for entry in self.servers():
            if entry.host == host and entry.port == port:
                return entry
        return None

    def _save(self, entries: list[ServerEntry]) -> None:
        self.settings.setValue(self.KEY, json.dumps([asdict(e) for e in entries[:MAX_SERVERS]]))
        self.settings.sync()

    def remember(
        self, host: str, port: int, user: str, *, tls: bool, ca_file: str, keyring: bool
    ) -> ServerEntry:
        """Put this server (and user) first."""
        entries = self.servers()
        entry = next((e for e in entries if e.host == host and e.port == port), None)
        if entry is None:
            entry = ServerEntry(host, port)
        else:
            entries.remove(entry)
        entry.tls, entry.ca_file = tls, ca_file
        entry.users = [user] + [u for u in entry.users if u.lower() != user.lower()]
        keep = [u for u in entry.keyring_users if u.lower() != user.lower()]
        entry.keyring_users = [user, *keep] if keyring else keep
        entries.insert(0, entry)
        self._save(entries)
        return entry

    def rooms(self, host: str, port: int, user: str) -> list[str]:
        entry = self.find(host, port)
        return list(entry.rooms.get(user.lower(), [])) if entry else []

    def set_rooms(self, host: str, port: int, user: str, rooms: list[str]) -> None:
        entries = self.servers()
        for entry in entries:
            if entry.host == host and entry.port == port:
                entry.rooms[user.lower()] = sorted(rooms)
                self._save(entries)
                return


def _entry(item: dict[str, Any]) -> ServerEntry:
    return ServerEntry(
        host=str(item["host"]),
        port=int(item["port"]),
        tls=bool(item.get("tls", False)),
        ca_file=str(item.get("ca_file", "")),
        users=[str(u) for u in item.get("users", [])],
        rooms={str(k): [str(r) for r in v] for k, v in dict(item.get("rooms", {})).items()},
        keyring_users=[str(u) for u in item.get("keyring_users", [])],
    )


# -- the system keyring (call these in a thread) ---------------------------------------


async def off_thread(function: Callable[..., _T], *args: Any) -> _T:
    """Run ``function(*args)`` in a worker thread, after collecting garbage here first.

    Why the collection: Python's cycle collector runs in whichever thread happens to
    allocate, and a Qt object it frees is destroyed in that thread. Qt cannot unregister a
    timer from another thread, so a window or timer dropped as garbage and collected by a
    worker would leave a dangling timer that crashes the Qt thread when it fires. Collecting
    on the Qt thread right before the job leaves the worker nothing Qt-related to free.
    """
    gc.collect()
    return await asyncio.to_thread(function, *args)


def _account(host: str, port: int, user: str) -> str:
    return f"{user.lower()}@{host}:{port}"


@functools.cache
def keyring_available() -> bool:
    """True when a real system keyring is there (not keyring's "fail" or "null" backend).

    Asked once per process (it may take a D-Bus round trip)."""
    try:
        import keyring
    except ImportError:
        return False
    try:
        return float(keyring.get_keyring().priority) > 0
    except Exception:
        log.debug("no usable keyring", exc_info=True)
        return False


def load_password(host: str, port: int, user: str) -> str | None:
    try:
        import keyring

        password = keyring.get_password(KEYRING_SERVICE, _account(host, port, user))
    except Exception:
        log.warning("could not read the password from the keyring", exc_info=True)
        return None
    return password if isinstance(password, str) else None


def save_password(host: str, port: int, user: str, password: str) -> bool:
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, _account(host, port, user), password)
    except Exception:
        log.warning("could not store the password in the keyring", exc_info=True)
        return False
    return True


def forget_password(host: str, port: int, user: str) -> None:
    try:
        import keyring
        import keyring.errors

        keyring.delete_password(KEYRING_SERVICE, _account(host, port, user))
    except Exception:
        log.debug("no password to forget in the keyring", exc_info=True)
