"""Logging set-up: the console and a rotating file in the data dir, text or JSON lines.

Secrets never reach a log: no handler here ever sees a password, because no code logs
one (frames are logged by type, never whole).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys
import time
from pathlib import Path

from teahouse.config import LogSection


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(section: LogSection, data_dir: Path | None) -> None:
    """Configure the root logger once for the server process."""
    level = logging.getLevelName(section.level.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {section.level!r}")
    formatter: logging.Formatter = (
        JsonFormatter() if section.format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    root.addHandler(console)
    audit = logging.getLogger("teahouse.audit")
    audit.setLevel(logging.INFO)
    audit.propagate = False  # operator actions go to audit.log, not to the console
    for handler in list(audit.handlers):
        audit.removeHandler(handler)
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    if data_dir is not None and section.file:
        main_file = logging.handlers.RotatingFileHandler(
            data_dir / "teahouse.log",
            maxBytes=section.file_max_bytes,
            backupCount=section.file_backups,
            encoding="utf-8",
        )
        main_file.setFormatter(formatter)
        root.addHandler(main_file)
    if data_dir is not None:
        audit_file = logging.handlers.RotatingFileHandler(
            data_dir / "audit.log",
            maxBytes=section.file_max_bytes,
            backupCount=section.file_backups,
            encoding="utf-8",
        )
        audit_file.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        audit.addHandler(audit_file)
