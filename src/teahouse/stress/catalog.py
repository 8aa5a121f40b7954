"""The scenarios of ``teahouse stress`` by name (:data:`~teahouse.stress.options.SCENARIOS`)."""

from __future__ import annotations

from teahouse.stress.scenario import Scenario
from teahouse.stress.scenarios import (
    deadpeer,
    fanout,
    flood,
    idle,
    loginflood,
    slowloris,
    slowreader,
    storm,
)

_BY_NAME: dict[str, Scenario] = {
    module.SCENARIO.name: module.SCENARIO
    for module in (flood, storm, loginflood, idle, fanout, deadpeer, slowloris, slowreader)
}


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; KeyError for a name not in ``SCENARIOS``."""
    return _BY_NAME[name]
