"""How the IRC door spells hub events: one :class:`IrcEncoder` per set of capabilities.

Connections that negotiated the same relevant IRCv3 capabilities share one encoder, so a
message to a room is still encoded once per *variant* (usually one or two per room), not
once per member. Replies that only one connection sees (numerics) are written by the
connection itself, so most directed-reply methods here return nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from teahouse.core.session import Ref
from teahouse.doors.outlet import OnceLine
from teahouse.errors import ChatError, Timeout
from teahouse.protocol.irc import IrcMessage, serialize
from teahouse.protocol.names import fold_user
from teahouse.store.base import Role, StoredMessage

if TYPE_CHECKING:
    from teahouse.core.hub import Hub

RELEVANT_CAPS = frozenset(
    {"server-time", "message-tags", "account-tag", "extended-join", "echo-message"}
)
"""Capabilities that change how a broadcast event is spelled."""

ACTION_PREFIX = "/me "
"""How the core stores an IRC ``CTCP ACTION`` (and how native clients write one)."""

_QUIT_WORDS = {
    "quit": "Quit",
    "timeout": "Ping timeout",
    "disconnected": "Connection closed",
    "reset": "Connection reset by peer",
    "kicked": "Killed",
    "banned": "Banned",
    "slow_consumer": "SendQ exceeded",
    "shutdown": "Server shutting down",
    "frame_too_large": "Input line too long",
    "bad_frame": "Protocol error",
    "leak": "Connection lost",
}


def irc_time(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"


def split_utf8(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` UTF-8 bytes, at spaces when possible."""
    data = text.encode()
    if len(data) <= limit:
        return [text]
    pieces = []
    while len(data) > limit:
        cut = limit
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never inside a character
            cut -= 1
        space = data.rfind(b" ", 0, cut)
        if space > limit // 2:
            cut = space + 1
        pieces.append(data[:cut].decode())
        data = data[cut:]
    if data:
        pieces.append(data.decode())
    return pieces


def to_irc_text(text: str) -> str:
    if text.startswith(ACTION_PREFIX):
        return f"\x01ACTION {text[len(ACTION_PREFIX) :]}\x01"
    return text


class IrcEncoder:
    """The hub's Encoder for IRC connections that share one set of capabilities."""

    def __init__(self, hub: Hub, server_name: str, caps: frozenset[str]) -> None:
        self.hub = hub
        self.server_name = server_name
        self.caps = caps
        self.tags_ok = "message-tags" in caps
        self.time_ok = "server-time" in caps or self.tags_ok
        self.account_ok = "account-tag" in caps
        self.echo = "echo-message" in caps
        self.extended_join = "extended-join" in caps

    # -- who is who ------------------------------------------------------------------

    def source(self, user: str) -> str:
        """``nick!user@host`` of a user, online or not."""
        sessions = self.hub.users.get(fold_user(user))
        if sessions:
            return self.hub.hostmask(next(iter(sessions)))
        return f"{user}!{user}@{self.server_name}"

    def account_of(self, user: str) -> str | None:
        sessions = self.hub.users.get(fold_user(user))
        if sessions and next(iter(sessions)).guest:
            return None
        return user

    def _tags(self, ts_ms: int | None, msgid: int | None, sender: str | None) -> dict[str, str]:
        tags: dict[str, str] = {}
        if self.time_ok and ts_ms is not None:
            tags["time"] = irc_time(ts_ms)
        if self.tags_ok and msgid is not None:
            tags["msgid"] = str(msgid)
        if self.account_ok and sender is not None:
            account = self.account_of(sender)
            if account is not None:
                tags["account"] = account
        return tags

    # -- broadcast events ------------------------------------------------------------

    def message(self, message: StoredMessage, *, replay: bool = False, ref: Ref = None) -> bytes:
        if replay and message.room is not None:
            return b""  # IRC has no replay on JOIN; chathistory serves it instead
        if ref is not None and not self.echo:
            return b""  # the sender's own copy, which only echo-message clients want
        target = f"#{message.room}" if message.room is not None else (message.recipient or "*")
        return self.privmsg_lines(message, target, "PRIVMSG")

    def privmsg_lines(self, message: StoredMessage, target: str, command: str) -> bytes:
        source = self.source(message.sender)
        tags = self._tags(message.ts_ms, message.id, message.sender)
        room = 512 - 2 - len(f":{source} {command} {target} :".encode())
        if message.text.startswith(ACTION_PREFIX):  # every piece a whole CTCP ACTION
            body = message.text[len(ACTION_PREFIX) :]
            pieces = [to_irc_text(ACTION_PREFIX + p) for p in split_utf8(body, max(room - 9, 64))]
        else:
            pieces = split_utf8(message.text, max(room, 64))
        if len(pieces) == 1 or "msgid" not in tags:
            return b"".join(
                serialize(IrcMessage(command, (target, p), source, tags)) for p in pieces
            )
        # Each piece is a message of its own to IRC clients: msgid N, then N-2, N-3, ...
        out = []
        for i, piece in enumerate(pieces):
            piece_tags = {**tags, "msgid": tags["msgid"] if i == 0 else f"{message.id}-{i + 1}"}
            out.append(serialize(IrcMessage(command, (target, piece), source, piece_tags)))
        return b"".join(out)

    def presence(
        self,
        room: str,
        user: str,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        source = self.source(user)
        channel = f"#{room}"
        tags = self._tags(self.hub.clock.wall_ms(), None, None)
        if state == "joined":
            if self.extended_join:
                account = self.account_of(user) or "*"
                params: tuple[str, ...] = (channel, account, user)
            else:
                params = (channel,)
            return serialize(IrcMessage("JOIN", params, source, tags))
        if reason == "kicked" and by is not None:
            kicker = self.source(by)
            return serialize(IrcMessage("KICK", (channel, user, text or by), kicker, tags))
        if reason == "part" or online:
            return serialize(IrcMessage("PART", (channel,), source, tags))
        words = _QUIT_WORDS.get(reason or "", reason or "Quit")
        return OnceLine(serialize(IrcMessage("QUIT", (words,), source, tags)))

    def topic(self, room: str, text: str, by: str, ref: Ref = None) -> bytes:
        tags = self._tags(self.hub.clock.wall_ms(), None, None)
        return serialize(IrcMessage("TOPIC", (f"#{room}", text), self.source(by), tags))

    def notice(self, text: str, by: str) -> bytes:
        return serialize(
            IrcMessage("NOTICE", ("*", f"*** Notice from {by}: {text}"), self.server_name)
        )

    def renamed(self, room: str, old: str, new: str) -> bytes:
        sessions = self.hub.users.get(fold_user(new))
        host = sessions and next(iter(sessions)).ip
        source = f"{old}!{old}@{host or self.server_name}"
        tags = self._tags(self.hub.clock.wall_ms(), None, None)
        return OnceLine(serialize(IrcMessage("NICK", (new,), source, tags)))

    def relay(self, kind: str, sender: str, room: str | None, to: str | None, text: str) -> bytes:
        command = "NOTICE" if kind == "notice" else "PRIVMSG"
        target = f"#{room}" if room is not None else (to or "*")
        tags = self._tags(self.hub.clock.wall_ms(), None, sender)
        source = self.source(sender)
        return serialize(IrcMessage(command, (target, text), source, tags))

    def ping(self, t: int) -> bytes:
        return serialize(IrcMessage("PING", (str(t),), self.server_name))

    def error(self, error: ChatError, ref: Ref = None) -> bytes:
        if not error.fatal:
            return b""
        if error.code == "heartbeat_timeout":
            reason = f"Ping timeout: {self.hub.policy.timeout:g} seconds"
        elif error.code == "timeout" and error.message == Timeout.default_message:
            reason = "Registration timeout"
        else:
            reason = error.message
        return serialize(IrcMessage("ERROR", (f"Closing Link: {self.server_name} ({reason})",)))

    # -- directed replies: the connection writes numerics itself ---------------------

    def authed(self, user: str, role: Role, ref: Ref) -> bytes:
        return b""

    def joined(self, room: str, topic: str, members: Sequence[str], ref: Ref) -> bytes:
        return b""

    def parted(self, room: str, ref: Ref) -> bytes:
        return b""

    def replay_end(
        self,
        room: str | None,
        count: int,
        truncated: bool,
        oldest_id: int | None,
        last_id: int | None = None,
    ) -> bytes:
        return b""

    def room_list(self, rooms: Sequence[tuple[str, int, str]], ref: Ref) -> bytes:
        return b""

    def members(self, room: str, members: Sequence[str], ref: Ref) -> bytes:
        return b""

    def history(self, room: str | None, messages: Sequence[StoredMessage], ref: Ref) -> bytes:
        return b""

    def admin_result(self, cmd: str, text: str, data: object, ref: Ref) -> bytes:
        lines = text.splitlines() or [""]
        return b"".join(
            serialize(IrcMessage("NOTICE", ("*", line), self.server_name)) for line in lines
        )

    def bye(self, ref: Ref) -> bytes:
        return b""
