"""Where a transcript goes: a private file, written whole or not at all, or stdout."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def private_file(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text file that appears at ``path`` with mode 0600 once the block ends.

    It is written under a temporary name in the same directory (created 0600 by
    :func:`tempfile.mkstemp`) and renamed over ``path`` only if the block succeeds, so a
    failed export leaves no half-written file and never widens an existing file's mode: the
    transcript holds other people's messages.
    """
    folder = path.parent
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def standard_output() -> Iterator[TextIO]:
    """stdout as UTF-8 with ``\\n`` line ends, whatever the locale; left open afterwards."""
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
    try:
        yield out
        out.flush()
    finally:
        # The wrapper must not close sys.stdout when it goes. (After a broken pipe the
        # flush in detach fails too; the caller deals with the pipe.)
        with contextlib.suppress(OSError, ValueError):
            out.detach()
