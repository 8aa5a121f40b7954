"""What a person sees: rich progress bars on stderr while a run goes, a summary at the end.

``--json`` replaces the summary with one JSON object on stdout (for ``make bench``); the
progress bars still go to stderr unless ``--quiet``.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from teahouse.stress.scenario import Bar


class LiveProgress:
    """One bar per scenario counter, one for the load time, and a line for the phase."""

    def __init__(self, console: Console, bars: list[Bar], duration: float, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<36}"),
            BarColumn(),
            TextColumn("{task.fields[shown]:>18}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self._bars = bars
        self._duration = duration
        self._phase = self._progress.add_task("setup", total=None, shown="")
        self._clock = self._progress.add_task("load time", total=duration, shown="", start=False)
        self._tasks: dict[str, TaskID] = {
            bar.key: self._progress.add_task(bar.label, total=bar.total, shown="0") for bar in bars
        }

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def phase(self, text: str) -> None:
        self._progress.update(self._phase, description=text)

    def load_started(self) -> None:
        self._progress.start_task(self._clock)

    def load_elapsed(self, seconds: float) -> None:
        shown = f"{seconds:.1f} / {self._duration:g} s"
        self._progress.update(self._clock, completed=min(seconds, self._duration), shown=shown)

    def counters(self, values: dict[str, int]) -> None:
        for bar in self._bars:
            value = values.get(bar.key, 0)
            shown = f"{value:,}" if bar.total is None else f"{value:,} / {bar.total:,}"
            self._progress.update(self._tasks[bar.key], completed=value, shown=shown)


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value else "0"
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "-"
    if isinstance(value, dict) and not value:
        return "none"
    return str(value)


def _row(name: str, value: Any) -> str:
    if name.endswith(("pid", "port")) and isinstance(value, int):
        return str(value)
    return _format(value)


def _rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Nested figures as (name, text) rows; small flat dicts on one line."""
    if isinstance(value, dict) and value:
        flat = all(not isinstance(v, dict) for v in value.values())
        if flat and len(value) <= 10:
            text = ", ".join(f"{k} {_row(k, v)}" for k, v in value.items())
            return [(prefix, text)]
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows += _rows(f"{prefix}.{key}" if prefix else str(key), inner)
        return rows
    return [(prefix, _row(prefix, value))]


def _table(title: str, figures: dict[str, Any]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("figure", style="cyan", no_wrap=True)
    table.add_column("value")
    for key, value in figures.items():
        for name, text in _rows(key, value):
            table.add_row(name, text)
    return table


def render(report: dict[str, Any], console: Console) -> None:
    """The summary tables of a finished run."""
    target = report["target"]
    console.print(
        f"[bold]teahouse stress {report['scenario']}[/bold] against "
        f"{target['host']}:{target['port']} ({target['dialect']}), "
        f"{report['tool']['workers']} workers, load {report['load_s']} s"
    )
    console.print(_table("Results", report["results"]))
    if report.get("legit") is not None:
        console.print(_table("Legitimate users", report["legit"]))
    if report.get("server") is not None:
        console.print(_table("Server (from /proc)", report["server"]))
    if report.get("kernel_tcp"):
        console.print(
            _table("Kernel TCP counters over the run (whole machine)", report["kernel_tcp"])
        )
    served = report.get("served")
    if served is not None:
        verdict = "[green]yes[/green]" if served else "[red]no[/red]"
        console.print(f"Legitimate users served throughout: {verdict}")


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, default=str)
