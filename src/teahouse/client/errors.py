"""The client's one error tree.

Every exception the client library raises is a :class:`ClientError`:

- :class:`ServerError`: the server answered a request with an ``error`` frame. It carries
  the wire ``code``, ``message``, ``retry_after`` and ``fatal`` as the server sent them, and
  :attr:`ServerError.chat_error` gives the matching :mod:`teahouse.errors` exception.

  - :class:`LoginFailed`: :meth:`Client.connect` was refused (``bad_credentials``,
    ``throttled``, ``user_taken``, ``banned``, ...).

- :class:`ConnectFailed`: no session could be opened (TCP refused, TLS failed, the server
  closed or stayed silent before ``authed``). Only :meth:`Client.connect` raises it; later
  connection losses are repaired by reconnecting.
- :class:`ConnectionLost`: the connection dropped while a request that is not safe to
  repeat (``admin``) waited for its reply; it may or may not have been carried out.
- :class:`ClientClosed`: the client is closed (or was never connected).
- :class:`ProtocolViolation`: the server answered a request with a frame of the wrong
  type. (A server line over the size limit is not raised: the client drops that
  connection, ``Disconnected.reason`` says ``frame_too_large``, and reconnects.)
"""

from __future__ import annotations

from teahouse.errors import ERRORS_BY_CODE, ChatError, Internal
from teahouse.protocol import frames as f


class ClientError(Exception):
    """Base of every error the teahouse client raises."""


class ServerError(ClientError):
    """The server answered with an ``error`` frame.

    ``code`` is the wire code (``"no_such_user"``, ``"rate_limited"``, ...); ``retry_after``
    is set (seconds) for ``throttled`` and ``rate_limited``; ``fatal`` means the server
    closed the connection after it (the client then reconnects unless the code says it
    must not, as ``banned`` does).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.fatal = fatal

    @classmethod
    def from_frame(cls, frame: f.Error) -> ServerError:
        return cls(frame.code, frame.message, retry_after=frame.retry_after, fatal=frame.fatal)

    @property
    def chat_error(self) -> ChatError:
        """The :mod:`teahouse.errors` exception of this code (``Internal`` if unknown)."""
        kind = ERRORS_BY_CODE.get(self.code, Internal)
        return kind(self.message, retry_after=self.retry_after, fatal=self.fatal)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class LoginFailed(ServerError):
    """The server refused ``login`` or ``register`` (or ``hello``) on :meth:`Client.connect`."""


class ConnectFailed(ClientError):
    """No authenticated session could be opened; the message says why."""


class ConnectionLost(ClientError):
    """The connection dropped before the reply to a request that is not safe to repeat."""


class ClientClosed(ClientError):
    """The client is closed, or :meth:`Client.connect` was never called."""


class ProtocolViolation(ClientError):
    """The server broke the protocol: its reply to a request has the wrong type."""
