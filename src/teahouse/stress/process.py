"""A worker process's entry point: the loop, the pipe, and the work its job names.

Apart from :mod:`teahouse.stress.worker` (what every scenario gets) so that the scenarios
and the measuring pair, which take a :class:`~teahouse.stress.worker.WorkerContext`, are
imported by this module alone: the import graph stays one way.
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

from teahouse.stress.legit import run_legit
from teahouse.stress.options import StressError
from teahouse.stress.scenarios import get_scenario
from teahouse.stress.worker import Control, Job, WorkerContext


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
