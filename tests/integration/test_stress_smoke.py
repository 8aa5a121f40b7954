"""``teahouse stress`` smoke runs: every scenario at tiny size against a real server.

Each run goes through the CLI in a subprocess with ``--json``, as ``make bench`` uses it,
and checks that the figures are there and sane. Sizes are a few connections for 1-3 s:
this proves the tool, not the server's limits (``make bench`` measures those).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.timeout(60)

HEARTBEAT = {"interval": 0.5, "timeout": 1.5}


def stress(
    server: ServerProcess, scenario: str, *args: str, irc: bool = False, timeout: float = 45
) -> dict[str, Any]:
    """Run a scenario through the CLI; return its JSON report."""
    port = server.irc_port if irc else server.port
    cmd = [
        sys.executable,
        "-m",
        "teahouse",
        "stress",
        scenario,
        "--port",
        str(port),
        "--server-pid",
        str(server.pid),
        "--json",
        "--quiet",
        "--workers",
        "2",
        "--baseline",
        "0.3",
        "--settle",
        "0.3",
        *(["--irc"] if irc else ["--register"]),
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{proc.stdout}\n{proc.stderr}\n--- server log\n{server.log()[-3000:]}"
    )
    report: dict[str, Any] = json.loads(proc.stdout)
    assert report["scenario"] == scenario
    assert report["server"]["alive"], server.log()[-3000:]
    for sample in ("before", "end", "after"):
        assert report["server"][sample]["rss_kib"] > 0
        assert report["server"][sample]["fds"] > 0
    assert report["server"]["peak"]["rss_kib"] >= report["server"]["before"]["rss_kib"]
    # The load phase's own peak (go to end) is part of the run's peak.
    assert 0 < report["server"]["load_peak"]["rss_kib"] <= report["server"]["peak"]["rss_kib"]
    return report


def assert_served(report: dict[str, Any]) -> None:
    legit = report["legit"]
    assert legit["served"], legit
    assert legit["disconnects"] == {}
    load = legit["rtt"]["load"]
    assert load["received"] == load["sent"] > 0
    assert load["lost"] == 0
    assert 0 < load["p50_ms"] <= load["p99_ms"] <= load["max_ms"] < 5000
    assert report["served"] is True


def test_fanout_native_and_irc(make_server: Any) -> None:
    # The IRC door at its defaults (a line costs 1 s after a 20 s burst): the senders OPER
    # with an admin account, which lifts the penalty, as `make bench` does. 60 lines each
    # would wait 40 s without it. The native senders need the frame rate lifted (there is
    # no per-account exemption on the native door yet).
    server = make_server(
        admin={"initial_user": "bench", "initial_password": "bench-oper-1"},
        limits={"frames_per_second": 0, "bytes_per_second": 0},
    )
    for irc in (False, True):
        oper = ["--oper", "bench:bench-oper-1"] if irc else []
        report = stress(
            server, "fanout", "--members", "4", "--senders", "2", "--messages", "60", *oper, irc=irc
        )
        results = report["results"]
        assert results["members"] == 4 and results["senders"] == 2
        assert results["expected"] == results["deliveries"] == 4 * 2 * 60
        assert results["lost"] == 0
        assert results["out_of_order"] == 0
        assert results["members_dropped"] == 0
        assert results["deliveries_per_s"] > 0
        latency = results["latency"]
        assert latency["count"] == 480
        assert 0 < latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 5000
        assert results["server_cpu_us_per_delivery"] >= 0
        assert results["served"] is True
        assert report["legit"] is None
        assert report["target"]["dialect"] == ("irc" if irc else "native")
        if irc:
            assert results["opered"] == 2


def test_storm_native_and_irc(make_server: Any) -> None:
    server = make_server()
    for irc in (False, True):
        report = stress(
            server, "storm", "--attackers", "4", "--duration", "1.5", "--settle", "1", irc=irc
        )
        results = report["results"]
        assert results["cycles"] > 10
        assert results["cycles_per_s"] > 5
        assert results["connect_time"]["count"] == results["cycles"]
        assert_served(report)
        # Within --settle of the end, every attacker's connection is gone again.
        assert report["server"]["fds_after_minus_before"] <= 4


def test_flood(make_server: Any) -> None:
    server = make_server()
    # A socket dropped for garbage is held unread for up to LINGER (3 s) before it closes, so
    # the run lasts long enough for every attacker to see its socket closed at least once.
    report = stress(server, "flood", "--attackers", "4", "--duration", "5", "--chunk", "32768")
    results = report["results"]
    assert results["connects"] >= 4
    assert results["dropped"] >= 4  # garbage gets an attacker dropped, again and again
    reasons = {"frame_too_large", "bad_frame", "reset", "eof", "too_many_connections"}
    assert set(results["drop_reasons"]) <= reasons
    assert results["mib_written"] > 0
    assert results["lifetime"]["count"] == results["dropped"]
    assert_served(report)
    assert "baseline" in report["legit"]["rtt"]


def test_loginflood(make_server: Any) -> None:
    server = make_server()
    report = stress(
        server, "loginflood", "--attackers", "4", "--duration", "2", "--login-interval", "0.5"
    )
    results = report["results"]
    assert results["attempts"] > 4
    assert "success" not in results["answers"]
    answers = {"bad_credentials", "throttled", "rate_limited", "closed", "no answer"}
    assert set(results["answers"]) <= answers
    assert_served(report)
    probes = report["legit"]["login_probes"]
    assert probes["failures"] == {}
    assert probes["load"]["count"] >= 2
    assert probes["load"]["max_ms"] < 2000


def test_idle(make_server: Any) -> None:
    server = make_server(heartbeat=HEARTBEAT)
    report = stress(server, "idle", "--count", "20", "--duration", "3")
    results = report["results"]
    assert results["connected"] == 20
    # Three seconds is two heartbeat timeouts: only answered pings kept them alive.
    assert results["alive_at_end"] == 20
    assert results["dropped_during_hold"] == {}
    assert results["server_fds_held"] >= 20
    assert results["server_kib_per_connection"] is not None
    assert_served(report)


def test_deadpeer(make_server: Any) -> None:
    server = make_server(heartbeat=HEARTBEAT)
    report = stress(server, "deadpeer", "--count", "10", "--duration", "6")
    results = report["results"]
    assert results["peers"] == results["freed"] == 10
    assert results["not_freed"] == 0
    assert results["server_timeout_s"] == 1.5
    assert results["freed_within_timeout_plus_1s"] == 10
    assert 1.5 <= results["freed_after"]["min_s"] <= results["freed_after"]["max_s"] <= 2.5
    assert results["close_reasons"] == {"heartbeat_timeout": 10}
    assert results["worst_stall_ms"] is not None
    assert_served(report)
    assert report["load_s"] < 5  # the run ends once every peer is freed


def test_slowloris(make_server: Any) -> None:
    server = make_server(limits={"login_timeout": 1.0})
    report = stress(
        server, "slowloris", "--count", "4", "--byte-interval", "0.2", "--duration", "2.5"
    )
    results = report["results"]
    assert results["dropped"] >= 4
    assert set(results["drop_reasons"]) <= {"timeout", "eof", "reset"}
    assert 0.5 <= results["lifetime"]["p50_s"] <= 2.0
    assert results["peak_open"] >= 4
    assert_served(report)


def test_slowreader(make_server: Any) -> None:
    # The busy room needs senders faster than the default 20 frames/s per connection.
    fast = {"frames_per_second": 2000, "frames_burst": 2000, "bytes_per_second": 1 << 24}
    # The high-water mark sits well above what the sender may have in flight (its window of
    # 200 lines of 1 KiB, acknowledged in bursts after each commit, and the same lines heard
    # back as a member), so only the member that does not read goes over it, however slowly
    # a loaded machine lets the sender read (512 KiB dropped the sender now and then).
    server = make_server(limits={"output_high_water": 1 << 20, "bytes_burst": 1 << 24, **fast})
    report = stress(server, "slowreader", "--size", "1000", "--duration", "10")
    results = report["results"]
    assert results["dropped"] is True, f"{results!r}"
    assert results["seen_leaving"] is True, f"{results!r}\n--- server log\n{server.log()[-3000:]}"
    assert results["reason"] == "slow_consumer"
    assert results["dropped_after_s"] < 10
    assert results["lines"] > 0
    assert results["senders_dropped"] == {}
    assert results["server_rss_growth_kib"] >= 0
    assert_served(report)


@pytest.mark.parametrize(
    "args",
    [
        ["--host", "10.1.2.3"],
        ["--host", "example.com"],
        ["--host", "::1"],
        ["--sources", "127.0.0.2,192.168.0.9"],
        ["--legit-source", "10.0.0.1"],
        ["--count", "100000"],
        ["--duration", "601"],
    ],
)
def test_refuses_what_is_out_of_bounds(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "teahouse", "stress", "flood", "--port", "9", "--register", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "Error:" in proc.stderr
