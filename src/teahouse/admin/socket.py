"""The admin socket: a Unix socket in the data dir (mode 0600) for ``teahouse admin``.

One request per connection: the client sends one JSON line, ``{"words": [...]}`` or
``{"cmd": "...", "args": {...}}``; the server answers one JSON line, ``{"ok": true,
"text": ..., "data": ...}`` or ``{"ok": false, "code": ..., "message": ...}``, and closes.
Only the owner of the data dir (and root) can connect: the file mode is the access check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from teahouse.admin.commands import CommandSet
from teahouse.errors import ChatError, InvalidField

log = logging.getLogger("teahouse.admin")

MAX_REQUEST = 1 << 16
"""A security limit on one request line."""


class AdminSocketServer:
    def __init__(self, commands: CommandSet, path: Path) -> None:
        self.commands = commands
        self.path = path
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        uid = _peer_uid(writer)
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=30)
            answer = await self._answer(line, actor="server", entrance=f"socket uid={uid}")
        except (TimeoutError, ValueError, ConnectionError):
            answer = {"ok": False, "code": "bad_frame", "message": "one JSON line, please"}
        try:
            writer.write(json.dumps(answer, default=str).encode() + b"\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes, actor: str, entrance: str) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise InvalidField("the request must be a JSON object")
            words = request.get("words")
            if isinstance(words, list) and all(isinstance(w, str) for w in words):
                text, data = await self.commands.run_words(words, actor=actor, entrance=entrance)
            elif isinstance(request.get("cmd"), str) and isinstance(request.get("args", {}), dict):
                text, data = await self.commands.run(
                    request["cmd"], request.get("args", {}), actor=actor, entrance=entrance
                )
            else:
                raise InvalidField("send {'words': [...]} or {'cmd': ..., 'args': {...}}")
        except json.JSONDecodeError:
            return {"ok": False, "code": "bad_frame", "message": "the request is not JSON"}
        except ChatError as exc:
            return {"ok": False, "code": exc.code, "message": exc.message}
        except Exception:
            log.exception("admin command failed")
            return {"ok": False, "code": "internal", "message": "internal error; see the log"}
        return {"ok": True, "text": text, "data": data}

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _peer_uid(writer: asyncio.StreamWriter) -> int:
    sock = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return -1
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    except OSError:
        return -1
    return int.from_bytes(creds[4:8], "little")


class AdminUnavailable(Exception):
    """No server answers on the admin socket."""


def call_admin(path: Path, request: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to a running server's admin socket and return its answer.

    Raises :class:`AdminUnavailable` when nothing listens there.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise AdminUnavailable(f"no server is running with admin socket {path}") from exc
        sock.sendall(json.dumps(request).encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer = json.loads(b"".join(chunks) or b"{}")
    if not isinstance(answer, dict):
        raise AdminUnavailable("the admin socket gave a malformed answer")
    return answer
