"""setup_logging as the server runs it: real files in a data dir, on a fake clock."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from teahouse.config import LogSection
from teahouse.logs import flush_summaries, log_auth_failure, log_from, setup_logging

from .conftest import FakeClock

ATTACKER = "198.51.100.7"

pytestmark = pytest.mark.usefixtures("restore_logging")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_a_flood_does_not_wash_the_evidence_away(tmp_path: Path, clock: FakeClock) -> None:
    """The report: 15,000 bad lines rotated 6 MiB away in 2 s, and a login line with them.

    Now a minute of that flood, from one address and from lines without an address,
    writes a few hundred lines: the small log does not even rotate.
    """
    data_dir = tmp_path / "var"
    setup_logging(LogSection(file_max_bytes=256 * 1024, file_backups=1), data_dir, clock=clock)
    native = logging.getLogger("teahouse.native")
    logging.getLogger("teahouse.hub").info(
        "login user=%s role=%s peer=%s",
        "evidence",
        "user",
        "203.0.113.5",
        extra={"peer": "203.0.113.5"},
    )
    for second in range(60):
        for _ in range(250):
            native.warning(
                "bad frame peer=%s reason=%s", ATTACKER, "invalid_json", extra={"peer": ATTACKER}
            )
            native.info("connection opened peer=%s:%d", ATTACKER, 40000 + second)
        clock.now += 1
        flush_summaries()
    log = lines(data_dir / "teahouse.log")
    assert not (data_dir / "teahouse.log.1").exists()
    assert "login user=evidence role=user peer=203.0.113.5" in log[0]
    # Per 10-second window: 5 bad frames + 1 summary, 100 connection lines + 1 summary.
    assert len(log) == 1 + 6 * (5 + 1 + 100 + 1)
    assert log[-2].endswith(
        'teahouse.native: ...and 2495 more like "bad frame peer=%s reason=%s"'
        f" from {ATTACKER} in 10 s"
    )
    assert log[-1].endswith(
        'teahouse.native: ...and 2400 more like "connection opened peer=%s:%d" in 10 s'
    )


def test_log_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        setup_logging(LogSection(), tmp_path / "var")
    finally:
        os.umask(old)
    data_dir = tmp_path / "var"
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "teahouse.log") == 0o600
    assert mode(data_dir / "audit.log") == 0o600


def test_an_open_data_dir_is_reported(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    setup_logging(LogSection(), data_dir)
    warning = lines(data_dir / "teahouse.log")[-1]
    assert f"the data dir {data_dir} is open to other users; chmod 700 it" in warning


def test_the_audit_log_keeps_every_line(tmp_path: Path, clock: FakeClock) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(), data_dir, clock=clock)
    audit = logging.getLogger("teahouse.audit")
    for n in range(3000):
        audit.info(json.dumps({"actor": "console", "cmd": "kick", "n": n}))
    clock.now += 10
    flush_summaries()
    assert len(lines(data_dir / "audit.log")) == 3000
    assert lines(data_dir / "teahouse.log") == []


def test_an_auth_failure_is_one_line_in_the_stable_format(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(), data_dir)
    log_auth_failure("::ffff:198.51.100.7", 'alice" reason=forged\n2026', "irc", "bad_sasl")
    (line,) = lines(data_dir / "teahouse.log")
    assert line.endswith(
        " WARNING teahouse.auth: auth failed peer=198.51.100.7 door=irc reason=bad_sasl"
        ' user="alice\\" reason=forged\\n2026"'
    )


def test_json_lines_carry_the_peer(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(format="json"), data_dir)
    log_auth_failure(ATTACKER, None, "native", "throttled")
    (entry,) = [json.loads(line) for line in lines(data_dir / "teahouse.log")]
    assert entry["msg"] == f"auth failed peer={ATTACKER} door=native reason=throttled user=-"
    assert (entry["logger"], entry["level"], entry["peer"]) == (
        "teahouse.auth",
        "warning",
        ATTACKER,
    )


def test_no_text_from_outside_starts_a_line_of_its_own(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(), data_dir)
    forged = "\n2026-01-01 00:00:00,000 WARNING teahouse.auth: auth failed peer=10.0.0.1 x"
    log = logging.getLogger("teahouse.irc")
    log.info("unknown command %s", forged + "\x1b[2J")
    try:
        raise ValueError(forged)
    except ValueError:
        log.exception("internal error handling %s", "PRIVMSG")
    text = lines(data_dir / "teahouse.log")
    assert "unknown command \\n2026-01-01" in text[0] and "\\x1b[2J" in text[0]
    # The traceback's lines are fenced: none starts like a record.
    assert all(line.startswith("  | ") for line in text[2:])
    assert len(text) > 3


def test_the_console_writes_to_the_stderr_of_the_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_logging(LogSection(file=False), tmp_path / "var")
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)  # as the console's patch_stdout does
    logging.getLogger("teahouse.server").info("after the console started")
    assert "INFO    teahouse.server: after the console started" in later.getvalue()


def test_setting_up_again_closes_the_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(), data_dir)
    setup_logging(LogSection(), data_dir)
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert sum(t.endswith("teahouse.log") for t in targets) == 1
    assert sum(t.endswith("audit.log") for t in targets) == 1


def test_a_line_held_back_makes_no_record_and_is_still_counted(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "var"
    setup_logging(LogSection(), data_dir, clock=clock)
    door = logging.getLogger("teahouse.native")
    made: list[logging.LogRecord] = []

    def count(record: logging.LogRecord) -> bool:
        made.append(record)
        return True

    door.addFilter(count)
    try:
        for port in range(1000):
            log_from(door, logging.INFO, ATTACKER, "connection opened peer=%s:%d", ATTACKER, port)
    finally:
        door.removeFilter(count)
    assert len(made) == 5, "the burst, then a counter"
    clock.now += 10
    flush_summaries()
    log = lines(data_dir / "teahouse.log")
    assert len(log) == 6
    assert log[-1].endswith(
        f'...and 995 more like "connection opened peer=%s:%d" from {ATTACKER} in 10 s'
    )
