"""Logging set-up: the console and private rotating files in the data dir, text or JSON lines.

Secrets never reach a log: no handler here ever sees a password, because no code logs
one (frames are logged by type, never whole).

What the rest of the server uses:

- :func:`setup_logging` once at start.
- ``extra={"peer": ip}`` on every line that a client can cause (:data:`PEER`; the address
  alone, without the port): repeats are then held back per address, so one address cannot
  flood the log (see :mod:`teahouse.logsupport.aggregate`). Lines without it are only
  capped per kind of line, all addresses together.
- :func:`flush_summaries` once a second, so the "...and N more like this" lines come out
  when their 10-second window ends rather than with the next line.
- :func:`log_auth_failure` for every failed or refused login, the one line fail2ban reads.

The audit log (``teahouse.audit``, operator commands) goes to ``audit.log`` and is never
held back. Every log file is 0600 and the data dir, if teahouse creates it, 0700.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TextIO

from teahouse.config import LogSection
from teahouse.logsupport.aggregate import Aggregator, Policy
from teahouse.logsupport.files import PrivateRotatingFileHandler, make_private_dir
from teahouse.logsupport.formatters import (
    AUDIT_FORMAT,
    TEXT_FORMAT,
    JsonFormatter,
    TextFormatter,
)
from teahouse.logsupport.text import address, quote_name, token

__all__ = [
    "AUTH_LOGGER",
    "PEER",
    "TEXT_FORMAT",
    "AuthDoor",
    "AuthReason",
    "ConsoleHandler",
    "JsonFormatter",
    "TextFormatter",
    "flush_summaries",
    "log_audit",
    "log_auth_failure",
    "setup_logging",
]

PEER = "peer"  # the record attribute (extra={"peer": ip}) that names a line's source
AUDIT_LOGGER = "teahouse.audit"
AUTH_LOGGER = "teahouse.auth"
SUMMARY_WINDOW = 10.0  # seconds

# Every auth failure is written until an address has 10 in one window, above fail2ban's
# usual maxretry (3 to 5), so fail2ban sees enough lines to ban; after that one line per
# window carries the count, and it matches the same filter. 300 lines a window from all
# addresses together bound a flood from very many addresses.
AUTH_POLICY = Policy(
    burst=10,
    cap=300,
    summaries=50,
    source_summary="auth failed peer={peer} count={count} window={window:g}s",
    others_summary="auth failed by {sources} other addresses: count={count} window={window:g}s",
    sourceless_summary="auth failed without an address: count={count} window={window:g}s",
)

AuthDoor = Literal["native", "irc", "web"] | str
AuthReason = Literal[
    "bad_credentials",  # wrong password, or no such account (the two are not told apart)
    "throttled",  # refused by the login throttle before the password was checked
    "bad_oper_password",  # IRC OPER with a wrong password
    "bad_sasl",  # IRC SASL PLAIN that failed or could not be parsed
    "bad_pass",  # IRC PASS with a wrong password
]

_AUTH_TEMPLATE = "auth failed peer=%s door=%s reason=%s user=%s"
_auth_log = logging.getLogger(AUTH_LOGGER)
_log = logging.getLogger("teahouse.logs")


class _Installed:
    aggregator: Aggregator | None = None
    """The aggregator :func:`setup_logging` installed, asked by :func:`log_from`."""


_INSTALLED = _Installed()


def log_from(logger: logging.Logger, level: int, peer: str, msg: str, *args: object) -> None:
    """``logger.log(level, msg, *args)`` for a line about the client at ``peer`` (its IP
    address, the line's source for the aggregator): a line a flood repeats.

    When the aggregator would hold the line back, no record is made at all; a storm of
    connections from a few addresses then costs the log a counter each, not a record.
    """
    if not logger.isEnabledFor(level):
        return
    aggregator = _INSTALLED.aggregator
    if aggregator is not None and aggregator.holds(logger.name, msg, peer):
        return
    logger.log(level, msg, *args, extra={PEER: peer})


def log_auth_failure(peer: str, user: str | None, door: AuthDoor, reason: AuthReason) -> None:
    """Log one failed or refused login, in the one format fail2ban's filter matches.

    ``peer`` is the client's IP address (no port), ``user`` the name it tried (``None``
    if it gave none). The line, at WARNING on ``teahouse.auth``, reads::

        auth failed peer=198.51.100.7 door=native reason=bad_credentials user="alice"

    Fields come in this order; ``user`` is last and JSON-quoted (at most 64 characters,
    then `` cut_from=N``), so an attempted name cannot forge a field or a line. A peer that
    is not an IP address is written ``-`` and matches no filter. When an address has had
    10 lines in a 10-second window, the rest of that window is one line that fail2ban's
    filter matches too: ``auth failed peer=198.51.100.7 count=37 window=10s``.
    """
    ip = address(peer)
    log_from(
        _auth_log,
        logging.WARNING,
        ip,
        _AUTH_TEMPLATE,
        ip,
        token(door),
        token(reason),
        quote_name(user),
    )


def log_audit(actor: str, entrance: str, cmd: str, **fields: object) -> None:
    """One line in ``audit.log``: who (a name, or ``server``), through which entrance, did
    what, with which arguments (never a password), as JSON."""
    entry = {"actor": actor, "entrance": entrance, "cmd": cmd, **fields}
    logging.getLogger(AUDIT_LOGGER).info(json.dumps(entry, default=str, ensure_ascii=False))


def flush_summaries(now: float | None = None) -> None:
    """Write the summary lines of a 10-second window that has ended.

    Call it once a second (the server's one-second timer); without it a summary waits for
    the next line. ``now`` is for tests; by default the aggregator reads its own clock
    (``time.monotonic``, or the one given to :func:`setup_logging`).
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, Aggregator):
            handler.flush_summaries(now)


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when each record comes.

    The console's ``patch_stdout`` replaces ``sys.stderr`` with prompt_toolkit's proxy,
    which prints above the prompt; a handler that kept the stream it was made with (the
    terminal itself) would print over the prompt instead.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def flush(self) -> None:
        self.stream = sys.stderr
        super().flush()


def _remove_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        if handler is _INSTALLED.aggregator:
            _INSTALLED.aggregator = None
        if getattr(handler, "_teahouse", False):
            handler.close()


def _ours(handler: logging.Handler) -> logging.Handler:
    handler._teahouse = True  # type: ignore[attr-defined]  # closed by the next set-up
    return handler


def setup_logging(
    section: LogSection, data_dir: Path | None, *, clock: Callable[[], float] = time.monotonic
) -> None:
    """Configure the root logger and the audit logger for this process.

    Calling it again replaces (and closes) what an earlier call set up. ``clock`` is the
    aggregator's, for tests.
    """
    level = logging.getLevelName(section.level.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {section.level!r}")
    formatter: logging.Formatter = (
        JsonFormatter() if section.format == "json" else TextFormatter(TEXT_FORMAT)
    )
    # Records carry no source file, thread or process name: no format here prints them,
    # and finding them costs a frame walk and lookups on every record of a flood.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    _remove_handlers(root)
    root.setLevel(level)
    audit = logging.getLogger(AUDIT_LOGGER)
    audit.setLevel(logging.INFO)
    audit.propagate = False  # operator actions go to audit.log, not to the console
    _remove_handlers(audit)

    console = ConsoleHandler()
    console.setFormatter(formatter)
    targets: list[logging.Handler] = [console]
    files: list[PrivateRotatingFileHandler] = []
    private_dir = True
    if data_dir is not None:
        private_dir = make_private_dir(data_dir)
        if section.file:
            main_file = PrivateRotatingFileHandler(
                data_dir / "teahouse.log", section.file_max_bytes, section.file_backups
            )
            main_file.setFormatter(formatter)
            targets.append(main_file)
            files.append(main_file)
        audit_file = PrivateRotatingFileHandler(
            data_dir / "audit.log", section.file_max_bytes, section.file_backups
        )
        audit_file.setFormatter(TextFormatter(AUDIT_FORMAT))
        audit.addHandler(_ours(audit_file))
        files.append(audit_file)
    aggregator = Aggregator(
        targets,
        window=SUMMARY_WINDOW,
        policies={AUTH_LOGGER: AUTH_POLICY},
        exempt=(AUDIT_LOGGER,),
        clock=clock,
    )
    root.addHandler(_ours(aggregator))
    _INSTALLED.aggregator = aggregator
    if not private_dir:
        _log.warning(
            "the data dir %s is open to other users; chmod 700 it (it holds the database)",
            data_dir,
        )
    for file in files:
        if not file.private:
            _log.warning(
                "cannot make %s private (mode 0600): it belongs to another user", file.path
            )
