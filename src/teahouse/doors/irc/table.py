"""The IRC command table: each command's handler and preconditions, declared as data.

The connection checks the preconditions (registered, parameter count, operator) before a
handler runs, so handlers hold only what the command means.
"""

from __future__ import annotations

from teahouse.doors.irc.connection import CommandSpec
from teahouse.doors.irc.handlers import (
    channels,
    history,
    messaging,
    operators,
    queries,
    registering,
)

COMMANDS: dict[str, CommandSpec] = {
    # registration: usable before it completes
    "CAP": CommandSpec(registering.cap, 1, before_registration=True),
    "PASS": CommandSpec(registering.pass_, 1, before_registration=True),
    "NICK": CommandSpec(registering.nick, 0, before_registration=True),
    "USER": CommandSpec(registering.user, 4, before_registration=True),
    "AUTHENTICATE": CommandSpec(registering.authenticate, 1, before_registration=True),
    "REGISTER": CommandSpec(registering.register, 3, before_registration=True),
    "PING": CommandSpec(queries.ping, 1, before_registration=True),
    "PONG": CommandSpec(queries.pong, 0, before_registration=True),
    "QUIT": CommandSpec(queries.quit_, 0, before_registration=True),
    # channels
    "JOIN": CommandSpec(channels.join, 1),
    "PART": CommandSpec(channels.part, 1),
    "TOPIC": CommandSpec(channels.topic, 1),
    "NAMES": CommandSpec(channels.names, 0),
    "LIST": CommandSpec(channels.list_, 0),
    "MODE": CommandSpec(channels.mode, 1),
    "KICK": CommandSpec(channels.kick, 2),
    "INVITE": CommandSpec(channels.invite, 2),
    # messages
    "PRIVMSG": CommandSpec(messaging.privmsg, 0),
    "NOTICE": CommandSpec(messaging.privmsg, 0),
    "TAGMSG": CommandSpec(messaging.tagmsg, 1),
    "CHATHISTORY": CommandSpec(history.chathistory, 3),
    # people and the server
    "AWAY": CommandSpec(queries.away, 0),
    "WHO": CommandSpec(queries.who, 0),
    "WHOIS": CommandSpec(queries.whois, 1),
    "WHOWAS": CommandSpec(queries.whowas, 1),
    "ISON": CommandSpec(queries.ison, 1),
    "USERHOST": CommandSpec(queries.userhost, 1),
    "LUSERS": CommandSpec(queries.lusers, 0),
    "MOTD": CommandSpec(queries.motd, 0),
    "VERSION": CommandSpec(queries.version, 0),
    "TIME": CommandSpec(queries.time_, 0),
    "INFO": CommandSpec(queries.info, 0),
    "ADMIN": CommandSpec(queries.admin, 0),
    # operators
    "OPER": CommandSpec(operators.oper, 2),
    "KILL": CommandSpec(operators.kill, 1, oper=True),
    "WALLOPS": CommandSpec(operators.wallops, 1, oper=True),
}
