"""Fixtures of the logging tests: a fake clock, and the process's logging put back after."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ListHandler(logging.Handler):
    """Keeps the records it is given, formatted: what a real handler would write."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(record.getMessage())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that call setup_logging: close what it made and undo its settings."""
    root = logging.getLogger()
    audit = logging.getLogger("teahouse.audit")
    saved = (root.level, audit.level, audit.propagate)
    yield
    for logger in (root, audit):
        for handler in list(logger.handlers):
            if getattr(handler, "_teahouse", False):
                logger.removeHandler(handler)
                handler.close()
    root.level, audit.level, audit.propagate = saved
