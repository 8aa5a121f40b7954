"""The IRC door: listens, shares encoders by capability set, and runs NickServ."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.session import Session
from teahouse.doors.irc.connection import IrcConnection
from teahouse.doors.irc.encoder import RELEVANT_CAPS, IrcEncoder
from teahouse.doors.outlet import Listeners
from teahouse.doors.tls import TlsContext
from teahouse.protocol.irc import IrcMessage
from teahouse.protocol.names import fold_user

WHOWAS_SIZE = 200
"""Departed users remembered for WHOWAS: a fixed-size ring, never more."""


class IrcDoor:
    def __init__(self, hub: Hub, config: Config) -> None:
        self.hub = hub
        self.config = config
        self.transports_open = 0
        self.listeners = Listeners(self, lambda: IrcConnection(self))
        self.tasks = self.listeners.tasks
        self.connections: dict[int, IrcConnection] = {}
        """Session id -> connection, for lookups across IRC clients (AWAY, INVITE, WHOIS)."""
        self.whowas: deque[tuple[str, str, str, str]] = deque(maxlen=WHOWAS_SIZE)
        self.created = time.strftime("%a %b %d %Y at %H:%M:%S UTC", time.gmtime())
        self._encoders: dict[frozenset[str], IrcEncoder] = {}

    def encoder_for(self, caps: frozenset[str]) -> IrcEncoder:
        """The shared encoder for connections with these (relevant) capabilities."""
        key = caps & RELEVANT_CAPS
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = IrcEncoder(self.hub, self.config.irc.server_name, key)
            self._encoders[key] = encoder
        return encoder

    def isupport_chunks(self) -> list[list[str]]:
        cfg, lim = self.config.irc, self.config.limits
        tokens = [
            "AWAYLEN=200",
            "CASEMAPPING=ascii",
            "CHANLIMIT=#:",
            "CHANMODES=b,k,l,imnt",
            "CHANNELLEN=51",
            "CHANTYPES=#",
            f"CHATHISTORY={lim.max_replay}",
            "ELIST=U",
            "HOSTLEN=64",
            "KICKLEN=390",
            "MAXLIST=b:100",
            "MAXTARGETS=4",
            "MODES=4",
            "MSGREFTYPES=msgid",
            f"NETWORK={cfg.network}",
            "NICKLEN=32",
            "PREFIX=(ov)@+",
            "TARGMAX=JOIN:,KICK:1,LIST:1,NAMES:1,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1",
            "TOPICLEN=390",
            "USERLEN=32",
            "UTF8ONLY",
        ]
        return [tokens[i : i + 12] for i in range(0, len(tokens), 12)]

    def remember(self, conn: IrcConnection) -> None:
        if conn.session is not None:
            self.connections[conn.session.id] = conn

    def forget(self, conn: IrcConnection) -> None:
        session = conn.session
        if session is None:
            return
        self.connections.pop(session.id, None)
        if conn.registered and session.user:
            self.whowas.appendleft(
                (session.user, conn.username or session.user, session.ip, conn.realname)
            )

    def irc_connections_of(self, user: str) -> list[IrcConnection]:
        out = []
        for session in self.hub.users.get(fold_user(user), ()):
            conn = self.connections.get(session.id)
            if conn is not None:
                out.append(conn)
        return out

    def away_of(self, user: str) -> str | None:
        conns = self.irc_connections_of(user)
        if conns and all(c.away is not None for c in conns):
            return conns[0].away
        return None

    # -- NickServ --------------------------------------------------------------------

    def nickserv(self, conn: IrcConnection, session: Session, text: str) -> None:
        words = text.split()
        verb = words[0].upper() if words else "HELP"
        reply = self._ns_reply(conn)
        if verb == "IDENTIFY" and len(words) in (2, 3):
            account, password = (words[1], words[2]) if len(words) == 3 else (conn.me, words[1])
            conn.start(
                session,
                self.hub.login(session, account, password, None, None, replay_dms=False),
                then=lambda: self._identified(conn, session),
                on_error=lambda exc: reply(f"Identification failed: {exc.message}"),
            )
        elif verb == "REGISTER" and len(words) >= 2:
            password = words[1]
            conn.start(
                session,
                self.hub.register(session, conn.me, password, None, None, replay_dms=False),
                then=lambda: self._identified(conn, session),
                on_error=lambda exc: reply(f"Registration failed: {exc.message}"),
            )
        elif verb == "INFO" and len(words) == 2:
            found = self.hub.store.get_account(words[1])
            if found is None:
                reply(f"{words[1]} is not registered.")
            else:
                since = time.strftime("%Y-%m-%d", time.gmtime(found.created_ms / 1000))
                online = "online" if self.hub.users.get(fold_user(found.name)) else "offline"
                reply(f"{found.name} is registered since {since} ({found.role}, {online}).")
        else:
            reply("Commands: REGISTER <password>, IDENTIFY [account] <password>, INFO <nick>")

    def _ns_reply(self, conn: IrcConnection) -> Callable[[str], None]:
        def reply(text: str) -> None:
            conn.send(IrcMessage("NOTICE", (conn.me, text), "NickServ!NickServ@services"))

        return reply

    def _identified(self, conn: IrcConnection, session: Session) -> None:
        name = session.user or conn.me
        if name != conn.me:
            conn.send(IrcMessage("NICK", (name,), conn.hostmask()))
            conn.nick = name
        self._ns_reply(conn)(f"You are now identified as {name}.")
        conn.numeric("900", conn.hostmask(), name, f"You are now logged in as {name}")
        for other in self.connections.values():
            if other is not conn and "account-notify" in other.caps:
                other.send(IrcMessage("ACCOUNT", (name,), conn.hostmask()))
        self.hub.replay_dms(session, None)

    # -- lifetime ------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> tuple[str, int]:
        return await self.listeners.start(host, port)

    async def start_tls(self, host: str, port: int, tls: TlsContext) -> tuple[str, int]:
        return await self.listeners.start_tls(host, port, tls)

    def stop_accepting(self) -> None:
        self.listeners.stop_accepting()

    async def wait_closed(self) -> None:
        await self.listeners.wait_closed()
