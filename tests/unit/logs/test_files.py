"""PrivateRotatingFileHandler: 0600 files in a 0700 dir, rotation by a count kept in memory."""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from teahouse.logsupport.files import PrivateRotatingFileHandler, make_private_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: whatever is private is so by teahouse's doing."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def emit(handler: logging.Handler, text: str) -> None:
    handler.handle(logging.LogRecord("teahouse.test", logging.INFO, __file__, 1, text, None, None))


def test_a_new_log_file_is_0600_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "teahouse.log", 1000, 3)
    emit(handler, "hello")
    handler.close()
    assert mode(tmp_path / "teahouse.log") == 0o600
    assert handler.private


def test_an_existing_log_file_is_made_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "teahouse.log"
    path.write_text("from an older teahouse\n")
    path.chmod(0o644)
    backup = tmp_path / "teahouse.log.2"
    backup.write_text("older still\n")
    backup.chmod(0o666)
    handler = PrivateRotatingFileHandler(path, 1000, 3)
    handler.close()
    assert (mode(path), mode(backup)) == (0o600, 0o600)


def test_rotated_files_are_0600_and_bounded(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "teahouse.log"
    handler = PrivateRotatingFileHandler(path, 100, 2)
    for n in range(40):
        emit(handler, f"line {n:02d} " + "x" * 20)  # 29 bytes a line: 3 lines a file
    handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["teahouse.log", "teahouse.log.1", "teahouse.log.2"]
    assert all(mode(f) == 0o600 and f.stat().st_size <= 100 for f in files)
    # The newest lines are in teahouse.log, the ones before in .1, then .2, none lost between.
    numbers = [int(line.split()[1]) for f in reversed(files) for line in f.read_text().splitlines()]
    assert numbers == list(range(40 - len(numbers), 40))
    assert len(numbers) == 1 + 3 + 3  # 40 lines = 13 full files and 1 line; 2 backups kept


def test_the_size_of_an_existing_file_counts(tmp_path: Path) -> None:
    path = tmp_path / "teahouse.log"
    path.write_bytes(b"x" * 90 + b"\n")
    handler = PrivateRotatingFileHandler(path, 100, 1)
    assert handler.size == 91
    emit(handler, "0123456789")  # 11 bytes: 102 would be over the limit
    handler.close()
    assert (tmp_path / "teahouse.log.1").read_bytes() == b"x" * 90 + b"\n"
    assert path.read_bytes() == b"0123456789\n"


def test_the_count_is_in_bytes_not_characters(tmp_path: Path) -> None:
    path = tmp_path / "teahouse.log"
    handler = PrivateRotatingFileHandler(path, 100, 1)
    emit(handler, "ü" * 30)  # 60 bytes and a newline
    emit(handler, "ü" * 30)
    handler.close()
    assert path.stat().st_size == 61
    assert (tmp_path / "teahouse.log.1").stat().st_size == 61


def test_a_record_longer_than_the_limit_gets_a_file_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "teahouse.log"
    handler = PrivateRotatingFileHandler(path, 100, 1)
    emit(handler, "short")
    emit(handler, "y" * 500)
    emit(handler, "after")
    handler.close()
    assert (tmp_path / "teahouse.log.1").read_text() == "y" * 500 + "\n"
    assert path.read_text() == "after\n"


def test_without_backups_the_file_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "teahouse.log"
    handler = PrivateRotatingFileHandler(path, 50, 0)
    for n in range(10):
        emit(handler, f"line {n} " + "z" * 10)
    handler.close()
    assert [p.name for p in tmp_path.iterdir()] == ["teahouse.log"]
    assert path.stat().st_size <= 50
    assert path.read_text().splitlines()[-1].startswith("line 9 ")


def test_a_file_removed_behind_its_back_is_started_again_at_rotation(tmp_path: Path) -> None:
    path = tmp_path / "teahouse.log"
    handler = PrivateRotatingFileHandler(path, 100, 2)
    emit(handler, "a" * 60)
    path.unlink()  # someone's cleanup: the lines go to the unlinked file until the rotation
    emit(handler, "b" * 60)
    handler.close()
    assert path.read_text() == "b" * 60 + "\n"
    assert not (tmp_path / "teahouse.log.1").exists()


def count_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every stat-like call, each still doing its work."""
    calls: list[str] = []

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return wrapper

    for module, name in [(os, "stat"), (os, "fstat"), (os, "lstat")]:
        monkeypatch.setattr(module, name, counting(name, getattr(module, name)))
    for name in ("exists", "isfile"):
        monkeypatch.setattr(os.path, name, counting(name, getattr(os.path, name)))
    return calls


def test_no_stat_per_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "teahouse.log", 10_000_000, 5)
    calls = count_calls(monkeypatch)
    for n in range(1000):
        emit(handler, f"bad frame peer=198.51.100.7 n={n}")
    handler.close()
    assert calls == []


def test_the_standard_handler_stats_on_every_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the handler above replaces: the counting itself works (Python 3.11 and 3.12)."""
    handler = logging.handlers.RotatingFileHandler(
        tmp_path / "teahouse.log", maxBytes=10_000_000, backupCount=5
    )
    emit(handler, "the first line: Python 3.12 and later skip the check for an empty file")
    calls = count_calls(monkeypatch)
    for n in range(1000):
        emit(handler, f"bad frame peer=198.51.100.7 n={n}")
    handler.close()
    assert len(calls) >= 1000


def test_the_data_dir_is_created_0700_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "a" / "var"
    assert make_private_dir(data_dir)
    assert mode(data_dir) == 0o700
    assert make_private_dir(data_dir)  # a second time: nothing to do


def test_an_existing_open_dir_is_reported_not_changed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert not make_private_dir(shared)
    assert mode(shared) == 0o755
