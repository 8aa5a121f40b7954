"""`make bench`: teahouse's two doors and the IRC servers people would pick instead, in one run.

For every scenario of bench/suite.py, each server (InspIRCd, ngIRCd, teahouse's IRC door,
teahouse's native door) is started fresh on 127.0.0.1 with that scenario's settings,
`teahouse stress` runs against it with `--server-pid`, and the server is stopped. The raw
reports go to bench/results.json and the table to docs/benchmarks.md. A peer that is not
installed is skipped and the page says so.

    python bench/run.py                      # the standard suite (about 40 minutes)
    python bench/run.py --quick              # small sizes, a few minutes: checks the harness
    python bench/run.py --only fanout,storm  # some scenarios...
    python bench/run.py --servers teahouse   # ...or some servers
    python bench/run.py --only flood --merge bench/results.json   # redo one, keep the rest
    python bench/run.py --render bench/results.json                # the page again, no run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from report import write_report
from servers import PYTHON, missing, start, version
from suite import COLUMNS, LABELS, Scenario, scenarios

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_one(server: str, scenario: Scenario) -> dict[str, Any]:
    """Start ``server`` fresh, run ``scenario`` against it, stop it; the stress report."""
    started = time.monotonic()
    try:
        running = start(server, scenario)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        return {"error": f"the server did not start: {exc}"}
    args = scenario.stress_args(server)
    base = [
        PYTHON,
        "-m",
        "teahouse",
        "stress",
        scenario.name,
        "--port",
        str(running.port),
        "--server-pid",
        str(running.pid),
        "--json",
        "--quiet",
    ]
    bound = scenario.setup_timeout + scenario.duration + 180
    result: dict[str, Any]
    try:
        if scenario.warmup is not None:
            irc = ["--irc"] if "--irc" in args else ["--register"]
            subprocess.run(
                [*base, *scenario.warmup, *irc], capture_output=True, timeout=bound, check=False
            )
        done = subprocess.run(
            [*base, *args], capture_output=True, text=True, timeout=bound, check=False
        )
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            result = {"error": (done.stderr or done.stdout or "no output").strip()[-2000:]}
    except subprocess.TimeoutExpired:
        result = {"error": f"timed out after {bound:.0f} s"}
    result["server_exit_during_run"] = running.proc.poll()
    result["server_log_bytes"] = running.log_bytes()
    result["server_config"] = running.config
    result["stress_args"] = args
    result["server_exit"] = running.stop()
    result["bench_wall_s"] = round(time.monotonic() - started, 1)
    return result


def save(path: Path, meta: dict[str, Any], results: dict[str, Any]) -> None:
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=1))


def commit() -> str:
    """The checkout's commit, with ``+changes`` when the work tree differs from it."""

    def git(*words: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *words], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine() -> dict[str, Any]:
    """Facts about this machine, for the page."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
        mem_kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    except (OSError, StopIteration, ValueError):
        mem_kib = 0
    try:
        from importlib.metadata import version as dist_version

        uvloop = dist_version("uvloop")
    except ImportError:
        uvloop = "not installed"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uvloop": uvloop,
        "servers": {name: version(name) for name in COLUMNS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a harness check")
    parser.add_argument("--only", default="", help="scenarios, comma-separated")
    parser.add_argument("--servers", default="", help=f"of {','.join(COLUMNS)}")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--json-out", default=str(HERE / "results.json"))
    parser.add_argument(
        "--merge",
        help="results.json of an earlier run: keep its figures that this run does not redo",
    )
    parser.add_argument(
        "--render",
        metavar="RESULTS_JSON",
        help="run nothing: write the page again from this results.json (its meta included)",
    )
    args = parser.parse_args()
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        quick = bool(saved["meta"].get("quick"))
        write_report(Path(args.out), saved["meta"], saved["results"], scenarios(quick))
        print(f"wrote {args.out}", file=sys.stderr)
        return 0
    only = set(filter(None, args.only.split(",")))
    wanted = set(filter(None, args.servers.split(","))) or set(COLUMNS)
    suite = [s for s in scenarios(args.quick) if not only or s.name in only]
    absent = {name: why for name in COLUMNS if (why := missing(name)) is not None}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if args.merge:
        results = json.loads(Path(args.merge).read_text())["results"]
    meta: dict[str, Any] = {
        "command": "make bench"
        + (" BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'" if sys.argv[1:] else ""),
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_before": os.getloadavg(),
        "machine": machine(),
        "commit": commit(),
        "absent": absent,
        "merged_from": args.merge,
    }
    t0 = time.monotonic()
    for scenario in suite:
        by_server = results.setdefault(scenario.name, {})
        for server in COLUMNS:
            if server not in wanted:
                continue
            if server in absent:
                by_server[server] = {"error": absent[server]}
                continue
            print(f"== {scenario.name} on {LABELS[server]}", file=sys.stderr, flush=True)
            r = run_one(server, scenario)
            by_server[server] = r
            # Saved after every run: an interrupted suite can be finished with --merge.
            save(Path(args.json_out), meta, results)
            note = r.get("error", "ok").strip().splitlines()[-1:] or ["?"]
            print(f"   {r.get('bench_wall_s')} s: {note[0][:160]}", file=sys.stderr, flush=True)
    meta["elapsed_s"] = round(time.monotonic() - t0, 1)
    meta["load_average_after"] = os.getloadavg()
    save(Path(args.json_out), meta, results)
    write_report(Path(args.out), meta, results, scenarios(args.quick))
    print(
        f"wrote {args.out} and {args.json_out} in {meta['elapsed_s'] / 60:.1f} min", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
