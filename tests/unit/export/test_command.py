"""`teahouse export`: dates, formats, private files, and one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from teahouse.cli import main
from teahouse.export import command
from teahouse.export.command import parse_bound, run_export
from teahouse.export.render import Format
from teahouse.export.source import ExportError
from teahouse.store.base import StoredMessage
from teahouse.store.sqlite import SQLiteStore

T0 = 1_795_507_200_000  # 2026-11-24T08:00:00Z
DAY = 86_400_000


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "var"
    folder.mkdir()
    store = SQLiteStore(folder / "teahouse.db")
    alice = asyncio.run(store.create_account("alice", "h", "user"))
    bob = asyncio.run(store.create_account("bob", "h", "user"))
    store.create_room("lobby", T0)
    for day in range(5):  # 2026-11-22 .. 2026-11-26, at 08:00 UTC
        msg_id = store.next_message_id()
        ts = T0 + (day - 2) * DAY
        store.append_message(
            StoredMessage(msg_id, "alice", f"day {day}", ts, room="lobby", sender_id=alice.id)
        )
    msg_id = store.next_message_id()
    store.append_message(
        StoredMessage(
            msg_id,
            "bob",
            "/me waves",
            T0,
            recipient="alice",
            sender_id=bob.id,
            recipient_id=alice.id,
        )
    )
    store.close()  # commits what is pending
    yield folder


def export(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["export", "--data-dir", str(data_dir), *args])
    return result.exit_code, result.output


def test_bounds_in_utc() -> None:
    assert parse_bound("2026-11-24", option="--from", end=False) == T0 - 8 * 3_600_000
    assert parse_bound("2026-11-24", option="--to", end=True) == T0 + 16 * 3_600_000
    assert parse_bound("2026-11-24T08:00", option="--to", end=True) == T0
    assert parse_bound("2026-11-24T09:00+01:00", option="--from", end=False) == T0
    assert parse_bound("2026-11-24T08:00:00.5Z", option="--from", end=False) == T0 + 500
    for bad in ("2026-13-01", "yesterday", "", "24/11/2026", "2026-11-3"):
        with pytest.raises(ExportError, match="bad date for --from"):
            parse_bound(bad, option="--from", end=False)
    with pytest.raises(ExportError, match="bad date for --to"):
        parse_bound("9999-12-31", option="--to", end=True)


def test_a_day_range_includes_both_days(data_dir: Path) -> None:
    code, out = export(data_dir, "--room", "lobby", "--from", "2026-11-23", "--to", "2026-11-25")
    assert code == 0
    assert out.splitlines() == [
        "[2026-11-23 08:00:00] <alice> day 1",
        "[2026-11-24 08:00:00] <alice> day 2",
        "[2026-11-25 08:00:00] <alice> day 3",
    ]


def test_direct_messages_as_jsonl(data_dir: Path) -> None:
    code, out = export(data_dir, "--dm", "ALICE", "bob", "--format", "jsonl")
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "id": 6,
            "ts": "2026-11-24T08:00:00.000Z",
            "from": "bob",
            "text": "/me waves",
            "to": "alice",
        }
    ]


def test_a_file_is_private_and_its_suffix_picks_the_format(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "lobby.html"
    target.write_text("old")
    target.chmod(0o644)
    code, out = export(data_dir, "--room", "#lobby", "-o", str(target))
    assert (code, out) == (0, "")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert "5 messages" in target.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    assert command.format_for(None, "x.jsonl") is Format.JSONL
    assert command.format_for(None, "x.LOG") is Format.TEXT
    assert command.format_for("text", "x.html") is Format.TEXT
    assert command.format_for(None, "-") is Format.TEXT
    assert command.format_for(None, "transcript") is Format.HTML


def test_a_failed_export_leaves_the_old_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "lobby.txt"
    target.write_text("old")

    def broken(*args: object, **kwargs: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(command, "write", broken)
    with pytest.raises(ExportError, match="No space left on device"):
        run_export(data_dir / "teahouse.db", room="lobby", output=str(target))
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lobby.txt", "var"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--room", "Attic"], "Error: no such room: attic"),
        (["--dm", "alice", "zed"], "Error: no such user: zed"),
        (["--room", "lobby", "--from", "2026-02-30"], "Error: bad date for --from: '2026-02-30'"),
        (["--room", "lobby", "--from", "2026-11-25", "--to", "2026-11-24"], "Error: --from"),
        (["--room", "lobby", "--dm", "a", "b"], "Error: give either --room ROOM or --dm"),
        ([], "Error: give either --room ROOM or --dm"),
        (["--room", "lobby", "-o", "/nonexistent/x.html"], "Error: cannot write"),
    ],
)
def test_one_line_errors(data_dir: Path, args: list[str], error: str) -> None:
    code, out = export(data_dir, *args)
    assert code == 1
    assert out.startswith(error)
    assert out.count("\n") == 1


def test_not_a_teahouse_database(tmp_path: Path) -> None:
    (tmp_path / "teahouse.db").write_bytes(os.urandom(4096))
    code, out = export(tmp_path, "--room", "lobby")
    assert code == 1 and "is not a teahouse database" in out and out.count("\n") == 1
    code, out = export(tmp_path / "missing", "--room", "lobby")
    assert code == 1 and out.startswith("Error: no database at ")
    assert not (tmp_path / "missing").exists()  # an export creates nothing


def test_needs_no_qt() -> None:
    """The renderers borrow the desktop client's colours from a pure module: an export must
    still run where the gui extra (PySide6) is not installed."""
    code = (
        "import sys, teahouse.export.command, teahouse.export.render;"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
