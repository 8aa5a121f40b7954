"""The native front door: TCP (asyncio.Protocol) <-> :mod:`teahouse.protocol.native` <-> hub.

One :class:`NativeConnection` per TCP connection, with ``__slots__`` and no task or timer
of its own: bytes arrive through ``data_received``, frames are decoded and dispatched in
order, and output is queued and written once per loop round by the hub's flush.

Only ``login``, ``register`` and ``admin`` are asynchronous (password hashing); while one
runs, the connection stops reading (``pause_reading``) and keeps the rest of what it
received in its codec, so frames are still handled in order and the buffer stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any, cast

from teahouse import __version__
from teahouse.config import Config
from teahouse.core.hub import Hub
from teahouse.core.limits import Rate, cap_send_buffer, take
from teahouse.core.session import Ref, Session
from teahouse.doors.outlet import BufferedConnection, Listeners
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
from teahouse.protocol.native import PROTOCOL_VERSION, FrameError, ServerCodec, encode
from teahouse.store.base import Role, StoredMessage

log = logging.getLogger("teahouse.native")


def format_ts(ms: int) -> str:
    """``2026-11-24T10:00:00.123Z`` from milliseconds since the epoch."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def message_frame(m: StoredMessage, *, replay: bool = False, ref: Ref = None) -> f.Message:
    return f.Message(
        id=m.id,
        sender=m.sender,
        text=m.text,
        ts=format_ts(m.ts_ms),
        room=m.room,
        dm=m.is_dm,
        to=m.recipient,
        replay=replay,
        ref=ref,
    )


class NativeEncoder:
    """The native door's :class:`~teahouse.core.session.Encoder`: events as JSON lines."""

    def authed(self, user: str, role: Role, ref: Ref) -> bytes:
        return encode(f.Authed(user=user, role=role, ref=ref))

    def joined(self, room: str, topic: str, members: Sequence[str], ref: Ref) -> bytes:
        return encode(f.Joined(room=room, topic=topic, members=list(members), ref=ref))

    def parted(self, room: str, ref: Ref) -> bytes:
        return encode(f.Parted(room=room, ref=ref))

    def message(self, message: StoredMessage, *, replay: bool = False, ref: Ref = None) -> bytes:
        return encode(message_frame(message, replay=replay, ref=ref))

    def replay_end(
        self,
        room: str | None,
        count: int,
        truncated: bool,
        oldest_id: int | None,
        last_id: int | None = None,
    ) -> bytes:
        return encode(
            f.ReplayEnd(
                count=count,
                truncated=truncated,
                room=room,
                dm=room is None,
                oldest_id=oldest_id,
                last_id=last_id,
            )
        )

    def presence(
        self,
        room: str,
        user: str,
        state: str,
        reason: str | None,
        *,
        online: bool = False,
        by: str | None = None,
        text: str | None = None,
    ) -> bytes:
        return encode(
            f.Presence(room=room, user=user, state=state, reason=reason, by=by, text=text)
        )

    def room_list(self, rooms: Sequence[tuple[str, int, str]], ref: Ref) -> bytes:
        infos = [f.RoomInfo(room=name, members=count, topic=topic) for name, count, topic in rooms]
        return encode(f.RoomList(rooms=infos, ref=ref))

    def members(self, room: str, members: Sequence[str], ref: Ref) -> bytes:
        return encode(f.Members(room=room, members=list(members), ref=ref))

    def history(self, room: str | None, messages: Sequence[StoredMessage], ref: Ref) -> bytes:
        frames = [message_frame(m) for m in messages]
        return encode(f.HistoryPage(messages=frames, room=room, dm=room is None, ref=ref))

    def topic(self, room: str, text: str, by: str, ref: Ref = None) -> bytes:
        return encode(f.TopicChanged(room=room, text=text, by=by, ref=ref))

    def notice(self, text: str, by: str) -> bytes:
        return encode(f.Notice(text=text, by=by))

    def renamed(self, room: str, old: str, new: str) -> bytes:
        # Native clients see a rename as the old name leaving and the new one arriving.
        if not room:
            return b""
        return encode(f.Presence(room=room, user=old, state="left", reason="renamed")) + encode(
            f.Presence(room=room, user=new, state="joined")
        )

    def relay(self, kind: str, sender: str, room: str | None, to: str | None, text: str) -> bytes:
        if kind != "notice":
            return b""  # CTCP means nothing to a native client
        return encode(f.Notice(text=text, by=sender, room=room, to=to))

    def admin_result(self, cmd: str, text: str, data: object, ref: Ref) -> bytes:
        payload = data if isinstance(data, dict | list) else None
        return encode(f.AdminResult(cmd=cmd, text=text, data=payload, ref=ref))

    def error(self, error: ChatError, ref: Ref = None) -> bytes:
        return encode(
            f.Error(
                code=error.code,
                message=error.message,
                fatal=error.fatal,
                retry_after=error.retry_after,
                ref=ref,
            )
        )

    def ping(self, t: int) -> bytes:
        return encode(f.Ping(t=t))

    def pong(self, t: int, ref: Ref) -> bytes:
        return encode(f.Pong(t=t, ref=ref))

    def bye(self, ref: Ref) -> bytes:
        return encode(f.Bye(ref=ref))


ENCODER = NativeEncoder()


class NativeConnection(BufferedConnection):
    """One client connection of the native door; also the hub's Outlet for it."""

    __slots__ = (
        "_btokens",
        "_busy",
        "_codec",
        "_door",
        "_ftokens",
        "_limited",
        "_resume",
        "_stamp",
        "_strikes",
        "_throttled_since",
        "session",
    )

    _door: NativeDoor

    def __init__(self, door: NativeDoor) -> None:
        self._door = door
        self._init_outlet()
        self.session: Session | None = None
        self._codec = ServerCodec(door.config.limits.max_frame_preauth)
        self._busy = False
        self._strikes: list[float] | None = None
        # Rate limits: two token buckets in plain floats (no object per connection).
        self._ftokens = door.frame_rate.burst
        self._btokens = door.byte_rate.burst
        self._stamp = 0.0
        self._throttled_since: float | None = None
        self._limited: list[float] | None = None
        self._resume: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport; uvloop's is not an asyncio.Transport subclass, so no isinstance.
        self._transport = transport = cast(asyncio.Transport, transport)
        self._door.transports_open += 1
        peer = transport.get_extra_info("peername") or ("?", 0)
        ip, port = str(peer[0]), int(peer[1])
        hub = self._door.hub
        try:
            hub.admit(ip)
        except ChatError as exc:
            log.info("connection refused peer=%s:%d reason=%s", ip, port, exc.code)
            self._closed = True
            transport.write(ENCODER.error(exc))
            transport.close()
            return
        self.session = hub.open_session(self, ENCODER, ip, port)
        cap_send_buffer(transport, self._door.config.limits.socket_send_buffer)
        self._stamp = hub.clock.monotonic()
        log.info("connection opened peer=%s:%d", ip, port)

    def data_received(self, data: bytes) -> None:
        session = self.session
        if session is None or session.closed:
            return
        self._door.hub.received(session, len(data))
        self._codec.receive_data(data)
        if not self._busy and self._resume is None:
            self._process(session)
        if (
            self._busy
            and not session.authenticated
            and self._codec.buffered > self._codec.max_frame
        ):
            # A security limit: while a password is checked, an anonymous client may not
            # pile up more than one pre-auth frame's worth of pipelined bytes.
            self._door.hub.close_session(
                session,
                "frame_too_large",
                FrameTooLarge("too much sent before the login was answered"),
            )

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost does the cleanup

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._door.transports_open -= 1
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self.session is not None:
            reason = "disconnected" if exc is None else "reset"
            self._door.hub.close_session(self.session, reason)
        self._pending.clear()

    # -- frames in -------------------------------------------------------------------

    def _process(self, session: Session) -> None:
        self._read_frames(session)
        # Once every complete line is handled, what is still buffered is an unfinished
        # line: the slowloris clock. (Lines held back by a pause or a login do not count.)
        if self._busy or self._resume is not None or session.closed:
            return
        if self._codec.buffered == 0:
            session.partial_since = None
        elif session.partial_since is None:
            session.partial_since = self._door.hub.clock.monotonic()

    def _read_frames(self, session: Session) -> None:
        hub = self._door.hub
        while not self._busy and not session.closed and self._resume is None:
            try:
                event = self._codec.next_event()
            except FrameTooLarge as exc:
                hub.close_session(session, "frame_too_large", exc)
                return
            if event is None:
                return
            if isinstance(event, FrameError):
                if event.error.code == "unknown_type":
                    # Unknown types stay non-fatal (forward compatibility), so no strike.
                    session.send(ENCODER.error(event.error, event.ref))
                else:
                    self._strike(session, event)
                continue
            if not self._charge(session, event.ref):
                continue
            try:
                self._dispatch(session, event)
            except ChatError as exc:
                self._fail(session, exc, event.ref)
            except Exception:
                log.exception("internal error handling %s from %r", type(event).__name__, session)
                self._fail(session, Internal(), event.ref)

    def _charge(self, session: Session, ref: Ref) -> bool:
        """Spend the frame and byte tokens of one frame. False: refused (rate_limited).

        Over the rate, the connection is first slowed down (reading and processing pause
        until the debt is paid: backpressure). A client still over after
        ``limits.throttle_grace`` seconds gets ``rate_limited`` for the frames it sends
        beyond the rate, and after ``limits.rate_limit_strikes`` of those within
        ``limits.rate_limit_window`` seconds it is disconnected.
        """
        door = self._door
        fr, br = door.frame_rate, door.byte_rate
        now = door.hub.clock.monotonic()
        ftokens = take(self._ftokens, self._stamp, now, 1, fr) if fr.enabled else 1.0
        size = self._codec.last_size
        btokens = take(self._btokens, self._stamp, now, size, br) if br.enabled else 1.0
        debt = max(
            -ftokens / fr.per_second if fr.enabled else 0.0,
            -btokens / br.per_second if br.enabled else 0.0,
        )
        self._stamp = now
        if debt <= 0:
            self._ftokens, self._btokens = ftokens, btokens
            self._throttled_since = None
            return True
        if self._throttled_since is None:
            self._throttled_since = now
        if now - self._throttled_since < door.config.limits.throttle_grace:
            self._ftokens, self._btokens = ftokens, btokens
            self._pause(session, debt)
            return True
        # Refund: a refused frame costs nothing but a strike.
        self._ftokens, self._btokens = ftokens + 1, btokens + size
        lim = door.config.limits
        limited = [t for t in (self._limited or []) if now - t < lim.rate_limit_window]
        limited.append(now)
        self._limited = limited
        retry = round(debt, 3)
        if len(limited) >= lim.rate_limit_strikes:
            error = RateLimited("still over the rate limit; disconnecting", retry_after=retry)
            error.fatal = True
            door.hub.close_session(session, "rate_limited", error, ref=ref)
            return False
        session.send(ENCODER.error(RateLimited(retry_after=retry), ref))
        self._pause(session, debt)
        return False

    def _pause(self, session: Session, seconds: float) -> None:
        """Stop reading and processing for ``seconds`` (one timer, only while throttled)."""
        if self._resume is not None or self._transport is None:
            return
        self._transport.pause_reading()
        loop = asyncio.get_running_loop()
        self._resume = loop.call_later(seconds, self._unpause, session)

    def _unpause(self, session: Session) -> None:
        self._resume = None
        if session.closed or self._transport is None:
            return
        if not self._busy:
            self._transport.resume_reading()
            self._process(session)

    def _strike(self, session: Session, bad: FrameError) -> None:
        """A bad frame: answer it; too many in the window make this one fatal."""
        limits = self._door.config.limits
        now = time.monotonic()
        strikes = self._strikes if self._strikes is not None else []
        strikes[:] = [t for t in strikes if now - t < limits.bad_frame_window]
        if len(strikes) >= limits.bad_frame_strikes:
            bad.error.fatal = True
            bad.error.message += " (too many bad frames)"
        strikes.append(now)
        self._strikes = strikes
        self._fail(session, bad.error, bad.ref)

    def _fail(self, session: Session, error: ChatError, ref: Ref) -> None:
        if error.fatal:
            self._door.hub.close_session(session, error.code, error, ref=ref)
        else:
            session.send(ENCODER.error(error, ref))

    def _dispatch(self, session: Session, frame: f.ClientFrame) -> None:
        hub = self._door.hub
        match frame:
            case f.Say(room=room, text=text, nonce=nonce, ref=ref):
                hub.say(session, room, text, nonce, ref)
            case f.Ping(t=t, ref=ref):
                session.send(ENCODER.pong(t, ref))
            case f.Pong(t=t):
                hub.pong(session, t)
            case f.Hello(proto=proto, ref=ref):
                if proto != PROTOCOL_VERSION:
                    raise UnsupportedProto(f"this server speaks protocol {PROTOCOL_VERSION}")
                session.send(self._door.welcome(ref))
            case f.Login(user=user, password=password, dm_since=dm_since, ref=ref):
                hub.check_login(session, user)  # a throttled flood stops here, cheaply
                self._start(session, hub.login(session, user, password, dm_since, ref), ref)
            case f.Register(user=user, password=password, invite=invite, ref=ref):
                self._start(session, hub.register(session, user, password, invite, ref), ref)
            case f.Quit(ref=ref):
                hub.quit(session, ref)
            case _ if not session.authenticated:
                raise NotAuthed("log in or register first")
            case f.Join(room=room, since=since, ref=ref):
                hub.join(session, room, since, ref)
            case f.Part(room=room, ref=ref):
                hub.part(session, room, ref)
            case f.Dm(to=to, text=text, nonce=nonce, ref=ref):
                hub.dm(session, to, text, nonce, ref)
            case f.Rooms(ref=ref):
                hub.list_rooms(session, ref)
            case f.Who(room=room, ref=ref):
                hub.who(session, room, ref)
            case f.History(room=None, dm=True, before=before, since=since, limit=limit, ref=ref):
                hub.dm_history(session, before, since, limit, ref)
            case f.History(room=str(room), before=before, since=since, limit=limit, ref=ref):
                hub.history(session, room, before, since, limit, ref)
            case f.History():
                raise InvalidField("history needs 'room', or 'dm': true")
            case f.Topic(room=room, text=text, ref=ref):
                hub.set_topic(session, room, text, ref)
            case f.Admin(cmd=cmd, args=args, ref=ref):
                self._start(session, hub.run_admin(session, cmd, dict(args), ref), ref)

    def _start(self, session: Session, work: Coroutine[Any, Any, None], ref: Ref) -> None:
        """Run ``work`` while this connection stops reading; resume in order afterwards."""
        assert self._transport is not None
        self._busy = True
        self._transport.pause_reading()
        task = asyncio.get_running_loop().create_task(work)
        self._door.tasks.add(task)
        task.add_done_callback(lambda t: self._finished(session, t, ref))

    def _finished(self, session: Session, task: asyncio.Task[None], ref: Ref) -> None:
        self._door.tasks.discard(task)
        self._busy = False
        if session.closed or task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, ChatError):
            self._fail(session, exc, ref)
        elif exc is not None:
            log.error("internal error in %r", session, exc_info=exc)
            self._fail(session, Internal(), ref)
        if session.closed:
            return
        if session.authenticated:
            self._codec.max_frame = self._door.config.limits.max_frame
        assert self._transport is not None
        if self._resume is None:
            self._transport.resume_reading()
            self._process(session)


class NativeDoor:
    """Listens for native-protocol connections and serves them through the hub."""

    def __init__(self, hub: Hub, config: Config) -> None:
        self.hub = hub
        self.config = config
        self.transports_open = 0
        self.listeners = Listeners(self, lambda: NativeConnection(self))
        self.tasks = self.listeners.tasks
        hb, lim = config.heartbeat, config.limits
        self.frame_rate = Rate(lim.frames_per_second, lim.frames_burst)
        self.byte_rate = Rate(lim.bytes_per_second, lim.bytes_burst)
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
