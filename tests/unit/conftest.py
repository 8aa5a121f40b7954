"""Fixtures of the unit tests: a hub on fakes (see hubkit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .hubkit import HubKit, MakeKit, make_config


@pytest.fixture
def make_kit() -> Iterator[MakeKit]:
    """Factory: ``make_kit(max_replay=5, interval=2)`` -> a HubKit, closed after the test."""
    kits: list[HubKit] = []

    def factory(store: Any = None, **settings: Any) -> HubKit:
        kit = HubKit(make_config(**settings), store)
        kits.append(kit)
        return kit

    yield factory
    for kit in kits:
        kit.close()


@pytest.fixture
def kit(make_kit: MakeKit) -> HubKit:
    """A hub with the default configuration."""
    return make_kit()
