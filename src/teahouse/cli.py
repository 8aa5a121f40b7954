"""The ``teahouse`` command: serve, user, export, admin, chat."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click
import msgspec

from teahouse import __version__
from teahouse.config import Config, ConfigError, load_config


def _config(config_file: str | None, overrides: dict[str, Any]) -> Config:
    try:
        return load_config(config_file, overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="teahouse")
def main() -> None:
    """teahouse: a self-hosted chat server that stays up under abuse."""


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("--data-dir", help="Where the database, logs and admin socket live [./var].")
@click.option("--host", help="Address of the native door [127.0.0.1].")
@click.option("--port", type=int, help="Port of the native door; 0 picks a free one [6680].")
@click.option("--irc-port", type=int, help="Port of the IRC door; 0 picks a free one [6667].")
@click.option("--no-irc", is_flag=True, default=False, help="Do not open the IRC door.")
@click.option("--web-port", type=int, help="Port of the web door; 0 picks a free one [6690].")
@click.option("--no-web", is_flag=True, default=False, help="Do not open the web door.")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="PEM certificate chain.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="PEM private key.")
@click.option("--tls-port", type=int, help="Port of the native door over TLS [6681].")
@click.option("--irc-tls-port", type=int, help="Port of the IRC door over TLS [6697].")
@click.option("--web-tls-port", type=int, help="Port of the web door over TLS [6691].")
@click.option("--heartbeat-interval", type=float, help="Seconds of silence before a ping [20].")
@click.option("--heartbeat-timeout", type=float, help="Seconds of silence before a close [60].")
@click.option("--registration", type=click.Choice(["open", "closed", "invite"]))
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--log-format", type=click.Choice(["text", "json"]))
@click.option("--console/--no-console", default=None, help="Operator console on this TTY.")
def serve(
    config_file: str | None,
    data_dir: str | None,
    host: str | None,
    port: int | None,
    irc_port: int | None,
    no_irc: bool,
    web_port: int | None,
    no_web: bool,
    tls_cert: str | None,
    tls_key: str | None,
    tls_port: int | None,
    irc_tls_port: int | None,
    web_tls_port: int | None,
    heartbeat_interval: float | None,
    heartbeat_timeout: float | None,
    registration: str | None,
    log_level: str | None,
    log_format: str | None,
    console: bool | None,
) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM or `shutdown`."""
    from teahouse.logs import setup_logging
    from teahouse.server import Server, new_event_loop_factory

    config = _config(
        config_file,
        {
            "server.data_dir": data_dir,
            "native.host": host,
            "native.port": port,
            "irc.port": irc_port,
            "irc.enabled": False if no_irc else None,
            "web.port": web_port,
            "web.enabled": False if no_web else None,
            "tls.cert": tls_cert,
            "tls.key": tls_key,
            "tls.native_port": tls_port,
            "tls.irc_port": irc_tls_port,
            "tls.web_port": web_tls_port,
            "heartbeat.interval": heartbeat_interval,
            "heartbeat.timeout": heartbeat_timeout,
            "accounts.registration": registration,
            "log.level": log_level,
            "log.format": log_format,
        },
    )
    if 0 in (port, irc_port):
        config = _free_ports_for_the_rest(config, web_port, (tls_port, irc_tls_port, web_tls_port))
    setup_logging(config.log, config.data_dir)
    try:
        with asyncio.Runner(loop_factory=new_event_loop_factory(config.server.event_loop)) as run:
            status = run.run(Server(config, console=console).run())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None
    sys.exit(status)


def _free_ports_for_the_rest(
    config: Config, web_port: int | None, tls_ports: tuple[int | None, ...]
) -> Config:
    """``--port 0`` or ``--irc-port 0`` asks for free ports: so do the doors whose ports
    are left at their defaults (the web door, the TLS ports), or several servers started
    this way (test runs, conformance suites) would collide on 6690 and the like. A port
    given on the command line or changed in the config file stays as it is."""
    from teahouse.config import TlsSection, WebSection

    web = config.web
    if web_port is None and web.port == WebSection().port:
        web = msgspec.structs.replace(web, port=0)
    tls, default_tls = config.tls, TlsSection()
    names = ("native_port", "irc_port", "web_port")
    changes = {
        name: 0
        for name, given in zip(names, tls_ports, strict=True)
        if given is None and getattr(tls, name) == getattr(default_tls, name)
    }
    tls = msgspec.structs.replace(tls, **changes)
    return msgspec.structs.replace(config, web=web, tls=tls)


# -- accounts ---------------------------------------------------------------------------

_data_dir_option = click.option(
    "--data-dir", default=None, help="The server's data dir [from --config, else ./var]."
)
_config_option = click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."
)


def _read_password(from_stdin: bool, confirm: bool = True) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if confirm and getpass.getpass("Again: ") != password:
        raise click.ClickException("the passwords do not match")
    return password


def _run_account_command(config_file: str | None, data_dir: str | None, words: list[str]) -> None:
    """Through the running server's admin socket if there is one, else on the database."""
    from teahouse.admin.commands import CommandSet, parse_words
    from teahouse.admin.socket import AdminUnavailable, call_admin
    from teahouse.core.clock import InlineScheduler, SystemClock
    from teahouse.core.hub import Hub
    from teahouse.errors import ChatError
    from teahouse.server import ADMIN_SOCKET, lock_data_dir, make_hasher, open_store
    from teahouse.store.base import StoreError

    config = _config(config_file, {"server.data_dir": data_dir})
    try:
        cmd, args = parse_words(words)
    except ChatError as exc:
        raise click.ClickException(exc.message) from None
    try:
        answer = call_admin(config.data_dir / ADMIN_SOCKET, {"cmd": cmd, "args": args})
    except AdminUnavailable:
        answer = None
    if answer is not None:
        if not answer.get("ok"):
            raise click.ClickException(f"{answer.get('code')}: {answer.get('message')}")
        click.echo(answer.get("text", ""))
        return
    from teahouse.logs import setup_logging

    lock = lock_data_dir(config.data_dir)
    if lock is None:
        raise click.ClickException(
            f"a teahouse server is running on {config.data_dir} and its admin socket is off "
            "(admin.socket = false): turn the socket on, or stop the server, then try again"
        )
    # Offline changes go to the same audit log as the server's (no console output).
    setup_logging(msgspec.structs.replace(config.log, file=False, level="warning"), config.data_dir)
    try:
        store = open_store(config)
    except StoreError as exc:
        lock.close()
        raise click.ClickException(str(exc)) from None
    hasher = make_hasher(config)
    hub = Hub(config, store, hasher, SystemClock(), InlineScheduler())
    commands = CommandSet(hub, transports_open=lambda: 0, shutdown=lambda grace: None)
    try:
        text, _ = asyncio.run(commands.run(cmd, args, actor="cli", entrance="cli"))
    except ChatError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        store.close()
        hasher.close()
        lock.close()
    click.echo(text)


@main.group()
def user() -> None:
    """Manage accounts (works whether or not the server is running)."""


@user.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the account the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@_data_dir_option
@_config_option
def user_add(
    name: str, admin: bool, password_stdin: bool, data_dir: str | None, config_file: str | None
) -> None:
    """Create an account (prompts for the password)."""
    password = _read_password(password_stdin)
    words = ["user", "add", name, password] + (["--admin"] if admin else [])
    _run_account_command(config_file, data_dir, words)


@user.command("del")
@click.argument("name")
@_data_dir_option
@_config_option
def user_del(name: str, data_dir: str | None, config_file: str | None) -> None:
    """Delete an account (and disconnect it)."""
    _run_account_command(config_file, data_dir, ["user", "del", name])


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@_data_dir_option
@_config_option
def user_passwd(
    name: str, password_stdin: bool, data_dir: str | None, config_file: str | None
) -> None:
    """Set an account's password (prompts for it)."""
    password = _read_password(password_stdin)
    _run_account_command(config_file, data_dir, ["user", "passwd", name, password])


@user.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["user", "admin"]))
@_data_dir_option
@_config_option
def user_role(name: str, role: str, data_dir: str | None, config_file: str | None) -> None:
    """Give an account the user or the admin role."""
    _run_account_command(config_file, data_dir, ["user", "role", name, role])


@user.command("list")
@_data_dir_option
@_config_option
def user_list(data_dir: str | None, config_file: str | None) -> None:
    """List the accounts and their roles."""
    _run_account_command(config_file, data_dir, ["user", "list"])


# -- transcripts ------------------------------------------------------------------------


@main.command()
@click.option("--room", metavar="ROOM", help="Export this room's messages.")
@click.option("--dm", nargs=2, metavar="USER USER", help="Export the direct messages of two users.")
@click.option("--from", "start", metavar="DATE", help="From this day (UTC, YYYY-MM-DD) or time.")
@click.option("--to", "end", metavar="DATE", help="Up to this day (included) or time.")
@click.option("--format", "fmt", type=click.Choice(["html", "jsonl", "text"]))
@click.option("-o", "--output", metavar="FILE", default="-", help="File, or - for stdout [-].")
@_data_dir_option
@_config_option
def export(
    room: str | None,
    dm: tuple[str, str] | None,
    start: str | None,
    end: str | None,
    fmt: str | None,
    output: str,
    data_dir: str | None,
    config_file: str | None,
) -> None:
    """Write a room's or a direct conversation's history as HTML, JSON Lines or text
    (reads the database read-only: works beside a running server). Without --format: text
    on stdout, else by the -o file's suffix (.html, .jsonl, .txt). Files are private (0600)."""
    from teahouse.export.command import run_export
    from teahouse.export.source import ExportError
    from teahouse.server import DB_FILE

    config = _config(config_file, {"server.data_dir": data_dir})
    try:
        run_export(
            config.data_dir / DB_FILE,
            room=room,
            dm=dm or None,
            start=start,
            end=end,
            fmt=fmt,
            output=output,
        )
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None


# -- admin socket -----------------------------------------------------------------------


@main.command(context_settings={"ignore_unknown_options": True})
@_data_dir_option
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
@click.argument("words", nargs=-1, required=True, type=click.UNPROCESSED)
def admin(
    data_dir: str | None, config_file: str | None, as_json: bool, words: tuple[str, ...]
) -> None:
    """Run an operator command on the running server: `teahouse admin kick bob spam`."""
    from teahouse.admin.socket import AdminUnavailable, call_admin
    from teahouse.server import ADMIN_SOCKET

    config = _config(config_file, {"server.data_dir": data_dir})
    try:
        answer = call_admin(config.data_dir / ADMIN_SOCKET, {"words": list(words)})
    except AdminUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(answer, indent=2))
    elif answer.get("ok"):
        click.echo(answer.get("text", ""))
    else:
        click.echo(f"error ({answer.get('code')}): {answer.get('message')}", err=True)
    sys.exit(0 if answer.get("ok") else 1)


@main.command()
@_data_dir_option
@_config_option
@click.argument("file", type=click.Path(dir_okay=False))
def backup(data_dir: str | None, config_file: str | None, file: str) -> None:
    """Copy the database to FILE (0600), consistent, whether or not the server runs."""
    target = str(Path(file).resolve())
    _run_account_command(config_file, data_dir, ["backup", target])


@main.command()
@_data_dir_option
@_config_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
def restore(data_dir: str | None, config_file: str | None, file: str) -> None:
    """Replace the database with a backup (the server must be stopped)."""
    from teahouse.server import restore_backup

    config = _config(config_file, {"server.data_dir": data_dir})
    try:
        kept = restore_backup(config, Path(file))
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {file}; the database it replaced is kept as {kept}")


# -- the terminal client ----------------------------------------------------------------


@main.command()
@click.argument("address")
@click.option("--user", "user_name", required=True, help="Your user name.")
@click.option("--register", is_flag=True, help="Create the account first.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--room", "rooms", multiple=True, help="Join this room (repeatable).")
@click.option("--tls", is_flag=True, help="Use TLS and verify the server (default port 6681).")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True), help="Trust this CA file.")
@click.option("--invite", help="Invite code, to --register on an invite-only server.")
@click.option(
    "--plain", is_flag=True, help="Line mode (for scripts and dumb terminals), not full screen."
)
def chat(
    address: str,
    user_name: str,
    register: bool,
    password_stdin: bool,
    rooms: tuple[str, ...],
    tls: bool,
    ca: str | None,
    invite: str | None,
    plain: bool,
) -> None:
    """Chat in a terminal: `teahouse chat localhost:6680 --user alice`.

    Full screen on a terminal; line mode with --plain, on a dumb terminal, or when stdin or
    stdout is not a terminal (a pipe).
    """
    import os
    import ssl

    from teahouse.client.chat import run_chat

    default_port = "6681" if tls or ca else "6680"
    host, _, port_text = address.rpartition(":") if ":" in address else (address, "", default_port)
    try:
        port = int(port_text)
    except ValueError:
        raise click.ClickException(f"bad port in {address!r}") from None
    password = _read_password(password_stdin, confirm=register and not password_stdin)
    context = ssl.create_default_context(cafile=ca) if tls or ca else None
    full_screen = (
        not plain
        and sys.stdin.isatty()
        and sys.stdout.isatty()
        and os.environ.get("TERM", "") not in ("", "dumb")
    )
    if full_screen:
        from teahouse.client.tui import run_tui

        run = run_tui
    else:
        run = run_chat
    status = run(
        host or "127.0.0.1",
        port,
        user_name,
        password,
        register,
        list(rooms),
        tls=context,
        invite=invite,
    )
    sys.exit(status)


# -- the desktop client -----------------------------------------------------------------


@main.command()
@click.argument("address", required=False)
@click.option("--user", "user_name", help="Your user name (else the dialog remembers it).")
@click.option("--register", is_flag=True, help="Start on 'Create an account'.")
@click.option("--tls", is_flag=True, help="Use TLS (default port 6681).")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True), help="Trust this CA file.")
def gui(
    address: str | None, user_name: str | None, register: bool, tls: bool, ca: str | None
) -> None:
    """The desktop client: `teahouse gui [HOST[:PORT]]` (needs the `gui` extra)."""
    try:
        from teahouse.gui.connect_dialog import Defaults
        from teahouse.gui.main import run_gui
    except ImportError as exc:
        raise click.ClickException(
            f"the desktop client cannot start ({exc}); install it with pip install 'teahouse[gui]'"
        ) from None
    host, port = None, None
    if address:
        host, _, port_text = address.rpartition(":") if ":" in address else (address, "", "")
        try:
            port = int(port_text) if port_text else None
        except ValueError:
            raise click.ClickException(f"bad port in {address!r}") from None
    defaults = Defaults(
        host=host, port=port, user=user_name, tls=tls or bool(ca), ca_file=ca, register=register
    )
    sys.exit(run_gui(defaults))


# -- the attack and benchmark tool ------------------------------------------------------


@main.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def stress(args: tuple[str, ...]) -> None:
    """Attack or benchmark a server on loopback (`teahouse stress --help`)."""
    from teahouse.stress.cli import stress_command

    stress_command.main(list(args), prog_name="teahouse stress")
