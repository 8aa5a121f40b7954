"""Private log files that rotate by a byte count kept in memory.

Files with users' data are private: a log file is created (and, if it already exists,
changed to) mode 0600, whatever the umask, and the directory teahouse creates for it
0700.

``logging.handlers.RotatingFileHandler`` (Python 3.11) asks the file system on every record
whether the file exists and is a regular file, and seeks to its end: two ``stat`` and an
``lseek`` per line, paid again for every line of a flood. :class:`PrivateRotatingFileHandler`
learns the file's size once, when it opens it, and then counts the bytes it writes; one
``write`` per record is the only system call.

Rotation is teahouse's own and nobody else's: the handler cannot see a file that logrotate
moves or truncates (``copytruncate``). It keeps writing to the moved file until its own
count says the file is full; then it renames whatever is at the log's path and starts a new
file. There is no reopen signal (SIGHUP reloads the TLS certificate). Operators who want
logrotate or journald set ``log.file = false`` and collect stderr.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(path: Path) -> bool:
    """Create ``path`` with mode 0700 if it is missing; return whether it is private.

    The parents are created as ``mkdir -p`` would. An existing directory is left as it is
    (it may be shared, like ``/tmp``): the caller warns when it is open to others. The files
    inside are 0600 either way.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass
    else:
        os.chmod(path, DIR_MODE)  # the umask may have taken bits from mkdir's mode
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def open_private(path: Path, *, truncate: bool = False) -> int:
    """Open ``path`` for appending, created 0600; an existing file is changed to 0600.

    Returns the file descriptor. If the file belongs to someone else, its mode cannot be
    changed; it is opened all the same (see :func:`is_private`).
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    if truncate:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    # The mode given to open applies only to a new file, and only after the umask.
    with contextlib.suppress(PermissionError):
        os.fchmod(fd, FILE_MODE)
    return fd


def is_private(fd: int) -> bool:
    """Whether the open file ``fd`` is readable and writable by its owner alone."""
    return stat.S_IMODE(os.fstat(fd).st_mode) == FILE_MODE


class PrivateRotatingFileHandler(logging.Handler):
    """A log file that keeps at most ``max_bytes`` per file and ``backups`` old files.

    When a record would take the file past ``max_bytes``, the file is renamed ``NAME.1``
    (``NAME.1`` becomes ``NAME.2`` and so on; ``NAME.<backups>`` is dropped) and a new file
    is started. A record longer than ``max_bytes`` is written alone into a fresh file. With
    ``backups = 0`` the file is emptied instead, so the log stays bounded; with
    ``max_bytes = 0`` it never rotates. Every file is mode 0600.
    """

    terminator = "\n"

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        super().__init__()
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._fd = -1
        self.size = 0
        self._open()
        self.private = is_private(self._fd)
        # Backups written by an older teahouse, or before a umask change, become private too.
        for n in range(1, backups + 1):
            with contextlib.suppress(OSError):
                os.chmod(self._backup(n), FILE_MODE)

    def _backup(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    def _open(self, *, truncate: bool = False) -> None:
        self._fd = open_private(self.path, truncate=truncate)
        self.size = os.fstat(self._fd).st_size

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + self.terminator).encode("utf-8", "backslashreplace")
            if self._fd < 0:
                self._open()  # a record after close(), as at interpreter exit
            if 0 < self.max_bytes < self.size + len(data) and self.size > 0:
                self.rotate()
            self._write(data)
        except Exception:
            self.handleError(record)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self.size += written
            view = view[written:]

    def rotate(self) -> None:
        """Start a new file now (called by ``emit`` when the file is full)."""
        os.close(self._fd)
        self._fd = -1
        if self.backups <= 0:
            self._open(truncate=True)
            return
        # One rename per file; a file that is missing (never made, or removed) is skipped.
        names = [self.path, *(self._backup(n) for n in range(1, self.backups + 1))]
        for older, newer in reversed(list(itertools.pairwise(names))):
            with contextlib.suppress(FileNotFoundError):
                os.replace(older, newer)
        self._open()

    def close(self) -> None:
        self.acquire()
        try:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        finally:
            self.release()
        super().close()
