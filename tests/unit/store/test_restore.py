"""`teahouse restore`: the backup is checked as a copy, the old database kept aside."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from teahouse.config import load_config
from teahouse.server import DB_FILE, restore_backup
from teahouse.store.sqlite import SQLiteStore


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _database_with_room(path: Path, room: str) -> None:
    store = SQLiteStore(path)
    store.create_room(room, 1)
    store.close()


def test_restore_puts_the_backup_in_place_and_leaves_the_backup_file_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _database_with_room(data / DB_FILE, "before")
    backup = tmp_path / "backup.db"
    _database_with_room(backup, "fromthebackup")
    digest = _digest(backup)
    config = load_config(None, {"server.data_dir": str(data)})

    kept = restore_backup(config, backup)

    assert _digest(backup) == digest, "the operator's backup file was modified"
    assert not Path(f"{backup}-wal").exists() and not Path(f"{backup}-shm").exists()
    restored = SQLiteStore(data / DB_FILE)
    assert restored.get_room("fromthebackup") is not None
    assert restored.get_room("before") is None
    restored.close()
    assert os.stat(data / DB_FILE).st_mode & 0o077 == 0
    old = SQLiteStore(kept)
    assert old.get_room("before") is not None
    old.close()


def test_a_file_that_is_not_a_database_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _database_with_room(data / DB_FILE, "before")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    config = load_config(None, {"server.data_dir": str(data)})

    with pytest.raises(ValueError, match="not a teahouse database"):
        restore_backup(config, junk)

    assert junk.read_bytes() == b"this is not sqlite" * 100
    store = SQLiteStore(data / DB_FILE)
    assert store.get_room("before") is not None
    store.close()
    assert sorted(p.name for p in data.iterdir() if p.name.startswith(DB_FILE)) == [DB_FILE]
