"""The parent of a stress run: forks the workers, steps them through the phases, samples
the server, shows progress, and merges the figures into one report.

The phases, in order (each bounded in time; a worker that fails ends the run):

1. ``before``: the server is sampled before anything connects.
2. The measuring pair (its own process, never niced) logs in and joins; then it measures
   the unloaded ``baseline`` for ``--baseline`` seconds.
3. The load workers (``--workers`` processes, niced when they stand for attackers) open
   their connections: ``setup``, at most ``--setup-timeout`` seconds.
4. ``go``: every worker gets the same deadline; the pair tags what it measures ``load``.
   The server is sampled every 0.2 s for its peaks.
5. ``end``: every worker has handed in its figures and still holds its connections; the
   server is sampled (idle's RSS per connection comes from here). The pair stops.
6. The workers close up; ``after`` is sampled ``--settle`` seconds later.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from teahouse.stress.legit import LOST_AFTER
from teahouse.stress.measure import ServerWatch, add_counts, counter_deltas, read_tcp_counters
from teahouse.stress.options import Options
from teahouse.stress.process import process_main
from teahouse.stress.report import LiveProgress
from teahouse.stress.scenarios import Scenario, get_scenario
from teahouse.stress.worker import Job

SAMPLE_EVERY = 0.2
MARGIN = 30.0
"""Seconds a phase may overrun its own bound before the run is called failed."""


class RunFailed(Exception):
    """A worker failed or a phase overran; the message says which and why."""


@dataclass
class Worker:
    name: str
    process: BaseProcess
    conn: Connection
    counters: dict[str, int] = field(default_factory=dict)
    ready: dict[str, int] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    gone: bool = False


class Runner:
    def __init__(self, opts: Options, progress: LiveProgress | None = None) -> None:
        self.opts = opts
        self.scenario: Scenario = get_scenario(opts.scenario)
        self.progress = progress
        self.watch = ServerWatch(opts.server_pid) if opts.server_pid else None
        self.workers: list[Worker] = []
        self.legit: Worker | None = None
        self.loads: list[Worker] = []
        self._last_sample = 0.0
        self._go_at: float | None = None

    # -- processes ------------------------------------------------------------------------

    def _fork(self, name: str, job: Job) -> Worker:
        ctx = multiprocessing.get_context("fork")
        parent_end, child_end = ctx.Pipe()
        inherited = [w.conn for w in self.workers] + [parent_end]
        process = ctx.Process(
            target=_child, args=(child_end, job, inherited), name=f"stress-{name}", daemon=True
        )
        process.start()
        child_end.close()
        worker = Worker(name, process, parent_end)
        self.workers.append(worker)
        return worker

    def _send(self, workers: list[Worker], kind: str, payload: Any = None) -> None:
        for worker in workers:
            if not worker.gone:
                try:
                    worker.conn.send((kind, payload))
                except OSError:
                    worker.gone = True

    def _receive(self, worker: Worker) -> None:
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "progress":
                    worker.counters = payload
                elif kind == "ready":
                    worker.ready = payload
                elif kind == "result":
                    worker.result = payload
                elif kind == "error":
                    worker.error = str(payload)
        except (EOFError, OSError):
            worker.gone = True
            if worker.result is None and worker.error is None:
                worker.process.join(1.0)
                worker.error = (
                    f"{worker.name} exited without a result (code {worker.process.exitcode})"
                )

    def _pump(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Serve the pipes and sample the server until ``done()`` or ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for worker in self.workers:
                if worker.error is not None:
                    raise RunFailed(worker.error.strip())
            if done():
                return
            now = time.monotonic()
            if now >= deadline:
                raise RunFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            live = [w.conn for w in self.workers if not w.gone]
            wait_for = min(
                SAMPLE_EVERY, deadline - now, max(0.0, self._last_sample + SAMPLE_EVERY - now)
            )
            if live:
                for conn in wait(live, wait_for):
                    assert isinstance(conn, Connection)
                    self._receive(next(w for w in self.workers if w.conn is conn))
            else:
                time.sleep(wait_for)
            self._tick()

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last_sample < SAMPLE_EVERY:
            return
        self._last_sample = now
        if self.watch is not None:
            self.watch.poll()
        if self.progress is not None:
            counters: dict[str, int] = {}
            for worker in self.workers:
                add_counts(counters, worker.counters)
            self.progress.counters(counters)
            if self._go_at is not None:
                self.progress.load_elapsed(now - self._go_at)

    def _phase(self, text: str) -> None:
        if self.progress is not None:
            self.progress.phase(text)

    def _mark(self, name: str) -> None:
        if self.watch is not None:
            self.watch.mark(name)

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        opts = self.opts
        use_legit = self.scenario.legit and opts.legit
        if use_legit:
            self.legit = self._fork("legit", Job("legit", 0, 1, opts, niced=False))
        for i in range(opts.workers):
            job = Job("load", i, opts.workers, opts, niced=self.scenario.niced)
            self.loads.append(self._fork(f"load-{i}", job))
        started = time.monotonic()
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            if self.progress is not None:
                with self.progress:
                    report = self._phases()
            else:
                report = self._phases()
        finally:
            self._stop_all()
        cpu = os.times()
        report.update(
            {
                "started_at": started_at,
                "elapsed_s": round(time.monotonic() - started, 2),
                "tool": {
                    "workers": opts.workers,
                    "legit_process": use_legit,
                    "attackers_niced": self.scenario.niced,
                    "cpu_s": round(cpu.children_user + cpu.children_system, 2),
                },
            }
        )
        self.scenario.finalize(report)
        return report

    def _phases(self) -> dict[str, Any]:
        opts = self.opts
        legit = self.legit
        setup_bound = opts.setup_timeout + MARGIN
        self._mark("before")
        tcp_before = read_tcp_counters()
        if legit is not None:
            self._phase("setup: the measuring pair")
            self._send([legit], "setup")
            self._pump(lambda: legit.ready is not None, setup_bound, "the measuring pair")
            if opts.baseline > 0:
                self._phase(f"baseline: {opts.baseline:g} s unloaded")
                self._send([legit], "phase", "baseline")
                until = time.monotonic() + opts.baseline
                self._pump(lambda: time.monotonic() >= until, opts.baseline + 1, "the baseline")
        self._phase("setup: load connections")
        if legit is not None:
            self._send([legit], "phase", "load_setup")
        self._send(self.loads, "setup")
        self._pump(lambda: all(w.ready is not None for w in self.loads), setup_bound, "setup")
        totals: dict[str, int] = {}
        for worker in self.loads:
            add_counts(totals, worker.ready or {})
        self._mark("go")
        self._go_at = time.monotonic()
        deadline = self._go_at + opts.duration
        if self.progress is not None:
            self.progress.load_started()
        self._phase(f"load: {opts.scenario}")
        if legit is not None:
            self._send([legit], "phase", "load")
        self._send(self.loads, "go", {"deadline": deadline, "totals": totals})
        self._pump(
            lambda: all(w.result is not None for w in self.loads),
            opts.duration + MARGIN,
            "the load workers' figures",
        )
        load_s = time.monotonic() - self._go_at
        self._mark("end")
        self._go_at = None
        legit_result: dict[str, Any] | None = None
        if legit is not None:
            self._phase("stopping the measuring pair")
            self._send([legit], "stop")
            self._pump(lambda: legit.result is not None, LOST_AFTER + MARGIN, "the pair")
            legit_result = legit.result
        self._phase("closing")
        self._send(self.loads, "release")
        for worker in self.workers:
            worker.process.join(MARGIN)
        self._phase(f"settling {opts.settle:g} s")
        until = time.monotonic() + opts.settle
        self._pump(lambda: time.monotonic() >= until, opts.settle + 1, "the settle time")
        self._mark("after")
        tcp = counter_deltas(tcp_before, read_tcp_counters())
        self._tick()
        results = self.scenario.merge(opts, [w.result or {} for w in self.loads])
        report: dict[str, Any] = {
            "scenario": opts.scenario,
            "target": {"host": opts.host, "port": opts.port, "dialect": opts.dialect},
            "options": opts.public(),
            "load_s": round(load_s, 2),
            "results": results,
            "legit": legit_result,
            "server": self.watch.report() if self.watch is not None else None,
            "kernel_tcp": tcp,
        }
        served = [legit_result["served"]] if legit_result is not None else []
        if "served" in results:
            served.append(bool(results["served"]))
        report["served"] = all(served) if served else None
        return report

    def _stop_all(self) -> None:
        """End every worker this run started (by its own handle, never by name)."""
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.join(0.5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5.0)
            worker.conn.close()


def _child(conn: Connection, job: Job, inherited: list[Connection]) -> None:
    # Close the parent's pipe ends this fork inherited, so each worker sees EOF as soon
    # as the parent is gone.
    for other in inherited:
        other.close()
    process_main(conn, job)
