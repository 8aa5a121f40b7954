"""The one error tree of teahouse.

Every error a client can be told about is a subclass of :class:`ChatError`, and every
wire ``code`` of the protocol contract maps to exactly one class here (``ERRORS_BY_CODE``).
Each class says whether it is *fatal*: a fatal error is the last frame the server sends
before it closes the connection.

Who raises what:

- the codecs in :mod:`teahouse.protocol` raise :class:`BadFrame`, :class:`FrameTooLarge`,
  :class:`UnknownType` and :class:`InvalidField` when the *peer* breaks the framing rules;
- the core (:mod:`teahouse.core`) raises the rest when a well-formed request cannot be
  honoured (wrong password, no such room, not allowed, ...).

A door catches :class:`ChatError`, tells the client (with the request's ``ref``), and
closes the connection when ``fatal`` is true. Any other exception is a bug in teahouse; the
door logs it and answers ``internal``.
"""

from __future__ import annotations

from typing import ClassVar


class ChatError(Exception):
    """An error the client is told about, with the wire ``code`` it carries.

    ``retry_after`` is set (in seconds) for :class:`Throttled` and :class:`RateLimited`.
    ``fatal`` may be overridden per instance: a repeated bad frame becomes fatal.
    """

    code: ClassVar[str] = "internal"
    default_fatal: ClassVar[bool] = False
    default_message: ClassVar[str] = "internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        fatal: bool | None = None,
        detail: str | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.retry_after = retry_after
        self.detail = detail
        """A finer reason than the wire code, for doors that can say more (IRC numerics)."""
        self.fatal = self.default_fatal if fatal is None else fatal
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, fatal={self.fatal})"


# -- framing: the peer sent bytes that are not a valid frame -------------------------------


class BadFrame(ChatError):
    code = "bad_frame"
    default_message = "the line is not a JSON object with a string 'type'"


class FrameTooLarge(ChatError):
    code = "frame_too_large"
    default_fatal = True
    default_message = "the line is longer than max_frame"


class UnknownType(ChatError):
    code = "unknown_type"
    default_message = "unknown frame type"


class InvalidField(ChatError):
    code = "invalid_field"
    default_message = "a field is missing or has the wrong type"


class UnsupportedProto(ChatError):
    code = "unsupported_proto"
    default_fatal = True
    default_message = "this server speaks protocol version 1"


# -- session state -----------------------------------------------------------------------


class NotAuthed(ChatError):
    code = "not_authed"
    default_message = "log in or register first"


class Timeout(ChatError):
    code = "timeout"
    default_fatal = True
    default_message = "not authenticated in time"


class HeartbeatTimeout(ChatError):
    code = "heartbeat_timeout"
    default_fatal = True
    default_message = "nothing received within the heartbeat timeout"


# -- accounts ----------------------------------------------------------------------------


class BadCredentials(ChatError):
    code = "bad_credentials"
    default_message = "unknown user or wrong password"


class Throttled(ChatError):
    code = "throttled"
    default_message = "too many attempts; wait retry_after seconds"


class Banned(ChatError):
    code = "banned"
    default_fatal = True
    default_message = "you are banned from this server"


class UserTaken(ChatError):
    code = "user_taken"
    default_message = "that user name is taken"


class InvalidName(ChatError):
    code = "invalid_name"
    default_message = "that name does not follow the naming rules"


class WeakPassword(ChatError):
    code = "weak_password"
    default_message = "the password is too weak"


class RegistrationClosed(ChatError):
    code = "registration_closed"
    default_message = "registration is closed on this server"


# -- chat --------------------------------------------------------------------------------


class NoSuchRoom(ChatError):
    code = "no_such_room"
    default_message = "no such room"


class NoSuchUser(ChatError):
    code = "no_such_user"
    default_message = "no such user"


class NotInRoom(ChatError):
    code = "not_in_room"
    default_message = "join the room first"


class Forbidden(ChatError):
    code = "forbidden"
    default_message = "you are not allowed to do that"


class RateLimited(ChatError):
    code = "rate_limited"
    default_message = "slow down; wait retry_after seconds"


# -- the server ends the connection ------------------------------------------------------


class SlowConsumer(ChatError):
    code = "slow_consumer"
    default_fatal = True
    default_message = "you did not read fast enough; output buffer full"


class TooManyConnections(ChatError):
    code = "too_many_connections"
    default_fatal = True
    default_message = "too many connections"


class Kicked(ChatError):
    code = "kicked"
    default_fatal = True
    default_message = "kicked by an operator"


class ServerShutdown(ChatError):
    code = "server_shutdown"
    default_fatal = True
    default_message = "the server is shutting down"


class Internal(ChatError):
    code = "internal"
    default_message = "internal server error"


class StorageFailed(Internal):
    """The store could not keep what was asked (a message, an account, a ban): nothing of
    it was delivered or applied; retry later (wire code ``internal``)."""

    default_message = "the server could not store this; nothing was delivered, try again"


ERRORS_BY_CODE: dict[str, type[ChatError]] = {
    cls.code: cls
    for cls in (
        BadFrame,
        FrameTooLarge,
        UnknownType,
        InvalidField,
        UnsupportedProto,
        NotAuthed,
        Timeout,
        HeartbeatTimeout,
        BadCredentials,
        Throttled,
        Banned,
        UserTaken,
        InvalidName,
        WeakPassword,
        RegistrationClosed,
        NoSuchRoom,
        NoSuchUser,
        NotInRoom,
        Forbidden,
        RateLimited,
        SlowConsumer,
        TooManyConnections,
        Kicked,
        ServerShutdown,
        Internal,
    )
}
"""Every wire error code of protocol v1, mapped to its one exception class."""
