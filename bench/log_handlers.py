"""Records per second through the log file set-ups, old and new (text format, no console).

A micro-benchmark, not a test: run it by hand and compare within one run.

    .venv/bin/python bench/log_handlers.py            # 50,000 records a set-up, best of 3
    .venv/bin/python bench/log_handlers.py --records 200000 --runs 5

Set-ups:

- ``stdlib``: what teahouse used before: ``logging.handlers.RotatingFileHandler`` (10 MiB,
  5 backups) with ``logging.Formatter``. On Python 3.11 it stats the file twice and seeks
  to its end for every record.
- ``private``: ``PrivateRotatingFileHandler`` with ``TextFormatter``, no aggregation: the
  file handler alone.
- ``aggregated``: the aggregator in front of it, as ``setup_logging`` builds it, with a
  policy that holds nothing back: what aggregation costs a line that is written.
- ``stdlib flood`` / ``aggregated flood``: every record from one address, as in a flood;
  the stdlib set-up writes them all, the aggregator writes 5 and counts the rest.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from teahouse.logsupport.aggregate import Aggregator, Policy
from teahouse.logsupport.files import PrivateRotatingFileHandler
from teahouse.logsupport.formatters import TEXT_FORMAT, TextFormatter

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
EVERYTHING = Policy(burst=10**9, cap=10**9)


def stdlib(path: Path) -> logging.Handler:
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    return handler


def private(path: Path) -> logging.Handler:
    handler = PrivateRotatingFileHandler(path, MAX_BYTES, BACKUPS)
    handler.setFormatter(TextFormatter())
    return handler


def aggregated(policy: Policy | None) -> Callable[[Path], logging.Handler]:
    def make(path: Path) -> logging.Handler:
        return Aggregator([private(path)], default=policy)

    return make


def run(make: Callable[[Path], logging.Handler], records: int, flood: bool) -> float:
    """Records per CPU second through a fresh handler on the root logger, in a fresh dir.

    CPU time of this process (user and system), not wall time: on a shared machine it
    is what the set-up costs, less what the neighbours cost.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = logging.getLogger()
        handler = make(Path(tmp) / "teahouse.log")
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        log = logging.getLogger("teahouse.hub")
        try:
            start = time.process_time()
            for n in range(records):
                ip = "198.51.100.7" if flood else f"10.{(n >> 8) & 255}.{n & 255}.1"
                log.info(
                    "connection closed peer=%s:%d user=%s reason=%s",
                    ip,
                    40000 + (n & 0x3FFF),
                    "alice",
                    "quit",
                    extra={"peer": ip},
                )
            elapsed = time.process_time() - start
        finally:
            root.removeHandler(handler)
            handler.close()
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setups: list[tuple[str, Callable[[Path], logging.Handler], bool]] = [
        ("stdlib", stdlib, False),
        ("private", private, False),
        ("aggregated", aggregated(EVERYTHING), False),
        ("stdlib flood", stdlib, True),
        ("aggregated flood", aggregated(None), True),
    ]
    print(f"Python {sys.version.split()[0]}, {args.records} records, best of {args.runs}")
    best = dict.fromkeys((name for name, _, _ in setups), 0.0)
    for _ in range(args.runs):  # rounds, so that a noisy moment hits every set-up alike
        for name, make, flood in setups:
            best[name] = max(best[name], run(make, args.records, flood))
    for name, rate in best.items():
        print(f"{name:18} {rate:>10,.0f} records/s  {1e6 / rate:6.2f} us/record (CPU)")


if __name__ == "__main__":
    main()
