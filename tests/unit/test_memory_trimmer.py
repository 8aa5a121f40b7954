"""The memory trimmer gives the heap back once a wave of connections is over, never while
connections are still arriving or still being closed by the hundred."""

from __future__ import annotations

import threading

from teahouse.server import MemoryTrimmer


def trimmer_with_fake_trim() -> tuple[MemoryTrimmer, threading.Event]:
    trimmer = MemoryTrimmer()
    trimmed = threading.Event()

    def trim(pad: int) -> int:
        trimmed.set()
        return 1

    trimmer._trim = trim
    return trimmer, trimmed


def test_no_trim_while_a_wave_of_closes_goes_on_then_one_after_it() -> None:
    trimmer, trimmed = trimmer_with_fake_trim()
    trimmer.after_churn(10_000, 10_000)  # ten thousand came (counted as arriving)
    trimmer.after_churn(10_000, 10_000)  # and stay
    trimmer.after_churn(10_000, 6_000)  # a mass timeout: four thousand closed this second
    trimmer.after_churn(10_000, 500)
    assert not trimmed.is_set(), "not while hundreds are closed a second"
    trimmer.after_churn(10_000, 480)  # the wave is over
    assert trimmed.wait(5.0)


def test_no_trim_while_connections_arrive() -> None:
    trimmer, trimmed = trimmer_with_fake_trim()
    trimmer.after_churn(5_000, 3_000)  # two thousand came and went this second
    trimmer.after_churn(9_000, 3_000)  # four thousand came and went this second
    assert not trimmed.is_set()
    trimmer.after_churn(9_000, 3_000)
    assert trimmed.wait(5.0)
