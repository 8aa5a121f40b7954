"""How the IRC door spells broadcasts: one :class:`IrcEncoder` per set of capabilities.

Connections that negotiated the same relevant IRCv3 capabilities share one encoder, so a
message to a room is still encoded once per *variant* (usually one or two per room), not
once per member. Replies to one client's command are rendered by the handlers, not here.
"""

from __future__ import annotations

import functools
import time
from typing import Protocol

from teahouse.core.results import ModeChange
from teahouse.core.session import Session
from teahouse.doors.connection import OnceLine
from teahouse.errors import ChatError, Timeout
from teahouse.protocol.irc import IrcMessage, serialize
from teahouse.protocol.text import for_irc
from teahouse.store.base import StoredMessage

RELEVANT_CAPS = frozenset(
    {
        "server-time",
        "message-tags",
        "account-tag",
        "extended-join",
        "echo-message",
        "away-notify",
    }
)
"""Capabilities that change how a broadcast event is spelled."""

ACTION_PREFIX = "/me "
"""How the core stores an IRC ``CTCP ACTION`` (and how native clients write one)."""

_QUIT_WORDS = {
    "timeout": "Ping timeout",
    "disconnected": "Connection closed",
    "reset": "Connection reset by peer",
    "slow_consumer": "SendQ exceeded",
    "shutdown": "Server shutting down",
    "frame_too_large": "Input line too long",
    "bad_frame": "Protocol error",
    "leak": "Connection lost",
    "login_timeout": "Registration timeout",
    "slowloris": "Read timeout",
    "rate_limited": "Excess Flood",
    "memory_guard": "SendQ exceeded",
}


class Masks(Protocol):
    """What an encoder needs from its door to name users the IRC way."""

    server_name: str

    def mask(self, session: Session) -> str:
        """``nick!user@host`` of a session (the host as others may see it)."""

    def mask_of(self, name: str) -> str:
        """``nick!user@host`` of a user by name, online or not."""

    def account_of(self, name: str) -> str | None:
        """The account name behind a user name, or None for a guest."""

    def realname(self, session: Session) -> str:
        """What the user gave as its real name (IRC ``USER``), else its name."""

    def ping_timeout(self) -> float: ...

    def now_ms(self) -> int: ...


@functools.lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def irc_time(ts_ms: int) -> str:
    """The ``time`` tag of IRCv3 server-time (a busy second is formatted once)."""
    return f"{_second(ts_ms // 1000)}.{ts_ms % 1000:03d}Z"


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


def quit_reason(reason: str | None, text: str | None) -> str:
    """A QUIT line's reason, as IRC clients are used to seeing them."""
    if reason == "quit":
        return f"Quit: {text}" if text else "Client Quit"
    if reason in ("kicked", "banned"):
        return f"Killed ({text})" if text else "Killed"
    return _QUIT_WORDS.get(reason or "", reason or "Quit")


class IrcEncoder:
    """The hub's Encoder for IRC connections that share one set of capabilities."""

    def __init__(self, masks: Masks, caps: frozenset[str]) -> None:
        self.masks = masks
        self.server_name = masks.server_name
        self.caps = caps
        self.tags_ok = "message-tags" in caps
        self.time_ok = "server-time" in caps or self.tags_ok
        self.account_ok = "account-tag" in caps
        self.echo = "echo-message" in caps
        self.extended_join = "extended-join" in caps
        self.away_notify = "away-notify" in caps

    def tags(
        self, ts_ms: int | None, msgid: int | str | None, account: str | None
    ) -> dict[str, str]:
        tags: dict[str, str] = {}
        if self.time_ok and ts_ms is not None:
            tags["time"] = irc_time(ts_ms)
        if self.tags_ok and msgid is not None:
            tags["msgid"] = str(msgid)
        if self.account_ok and account is not None:
            tags["account"] = account
        return tags

    # -- broadcast events ------------------------------------------------------------

    def message(self, message: StoredMessage) -> bytes:
        target = f"#{message.room}" if message.room is not None else (message.recipient or "*")
        return self.privmsg_lines(message, target, "PRIVMSG")

    def privmsg_lines(
        self, message: StoredMessage, target: str, command: str, extra: dict[str, str] | None = None
    ) -> bytes:
        """A stored message as PRIVMSG (or NOTICE) lines, split to fit 512 bytes."""
        source = self.masks.mask_of(message.sender)
        tags = self.tags(message.ts_ms, message.id, self.masks.account_of(message.sender))
        if self.tags_ok and message.tags:
            tags.update(message.tags)
        if extra:
            tags.update(extra)
        room = 512 - 2 - len(f":{source} {command} {target} :".encode())
        text = for_irc(message.text)
        if text.startswith(ACTION_PREFIX):  # every piece a whole CTCP ACTION
            body = text[len(ACTION_PREFIX) :]
            pieces = [to_irc_text(ACTION_PREFIX + p) for p in split_utf8(body, max(room - 9, 64))]
        else:
            pieces = split_utf8(text, max(room, 64))
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
        member: Session,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        source = self.masks.mask(member)
        channel = f"#{room}"
        user = member.user or "*"
        tags = self.tags(self.masks.now_ms(), None, None)
        if state == "joined":
            if self.extended_join:
                account = "*" if member.guest else user
                params: tuple[str, ...] = (channel, account, self.masks.realname(member))
            else:
                params = (channel,)
            line = serialize(IrcMessage("JOIN", params, source, tags))
            if self.away_notify and member.away is not None:
                line += serialize(IrcMessage("AWAY", (member.away,), source, tags))
            return line
        text = for_irc(text) if text else text
        if reason == "kicked" and by is not None:
            kicker = self.masks.mask_of(by)
            return serialize(IrcMessage("KICK", (channel, user, text or by), kicker, tags))
        if reason == "part" or online:
            params = (channel, text) if text else (channel,)
            return serialize(IrcMessage("PART", params, source, tags))
        quit_line = IrcMessage("QUIT", (quit_reason(reason, text),), source, tags)
        return OnceLine(serialize(quit_line))

    def topic(self, room: str, text: str, by: str, ts_ms: int) -> bytes:
        tags = self.tags(ts_ms, None, None)
        shown = for_irc(text)
        return serialize(IrcMessage("TOPIC", (f"#{room}", shown), self.masks.mask_of(by), tags))

    def mode(self, room: str, by: str, change: ModeChange) -> bytes:
        flags, args = change.flags_and_args()
        tags = self.tags(self.masks.now_ms(), None, None)
        source = self.masks.mask_of(by)
        return serialize(IrcMessage("MODE", (f"#{room}", flags, *args), source, tags))

    def away(self, member: Session) -> bytes:
        if not self.away_notify:
            return b""
        params = (for_irc(member.away),) if member.away else ()
        return serialize(IrcMessage("AWAY", params, self.masks.mask(member)))

    def invited(self, room: str, by: str, target: str) -> bytes:
        tags = self.tags(self.masks.now_ms(), None, None)
        return serialize(IrcMessage("INVITE", (target, f"#{room}"), self.masks.mask_of(by), tags))

    def notice(self, text: str, by: str) -> bytes:
        return serialize(
            IrcMessage("NOTICE", ("*", f"*** Notice from {by}: {for_irc(text)}"), self.server_name)
        )

    def renamed(self, room: str, old: str, new: str) -> bytes:
        mask = self.masks.mask_of(new)
        source = old + mask[mask.index("!") :] if "!" in mask else old
        tags = self.tags(self.masks.now_ms(), None, None)
        return OnceLine(serialize(IrcMessage("NICK", (new,), source, tags)))

    def relay(
        self,
        kind: str,
        sender: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        if kind == "tagmsg" and not self.tags_ok:
            return b""  # a tag-only message means nothing without message-tags
        target = f"#{room}" if room is not None else (to or "*")
        if kind.startswith("ops_"):
            target = "@" + target
        line_tags = self.tags(self.masks.now_ms(), None, self.masks.account_of(sender))
        if self.tags_ok:
            line_tags.update(tags)
        source = self.masks.mask_of(sender)
        if kind == "tagmsg":
            return serialize(IrcMessage("TAGMSG", (target,), source, line_tags))
        command = "NOTICE" if kind in ("notice", "ops_notice") else "PRIVMSG"
        return serialize(IrcMessage(command, (target, for_irc(text)), source, line_tags))

    def ping(self, t: int) -> bytes:
        return serialize(IrcMessage("PING", (str(t),), self.server_name))

    def error(self, error: ChatError) -> bytes:
        if error.code == "heartbeat_timeout":
            reason = f"Ping timeout: {self.masks.ping_timeout():g} seconds"
        elif error.code == "timeout" and error.message == Timeout.default_message:
            reason = "Registration timeout"
        else:
            reason = error.message
        return serialize(IrcMessage("ERROR", (f"Closing Link: {self.server_name} ({reason})",)))
