"""Aggregator: repeats are counted, not written; a flood writes a bounded number of lines."""

from __future__ import annotations

import logging
import re

import pytest

from teahouse.logsupport.aggregate import OVERFLOW_TEMPLATE, Aggregator, Policy

from .conftest import FakeClock, ListHandler

BAD_FRAME = "bad frame peer=%s reason=%s"
ATTACKER = "198.51.100.7"
COUNT = re.compile(r"^\.\.\.and (\d+) more like ")


def make(clock: FakeClock, **kwargs: object) -> tuple[Aggregator, ListHandler]:
    out = ListHandler()
    return Aggregator([out], clock=clock, **kwargs), out  # type: ignore[arg-type]


def record(
    msg: str = BAD_FRAME,
    *args: object,
    peer: str | None = ATTACKER,
    name: str = "teahouse.native",
    level: int = logging.INFO,
) -> logging.LogRecord:
    if not args and msg == BAD_FRAME:
        args = (peer, "invalid_json")
    rec = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    if peer is not None:
        rec.peer = peer
    return rec


def flood(agg: Aggregator, times: int, **kwargs: object) -> None:
    for _ in range(times):
        agg.handle(record(**kwargs))  # type: ignore[arg-type]


def summaries(out: ListHandler) -> list[str]:
    return [line for line in out.lines if line.startswith("...and ")]


def held_back(out: ListHandler) -> int:
    return sum(int(m.group(1)) for line in out.lines if (m := COUNT.match(line)))


def test_a_flood_from_one_address_writes_five_lines_then_one_summary(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 15_000)
    assert len(out.lines) == 5
    clock.now += 10
    agg.flush_summaries()
    assert out.lines[5:] == [
        f'...and 14995 more like "bad frame peer=%s reason=%s" from {ATTACKER} in 10 s'
    ]


def test_no_summary_before_the_window_ends(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 50)
    clock.now += 9.9
    agg.flush_summaries()
    assert summaries(out) == []
    agg.flush_summaries(clock.now + 0.1)  # an explicit time is used as it is
    assert len(summaries(out)) == 1


def test_a_summary_is_written_once(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 50)
    clock.now += 10
    agg.flush_summaries()
    agg.flush_summaries()
    clock.now += 30
    agg.flush_summaries()
    assert len(summaries(out)) == 1


def test_without_flush_the_next_record_closes_the_window_first(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 8)
    clock.now += 12
    agg.handle(record("login user=%s", "evidence", peer="203.0.113.5"))
    assert out.lines[-2:] == [
        f'...and 3 more like "bad frame peer=%s reason=%s" from {ATTACKER} in 10 s',
        "login user=evidence",
    ]


def test_a_new_window_lets_the_address_write_again(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 20)
    clock.now += 10
    flood(agg, 20)
    assert len(out.lines) == 5 + 1 + 5


def test_one_address_flooding_does_not_hold_back_another(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 1000)
    agg.handle(record(peer="203.0.113.5"))
    assert out.lines[-1] == "bad frame peer=203.0.113.5 reason=invalid_json"


def test_other_kinds_of_line_from_the_same_address_are_counted_apart(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 1000)
    agg.handle(record("connection opened peer=%s:%d", ATTACKER, 4000))
    assert out.lines[-1] == f"connection opened peer={ATTACKER}:4000"


def test_a_flood_from_ten_thousand_addresses_is_capped_per_kind_of_line(clock: FakeClock) -> None:
    agg, out = make(clock)
    for n in range(10_000):
        for _ in range(3):
            agg.handle(record(peer=f"10.{n >> 8}.{n & 255}.1"))
    assert len(out.lines) == 100
    clock.now += 10
    agg.flush_summaries()
    lines = summaries(out)
    assert len(lines) == 10 + 1
    assert all(" from 10." in line for line in lines[:10])
    # 33 addresses wrote all 3 lines and the 34th one, before the cap: 9,967 held lines back.
    assert lines[-1].endswith(" from 9957 other sources in 10 s")
    assert held_back(out) == 30_000 - 100


def test_lines_without_an_address_share_the_cap_of_their_kind(clock: FakeClock) -> None:
    agg, out = make(clock)
    for n in range(500):
        agg.handle(record("connection closed peer=%s user=%s", "10.0.0.1", n, peer=None))
    assert len(out.lines) == 100
    clock.now += 10
    agg.flush_summaries()
    assert out.lines[-1] == '...and 400 more like "connection closed peer=%s user=%s" in 10 s'


def test_the_audit_log_is_never_held_back(clock: FakeClock) -> None:
    agg, out = make(clock, exempt=("teahouse.audit",))
    for _ in range(20_000):
        agg.handle(record("{}", peer=ATTACKER, name="teahouse.audit"))
    clock.now += 10
    agg.flush_summaries()
    assert len(out.lines) == 20_000
    assert summaries(out) == []


def test_the_table_of_addresses_is_bounded(clock: FakeClock) -> None:
    agg, out = make(clock, max_sources=1000)
    for n in range(20_000):
        agg.handle(record(peer=f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}"))
        agg.handle(record(peer=ATTACKER))
        assert agg.tracked_sources <= 1000
    clock.now += 10
    agg.flush_summaries()
    # Nothing is lost from the counts: dropped addresses move into the "other sources" line.
    assert held_back(out) == 40_000 - 100
    assert agg.tracked_sources == 0


def test_the_table_of_kinds_of_line_is_bounded(clock: FakeClock) -> None:
    agg, out = make(clock, max_templates=100)
    for n in range(10_000):
        agg.handle(record(f"formatted by the caller {n}", peer=None))
        assert agg.tracked_templates <= 101
    assert len(out.lines) == 100 + 100  # one per kind that fits, then the shared entry's cap
    clock.now += 10
    agg.flush_summaries()
    assert out.lines[-1] == f'...and 9800 more like "{OVERFLOW_TEMPLATE}" in 10 s'


def test_a_summary_is_a_record_of_the_same_logger_and_level(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 10, name="teahouse.irc", level=logging.WARNING)
    clock.now += 10
    agg.flush_summaries()
    summary = out.records[-1]
    assert (summary.name, summary.levelno, summary.peer) == (
        "teahouse.irc",
        logging.WARNING,
        ATTACKER,
    )


def test_a_long_template_is_cut_in_the_summary(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 10, msg="x" * 500)
    clock.now += 10
    agg.flush_summaries()
    assert out.lines[-1] == f'...and 5 more like "{"x" * 77}..." from {ATTACKER} in 10 s'


def test_a_policy_per_logger(clock: FakeClock) -> None:
    auth = Policy(burst=10, source_summary="auth failed peer={peer} count={count}")
    agg, out = make(clock, policies={"teahouse.auth": auth})
    flood(agg, 25, name="teahouse.auth")
    flood(agg, 25, name="teahouse.native")
    clock.now += 10
    agg.flush_summaries()
    assert len(out.lines) == 10 + 5 + 2
    assert f"auth failed peer={ATTACKER} count=15" in out.lines


def test_close_writes_the_summaries_of_the_window_so_far(clock: FakeClock) -> None:
    agg, out = make(clock)
    flood(agg, 7)
    agg.close()
    assert summaries(out) == [
        f'...and 2 more like "bad frame peer=%s reason=%s" from {ATTACKER} in 10 s'
    ]


def test_a_target_keeps_its_own_level(clock: FakeClock) -> None:
    agg, out = make(clock)
    out.setLevel(logging.WARNING)
    agg.handle(record(level=logging.INFO))
    agg.handle(record(level=logging.ERROR))
    assert len(out.lines) == 1


@pytest.mark.parametrize("bad_peer", [None, "", 42])
def test_a_record_without_a_usable_peer_counts_as_without_an_address(
    clock: FakeClock, bad_peer: object
) -> None:
    agg, out = make(clock)
    for _ in range(200):
        rec = record(peer=None)
        if bad_peer is not None:
            rec.peer = bad_peer
        agg.handle(rec)
    assert len(out.lines) == 100


def test_a_line_it_would_hold_back_is_counted_without_a_record(clock: FakeClock) -> None:
    agg, out = make(clock)
    assert not agg.holds("teahouse.native", BAD_FRAME, ATTACKER), "not seen yet: emit decides"
    flood(agg, 5)
    assert not agg.holds("teahouse.native", BAD_FRAME, "203.0.113.9"), "another source"
    assert not agg.holds("teahouse.other", BAD_FRAME, ATTACKER), "another logger"
    assert all(agg.holds("teahouse.native", BAD_FRAME, ATTACKER) for _ in range(10))
    flood(agg, 5)
    clock.now += 10
    assert not agg.holds("teahouse.native", BAD_FRAME, ATTACKER), "the window is over"
    agg.flush_summaries()
    assert len(out.lines) == 6 and held_back(out) == 15, "held early or late, all counted"


def test_a_new_source_past_the_cap_is_held_early_too(clock: FakeClock) -> None:
    agg, out = make(clock, default=Policy(burst=5, cap=3))
    flood(agg, 3)
    assert agg.holds("teahouse.native", BAD_FRAME, "203.0.113.9"), "the template's cap is spent"
    clock.now += 10
    agg.flush_summaries()
    assert held_back(out) == 1
