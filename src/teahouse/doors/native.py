"""The native front door: TCP <-> :mod:`teahouse.protocol.native` <-> hub.

One :class:`NativeConnection` per TCP connection, on the shared
:class:`~teahouse.doors.connection.Connection` base: frames are decoded and dispatched in
order, each charged to the frame and byte rate limits; the hub's results are rendered as
frames carrying the request's ``ref``; broadcasts come through :class:`NativeEncoder`,
shared by every native connection, so a message to N members is encoded once.

Only ``login``, ``register`` and ``admin`` are asynchronous (password hashing); while one
runs, the connection stops reading and keeps the rest of what it received in its codec,
so frames are still handled in order and the buffer stays bounded.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from teahouse import __version__
from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.limits import Rate
from teahouse.core.results import HistoryPage, ModeChange, Replay, RoomState
from teahouse.core.session import Session
from teahouse.doors.connection import Charge, Connection, Door
from teahouse.doors.listeners import Listeners
from teahouse.doors.tls import TlsContext
from teahouse.errors import (
    ChatError,
    FrameTooLarge,
    Internal,
    InvalidField,
    NotAuthed,
    RateLimited,
    UnsupportedProto,
)
from teahouse.protocol import frames as f
from teahouse.protocol.modes import parse_mode_changes
from teahouse.protocol.native import PROTOCOL_VERSION, FrameError, ServerCodec, encode
from teahouse.protocol.text import for_native
from teahouse.store.base import StoredMessage

log = logging.getLogger("teahouse.native")

Ref = str | int | None


@functools.lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def format_ts(ms: int) -> str:
    """``2026-11-24T10:00:00.123Z`` from milliseconds since the epoch (the second's text is
    cached: a busy second formats it once)."""
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


def message_frame(m: StoredMessage, *, replay: bool = False, ref: Ref = None) -> f.Message:
    return f.Message(
        id=m.id,
        sender=m.sender,
        text=for_native(m.text),
        ts=format_ts(m.ts_ms),
        room=m.room,
        dm=m.is_dm,
        to=m.recipient,
        replay=replay,
        ref=ref,
    )


def error_frame(error: ChatError, ref: Ref = None) -> bytes:
    return encode(
        f.Error(
            code=error.code,
            message=error.message,
            fatal=error.fatal,
            retry_after=error.retry_after,
            ref=ref,
        )
    )


class NativeEncoder:
    """The native door's :class:`~teahouse.core.session.Encoder`: broadcasts as JSON lines."""

    def message(self, message: StoredMessage) -> bytes:
        return encode(message_frame(message))

    def presence(
        self,
        room: str,
        member: Session,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        user = member.user or "?"
        shown = for_native(text) if text else None
        return encode(
            f.Presence(room=room, user=user, state=state, reason=reason, by=by, text=shown)
        )

    def topic(self, room: str, text: str, by: str, ts_ms: int) -> bytes:
        return encode(f.TopicChanged(room=room, text=for_native(text), by=by))

    def mode(self, room: str, by: str, change: ModeChange) -> bytes:
        changes, args = change.flags_and_args()
        return encode(
            f.ModeChanged(room=room, modes=change.modes, changes=changes, args=args, by=by)
        )

    def invited(self, room: str, by: str, target: str) -> bytes:
        return encode(f.Invited(room=room, user=target, by=by))

    def away(self, member: Session) -> bytes:
        text = for_native(member.away) if member.away else None
        return encode(f.AwayChanged(user=member.user or "?", text=text))

    def notice(self, text: str, by: str) -> bytes:
        return encode(f.Notice(text=for_native(text), by=by))

    def renamed(self, room: str, old: str, new: str) -> bytes:
        # Native clients see a rename as the old name leaving and the new one arriving.
        return encode(f.Presence(room=room, user=old, state="left", reason="renamed")) + encode(
            f.Presence(room=room, user=new, state="joined")
        )

    def relay(
        self,
        kind: str,
        sender: str,
        room: str | None,
        to: str | None,
        text: str,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> bytes:
        if kind in ("ctcp", "tagmsg"):
            return b""  # CTCP and tag-only messages mean nothing to a native client
        return encode(f.Notice(text=for_native(text), by=sender, room=room, to=to))

    def error(self, error: ChatError) -> bytes:
        return error_frame(error)

    def ping(self, t: int) -> bytes:
        return encode(f.Ping(t=t))


ENCODER = NativeEncoder()


# -- replies: results rendered as frames -----------------------------------------------


CHUNK = 64 * 1024
"""Bytes of a streamed answer made at a time."""
HISTORY_BYTES = 512 * 1024
"""Bytes of messages one ``history`` frame carries at most: a page the client's line
limit holds; ``more`` tells it to page on."""


def replay_chunks(replay: Replay, room: str | None) -> Iterator[bytes]:
    """A replay's message frames and its ``replay_end``, made as they are written."""
    buf = bytearray()
    for m in replay.messages:
        buf += encode(message_frame(m, replay=True))
        if len(buf) >= CHUNK:
            yield bytes(buf)
            buf.clear()
    buf += encode(
        f.ReplayEnd(
            count=len(replay.messages),
            truncated=replay.truncated,
            room=room,
            dm=room is None,
            oldest_id=replay.oldest_id,
            last_id=replay.last_id,
        )
    )
    yield bytes(buf)


def render_history(page: HistoryPage, ref: Ref, newest_first: bool) -> bytes:
    """A ``history`` frame of at most :data:`HISTORY_BYTES` of messages: when the page is
    larger, the messages farthest from where the client pages from are left for the next
    page (``more``)."""
    frames = [message_frame(m) for m in page.messages]
    sizes = [len(m.text.encode()) + 160 for m in page.messages]
    more = page.more
    if sum(sizes) > HISTORY_BYTES:
        kept: list[f.Message] = []
        total = 0
        order = range(len(frames) - 1, -1, -1) if newest_first else range(len(frames))
        for i in order:
            if kept and total + sizes[i] > HISTORY_BYTES:
                more = True
                break
            kept.append(frames[i])
            total += sizes[i]
        frames = sorted(kept, key=lambda m: m.id)
    return encode(
        f.HistoryPage(messages=frames, room=page.room, dm=page.room is None, more=more, ref=ref)
    )


def render_joined(state: RoomState, ref: Ref) -> bytes:
    return encode(
        f.Joined(
            room=state.name,
            topic=state.topic,
            members=state.member_names,
            modes=state.modes,
            ops=[m.name for m in state.members if m.op],
            ref=ref,
        )
    )


class NativeServer(Door, Protocol):
    """What a native connection needs from its door (the web door's connections too)."""

    def welcome(self, ref: Ref) -> bytes: ...


class NativeConnection(Connection):
    """One client connection of the native door."""

    __slots__ = ("_codec",)

    _door: NativeServer

    def __init__(self, door: NativeServer) -> None:
        super().__init__(door)
        self._codec: ServerCodec | None = None
        """Made when bytes arrive, dropped once all of them are handled: an idle
        connection keeps no codec (80 bytes) between reads."""

    # -- the base's hooks --------------------------------------------------------------

    def _encoder(self) -> NativeEncoder:
        return ENCODER

    def _refusal(self, ip: str, error: ChatError) -> bytes:
        return error_frame(error)

    def _discard_input(self) -> None:
        self._codec = None

    def _max_frame(self) -> int:
        """The frame limit now: raised once the client is logged in."""
        limits = self._door.config.limits
        session = self.session
        if session is not None and session.authenticated:
            return limits.max_frame
        return limits.max_frame_preauth

    def _feed(self, data: bytes) -> None:
        codec = self._codec
        if codec is None:
            codec = self._codec = ServerCodec(self._max_frame())
        codec.receive_data(data)

    def _next_item(self) -> object | None:
        codec = self._codec
        if codec is None:
            return None
        item = codec.next_event()
        if item is None and codec.idle:
            self._codec = None
        return item

    @property
    def _buffered(self) -> int:
        return self._codec.buffered if self._codec is not None else 0

    def _unfinished(self, session: Session) -> None:
        codec = self._codec
        if codec is not None and codec.buffered > codec.max_frame:
            # A security limit: while a password is checked, an anonymous client may not
            # pile up more than one pre-auth frame's worth of pipelined bytes.
            self._door.hub.close_session(
                session,
                "frame_too_large",
                FrameTooLarge("too much sent before the login was answered"),
            )

    def _on_item(self, session: Session, item: object) -> None:
        if isinstance(item, FrameError):
            if item.error.code == "unknown_type":
                # Unknown types stay non-fatal (forward compatibility), so no strike.
                self.send_error(session, item.error, item.ref)
                return
            if self._strike(session):
                item.error.fatal = True
                item.error.message += " (too many bad frames)"
                self.drop_for_garbage()
            self.send_error(session, item.error, item.ref)
            return
        frame: f.ClientFrame = item  # type: ignore[assignment]
        ref = frame.ref
        assert self._codec is not None  # it made the item
        charge, debt = self._charge(session, self._codec.last_size)
        if charge is Charge.FATAL:
            error = RateLimited(
                "still over the rate limit; disconnecting", retry_after=round(debt, 3)
            )
            error.fatal = True
            self.send_error(session, error, ref)
            return
        if charge is Charge.REFUSED:
            self.send_error(session, RateLimited(retry_after=round(debt, 3)), ref)
            return
        try:
            self._dispatch(session, frame)
        except ChatError as exc:
            self.send_error(session, exc, ref)
        except Exception:
            log.exception("internal error handling %s from %r", type(frame).__name__, session)
            self.send_error(session, Internal(), ref)

    # -- replies -----------------------------------------------------------------------

    def send_error(self, session: Session, error: ChatError, ref: Ref) -> None:
        """Answer a request with an error; a fatal one ends the connection."""
        session.send(error_frame(error, ref))
        if error.fatal:
            self._door.hub.close_session(session, error.code)

    def _dispatch(self, session: Session, frame: f.ClientFrame) -> None:
        hub = self._door.hub
        rooms, messages = hub.rooms, hub.messages
        reply = session.send
        match frame:
            case f.Say(room=room, text=text, nonce=nonce, ref=ref):
                messages.say(session, room, text, nonce, *self._acks(session, ref))
            case f.Ping(t=t, ref=ref):
                reply(encode(f.Pong(t=t, ref=ref)))
            case f.Pong(t=t):
                if hub.pong(session, t):
                    self.rested()
            case f.Hello(proto=proto, ref=ref):
                if proto != PROTOCOL_VERSION:
                    raise UnsupportedProto(f"this server speaks protocol {PROTOCOL_VERSION}")
                reply(self._door.welcome(ref))
            case f.Login(user=user, password=password, dm_since=dm_since, ref=ref):
                hub.accounts.check_login(session, user)  # a throttled flood stops here, cheaply
                self._start(
                    session,
                    hub.accounts.login(session, user, password),
                    lambda account: self._authed(session, dm_since, ref),
                    lambda exc: self.send_error(session, exc, ref),
                )
            case f.Register(user=user, password=password, invite=invite, ref=ref):
                self._start(
                    session,
                    hub.accounts.register(session, user, password, invite),
                    lambda account: self._authed(session, None, ref),
                    lambda exc: self.send_error(session, exc, ref),
                )
            case f.Quit(ref=ref):
                reply(encode(f.Bye(ref=ref)))
                hub.close_session(session, "quit")
            case _ if not session.authenticated:
                raise NotAuthed("log in or register first")
            case f.Join(room=room, since=since, key=key, ref=ref):
                joined = rooms.join(session, room, since=since, key=key)
                reply(render_joined(joined.room, ref))
                if joined.replay is not None:
                    self.stream(replay_chunks(joined.replay, joined.room.name))
            case f.Part(room=room, ref=ref):
                rooms.part(session, room)
                reply(encode(f.Parted(room=room, ref=ref)))
            case f.Dm(to=to, text=text, nonce=nonce, ref=ref):
                messages.dm(session, to, text, nonce, *self._acks(session, ref))
            case f.Rooms(after=after, ref=ref):
                listed = rooms.list_rooms(session, after)
                infos = [
                    f.RoomInfo(room=r.name, members=r.members, topic=r.topic) for r in listed.rooms
                ]
                reply(encode(f.RoomList(rooms=infos, next=listed.next_after, ref=ref)))
            case f.Who(room=room, ref=ref):
                reply(encode(f.Members(room=room, members=rooms.members(session, room), ref=ref)))
            case f.History(room=None, dm=True, before=before, since=since, limit=limit, ref=ref):
                dms = messages.dm_history(session, before, since, limit)
                reply(render_history(dms, ref, newest_first=since is None))
            case f.History(room=str(room), before=before, since=since, limit=limit, ref=ref):
                found = messages.history(session, room, before, since, limit)
                reply(render_history(found, ref, newest_first=since is None))
            case f.History():
                raise InvalidField("history needs 'room', or 'dm': true")
            case f.Topic(room=room, text=text, ref=ref):
                text, by, _ = rooms.set_topic(session, room, text)
                reply(encode(f.TopicChanged(room=room, text=for_native(text), by=by, ref=ref)))
            case f.Mode(room=room, changes=None, ref=ref):
                state = rooms.state_of(session, room)
                reply(
                    encode(
                        f.ModeChanged(
                            room=room,
                            modes=state.modes,
                            params=self._params(session, state),
                            ref=ref,
                        )
                    )
                )
            case f.Mode(room=room, changes=str(changes), args=args, ref=ref):
                self._mode(session, room, changes, list(args), ref)
            case f.Invite(room=room, user=user, ref=ref):
                shown = rooms.invite(session, room, user)
                reply(encode(f.Invited(room=room, user=shown, by=session.user or "", ref=ref)))
            case f.Kick(room=room, user=user, reason=reason, ref=ref):
                victim, text = rooms.kick(session, room, user, reason)
                reply(
                    encode(
                        f.Presence(
                            room=room,
                            user=victim.user or user,
                            state="left",
                            reason="kicked",
                            by=session.user,
                            text=for_native(text),
                            ref=ref,
                        )
                    )
                )
            case f.Away(text=away_text, ref=ref):
                rooms.set_away(session, away_text)
                away_shown = for_native(session.away) if session.away else None
                reply(encode(f.AwayChanged(user=session.user or "", text=away_shown, ref=ref)))
            case f.Whois(user=user, ref=ref):
                reply(self._whois(session, user, ref))
            case f.RoomAction(room=room, action=action, ref=ref):
                reply(self._room_action(session, room, action, ref))
            case f.Admin(cmd=cmd, args=args, ref=ref):
                self._start(
                    session,
                    hub.run_admin(session, cmd, dict(args)),
                    lambda result: reply(self._admin_result(cmd, result, ref)),
                    lambda exc: self.send_error(session, exc, ref),
                )

    def _params(self, session: Session, state: RoomState) -> list[str]:
        """The arguments of a room's modes; the key only for its operators."""
        params = []
        if state.key is not None:
            ops = {m.name for m in state.members if m.op}
            shown = session.role == "admin" or session.user in ops
            params.append(state.key if shown else "*")
        if state.limit is not None:
            params.append(str(state.limit))
        return params

    def _whois(self, session: Session, user: str, ref: Ref) -> bytes:
        info = self._door.hub.rooms.whois(session, user)
        if info is None:
            return encode(f.WhoisInfo(user=user, online=False, ref=ref))
        return encode(
            f.WhoisInfo(
                user=info.name,
                rooms=info.rooms,
                away=for_native(info.away) if info.away else None,
                door=",".join(info.doors),
                idle=info.idle_s,
                role=info.role,
                guest=info.account is None,
                address=info.address,
                ref=ref,
            )
        )

    def _room_action(self, session: Session, room: str, action: str, ref: Ref) -> bytes:
        rooms = self._door.hub.rooms
        if action == "register":
            rooms.register(session, room)
        elif action == "drop":
            rooms.drop(session, room)
        state, operators = rooms.info(session, room)
        return encode(
            f.RoomInfoReply(
                room=state.name,
                registered=state.owner_id is not None,
                owner=rooms.owner_name(state),
                operators=operators,
                modes=state.modes,
                topic=for_native(state.topic),
                ref=ref,
            )
        )

    def _acks(
        self, session: Session, ref: Ref
    ) -> tuple[Callable[[StoredMessage], None], Callable[[Exception], None]]:
        """The two halves of a message's acknowledgement: the sender's copy, or an error."""

        def done(message: StoredMessage) -> None:
            session.send(encode(message_frame(message, ref=ref)))

        def failed(exc: Exception) -> None:
            if isinstance(exc, ChatError):
                self.send_error(session, exc, ref)

        return done, failed

    def _authed(self, session: Session, dm_since: int | None, ref: Ref) -> None:
        hub = self._door.hub
        if self._codec is not None:
            self._codec.max_frame = self._door.config.limits.max_frame
        session.send(encode(f.Authed(user=session.user or "", role=session.role, ref=ref)))
        replay = hub.accounts.replay_dms(session, dm_since)
        # They count as delivered once written to this connection's socket, not before.
        self.stream(
            replay_chunks(replay, None), lambda: hub.accounts.dms_delivered(session, replay)
        )

    def _mode(self, session: Session, room: str, changes: str, args: list[str], ref: Ref) -> None:
        wanted, missing = parse_mode_changes(changes, args)
        if missing:
            raise InvalidField(f"mode {''.join(missing)} needs an argument")
        change, refused = self._door.hub.rooms.set_modes(session, room, wanted)
        if refused and not change:
            letter, arg, why = refused[0]
            raise InvalidField(f"mode {letter} {arg or ''} refused: {why}".replace("  ", " "))
        flags, applied = change.flags_and_args()
        session.send(
            encode(
                f.ModeChanged(
                    room=room,
                    modes=change.modes,
                    changes=flags,
                    args=applied,
                    by=session.user,
                    ref=ref,
                )
            )
        )

    @staticmethod
    def _admin_result(cmd: str, result: tuple[str, object], ref: Ref) -> bytes:
        text, data = result
        payload = data if isinstance(data, dict | list) else None
        return encode(f.AdminResult(cmd=cmd, text=text, data=payload, ref=ref))


class NativeDoor:
    """Listens for native-protocol connections and serves them through the hub."""

    name = "native"

    def __init__(self, hub: Hub, config: Config) -> None:
        self.hub = hub
        self.config = config
        self.transports_open = 0
        self.listeners = Listeners(hub, config, self.connection)
        self.tasks = self.listeners.tasks
        hb, lim = config.heartbeat, config.limits
        self.high_water = lim.output_high_water
        self.pending_cap = 4 * lim.output_high_water
        self.bytes_out = 0
        self.item_rate = Rate(lim.frames_per_second, lim.frames_burst)
        self.byte_rate = Rate(lim.bytes_per_second, lim.bytes_burst)
        self.refuse_after: float | None = lim.throttle_grace
        self._welcome = f.Welcome(
            proto=PROTOCOL_VERSION,
            server=f"teahouse/{__version__}",
            heartbeat=f.HeartbeatInfo(interval=_seconds(hb.interval), timeout=_seconds(hb.timeout)),
            limits=f.Limits(
                max_frame=lim.max_frame,
                max_frame_preauth=lim.max_frame_preauth,
                max_text=lim.max_text,
                max_replay=lim.max_replay,
            ),
            registration=config.accounts.registration,
            name=config.server.name,
        )
        self._welcome_bytes = encode(self._welcome)

    def connection(self) -> NativeConnection:
        return NativeConnection(self)

    def welcome(self, ref: Ref) -> bytes:
        if ref is None:
            return self._welcome_bytes
        return encode(f.Welcome(**{**_fields(self._welcome), "ref": ref}))

    async def start(self, host: str, port: int) -> tuple[str, int]:
        return await self.listeners.start(host, port)

    async def start_tls(self, host: str, port: int, tls: TlsContext) -> tuple[str, int]:
        return await self.listeners.start_tls(host, port, tls)

    def stop_accepting(self) -> None:
        self.listeners.stop_accepting()

    async def wait_closed(self) -> None:
        await self.listeners.wait_closed()


def _fields(frame: f.Welcome) -> dict[str, Any]:
    return {name: getattr(frame, name) for name in frame.__struct_fields__}


def _seconds(value: float) -> int | float:
    """20.0 -> 20: whole seconds go on the wire as integers, as the contract shows them."""
    return int(value) if float(value).is_integer() else value
