"""The contract of a scenario: :class:`Scenario`, and the progress :class:`Bar` it shows.

See :mod:`teahouse.stress.scenarios` for how a run drives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

if TYPE_CHECKING:
    from teahouse.stress.context import WorkerContext
    from teahouse.stress.options import Options


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
