"""The IRC command table: each command's handler and preconditions, declared as data.

The connection checks the preconditions (registered, parameter count, operator, UTF-8
text) before a handler runs, so handlers hold only what the command means. HELP answers
from the same table.
"""

from __future__ import annotations

from teahouse.core.session import Session
from teahouse.doors.irc.connection import CommandSpec, Handler, IrcConnection
from teahouse.doors.irc.handlers import (
    channels,
    history,
    messaging,
    operators,
    queries,
    registering,
)
from teahouse.protocol.irc import IrcMessage


def help_(conn: IrcConnection, session: Session, msg: IrcMessage) -> None:
    """HELP / HELPOP [subject]: what a command does (704, 705..., 706), or 524."""
    subject = msg.param(0).upper()
    if not subject:
        conn.numeric("704", "*", "teahouse: commands you can use (HELP <command> for one)")
        names = sorted(COMMANDS)
        for i in range(0, len(names), 10):
            conn.numeric("705", "*", " ".join(names[i : i + 10]))
        conn.numeric("706", "*", "End of /HELP")
        return
    spec = COMMANDS.get(subject)
    if spec is None or not spec.help:
        conn.numeric("524", subject, "No help available on this topic")
        return
    first, *rest = spec.help.splitlines()
    conn.numeric("704", subject, first)
    for line in rest:
        conn.numeric("705", subject, line)
    conn.numeric("706", subject, "End of /HELP")


def _c(
    handler: Handler,
    min_params: int,
    help: str,
    *,
    pre: bool = False,
    oper: bool = False,
    text: bool = False,
) -> CommandSpec:
    return CommandSpec(handler, min_params, pre, oper, text, help)


COMMANDS: dict[str, CommandSpec] = {
    # registration: usable before it completes
    "CAP": _c(registering.cap, 1, "CAP LS|LIST|REQ|END\nNegotiate IRCv3 capabilities.", pre=True),
    "PASS": _c(
        registering.pass_, 1, "PASS [account:]password\nLog in while registering.", pre=True
    ),
    "NICK": _c(registering.nick, 0, "NICK <nick>\nChoose or change your nick.", pre=True),
    "USER": _c(registering.user, 4, "USER <ident> 0 * :<real name>", pre=True),
    "AUTHENTICATE": _c(registering.authenticate, 1, "AUTHENTICATE PLAIN\nSASL login.", pre=True),
    "REGISTER": _c(
        registering.register, 3, "REGISTER <account> * <password>\nCreate an account.", pre=True
    ),
    "PING": _c(queries.ping, 0, "PING <token>\nThe server answers PONG.", pre=True),
    "PONG": _c(queries.pong, 0, "PONG <token>\nAnswer the server's PING.", pre=True),
    "QUIT": _c(queries.quit_, 0, "QUIT [:reason]\nLeave the server.", pre=True, text=True),
    # channels
    "JOIN": _c(channels.join, 1, "JOIN <#channel>[,...] [key,...]\nEnter channels."),
    "PART": _c(channels.part, 1, "PART <#channel>[,...] [:reason]\nLeave channels.", text=True),
    "TOPIC": _c(channels.topic, 1, "TOPIC <#channel> [:topic]\nShow or set it.", text=True),
    "NAMES": _c(channels.names, 0, "NAMES <#channel>[,...]\nWho is in a channel."),
    "LIST": _c(channels.list_, 0, "LIST [#chan,>n,<n,*mask*,!*mask*]\nList channels."),
    "MODE": _c(channels.mode, 1, "MODE <#channel|nick> [+-modes] [args]\nShow or change modes."),
    "KICK": _c(channels.kick, 2, "KICK <#channel> <nick>[,...] [:reason]", text=True),
    "INVITE": _c(channels.invite, 0, "INVITE <nick> <#channel>\nINVITE alone lists invites."),
    # messages
    "PRIVMSG": _c(messaging.privmsg, 0, "PRIVMSG <target>[,...] :<text>", text=True),
    "NOTICE": _c(messaging.privmsg, 0, "NOTICE <target>[,...] :<text>", text=True),
    "TAGMSG": _c(messaging.tagmsg, 1, "TAGMSG <target>\nA message of tags only.", text=True),
    "CHATHISTORY": _c(
        history.chathistory, 3, "CHATHISTORY LATEST|BEFORE|AFTER|BETWEEN <#channel> ..."
    ),
    # people and the server
    "AWAY": _c(queries.away, 0, "AWAY [:message]\nMark yourself away, or back.", text=True),
    "SETNAME": _c(queries.setname, 1, "SETNAME :<real name>", text=True),
    "MONITOR": _c(queries.monitor, 1, "MONITOR +|-|C|L|S [nick,...]\nWatch nicks."),
    "WHO": _c(queries.who, 0, "WHO <mask|#channel> [%fields[,token]]"),
    "WHOIS": _c(queries.whois, 1, "WHOIS <nick>"),
    "WHOWAS": _c(queries.whowas, 1, "WHOWAS <nick> [count]"),
    "ISON": _c(queries.ison, 1, "ISON <nick> ..."),
    "USERHOST": _c(queries.userhost, 1, "USERHOST <nick> ..."),
    "LUSERS": _c(queries.lusers, 0, "LUSERS\nHow many are here."),
    "MOTD": _c(queries.motd, 0, "MOTD\nThe message of the day."),
    "VERSION": _c(queries.version, 0, "VERSION"),
    "TIME": _c(queries.time_, 0, "TIME"),
    "INFO": _c(queries.info, 0, "INFO"),
    "ADMIN": _c(queries.admin, 0, "ADMIN"),
    "LINKS": _c(queries.links, 0, "LINKS"),
    "HELP": _c(help_, 0, "HELP [command]"),
    "HELPOP": _c(help_, 0, "HELPOP [command]"),
    # operators
    "OPER": _c(operators.oper, 2, "OPER <account> <password>\nBecome an IRC operator."),
    "KILL": _c(operators.kill, 1, "KILL <nick> [:reason]", oper=True, text=True),
    "WALLOPS": _c(operators.wallops, 1, "WALLOPS :<text>", oper=True, text=True),
}
