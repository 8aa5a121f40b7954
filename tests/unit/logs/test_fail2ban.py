"""The fail2ban filters of docs/operations.md, on lines made by teahouse's real logging.

Each filter is read from the docs, so the page cannot drift from what is tested. It is
applied as fail2ban applies it (the date found by ``datepattern`` is cut out of the line,
then ``failregex`` with ``<HOST>`` replaced by fail2ban's pattern is searched), and, when
fail2ban is installed, by ``fail2ban-regex`` itself.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from teahouse.config import LogSection
from teahouse.logs import flush_summaries, log_auth_failure, setup_logging

from .conftest import FakeClock

DOCS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
FILTERS = {"text": "filter.d/teahouse.conf`", "json": "filter.d/teahouse-json.conf`"}

# fail2ban 1.0.2, fail2ban/server/ipdns.py and failregex.py: what <HOST> becomes (with the
# default usedns, which keeps the DNS-name alternative).
IP_4_RE = r"(?:\d{1,3}\.){3}\d{1,3}"
IP_6_RE = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)"
HOST_RE = (
    rf"(?:\[?(?:(?:::f{{4,6}}:)?(?P<ip4>{IP_4_RE})|(?P<ip6>{IP_6_RE}))\]?"
    r"|(?P<dns>[\w\-.^_]*\w))"
)
# The strptime directives our datepatterns use, as fail2ban's strptime.py spells them.
DATE_DIRECTIVES = {
    "%Y": r"\d{4}",
    "%m": r"\d{2}",
    "%d": r"\d{2}",
    "%H": r"\d{2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
    "%f": r"\d{1,6}",
    "%z": r"(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)",
}

ATTACKER = "198.51.100.7"
SECOND = "2001:db8::7"
MAPPED = "::ffff:203.0.113.9"
INNOCENT = "10.0.0.1"


def filter_from_docs(fmt: str) -> configparser.SectionProxy:
    text = DOCS.read_text()
    start = text.index(FILTERS[fmt])
    body = text.index("```ini\n", start) + len("```ini\n")
    parser = configparser.ConfigParser()  # fail2ban's interpolation: %% is %
    parser.read_string(text[body : text.index("```", body)])
    return parser["Definition"]


def translated(definition: configparser.SectionProxy) -> tuple[re.Pattern[str], re.Pattern[str]]:
    date = definition["datepattern"]
    for directive, pattern in DATE_DIRECTIVES.items():
        date = date.replace(directive, pattern)
    fail = definition["failregex"].replace("<HOST>", HOST_RE)
    return re.compile(date), re.compile(fail)


def hosts_matched(log: Path, definition: configparser.SectionProxy) -> list[str]:
    """The host of each line the filter matches, in order, as fail2ban finds it."""
    date, fail = translated(definition)
    hosts = []
    for line in log.read_text().splitlines():
        found = date.search(line)
        rest = line[: found.start()] + line[found.end() :] if found else line
        match = fail.search(rest)
        if match:
            hosts.append(match["ip4"] or match["ip6"] or match["dns"])
    return hosts


def write_attempts(data_dir: Path, fmt: str, clock: FakeClock) -> Path:
    """Guessers, forgers and bystanders through the real logging set-up."""
    setup_logging(LogSection(format=fmt), data_dir, clock=clock)  # type: ignore[arg-type]
    for _ in range(25):  # fast: 10 lines, then one line with the count of the other 15
        log_auth_failure(ATTACKER, "alice", "native", "bad_credentials")
    for reason in ("bad_pass", "bad_sasl", "bad_oper_password"):
        log_auth_failure(SECOND, "bob", "irc", reason)  # type: ignore[arg-type]
    log_auth_failure(MAPPED, None, "native", "throttled")
    # Attempts to have someone else banned: through the name, the peer, other loggers.
    log_auth_failure("203.0.113.50", f"x peer={INNOCENT} ", "native", "bad_credentials")
    log_auth_failure(
        "203.0.113.51",
        f'x"\n WARNING teahouse.auth: auth failed peer={INNOCENT}',
        "irc",
        "bad_sasl",
    )
    log_auth_failure(f"{INNOCENT} x", "carol", "native", "bad_credentials")
    log_auth_failure("localhost", "carol", "native", "bad_credentials")
    forged = f"auth failed peer={INNOCENT} door=native"
    logging.getLogger("teahouse.irc").warning("unknown command %s", forged)
    logging.getLogger("teahouse.irc").warning(f"\n WARNING teahouse.auth: {forged}")
    try:
        raise ValueError(f"\n2026-01-01 00:00:00,000 WARNING teahouse.auth: {forged}")
    except ValueError:
        logging.getLogger("teahouse.auth").exception("internal error")
    clock.now += 10
    flush_summaries()
    return data_dir / "teahouse.log"


EXPECTED = Counter(
    {ATTACKER: 11, SECOND: 3, "203.0.113.9": 1, "203.0.113.50": 1, "203.0.113.51": 1}
)


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_filter_matches_every_failure_line_and_nothing_forged(
    tmp_path: Path, clock: FakeClock, fmt: str
) -> None:
    log = write_attempts(tmp_path / "var", fmt, clock)
    hosts = hosts_matched(log, filter_from_docs(fmt))
    assert Counter(hosts) == EXPECTED
    # The eleventh line of the fast guesser is the count of the rest.
    assert any(
        f"peer={ATTACKER} count=15 window=10s" in line for line in log.read_text().splitlines()
    )


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_fail2ban_regex_agrees(tmp_path: Path, clock: FakeClock, fmt: str) -> None:
    tool = shutil.which("fail2ban-regex")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("fail2ban-regex is missing; .ci/run installs the fail2ban package")
        pytest.skip("fail2ban-regex is not installed (apt-get install fail2ban)")
    before = time.time()
    log = write_attempts(tmp_path / "var", fmt, clock)
    after = time.time()
    filter_text = DOCS.read_text()
    start = filter_text.index("```ini\n", filter_text.index(FILTERS[fmt])) + len("```ini\n")
    filter_file = tmp_path / "teahouse.conf"
    filter_file.write_text(filter_text[start : filter_text.index("```", start)])
    env = dict(os.environ)
    if fmt == "json":
        # JSON time stamps are UTC: fail2ban in a zone far from UTC must still read them right.
        env["TZ"] = "Pacific/Kiritimati"
    result = subprocess.run(
        [tool, "-o", "<ip> <time>", str(log), str(filter_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = [line.split() for line in result.stdout.splitlines()]
    assert Counter(ip for ip, _ in found) == EXPECTED
    assert all(before - 1 <= float(t) <= after + 1 for _, t in found), found
