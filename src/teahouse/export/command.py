"""``teahouse export``: a room's or a direct conversation's history, out of the database.

:func:`run_export` does the work for the click command in :mod:`teahouse.cli`: it parses
the dates, opens the database read-only (:mod:`teahouse.export.source`), and streams the
messages through a renderer (:mod:`teahouse.export.render`) into a private file or stdout.
Every failure is an :class:`~teahouse.export.source.ExportError` with a one-line message.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from teahouse.export.output import private_file, standard_output
from teahouse.export.render import Format, write
from teahouse.export.source import (
    DirectPair,
    ExportError,
    MessageSource,
    Room,
    Selection,
    TimeSpan,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_bound(text: str, *, option: str, end: bool) -> int:
    """``2026-11-01`` or ``2026-11-01T10:30[:00][Z|+01:00]`` as milliseconds since the epoch.

    A date alone means that day in UTC: its first moment as a start, the moment after it
    as an end (``--to 2026-11-30`` includes the 30th). A time without an offset is UTC.
    """
    text = text.strip()
    try:
        if len(text) == len("2026-11-30"):
            day = date.fromisoformat(text)
            when = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return _ms(when + timedelta(days=1) if end else when)
        when = datetime.fromisoformat(text)
        return _ms(when if when.tzinfo is not None else when.replace(tzinfo=UTC))
    except (ValueError, OverflowError):  # not a date; or the day after 9999-12-31
        raise ExportError(
            f"bad date for {option}: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)"
        ) from None


def _ms(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(milliseconds=1)


def selection_of(room: str | None, dm: tuple[str, str] | None) -> Selection:
    """``--room lobby`` (or ``#lobby``; room names are lower case) or ``--dm alice bob``:
    exactly one of them."""
    if (room is None) == (dm is None):
        raise ExportError("give either --room ROOM or --dm USER USER")
    if room is not None:
        return Room(room.removeprefix("#").lower())
    assert dm is not None
    return DirectPair(*dm)


def format_for(fmt: str | None, output: str) -> Format:
    """``--format``; else the output file's suffix (``.html``, ``.jsonl``, ``.txt``), else
    HTML for a file and plain text for stdout (``-``)."""
    if fmt is not None:
        return Format(fmt)
    if output == "-":
        return Format.TEXT
    return Format.of_file(output) or Format.HTML


def title_of(selection: Selection) -> str:
    match selection:
        case Room(name):
            return f"#{name}"
        case DirectPair(first, second):
            return f"{first} and {second}"


def _span_text(start: str | None, end: str | None) -> str:
    if start and end:
        return f"From {start} to {end} (UTC)"
    if start:
        return f"Since {start} (UTC)"
    if end:
        return f"Until {end} (UTC)"
    return "All messages"


def _destination(output: str) -> AbstractContextManager[TextIO]:
    if output == "-":
        return standard_output()
    path = Path(output)
    if path.is_dir():
        raise ExportError(f"cannot write {output}: it is a directory")
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {output}: no directory {path.parent}")
    return private_file(path)


def run_export(
    database: Path,
    *,
    room: str | None = None,
    dm: tuple[str, str] | None = None,
    start: str | None = None,
    end: str | None = None,
    fmt: str | None = None,
    output: str = "-",
) -> int:
    """Write the transcript; returns how many messages it holds (see the module doc)."""
    selection = selection_of(room, dm)
    span = TimeSpan(
        parse_bound(start, option="--from", end=False) if start else None,
        parse_bound(end, option="--to", end=True) if end else None,
    )
    if span.start_ms is not None and span.end_ms is not None and span.start_ms >= span.end_ms:
        raise ExportError(f"--from {start} is not before --to {end}")
    chosen = format_for(fmt, output)
    exported = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    details = [_span_text(start, end), f"Exported {exported}"]
    with MessageSource(database) as source:
        source.check(selection)
        try:
            with _destination(output) as out:
                return write(
                    chosen,
                    source.messages(selection, span),
                    out,
                    title=title_of(selection),
                    details=details,
                )
        except BrokenPipeError:
            # `teahouse export ... | head`: the reader has what it wanted. Point stdout at
            # /dev/null so that Python's own flush at exit does not complain.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 0
        except OSError as exc:
            raise ExportError(f"cannot write {output}: {exc.strerror or exc}") from None
