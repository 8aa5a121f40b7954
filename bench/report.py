"""docs/benchmarks.md from one run's results: the table, ratios, settings, machine, checks.

Each row of the table is one figure of one scenario, read from the `teahouse stress` JSON
reports; each column one server (or door). The ratio columns divide each teahouse door's
figure by the best peer's (the lower or the higher, as the row says is better).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite import COLUMNS, LABELS, PEERS, TEAHOUSE, TEAHOUSES, Scenario

HERE = Path(__file__).resolve().parent

Figure = tuple[float | None, str]
"""A figure and its text in the cell (the text may say more than the number)."""


def dig(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def person_p99(r: dict[str, Any], phase: str = "load") -> float | None:
    return num(dig(r, "legit", "rtt", phase, "p99_ms"))


# -- the figures of each row -----------------------------------------------------------------


def idle_kib(r: dict[str, Any]) -> Figure:
    kib = num(dig(r, "results", "server_kib_per_connection"))
    held, target = dig(r, "results", "alive_at_end"), dig(r, "results", "target")
    text = fmt(kib)
    if isinstance(held, int) and held != target:
        text += f" ({held:,} of {target:,} held)"
    return kib, text


def fanout_cpu(r: dict[str, Any]) -> Figure:
    us = num(dig(r, "results", "server_cpu_us_per_delivery"))
    return us, fmt(us, 3)


def fanout_latency(r: dict[str, Any]) -> Figure:
    p50 = num(dig(r, "results", "latency", "p50_ms"))
    p99 = num(dig(r, "results", "latency", "p99_ms"))
    return p99, f"{fmt(p50, 1)} / {fmt(p99, 1)}"


def fanout_rate(r: dict[str, Any]) -> Figure:
    rate = num(dig(r, "results", "deliveries_per_s"))
    text = f"{rate / 1e6:.2f} M" if rate else fmt(rate)
    lost = dig(r, "results", "lost")
    if isinstance(lost, int) and lost:
        text += f" ({lost:,} lost)"
    return rate, text


def load_p99(r: dict[str, Any]) -> Figure:
    p99, base = person_p99(r), person_p99(r, "baseline")
    return p99, f"{fmt(p99, 1)} (unloaded {fmt(base, 2)})" if p99 is not None else "–"


def probes_returned(r: dict[str, Any]) -> Figure:
    sent = dig(r, "legit", "rtt", "load", "sent")
    got = dig(r, "legit", "rtt", "load", "received")
    if not isinstance(sent, int) or not sent or not isinstance(got, int):
        return None, "–"
    pct = 100 * got / sent
    return pct, f"{pct:.0f} % ({got}/{sent})"


def flood_rss(r: dict[str, Any]) -> Figure:
    kib = num(dig(r, "server", "load_peak", "rss_kib"))
    mib = kib / 1024 if kib is not None else None
    return mib, fmt(mib, 1)


def storm_rate(r: dict[str, Any]) -> Figure:
    rate = num(dig(r, "results", "cycles_per_s"))
    return rate, fmt(rate, 0)


def storm_p99(r: dict[str, Any]) -> Figure:
    p99 = person_p99(r)
    return p99, fmt(p99, 1)


def loginflood_ratio(r: dict[str, Any]) -> Figure:
    p99, base = person_p99(r), person_p99(r, "baseline")
    if p99 is None or not base:
        return None, "–"
    return p99 / base, f"{p99 / base:.1f}× ({fmt(p99, 1)} vs {fmt(base, 2)} ms)"


def loginflood_login(r: dict[str, Any]) -> Figure:
    """The slowest login of the person under the flood, or longer when the login still
    waiting at the end had waited longer. A failed login makes the figure "failed" (no
    ratio): the slowest success would understate it."""
    probes = dig(r, "legit", "login_probes") or {}
    worst = num(dig(probes, "load", "max_ms"))
    waited = num(probes.get("unfinished_after_ms"))
    failures = probes.get("failures") or {}
    if failures:
        said = ", ".join(f"{k} ×{v}" for k, v in failures.items())
        slowest = f"; slowest success {fmt(worst, 0)} ms" if worst is not None else ""
        return None, f"**failed** ({said}{slowest})"
    if waited is not None and (worst is None or waited > worst):
        return waited, f"> {fmt(waited, 0)} (still waiting at the end)"
    return worst, fmt(worst, 1)


def deadpeer_freed(r: dict[str, Any]) -> Figure:
    pct = num(dig(r, "results", "freed_within_timeout_plus_1s_pct"))
    text = f"{pct:.0f} %" if pct is not None else "–"
    after = num(dig(r, "results", "freed_after", "max_s"))
    if after is not None:
        text += f" (last after {after:.1f} s)"
    return pct, text


def deadpeer_stall(r: dict[str, Any]) -> Figure:
    stall = num(dig(r, "results", "worst_stall_ms"))
    return stall, fmt(stall, 1)


@dataclass(frozen=True)
class Row:
    scenario: str
    label: str
    lower_is_better: bool
    figure: Callable[[dict[str, Any]], Figure]


ROWS = (
    Row("idle", "server KiB of RSS per connection", True, idle_kib),
    Row("fanout", "server CPU µs per delivery", True, fanout_cpu),
    Row("fanout", "latency p50 / p99, ms (ratio: p99)", True, fanout_latency),
    Row("fanout", "deliveries per second", False, fanout_rate),
    Row("flood", "a person's round trip p99, ms", True, load_p99),
    Row("flood", "the person's lines returned", False, probes_returned),
    Row("flood", "server peak RSS under load, MiB", True, flood_rss),
    Row("storm", "cycles per second", False, storm_rate),
    Row("storm", "a person's round trip p99, ms", True, storm_p99),
    Row("loginflood", "a person's p99 ÷ unloaded p99", True, loginflood_ratio),
    Row("loginflood", "a person's login under the flood, max ms", True, loginflood_login),
    Row("deadpeer", "freed within heartbeat timeout + 1 s", False, deadpeer_freed),
    Row("deadpeer", "a person's worst stall, ms", True, deadpeer_stall),
)


def ratio(row: Row, by_server: dict[str, dict[str, Any]], door: str) -> str:
    """``door``'s figure divided by the best peer's, and which peer that was."""
    r = by_server.get(door)
    if r is None or "error" in r:
        return "–"
    mine, _ = row.figure(r)
    peers = [
        (fig, name)
        for name in PEERS
        if name in by_server and "error" not in by_server[name]
        for fig in [row.figure(by_server[name])[0]]
        if fig is not None
    ]
    if mine is None or not peers:
        return "–"
    best, who = min(peers) if row.lower_is_better else max(peers)
    if best == 0:
        return "–" if mine else f"1.00× {LABELS[who]}"
    return f"{mine / best:.2f}× {LABELS[who]}"


def cell(row: Row, r: dict[str, Any] | None) -> str:
    if r is None:
        return "not run"
    if "error" in r:
        return "**failed**"
    _, text = row.figure(r)
    if dig(r, "server", "alive") is False:
        text += " **(server died)**"
    return text


# -- checks: what a reader must know before trusting a cell ------------------------------------


def checks(scenario: str, server: str, r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "error" in r:
        return [f"failed: {str(r['error']).strip().splitlines()[-1][:300]}"]
    if dig(r, "server", "alive") is False:
        out.append("the server died during the run")
    legit = r.get("legit")
    if isinstance(legit, dict):
        if legit.get("disconnects"):
            out.append(f"the person was disconnected: {legit['disconnects']}")
        lost = dig(legit, "rtt", "load", "lost")
        if lost:
            out.append(f"{lost} of the person's lines under load never arrived")
    res = r.get("results") or {}
    failures = res.get("setup_failures") or {}
    if failures:
        out.append(f"setup failures: {failures}")
    if scenario == "fanout":
        for key in ("lost", "members_dropped", "senders_dropped", "senders_rate_limited"):
            if res.get(key):
                out.append(f"{key.replace('_', ' ')}: {res[key]:,}")
        if server != TEAHOUSE and res.get("opered", res.get("senders")) != res.get("senders"):
            out.append(f"only {res.get('opered')} of {res.get('senders')} senders opered")
        if res.get("drop_reasons"):
            out.append(f"drop reasons: {res['drop_reasons']}")
    if scenario == "idle" and res.get("dropped_during_hold"):
        out.append(f"dropped during the hold: {res['dropped_during_hold']}")
    if scenario == "deadpeer" and res.get("not_freed"):
        out.append(f"{res['not_freed']:,} peers never freed")
    overflows = dig(r, "kernel_tcp", "ListenOverflows")
    if overflows:
        out.append(f"listen queue overflowed {overflows:,} times (clients waited for SYN retries)")
    return out


# -- the page --------------------------------------------------------------------------------------


def shown(value: object) -> str:
    return json.dumps(value) if isinstance(value, list) else str(value)


def settings_section(suite: list[Scenario]) -> list[str]:
    lines = [
        "## Settings that differ from each server's defaults",
        "",
        "Everything not listed is the server's default, logs included: teahouse logs at",
        "`info` to its file and to stderr (captured to a file), ngIRCd to stderr (captured),",
        "InspIRCd to the log file of its example config. The configs are written from",
        "`bench/suite.py` and `bench/configs/`; each run's config is in `bench/results.json`.",
        "",
        "| scenario | server | setting | value | why |",
        "| --- | --- | --- | --- | --- |",
    ]
    first = suite[0]
    common = first.all_settings()
    for s in common:
        if all(s in sc.all_settings() for sc in suite):
            servers = ", ".join(LABELS[x] for x in s.servers)
            lines.append(f"| every | {servers} | `{s.key}` | `{shown(s.value)}` | {s.why} |")
    for sc in suite:
        for s in sc.all_settings():
            if all(s in other.all_settings() for other in suite):
                continue
            servers = ", ".join(LABELS[x] for x in s.servers)
            lines.append(f"| {sc.name} | {servers} | `{s.key}` | `{shown(s.value)}` | {s.why} |")
    lines += [
        "",
        "The load's own pacing (not a server setting): every server gets the same arguments",
        "of `teahouse stress`, except that fanout's IRC senders `OPER`; that InspIRCd,",
        "which completes registrations once a second, gets up to 256 handshakes in flight",
        "instead of 32 while idle and deadpeer open their connections; and that fanout on",
        "teahouse's native door registers its 510 accounts 8 at a time (each is hashed with",
        "the default argon2, and a connection not logged in after 10 s is dropped). Each",
        "run's arguments are in `bench/results.json` (`stress_args`).",
        "",
    ]
    return lines


def write_report(
    path: Path,
    meta: dict[str, Any],
    results: dict[str, dict[str, dict[str, Any]]],
    suite: list[Scenario],
) -> None:
    mach = meta["machine"]
    titles = {s.name: s.title for s in suite}
    lines = [
        "# Benchmarks",
        "",
        "teahouse's two doors against the IRC servers people would pick instead, measured in",
        "one run of `make bench` on one shared 2-core machine where the load generator runs",
        "beside the server. Each figure is one measurement: compare within a row, as ratios;",
        "the absolute numbers say as much about this machine as about the servers.",
        "",
    ]
    if meta.get("quick"):
        lines += ["**A `--quick` run: small sizes, a check of the harness, not a result.**", ""]
    header = ["scenario", "figure", *(LABELS[c] for c in COLUMNS)]
    header += [f"{LABELS[d]} ÷ best peer" for d in TEAHOUSES]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    shown = ""
    for row in ROWS:
        by_server = results.get(row.scenario)
        if by_server is None:
            continue
        better = "lower" if row.lower_is_better else "higher"
        title = titles.get(row.scenario, row.scenario) if row.scenario != shown else ""
        shown = row.scenario
        cells = [title, f"{row.label} ({better} is better)"]
        cells += [cell(row, by_server.get(c)) for c in COLUMNS]
        cells += [ratio(row, by_server, d) for d in TEAHOUSES]
        lines.append("| " + " | ".join(cells) + " |")
    load_before = ", ".join(f"{x:.2f}" for x in meta.get("load_average_before", ()))
    load_after = ", ".join(f"{x:.2f}" for x in meta.get("load_average_after", ()))
    lines += [
        "",
        "A ratio is the teahouse door's figure divided by the best peer's (named): above 1 in",
        "a lower-is-better row, teahouse needs that many times more; below 1 in a",
        "higher-is-better row, it reaches that fraction.",
        "",
        "## The run",
        "",
        f"- command: `{meta['command']}`, at commit {meta.get('commit', 'unknown')}",
        f"- started {meta['started']}, took {meta['elapsed_s'] / 60:.1f} min; load average "
        f"before {load_before}, after {load_after}",
        f"- machine: {mach['cpu']}, {mach['cores']} cores, {mach['memory_gib']} GiB, "
        f"{mach['platform']}; Python {mach['python']}, uvloop {mach['uvloop']}",
        "- servers: " + "; ".join(dict.fromkeys(mach["servers"].values())),
    ]
    if meta.get("absent"):
        lines.append(
            "- not run: " + "; ".join(f"{LABELS[k]} ({v})" for k, v in meta["absent"].items())
        )
    if meta.get("merged_from"):
        lines.append(f"- figures this run did not redo come from {meta['merged_from']}")
    lines += [
        "- every server is a fresh process per scenario on 127.0.0.1; the load comes from",
        "  127.0.0.2-127.0.0.250 and its attackers (flood, storm, loginflood, and the",
        "  connections idle and deadpeer hold) run at `nice 10`; the person (the measuring",
        "  pair) connects from 127.0.0.1 at normal priority and says one line a second on",
        "  each of its two connections, on every server and door alike.",
        "",
        "Wall time of each run (seconds, server start to stop):",
        "",
        "| scenario | " + " | ".join(LABELS[c] for c in COLUMNS) + " |",
        "|" + " --- |" * (len(COLUMNS) + 1),
    ]
    for name, by_server in results.items():
        walls = [str(dig(by_server, c, "bench_wall_s") or "–") for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(walls) + " |")
    lines += ["", "## Checks", ""]
    found = False
    for name, by_server in results.items():
        for server in COLUMNS:
            r = by_server.get(server)
            if r is None:
                continue
            for note in checks(name, server, r):
                lines.append(f"- {name}, {LABELS[server]}: {note}")
                found = True
    if not found:
        lines.append("- nothing unusual: no failures, deaths, drops or losses.")
    lines += [""]
    lines += settings_section(suite)
    notes = HERE / "notes.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))
