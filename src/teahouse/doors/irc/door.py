"""The IRC door: listens, shares encoders by capability set, names users the IRC way, and
welcomes registered clients."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import deque

from teahouse import __version__
from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.limits import Rate
from teahouse.core.session import Session, oldest
from teahouse.doors.irc import nickserv as ns
from teahouse.doors.irc import numerics as n
from teahouse.doors.irc.connection import Departed, IrcConnection
from teahouse.doors.irc.encoder import RELEVANT_CAPS, IrcEncoder
from teahouse.doors.irc.handlers import queries
from teahouse.doors.irc.table import COMMANDS
from teahouse.doors.listeners import Listeners
from teahouse.doors.tls import TlsContext
from teahouse.logs import log_from
from teahouse.protocol.irc import IrcMessage
from teahouse.protocol.names import fold_user
from teahouse.store.base import StoredMessage

log = logging.getLogger("teahouse.irc")

WHOWAS_SIZE = 200
"""Departed users remembered for WHOWAS: a fixed-size ring, never more."""


class IrcDoor:
    name = "irc"

    def __init__(self, hub: Hub, config: Config) -> None:
        self.hub = hub
        self.config = config
        self.transports_open = 0
        self.listeners = Listeners(hub, config, self.connection)
        self.tasks = self.listeners.tasks
        irc = config.irc
        self.server_name = irc.server_name
        penalty = irc.flood_penalty
        # RFC 1459's flood control as a token bucket: a line costs `penalty` seconds,
        # `flood_burst` seconds' worth may be spent at once. 0 turns it off.
        self.item_rate = Rate(1 / penalty, irc.flood_burst / penalty) if penalty > 0 else Rate(0, 0)
        self.byte_rate = Rate(0, 0)
        self.high_water = config.limits.output_high_water
        self.pending_cap = 4 * config.limits.output_high_water
        self.bytes_out = 0
        self.refuse_after: float | None = None
        self.opers_exempt = irc.flood_exempt_opers
        self.commands = COMMANDS
        self.whowas: deque[Departed] = deque(maxlen=WHOWAS_SIZE)
        self.created = time.strftime("%a %b %d %Y at %H:%M:%S UTC", time.gmtime())
        self._encoders: dict[frozenset[str], IrcEncoder] = {}
        self._batches = itertools.count(1)
        self._highest = 0
        self._opers = 0
        self._opers_at = -1e9
        self._watchers: dict[str, set[IrcConnection]] = {}
        """Folded nick -> the connections that MONITOR it."""
        hub.registry.watchers.append(self._name_changed)

    def connection(self) -> IrcConnection:
        return IrcConnection(self)

    # -- encoders and names ------------------------------------------------------------

    def encoder_for(self, caps: frozenset[str]) -> IrcEncoder:
        """The shared encoder for connections with these (relevant) capabilities."""
        key = caps & RELEVANT_CAPS
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders[key] = IrcEncoder(self, key)
        return encoder

    def connection_of(self, session: Session) -> IrcConnection | None:
        """``session``'s IRC connection: its outlet (None for another door's session). No
        table of its own: a dict entry per connection is idle memory."""
        outlet = session.outlet
        return outlet if isinstance(outlet, IrcConnection) else None

    def irc_connections(self) -> list[IrcConnection]:
        """Every IRC connection with an open session."""
        return [
            s.outlet
            for s in self.hub.registry.sessions.values()
            if isinstance(s.outlet, IrcConnection)
        ]

    def mask(self, session: Session) -> str:
        conn = self.connection_of(session)
        nick = session.user or (conn.reg.nick if conn is not None else None) or "*"
        username = (conn.reg.username if conn is not None else None) or session.user or "*"
        return f"{nick}!~{username}@{session.host}"

    def mask_of(self, name: str) -> str:
        sessions = self.hub.registry.by_name(name)
        if sessions:
            return self.mask(oldest(sessions))
        return f"{name}!~{name}@{self.server_name}"

    def account_of(self, name: str) -> str | None:
        sessions = self.hub.registry.by_name(name)
        if sessions and next(iter(sessions)).guest:
            return None
        return name

    def realname(self, session: Session) -> str:
        conn = self.connection_of(session)
        return (conn.reg.realname if conn is not None else "") or session.user or "*"

    def ping_timeout(self) -> float:
        return self.config.heartbeat.timeout

    def now_ms(self) -> int:
        return self.hub.clock.wall_ms()

    def batch_ref(self) -> str:
        return f"b{next(self._batches)}"

    # -- connections -------------------------------------------------------------------

    def forget(self, conn: IrcConnection, session: Session) -> None:
        self.monitor_clear(conn)
        if conn.registered and session.user:
            self.whowas.appendleft(
                Departed(
                    session.user,
                    "~" + (conn.reg.username or session.user),
                    session.host,
                    conn.reg.realname or session.user,
                    self.hub.clock.wall_ms(),
                )
            )

    def whowas_of(self, name: str) -> list[Departed]:
        key = fold_user(name)
        return [d for d in self.whowas if fold_user(d.nick) == key]

    def opers_online(self) -> int:
        """IRC operators online, counted at most once a second (LUSERS is in every
        welcome: a scan per registration would cost each one the whole user list)."""
        now = self.hub.clock.monotonic()
        if now - self._opers_at >= 1.0:
            sessions = self.hub.registry.sessions.values()
            self._opers = sum(1 for s in sessions if s.role == "admin" and s.authenticated)
            self._opers_at = now
        return self._opers

    def highest_users(self, now: int) -> int:
        self._highest = max(self._highest, now)
        return self._highest

    def nickserv(self, conn: IrcConnection, session: Session, text: str) -> None:
        ns.nickserv(conn, session, text)

    # -- MONITOR -----------------------------------------------------------------------

    def monitor(self, conn: IrcConnection, nick: str, add: bool) -> bool:
        """Start or stop watching ``nick``; False when the client's list is full."""
        key = fold_user(nick)
        watching = conn.monitoring if conn.monitoring is not None else set()
        if add:
            if key not in watching and len(watching) >= queries.MONITOR_LIMIT:
                return False
            watching.add(key)
            self._watchers.setdefault(key, set()).add(conn)
        else:
            watching.discard(key)
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(conn)
                if not watchers:
                    del self._watchers[key]
        conn.monitoring = watching or None
        return True

    def monitor_clear(self, conn: IrcConnection) -> None:
        for key in list(conn.monitoring or ()):
            self.monitor(conn, key, False)

    def watchers_of(self, nick: str) -> list[IrcConnection]:
        return list(self._watchers.get(fold_user(nick), ()))

    def _name_changed(self, name: str, online: bool, session: Session) -> None:
        watchers = self._watchers.get(fold_user(name))
        if not watchers:
            return
        for conn in list(watchers):
            if conn.session is session:
                continue
            if online:
                mask = f"{name}!{self.mask(session).split('!', 1)[1]}"
                conn.numeric("730", mask)
            else:
                conn.numeric("731", name)

    # -- welcome -----------------------------------------------------------------------

    def isupport(self) -> list[str]:
        irc, lim = self.config.irc, self.config.limits
        return [
            "AWAYLEN=200",
            "BOT=B",
            "CASEMAPPING=ascii",
            "CHANLIMIT=#:",
            "CHANMODES=Ibe,k,l,Cimnst",
            "CHANNELLEN=51",
            "CHANTYPES=#",
            f"CHATHISTORY={lim.max_replay}",
            "ELIST=MNU",
            "EXCEPTS=e",
            "HOSTLEN=64",
            "INVEX=I",
            "KEYLEN=23",
            "KICKLEN=300",
            "MAXLIST=beI:100",
            "MAXTARGETS=4",
            f"MONITOR={queries.MONITOR_LIMIT}",
            "MODES=4",
            "MSGREFTYPES=msgid",
            f"NETWORK={irc.network}",
            "NICKLEN=32",
            "PREFIX=(ov)@+",
            "STATUSMSG=@",
            "TARGMAX=JOIN:,KICK:4,LIST:1,NAMES:8,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1,MONITOR:",
            "TOPICLEN=390",
            "USERLEN=32",
            "UTF8ONLY",
            "WHOX",
        ]

    def send_isupport(self, conn: IrcConnection) -> None:
        tokens = self.isupport()
        for i in range(0, len(tokens), 12):
            conn.numeric(n.RPL_ISUPPORT, *tokens[i : i + 12], "are supported by this server")

    def welcome(self, conn: IrcConnection, session: Session) -> None:
        me = conn.me
        network = self.config.irc.network
        conn.numeric(n.RPL_WELCOME, f"Welcome to the {network} IRC network {conn.hostmask()}")
        conn.numeric(
            n.RPL_YOURHOST,
            f"Your host is {self.server_name}, running version teahouse-{__version__}",
        )
        conn.numeric(n.RPL_CREATED, f"This server was created {self.created}")
        conn.send(
            IrcMessage(
                n.RPL_MYINFO,
                (
                    me,
                    self.server_name,
                    f"teahouse-{__version__}",
                    "Biow",
                    "CIbeiklmnostv",
                    "Ibeklov",
                ),
                self.server_name,
            )
        )
        self.send_isupport(conn)
        queries.lusers(conn, session, IrcMessage("LUSERS"))
        queries.motd(conn, session, IrcMessage("MOTD"))
        if session.role == "admin":
            conn.send(IrcMessage("MODE", (me, "+o"), self.server_name))
        if not session.guest:
            conn.numeric(
                n.RPL_LOGGEDIN,
                conn.hostmask(),
                session.user or me,
                f"You are now logged in as {session.user}",
            )
        self.replay_dms(conn, session)
        log_from(
            log,
            logging.INFO,
            session.ip,
            "irc registered nick=%s guest=%s peer=%s",
            me,
            session.guest,
            session.ip,
        )

    def replay_dms(self, conn: IrcConnection, session: Session) -> None:
        """Direct messages stored while the user was away, as PRIVMSGs with their time: a
        ``time`` tag for clients with server-time, else a ``[date time]`` prefix (as
        bouncers do), never a tag the client did not ask for."""
        replay = self.hub.accounts.replay_dms(session, None)
        if not replay.messages:
            return
        encoder = self.encoder_for(conn.caps)
        stamped = encoder.time_ok
        lines = (
            encoder.privmsg_lines(
                message if stamped else _stamped(message),
                message.recipient or conn.me,
                "PRIVMSG",
            )
            for message in replay.messages
        )
        # They count as delivered once written to this connection's socket.
        conn.stream(lines, lambda: self.hub.accounts.dms_delivered(session, replay))

    # -- lifetime ----------------------------------------------------------------------

    async def start(self, host: str, port: int) -> tuple[str, int]:
        return await self.listeners.start(host, port)

    async def start_tls(self, host: str, port: int, tls: TlsContext) -> tuple[str, int]:
        return await self.listeners.start_tls(host, port, tls)

    def stop_accepting(self) -> None:
        self.listeners.stop_accepting()

    async def wait_closed(self) -> None:
        await self.listeners.wait_closed()


def _stamped(message: StoredMessage) -> StoredMessage:
    """``message`` with its time in front of its text, for a client without server-time."""
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(message.ts_ms / 1000))
    return dataclasses.replace(message, text=f"[{when} UTC] {message.text}")
