"""The scenarios of ``teahouse stress``, one module each.

A scenario's :meth:`Scenario.load` runs in every load worker on that worker's share of the
connections: it sets up, calls ``ctx.ready()``, waits for ``await ctx.go()`` (which gives
the deadline), does its work, hands its figures to ``await ctx.finish(result)``, and
closes what it opened. :meth:`Scenario.merge` turns the workers' figures into the report's
``results`` in the parent. The measuring pair (:mod:`teahouse.stress.legit`) runs beside
it in its own process unless the scenario or ``--no-legit`` says otherwise.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from teahouse.stress.options import Options
    from teahouse.stress.worker import WorkerContext


class Bar(NamedTuple):
    """A progress bar: the sum over workers of counter ``key``, out of ``total``."""

    key: str
    label: str
    total: int | None = None


class Scenario:
    name: ClassVar[str]
    niced: ClassVar[bool] = True
    """Load workers run at nice 10: they stand for attackers, not for people."""
    legit: ClassVar[bool] = True
    """The measuring pair runs (unless --no-legit)."""

    def bars(self, opts: Options) -> list[Bar]:
        return []

    async def load(self, ctx: WorkerContext) -> None:
        raise NotImplementedError

    def merge(self, opts: Options, results: list[dict[str, Any]]) -> dict[str, Any]:
        raise NotImplementedError

    def finalize(self, report: dict[str, Any]) -> None:
        """Add figures that need the server's samples or the pair's (``report`` is whole)."""


_MODULES = {
    "flood": "flood",
    "storm": "storm",
    "loginflood": "loginflood",
    "idle": "idle",
    "fanout": "fanout",
    "deadpeer": "deadpeer",
    "slowloris": "slowloris",
    "slowreader": "slowreader",
}


def get_scenario(name: str) -> Scenario:
    module = importlib.import_module(f"teahouse.stress.scenarios.{_MODULES[name]}")
    scenario = module.SCENARIO
    assert isinstance(scenario, Scenario)
    return scenario
