"""Fixtures of the unit tests: a hub on fakes (see hubkit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teahouse.store.sqlite import SQLiteStore

from .hubkit import HubKit, MakeKit, make_config


@pytest.fixture
def make_kit(tmp_path: Path) -> Iterator[MakeKit]:
    """Factory: ``make_kit(max_replay=5, interval=2)`` -> a HubKit, closed after the test.
    ``on_disk=True``: its store is a file (for a full disk, or a restart)."""
    kits: list[HubKit] = []

    def factory(store: Any = None, on_disk: bool = False, **settings: Any) -> HubKit:
        if on_disk:
            store = SQLiteStore(tmp_path / f"kit-{len(kits)}.db")
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
