"""A connection answered ``throttled`` by a full hash queue goes unread for its
retry_after: a guesser that ignores it costs the loop one answer per wait."""

from __future__ import annotations

from ..hubkit import HubKit
from .fakes import NativeClient, native, small_hash_queue


async def test_a_login_refused_by_a_full_hash_queue_holds_reading_for_retry_after(
    kit: HubKit,
) -> None:
    door = native(kit)
    with small_hash_queue(kit, 2):
        attackers = [NativeClient(kit, door, f"10.0.1.{i}") for i in range(4)]
        for i, c in enumerate(attackers):
            c.send(type="login", user=f"nobody{i}", password="guess-guess-1", ref=i)
        await attackers[0].settle()
        answers = [c.frame()["code"] for c in attackers]
        assert answers == ["bad_credentials"] * 2 + ["throttled"] * 2
        assert [c.transport.reading for c in attackers] == [True, True, False, False]
        # The next guess waits unread, and is read once retry_after has passed.
        attackers[3].send(type="login", user="nobody9", password="guess-guess-2", ref=9)
        assert attackers[3].frames() == []
        attackers[3].advance(1.0)
        await attackers[3].settle()
        assert attackers[3].frame()["code"] == "bad_credentials"
        assert all(c.transport.reading and not c.closed for c in attackers)
