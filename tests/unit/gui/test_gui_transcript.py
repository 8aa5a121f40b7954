"""The transcript: order by id, no duplicates, day separators, pending and system lines."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from teahouse.gui.transcript import Kind, Row, Tone, Transcript, message_row

DAY1 = datetime(2026, 11, 24, 22, 0).astimezone()
DAY2 = DAY1 + timedelta(days=1)


def msg(i: int, when: datetime = DAY1, sender: str = "bob") -> Row:
    return message_row(i, sender, f"line {i}", when)


class Mirror:
    """An observer that replays the changes on its own list: it must end equal."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.rows: list[Row] = []
        self.pending: tuple[str, int, int] | None = None
        transcript.observer = self

    def before_insert(self, pos: int, count: int) -> None:
        assert self.pending is None and 0 <= pos <= len(self.rows)
        self.pending = ("insert", pos, count)

    def after_insert(self, pos: int, count: int) -> None:
        assert self.pending == ("insert", pos, count)
        self.rows[pos:pos] = self.transcript.rows[pos : pos + count]
        self.pending = None

    def before_remove(self, pos: int, count: int) -> None:
        assert self.pending is None and pos + count <= len(self.rows)
        self.pending = ("remove", pos, count)

    def after_remove(self, pos: int, count: int) -> None:
        assert self.pending == ("remove", pos, count)
        del self.rows[pos : pos + count]
        self.pending = None


def kinds(t: Transcript) -> list[str]:
    return [f"{r.kind.name[0]}{r.id if r.kind is Kind.MESSAGE else ''}" for r in t.rows]


def test_messages_in_id_order_with_one_separator_per_day() -> None:
    t = Transcript()
    mirror = Mirror(t)
    assert [r.id for r in t.add_messages([msg(3), msg(1), msg(2, DAY1)])] == [1, 2, 3]
    t.add_messages([msg(5, DAY2), msg(4)])
    assert kinds(t) == ["D", "M1", "M2", "M3", "M4", "D", "M5"]
    assert mirror.rows == t.rows
    assert t.newest_id == 5 and t.oldest_id == 1


def test_a_batch_that_lands_in_one_place_is_one_insertion() -> None:
    t = Transcript()
    t.add_messages([msg(100)])
    calls: list[tuple[int, int]] = []

    class Count(Mirror):
        def after_insert(self, pos: int, count: int) -> None:
            calls.append((pos, count))
            super().after_insert(pos, count)

    mirror = Count(t)
    mirror.rows = list(t.rows)
    t.add_messages([msg(i) for i in range(101, 1101)])
    assert calls == [(2, 1000)]
    assert mirror.rows == t.rows


def test_duplicates_are_dropped_whatever_their_source() -> None:
    t = Transcript()
    assert len(t.add_messages([msg(1), msg(2)])) == 2
    assert t.add_messages([msg(2), msg(1)]) == []
    assert [r.id for r in t.add_messages([msg(2), msg(3), msg(3)])] == [3]
    assert t.message_ids() == [1, 2, 3]


def test_history_goes_on_top_and_the_old_separator_goes() -> None:
    t = Transcript()
    mirror = Mirror(t)
    t.add_messages([msg(10), msg(11)])
    t.add_messages([msg(7), msg(8)])  # same day: one separator above all
    assert kinds(t) == ["D", "M7", "M8", "M10", "M11"]
    t.add_messages([msg(9)])  # fills the gap, in place
    assert kinds(t) == ["D", "M7", "M8", "M9", "M10", "M11"]
    assert mirror.rows == t.rows


def test_system_lines_follow_the_newest_message_and_pending_lines_stay_last() -> None:
    t = Transcript()
    t.add_messages([msg(1)])
    pending = t.add_pending("on its way", "alice")
    note = t.add_system("bob joined", Tone.INFO)
    t.add_messages([msg(2)])
    assert [r.kind for r in t.rows] == [
        Kind.DAY,
        Kind.MESSAGE,
        Kind.SYSTEM,
        Kind.MESSAGE,
        Kind.PENDING,
    ]
    assert t.rows[2] is note
    t.resolve_pending(pending, message_row(3, "alice", "on its way", DAY1, own=True))
    assert t.rows[-1].id == 3 and t.rows[-1].own
    assert all(r.kind is not Kind.PENDING for r in t.rows)


def test_a_failed_pending_line_disappears() -> None:
    t = Transcript()
    pending = t.add_pending("nope", "alice")
    t.resolve_pending(pending, None)
    assert t.rows == []


def test_start_marker_is_above_everything_once() -> None:
    t = Transcript()
    t.add_messages([msg(5)])
    t.mark_start("the beginning")
    t.mark_start("the beginning")
    t.add_messages([msg(1)])
    assert kinds(t) == ["S", "D", "M1", "M5"]
    assert t.has_start()


@given(st.lists(st.lists(st.tuples(st.integers(1, 60), st.booleans()), max_size=12), max_size=8))
def test_any_arrival_order_gives_the_same_transcript(batches: list[list[tuple[int, bool]]]) -> None:
    t = Transcript()
    mirror = Mirror(t)
    seen: set[int] = set()
    for batch in batches:
        t.add_messages([msg(i, DAY2 if later else DAY1) for i, later in batch])
        seen |= {i for i, _ in batch}
    ids = t.message_ids()
    assert ids == sorted(seen)
    assert mirror.rows == t.rows
    # A separator before the first message, and never two in a row.
    kinds_ = [r.kind for r in t.rows]
    if ids:
        assert kinds_[0] is Kind.DAY
    assert all(not (a is Kind.DAY and b is Kind.DAY) for a, b in itertools.pairwise(kinds_))
    # Each separator stands before a message of another day than the message before it.
    previous_day = None
    for i, row in enumerate(t.rows):
        if row.kind is Kind.DAY:
            assert t.rows[i + 1].kind is Kind.MESSAGE
            assert t.rows[i + 1].day != previous_day
        elif row.kind is Kind.MESSAGE:
            previous_day = row.day
