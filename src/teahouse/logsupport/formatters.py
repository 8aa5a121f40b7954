"""The two line formats, text and JSON; in both, one record is one line.

A message is escaped by :func:`~teahouse.logsupport.text.one_line` (text) or by JSON
itself, so text from outside cannot forge a line. A traceback spans lines by nature; in
the text format each of its lines starts with ``  | ``, so that no line of it can pass
for a record (whose lines start with a date), whatever an exception's message holds.
"""

from __future__ import annotations

import json
import logging
import time

from teahouse.logsupport.text import one_line

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
AUDIT_FORMAT = "%(asctime)s %(message)s"
TRACEBACK_PREFIX = "  | "


def _prefixed(block: str) -> str:
    return "\n".join(TRACEBACK_PREFIX + line for line in block.splitlines())


class TextFormatter(logging.Formatter):
    """``logging.Formatter`` with the message on one line and tracebacks fenced."""

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + _prefixed(record.exc_text)
        if record.stack_info:
            line += "\n" + _prefixed(self.formatStack(record.stack_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, UTC; ``peer`` is added when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        peer = getattr(record, "peer", None)
        if isinstance(peer, str):
            entry["peer"] = peer
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)
