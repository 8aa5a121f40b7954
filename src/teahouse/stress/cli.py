"""``teahouse stress``: the click command (``teahouse.cli`` passes its arguments here)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from teahouse.stress.options import (
    DEFAULT_SOURCES,
    MAX_CONNECTIONS,
    MAX_DURATION,
    SCENARIOS,
    Options,
    StressError,
    check,
    default_workers,
    parse_sources,
)

EPILOG = f"""
Scenarios: flood, storm, loginflood, idle, fanout, deadpeer, slowloris, slowreader
(docs: `teahouse.stress.scenarios.<name>`). Targets and sources must be loopback
addresses (127.0.0.0/8); a run holds at most {MAX_CONNECTIONS:,} connections and loads for at
most {MAX_DURATION:g} s.

\b
Examples:
  teahouse stress fanout --port 6680 --register --members 500 --senders 10 --messages 1000
  teahouse stress flood --port 6667 --irc --attackers 1000 --duration 60 --server-pid 1234
  teahouse stress idle --port 6680 --user load --password ... --count 19000 --json
"""


@click.command(
    "stress",
    epilog=EPILOG,
    context_settings={"max_content_width": 100, "show_default": True},
)
@click.argument("scenario", type=click.Choice(SCENARIOS))
@click.option("--host", default="127.0.0.1", help="Server address (loopback only).")
@click.option("--port", type=int, required=True, help="Server port (native or IRC door).")
@click.option("--irc", is_flag=True, help="Speak IRC instead of the native protocol.")
@click.option(
    "--duration",
    type=float,
    help="Seconds of load; for fanout, deadpeer, slowreader the most it may take. "
    "[flood/storm/loginflood/idle/slowloris 10, slowreader 30, fanout 60, deadpeer 120]",
)
@click.option(
    "--count",
    "--attackers",
    "count",
    type=int,
    help="Load connections: attackers (flood, storm, loginflood), held connections (idle), "
    "silent peers (deadpeer), dribblers (slowloris). [storm 32, idle/deadpeer 1000, else 100]",
)
@click.option(
    "--workers", type=int, default=default_workers(), help="Load processes (default: CPUs)."
)
@click.option("--server-pid", type=int, help="Sample this process's RSS, fds and CPU in /proc.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--user", help="Log every connection in to this account.")
@click.option("--password", help="The password of --user.")
@click.option("--register", is_flag=True, help="Native: register throwaway accounts.")
@click.option(
    "--sources",
    default=DEFAULT_SOURCES,
    help="Source addresses of load connections (a-b, CIDR, list).",
)
@click.option("--legit-source", default="127.0.0.1", help="Source address of the measuring pair.")
@click.option("--no-legit", is_flag=True, help="Do not run the measuring pair.")
@click.option(
    "--rtt-interval",
    type=float,
    help="Seconds between one person's lines of the measuring pair. [native 0.2, IRC 1]",
)
@click.option("--baseline", type=float, default=1.0, help="Seconds the pair measures unloaded.")
@click.option(
    "--login-interval",
    type=float,
    default=0.0,
    show_default=False,
    help="Seconds between legitimate probe logins (0: none). [loginflood 1, else 0]",
)
@click.option("--members", type=int, default=100, help="fanout: members in the room.")
@click.option(
    "--senders",
    type=int,
    default=0,
    show_default=False,
    help="fanout, slowreader: senders. [fanout 10, slowreader 1]",
)
@click.option("--messages", type=int, default=100, help="fanout: messages per sender.")
@click.option("--window", type=int, default=200, help="Lines a sender may have unanswered.")
@click.option("--size", type=int, default=0, help="fanout, slowreader: text length to pad to.")
@click.option("--chunk", type=int, default=32768, help="flood: bytes per write.")
@click.option("--await-reply", is_flag=True, help="storm: wait for the login's answer.")
@click.option("--attack-user", help="storm, loginflood: guess this account's password.")
@click.option("--byte-interval", type=float, default=1.0, help="slowloris: seconds per byte.")
@click.option("--after-login", is_flag=True, help="slowloris: log in before dribbling.")
@click.option(
    "--expect-timeout", type=float, help="deadpeer: the server's heartbeat timeout (IRC)."
)
@click.option(
    "--room-size", type=int, default=50, help="deadpeer: peers per room (0: one room for all)."
)
@click.option("--in-flight", type=int, default=32, help="Handshakes in flight at once.")
@click.option("--oper", help="IRC: NAME:PASSWORD to OPER load senders (no fakelag).")
@click.option("--settle", type=float, default=1.0, help="Seconds before the 'after' sample.")
@click.option("--setup-timeout", type=float, default=120.0, help="Most seconds for setup.")
def stress_command(
    scenario: str,
    as_json: bool,
    quiet: bool,
    sources: str,
    no_legit: bool,
    duration: float | None,
    count: int | None,
    rtt_interval: float | None,
    **fields: Any,
) -> None:
    """Attack or benchmark a chat server on loopback, and report what it did."""
    try:
        opts = check(
            Options(
                scenario=scenario,
                sources=parse_sources(sources),
                legit=not no_legit,
                duration=duration or 0.0,
                count=count or 0,
                rtt_interval=rtt_interval or 0.0,
                **fields,
            )
        )
    except StressError as exc:
        raise click.UsageError(str(exc)) from None
    sys.exit(run(opts, as_json=as_json, quiet=quiet))


def run(opts: Options, *, as_json: bool, quiet: bool) -> int:
    """Run, print, and return the exit status: 0 when the run completed, 1 when it failed."""
    from teahouse.stress.catalog import get_scenario
    from teahouse.stress.report import LiveProgress, render, to_json
    from teahouse.stress.runner import RunFailed, Runner

    err = Console(stderr=True)
    progress = LiveProgress(
        err, get_scenario(opts.scenario).bars(opts), opts.duration, enabled=not quiet
    )
    try:
        report = Runner(opts, progress).run()
    except RunFailed as exc:
        if as_json:
            click.echo(to_json({"scenario": opts.scenario, "error": str(exc)}))
        err.print(f"[red]stress run failed:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]")
        return 130
    if as_json:
        click.echo(to_json(report))
    else:
        render(report, Console())
    return 0
