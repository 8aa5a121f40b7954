"""Worker processes: one asyncio (uvloop) loop each, driven by the parent over a pipe.

The parent forks every worker at the start and then steps them through phases. Messages
are tuples ``(kind, payload)``:

- parent to worker: ``("setup", None)``: open your connections. ``("go", {"deadline": d,
  "totals": t})``: the load starts; ``d`` is in ``time.monotonic()`` seconds
  (CLOCK_MONOTONIC is one clock for every process), ``t`` sums what the workers said in
  ``ready``. ``("phase", name)``: the legitimate users tag what they measure from now on.
  ``("stop", None)``: the legitimate users finish. ``("release", None)``: the parent has
  sampled the server with everything still open; close up.
- worker to parent: ``("progress", counters)`` every 0.25 s; ``("ready", info)`` after
  setup; ``("result", figures)``; ``("error", text)``.

A worker whose parent goes away (the pipe closes) cancels its work and exits, so a killed
run never leaves load behind. The pipe's end and the context scenarios get live in
:mod:`teahouse.stress.context`; this module only starts the process and picks its work.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import traceback
from collections.abc import Coroutine
from multiprocessing.connection import Connection
from typing import Any

from teahouse.stress.catalog import get_scenario
from teahouse.stress.context import Control, Job, WorkerContext
from teahouse.stress.legit import run_legit
from teahouse.stress.options import StressError


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(coro)


def process_main(conn: Connection, job: Job) -> None:
    """The entry point of a forked worker."""
    if job.niced:
        os.nice(10)
    raise_fd_limit()
    try:
        run_loop(_amain(conn, job))
    except StressError as exc:
        conn.send(("error", f"{job.role} worker {job.index}: {exc}"))
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send(("error", f"{job.role} worker {job.index}: {traceback.format_exc()}"))
    finally:
        conn.close()


async def _amain(conn: Connection, job: Job) -> None:
    control = Control(conn)
    control.attach()
    progress = asyncio.create_task(control.report_progress())
    await control.wait("setup")
    ctx = WorkerContext(job, control)
    work = run_legit(ctx) if job.role == "legit" else get_scenario(job.options.scenario).load(ctx)
    control.main = asyncio.create_task(work)
    try:
        await control.main
    except asyncio.CancelledError:
        return  # the parent went away
    finally:
        progress.cancel()
