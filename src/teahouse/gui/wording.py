"""What the window says, in plain words: login errors (and which field they belong to),
connection states, and errors in a conversation. Pure functions, no Qt.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from teahouse.client.operations import whois_lines
from teahouse.protocol.frames import WhoisInfo


class Field(enum.StrEnum):
    """The connect dialog's fields that an error can be shown next to."""

    SERVER = "server"
    TLS = "tls"
    USER = "user"
    PASSWORD = "password"
    INVITE = "invite"
    FORM = "form"
    """Not about one field (shown above the buttons)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    field: Field
    text: str
    retry_after: float | None = None
    """Set for ``throttled``: the dialog counts down and re-enables Connect at zero."""


def seconds(value: float) -> str:
    """``1 s``, ``42 s``, ``2 min 5 s`` (rounded up: never promise too early)."""
    total = max(0, math.ceil(value))
    if total < 60:
        return f"{total} s"
    minutes, rest = divmod(total, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def throttled_text(left: float) -> str:
    if left <= 0:
        return "You can try again now."
    return f"Too many attempts. Try again in {seconds(left)}."


def explain_login_error(
    code: str, message: str, retry_after: float | None = None, *, register: bool = False
) -> FieldError:
    """The sentence for a refused ``login``/``register``, and the field it concerns."""
    match code:
        case "bad_credentials":
            return FieldError(Field.PASSWORD, "Wrong user name or password.")
        case "throttled":
            wait = retry_after if retry_after is not None else 1.0
            return FieldError(Field.PASSWORD, throttled_text(wait), wait)
        case "user_taken":
            return FieldError(
                Field.USER, "This name is taken. Pick another one, or log in if it is yours."
            )
        case "weak_password":
            detail = message.rstrip(".")
            return FieldError(Field.PASSWORD, f"This password is too weak: {detail}.")
        case "invalid_name":
            return FieldError(
                Field.USER,
                "A user name starts with a letter and has up to 32 letters, digits "
                "or _ - [ ] \\ ^ { } |.",
            )
        case "registration_closed":
            if register:
                return FieldError(
                    Field.INVITE,
                    "This server does not take new accounts without a valid invite code.",
                )
            return FieldError(Field.FORM, "This server does not take new accounts.")
        case "banned":
            return FieldError(Field.USER, f"Banned from this server: {message}")
        case "too_many_connections":
            return FieldError(
                Field.SERVER, "The server is full, or has too many connections from you."
            )
        case "unsupported_proto":
            return FieldError(Field.SERVER, "This server speaks another protocol version.")
        case "timeout":
            return FieldError(Field.SERVER, "The server gave up waiting for the login.")
        case "server_shutdown":
            return FieldError(Field.SERVER, "The server is shutting down. Try again later.")
        case _:
            return FieldError(Field.FORM, f"The server refused: {message} ({code}).")


def explain_connect_failure(message: str, *, tls: bool) -> FieldError:
    """The sentence for :class:`~teahouse.client.ConnectFailed` (its message as given)."""
    lower = message.lower()
    if tls and ("ssl" in lower or "certificate" in lower or "tls" in lower):
        if "certificate verify failed" in lower or "hostname" in lower:
            return FieldError(
                Field.TLS,
                "The server's certificate is not trusted. Choose the CA file that "
                "signed it, or check the server name.",
            )
        return FieldError(Field.TLS, f"The TLS handshake failed: {message}")
    if "refused" in lower:
        return FieldError(
            Field.SERVER, "Nothing answers at this address and port. Is the server running?"
        )
    if "no answer" in lower or "timed out" in lower:
        return FieldError(
            Field.SERVER,
            "The server does not answer. Check the address and port"
            + (", and that this port speaks TLS." if tls else "."),
        )
    if "name or service not known" in lower or "nodename" in lower or "getaddrinfo" in lower:
        return FieldError(Field.SERVER, "No such server name.")
    if "before login" in lower:
        return FieldError(
            Field.SERVER,
            "The server closed the connection before the login"
            + (" (is this the TLS port?)." if not tls else "."),
        )
    return FieldError(Field.SERVER, f"Cannot connect: {message}")


_DISCONNECT = {
    "heartbeat_timeout": "no answer from the server (heartbeat timeout)",
    "eof": "the server closed the connection",
    "reset": "the connection was reset",
    "closed": "you closed the connection",
    "kicked": "you were kicked",
    "banned": "you are banned",
    "server_shutdown": "the server is shutting down",
    "frame_too_large": "the server sent a line that is too long",
    "slow_consumer": "the window fell too far behind",
    "bad_credentials": "the password is no longer accepted",
    "connect_timeout": "the server did not answer in time",
}


def describe_disconnect(reason: str) -> str:
    """Why the connection ended, for a person (``heartbeat_timeout`` -> "no answer ...")."""
    return _DISCONNECT.get(reason, reason.replace("_", " "))


_CHAT_ERRORS = {
    "not_in_room": "You are not in that room.",
    "no_such_room": "There is no such room.",
    "no_such_user": "There is no such user.",
    "forbidden": "Not allowed",
    "invalid_name": "That is not a valid name",
    "invalid_field": "The server did not accept that",
    "rate_limited": "Slow down",
}


def describe_error(code: str, message: str) -> str:
    """An error answered to a request, as one sentence: the plain words, then the server's."""
    head = _CHAT_ERRORS.get(code)
    if head is None:
        return f"{message} ({code})"
    if head.endswith("."):
        return f"{head} ({message})"
    return f"{head}: {message}"


class Link(enum.StrEnum):
    """The connection, as the status bar shows it."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


def status_text(
    link: Link,
    *,
    now: float,
    retry_at: float | None = None,
    attempt: int = 0,
    reason: str | None = None,
) -> str:
    """``Connected``, ``Reconnecting in 3 s (attempt 2)``, ``Offline: you were kicked``."""
    if link is Link.CONNECTED:
        return "Connected"
    if link is Link.OFFLINE:
        return f"Offline: {describe_disconnect(reason)}" if reason else "Offline"
    nth = f" (attempt {attempt})" if attempt > 1 else ""
    if retry_at is not None and retry_at > now:
        return f"Reconnecting in {seconds(retry_at - now)}{nth}"
    return f"Reconnecting…{nth}"


def rtt_text(rtt: float | None) -> str:
    """``RTT 3 ms``, or ``RTT -`` before the first measurement."""
    if rtt is None:
        return "RTT -"
    return f"RTT {rtt * 1000:.0f} ms" if rtt >= 0.001 else "RTT <1 ms"


def whois_text(info: WhoisInfo) -> str:
    """The answer to "who is this?", one fact a line (``rooms: #lobby``, ``idle: 12 s``)."""
    return "\n".join(line.strip() for line in whois_lines(info))
