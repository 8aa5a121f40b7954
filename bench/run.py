"""`make bench`: teahouse and the IRC servers people would pick instead, in one run.

For every scenario, each server is started fresh on 127.0.0.1 with a config kept in this
folder, `teahouse stress` runs against it with `--server-pid`, and the server is stopped.
The figures are written to docs/benchmarks.md as a table, with teahouse's figure as a
ratio to each peer's where a ratio means something. Peers that are not installed are
skipped and the table says so.

    python bench/run.py                 # the standard suite (about 25 minutes)
    python bench/run.py --quick         # small sizes, a few minutes: checks the harness
    python bench/run.py --only fanout,storm
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
OPER = "bench:benchpass-1"
BENCH_PASSWORD = "benchpass-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Heartbeat:
    interval: float
    timeout: float


@dataclass
class Running:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    irc: bool
    pid: int
    workdir: Path
    oper: str | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Server:
    name: str
    label: str
    irc: bool
    available: bool = True
    why_not: str = ""
    config_name: str = "teahouse.toml"

    def start(self, hb: Heartbeat) -> Running:
        work = Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        port = free_port()
        if self.name.startswith("teahouse"):
            return self._teahouse(work, port, hb)
        if self.name == "ngircd":
            conf = (HERE / "configs" / "ngircd.conf.in").read_text()
            conf = conf.replace("{port}", str(port))
            conf = conf.replace("{ping}", str(int(hb.interval)))
            conf = conf.replace("{pong}", str(max(5, int(hb.timeout - hb.interval))))
            (work / "ngircd.conf").write_text(conf)
            (work / "motd").write_text("bench\n")
            cmd = ["ngircd", "-n", "-f", str(work / "ngircd.conf")]
        elif self.name == "inspircd":
            conf = (HERE / "configs" / "inspircd.conf.in").read_text()
            conf = conf.replace("{port}", str(port)).replace("{ping}", str(int(hb.interval)))
            conf = conf.replace("{logfile}", str(work / "insp.log"))
            conf = conf.replace("{pidfile}", str(work / "insp.pid"))
            (work / "inspircd.conf").write_text(conf)
            cmd = ["inspircd", "--nofork", "--runasroot", f"--config={work / 'inspircd.conf'}"]
        elif self.name == "miniircd":
            cmd = [PYTHON, "-m", "miniircd", "--listen", "127.0.0.1", "--ports", str(port)]
            if os.geteuid() == 0:
                cmd += ["--setuid", "nobody"]
        else:
            raise ValueError(self.name)
        proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(port)
        oper = (
            OPER.replace("benchpass-1", "benchpass")
            if self.name in ("ngircd", "inspircd")
            else None
        )
        return Running(self.name, proc, port, True, proc.pid, work, oper)

    def _teahouse(self, work: Path, port: int, hb: Heartbeat) -> Running:
        data = work / "var"
        config = HERE / "configs" / self.config_name
        subprocess.run(
            [
                PYTHON,
                "-m",
                "teahouse",
                "user",
                "add",
                "bench",
                "--admin",
                "--password-stdin",
                "--data-dir",
                str(data),
                "--config",
                str(config),
            ],
            input=BENCH_PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        irc_port = free_port()
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "teahouse",
                "serve",
                "--config",
                str(config),
                "--data-dir",
                str(data),
                "--port",
                str(port),
                "--irc-port",
                str(irc_port),
                "--no-web",
                "--no-console",
                "--heartbeat-interval",
                str(hb.interval),
                "--heartbeat-timeout",
                str(hb.timeout),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        used = irc_port if self.irc else port
        wait_listening(used)
        return Running(self.name, proc, used, self.irc, proc.pid, work, OPER if self.irc else None)


def peers() -> list[Server]:
    out = [
        Server("teahouse", "teahouse (native)", irc=False),
        Server("teahouse-irc", "teahouse (IRC door)", irc=True),
    ]
    for name, found in (
        ("ngircd", shutil.which("ngircd")),
        ("inspircd", shutil.which("inspircd")),
    ):
        out.append(
            Server(
                name,
                {"ngircd": "ngIRCd", "inspircd": "InspIRCd"}[name],
                True,
                bool(found),
                "" if found else "not installed",
            )
        )
    try:
        import miniircd  # noqa: F401

        out.append(Server("miniircd", "miniircd", True))
    except ImportError:
        out.append(Server("miniircd", "miniircd", True, False, "not installed"))
    return out


@dataclass
class Scenario:
    name: str
    args: list[str]
    servers: list[str]
    heartbeat: Heartbeat = field(default_factory=lambda: Heartbeat(20, 60))
    timeout: float = 900
    config: str = "teahouse.toml"
    warmup: list[str] | None = None
    """A short run of the same scenario first, not reported: "baseline" RSS then means a
    server that has served a while (caches filled), not one that has never seen a client."""


def scenarios(quick: bool) -> list[Scenario]:
    q = quick
    everyone = ["teahouse", "teahouse-irc", "ngircd", "inspircd", "miniircd"]
    one_door = ["teahouse", "ngircd", "inspircd", "miniircd"]
    return [
        Scenario(
            "fanout",
            [
                "--members",
                "100" if q else "500",
                "--senders",
                "10",
                "--messages",
                "100" if q else "1000",
            ],
            everyone,
            config="teahouse-fanout.toml",
        ),
        Scenario(
            "storm",
            ["--duration", "5" if q else "60", "--count", "32"],
            one_door,
            warmup=["--duration", "3", "--count", "32"],
        ),
        Scenario(
            "flood",
            [
                "--duration",
                "5" if q else "60",
                "--count",
                "100" if q else "1000",
                "--chunk",
                "32768",
            ],
            one_door,
        ),
        Scenario(
            "loginflood",
            ["--duration", "5" if q else "30", "--count", "50" if q else "500"],
            one_door,
        ),
        Scenario(
            "slowreader",
            ["--members", "20", "--senders", "2", "--size", "2000", "--duration", "30"],
            one_door,
            config="teahouse-fanout.toml",
            warmup=["--members", "20", "--senders", "2", "--size", "2000", "--duration", "5"],
        ),
        Scenario(
            "deadpeer",
            ["--count", "500" if q else "10000"],
            ["teahouse", "ngircd", "inspircd"],
            Heartbeat(5, 10),
        ),
        Scenario(
            "idle",
            ["--duration", "10" if q else "60", "--count", "1000" if q else "19000"],
            ["teahouse", "ngircd", "inspircd", "miniircd"],
        ),
    ]


def run_one(server: Server, scenario: Scenario) -> dict[str, Any]:
    server.config_name = scenario.config
    running = server.start(scenario.heartbeat)
    try:
        cmd = [
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
            *scenario.args,
        ]
        if running.irc:
            cmd.append("--irc")
        else:
            cmd.append("--register")
        if running.oper and scenario.name in ("fanout", "slowreader"):
            cmd += ["--oper", running.oper]
        if scenario.name == "deadpeer" and running.irc:
            cmd += ["--expect-timeout", str(scenario.heartbeat.timeout)]
        if scenario.warmup is not None:
            base = cmd[: cmd.index("--quiet") + 1] + [
                a for a in cmd if a in ("--irc", "--register")
            ]
            subprocess.run(
                base + scenario.warmup, capture_output=True, timeout=scenario.timeout, check=False
            )
        started = time.monotonic()
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=scenario.timeout, check=False
        )
        result: dict[str, Any]
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            result = {"error": (done.stderr or done.stdout)[-2000:]}
        result["bench_wall_s"] = round(time.monotonic() - started, 1)
        result["server_exit"] = running.proc.poll()
        return result
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {scenario.timeout} s"}
    finally:
        running.stop()


# -- the report --------------------------------------------------------------------------


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def headline(name: str, r: dict[str, Any]) -> tuple[str, float | None, bool]:
    """(cell text, the figure ratios are made of, higher is better)."""
    if "error" in r:
        return ("failed: " + str(r["error"]).strip().splitlines()[-1][:80], None, True)
    res = r.get("results", {})
    srv = r.get("server", {})
    alive = srv.get("alive", True)
    crash = "" if alive else " — **server died**"
    if name == "fanout":
        cpu = res.get("server_cpu_us_per_delivery")
        lat = res.get("latency", {})
        text = (
            f"{res.get('deliveries_per_s', 0):,}/s; p50/p99 {lat.get('p50_ms')}/"
            f"{lat.get('p99_ms')} ms; lost {res.get('lost')}; {cpu} µs CPU/delivery"
        )
        return (text + crash, res.get("deliveries_per_s"), True)
    if name == "storm":
        p99 = _get(r, "legit", "rtt", "load", "p99_ms")
        fds = srv.get("fds_after_minus_before")
        rss = srv.get("rss_after_minus_before_kib")
        text = (
            f"{res.get('cycles_per_s', 0):,} cycles/s; person's p99 {p99} ms; "
            f"after: fds {fds:+}, RSS {rss:+} KiB"
            if isinstance(fds, int) and isinstance(rss, int)
            else f"{res.get('cycles_per_s', 0):,} cycles/s; person's p99 {p99} ms"
        )
        return (text + crash, res.get("cycles_per_s"), True)
    if name == "flood":
        p99 = _get(r, "legit", "rtt", "load", "p99_ms")
        peak = _get(srv, "peak", "rss_kib")
        text = (
            f"person's p99 {p99} ms; peak RSS {round((peak or 0) / 1024)} MiB; "
            f"served {r.get('served')}"
        )
        return (text + crash, p99, False)
    if name == "loginflood":
        p99 = _get(r, "legit", "rtt", "load", "p99_ms")
        base = _get(r, "legit", "rtt", "baseline", "p99_ms")
        login = _get(r, "legit", "login_probes", "load", "max_ms")
        text = f"person's p99 {p99} ms (unloaded {base}); legit login max {login} ms"
        return (text + crash, p99, False)
    if name == "deadpeer":
        freed = res.get("freed_within_timeout_plus_1s_pct", res.get("freed_pct"))
        stall = res.get("worst_stall_ms")
        text = f"{freed}% freed within timeout + 1 s; worst stall {stall} ms"
        return (text + crash, freed, True)
    if name == "idle":
        held = res.get("alive_at_end", res.get("held"))
        kib = res.get("server_kib_per_connection")
        text = f"{held} held; {kib} KiB each"
        return (text + crash, kib, False)
    if name == "slowreader":
        text = (
            f"dropped after {res.get('dropped_after_s')} s; RSS growth "
            f"{srv.get('rss_growth_kib')} KiB"
        )
        return (text + crash, srv.get("rss_growth_kib"), False)
    return (json.dumps(res)[:100], None, True)


def write_report(
    path: Path,
    results: dict[str, dict[str, dict[str, Any]]],
    servers: list[Server],
    command: str,
    started: str,
    elapsed: float,
) -> None:
    labels = {s.name: s.label for s in servers}
    lines = [
        "# Benchmarks",
        "",
        "teahouse against the IRC servers people would pick instead, in one run, on one",
        "machine. Each figure is one measurement on a shared, noisy 2-core machine where the",
        "load generator runs beside the server: compare servers *within* a row, as ratios.",
        "",
        f"- command: `{command}`",
        f"- started {started}, took {elapsed / 60:.1f} min",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "- peers: "
        + ", ".join(f"{s.label}" + ("" if s.available else f" ({s.why_not})") for s in servers),
        "- every server is a fresh process per scenario, on 127.0.0.1, with the configs in",
        "  `bench/configs/`; load comes from 127.0.0.2-127.0.0.250; attackers run at `nice 10`.",
        "",
        "| scenario | server | result | teahouse vs peer (>1 = teahouse better) |",
        "| --- | --- | --- | --- |",
    ]
    for scen, by_server in results.items():
        # IRC peers are compared with teahouse's IRC door when the scenario ran it.
        own = by_server.get("teahouse-irc") or by_server.get("teahouse")
        _, own_fig, _ = headline(scen, own) if own else ("", None, True)
        for name, r in by_server.items():
            text, fig, higher = headline(scen, r)
            ratio = ""
            if not name.startswith("teahouse") and own_fig and fig:
                value = own_fig / fig if higher else fig / own_fig
                ratio = f"{value:.2f}×"
            lines.append(f"| {scen} | {labels.get(name, name)} | {text} | {ratio} |")
    lines += [
        "",
        "The raw JSON of every run is in `bench/results.json` (written by the same command).",
        "",
    ]
    notes = HERE / "notes.md"
    if notes.exists():
        lines += [notes.read_text()]
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--servers", default="")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--json-out", default=str(HERE / "results.json"))
    parser.add_argument(
        "--merge",
        help="results.json of an earlier run: keep its scenarios that this run does not redo",
    )
    args = parser.parse_args()
    servers = peers()
    wanted_servers = set(filter(None, args.servers.split(",")))
    only = set(filter(None, args.only.split(",")))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.monotonic()
    results: dict[str, dict[str, dict[str, Any]]] = {}
    if args.merge:
        results = json.loads(Path(args.merge).read_text())
    for scenario in scenarios(args.quick):
        if only and scenario.name not in only:
            continue
        results[scenario.name] = {}
        for server in servers:
            if server.name not in scenario.servers or not server.available:
                continue
            if wanted_servers and server.name not in wanted_servers:
                continue
            print(f"== {scenario.name} on {server.label}", file=sys.stderr, flush=True)
            r = run_one(server, scenario)
            results[scenario.name][server.name] = r
            print("   " + headline(scenario.name, r)[0], file=sys.stderr, flush=True)
    command = "make bench" + (
        " BENCH_ARGS='" + " ".join(sys.argv[1:]) + "'" if sys.argv[1:] else ""
    )
    Path(args.json_out).write_text(json.dumps(results, indent=1))
    if args.merge:
        command += f" (scenarios it did not redo come from the earlier run in {args.merge})"
    write_report(Path(args.out), results, servers, command, started, time.monotonic() - t0)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
