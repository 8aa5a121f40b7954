"""The frames of native protocol v1, as frozen msgspec Structs tagged by ``type``.

Client frames (``ClientFrame``) are what a client may send; server frames are what the
server sends. Field names are the wire names; ``from`` is spelled ``sender`` in Python.
Optional fields default to ``None`` and are left out of the encoded JSON.

Unknown fields are ignored when decoding (forward compatibility, as the contract says).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Ref = Annotated[str, msgspec.Meta(max_length=64)] | int
"""A client's request reference, echoed on the direct reply."""
Nonce = Annotated[str, msgspec.Meta(max_length=64)]
MessageId = Annotated[int, msgspec.Meta(ge=0, le=2**62)]
"""A message id a client refers to; bounded so it always fits the store's 64-bit column."""
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31)]
ArgValue = str | int | float | bool | None


class _Frame(msgspec.Struct, frozen=True, tag_field="type", omit_defaults=True):
    pass


# -- client -> server --------------------------------------------------------------------


class Hello(_Frame, frozen=True, tag="hello"):
    proto: int
    client: str | None = None
    ref: Ref | None = None


class Register(_Frame, frozen=True, tag="register"):
    user: str
    password: str
    invite: str | None = None
    ref: Ref | None = None


class Login(_Frame, frozen=True, tag="login"):
    user: str
    password: str
    dm_since: MessageId | None = None
    ref: Ref | None = None


class Join(_Frame, frozen=True, tag="join"):
    room: str
    since: MessageId | None = None
    key: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """The room's key, for a room with one (mode ``k``)."""
    ref: Ref | None = None


class Part(_Frame, frozen=True, tag="part"):
    room: str
    ref: Ref | None = None


class Say(_Frame, frozen=True, tag="say"):
    room: str
    text: str
    nonce: Nonce | None = None
    ref: Ref | None = None


class Dm(_Frame, frozen=True, tag="dm"):
    to: str
    text: str
    nonce: Nonce | None = None
    ref: Ref | None = None


class Rooms(_Frame, frozen=True, tag="rooms"):
    after: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    """Page on: the rooms after this name (the last reply's ``next``)."""
    ref: Ref | None = None


class Who(_Frame, frozen=True, tag="who"):
    room: str
    ref: Ref | None = None


class History(_Frame, frozen=True, tag="history"):
    """Ask for stored messages of a room, or with ``dm`` true of your direct messages:
    ``before`` pages back, ``since`` pages forward."""

    room: str | None = None
    dm: bool = False
    before: MessageId | None = None
    since: MessageId | None = None
    limit: Count | None = None
    ref: Ref | None = None


class Topic(_Frame, frozen=True, tag="topic"):
    room: str
    text: str
    ref: Ref | None = None


class Mode(_Frame, frozen=True, tag="mode"):
    """Ask for a room's modes (no ``changes``), or change them (operators):
    ``changes`` like ``"+k-i"``, ``args`` for the letters that take one, in order."""

    room: str
    changes: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    args: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=8)
    ] = []
    ref: Ref | None = None


class Invite(_Frame, frozen=True, tag="invite"):
    """Let a user into a room (needed for an invite-only room)."""

    room: str
    user: str
    ref: Ref | None = None


class Kick(_Frame, frozen=True, tag="kick"):
    """Remove a user from a room (room operators); everyone in it sees who and why."""

    room: str
    user: str
    reason: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    ref: Ref | None = None


class Away(_Frame, frozen=True, tag="away"):
    """Set yourself away with ``text``; without it you are back."""

    text: str | None = None
    ref: Ref | None = None


class Whois(_Frame, frozen=True, tag="whois"):
    """Who is ``user``: online or not, which rooms you may see, away, idle, door."""

    user: str
    ref: Ref | None = None


class RoomAction(_Frame, frozen=True, tag="room"):
    """About a room: ``info`` (owner, operators, modes), ``register`` (become its owner:
    an operator with an account), ``drop`` (the owner gives it up)."""

    room: str
    action: Literal["info", "register", "drop"] = "info"
    ref: Ref | None = None


class Admin(_Frame, frozen=True, tag="admin"):
    cmd: str
    args: dict[str, ArgValue] = {}
    ref: Ref | None = None


class Quit(_Frame, frozen=True, tag="quit"):
    reason: str | None = None
    ref: Ref | None = None


class Ping(_Frame, frozen=True, tag="ping"):
    t: int
    ref: Ref | None = None


class Pong(_Frame, frozen=True, tag="pong"):
    t: int
    ref: Ref | None = None


ClientFrame = (
    Hello
    | Register
    | Login
    | Join
    | Part
    | Say
    | Dm
    | Rooms
    | Who
    | History
    | Topic
    | Mode
    | Invite
    | Kick
    | Away
    | Whois
    | RoomAction
    | Admin
    | Quit
    | Ping
    | Pong
)
CLIENT_TYPES: frozenset[str] = frozenset(
    str(cls.__struct_config__.tag) for cls in ClientFrame.__args__
)


# -- server -> client --------------------------------------------------------------------


class HeartbeatInfo(msgspec.Struct, frozen=True):
    interval: int | float
    timeout: int | float


class Limits(msgspec.Struct, frozen=True):
    max_frame: int
    max_frame_preauth: int
    max_text: int
    max_replay: int


class Welcome(_Frame, frozen=True, tag="welcome"):
    proto: int
    server: str
    heartbeat: HeartbeatInfo
    limits: Limits
    registration: str
    name: str | None = None
    """The server's own name (``server.name``), for clients to show."""
    ref: Ref | None = None


class Authed(_Frame, frozen=True, tag="authed"):
    user: str
    role: str
    ref: Ref | None = None


class Joined(_Frame, frozen=True, tag="joined"):
    room: str
    topic: str
    members: list[str]
    modes: str | None = None
    """The room's modes, like ``"+nt"`` (``k``: it has a key; ``l``: a member limit)."""
    ops: list[str] | None = None
    """The members who are room operators."""
    ref: Ref | None = None


class Parted(_Frame, frozen=True, tag="parted"):
    room: str
    ref: Ref | None = None


class Message(_Frame, frozen=True, tag="message"):
    id: int
    sender: str = msgspec.field(name="from")
    text: str = ""
    ts: str = ""
    room: str | None = None
    dm: bool = False
    to: str | None = None
    replay: bool = False
    nonce: str | None = None
    ref: Ref | None = None


class ReplayEnd(_Frame, frozen=True, tag="replay_end"):
    count: int
    truncated: bool
    room: str | None = None
    dm: bool = False
    oldest_id: int | None = None
    last_id: int | None = None
    """On the DM replay: the newest direct message to or from the user when it was sent."""
    ref: Ref | None = None


class Presence(_Frame, frozen=True, tag="presence"):
    room: str
    user: str
    state: str
    reason: str | None = None
    by: str | None = None
    """Who removed the user (on a kick)."""
    text: str | None = None
    """Why, in the remover's or the leaver's words (a kick, a part, a quit)."""
    ref: Ref | None = None
    """On the reply to the kicker's ``kick``."""


class RoomInfo(msgspec.Struct, frozen=True):
    room: str
    members: int
    topic: str


class RoomList(_Frame, frozen=True, tag="room_list"):
    rooms: list[RoomInfo]
    next: str | None = None
    """There are more rooms: ask ``rooms`` with ``after`` this name for the next page."""
    ref: Ref | None = None


class Members(_Frame, frozen=True, tag="members"):
    room: str
    members: list[str]
    ref: Ref | None = None


class HistoryPage(_Frame, frozen=True, tag="history"):
    messages: list[Message]
    room: str | None = None
    dm: bool = False
    more: bool = False
    """More messages lie beyond this page (in the direction asked); page on from its end."""
    ref: Ref | None = None


class TopicChanged(_Frame, frozen=True, tag="topic"):
    room: str
    text: str
    by: str
    ref: Ref | None = None


class ModeChanged(_Frame, frozen=True, tag="mode"):
    """A room's modes now (``modes``, with ``params`` their arguments; the key only for
    its operators), and after a change what changed (``changes``, ``args``) and ``by``."""

    room: str
    modes: str = ""
    params: list[str] = []
    changes: str | None = None
    args: list[str] = []
    by: str | None = None
    ref: Ref | None = None


class AwayChanged(_Frame, frozen=True, tag="away"):
    """``user`` is away (``text``), or back (no ``text``): the reply to ``away``, and to
    the members of the user's rooms."""

    user: str
    text: str | None = None
    ref: Ref | None = None


class WhoisInfo(_Frame, frozen=True, tag="whois"):
    user: str
    online: bool = True
    rooms: list[str] = []
    away: str | None = None
    door: str | None = None
    """How the user came in: ``native``, ``irc`` or ``web``."""
    idle: float | None = None
    role: str | None = None
    guest: bool = False
    address: str | None = None
    """The real address: for admins only."""
    ref: Ref | None = None


class RoomInfoReply(_Frame, frozen=True, tag="room"):
    room: str
    registered: bool
    owner: str | None = None
    operators: list[str] = []
    modes: str = ""
    topic: str = ""
    ref: Ref | None = None


class Invited(_Frame, frozen=True, tag="invited"):
    """``by`` invited ``user`` to ``room``: sent to the invited user, and with ``ref`` as
    the inviter's reply."""

    room: str
    user: str
    by: str
    ref: Ref | None = None


class Notice(_Frame, frozen=True, tag="notice"):
    """A notice: server-wide from an operator (``broadcast``), or from a user to a room or
    to you (an IRC user's NOTICE). Notices are not stored and never answered."""

    text: str
    by: str
    room: str | None = None
    to: str | None = None


class AdminResult(_Frame, frozen=True, tag="admin_result"):
    cmd: str
    text: str
    data: dict[str, object] | list[object] | None = None
    ref: Ref | None = None


class Error(_Frame, frozen=True, tag="error"):
    code: str
    message: str
    fatal: bool
    retry_after: float | None = None
    ref: Ref | None = None


class Bye(_Frame, frozen=True, tag="bye"):
    ref: Ref | None = None


ServerFrame = (
    Welcome
    | Authed
    | Joined
    | Parted
    | Message
    | ReplayEnd
    | Presence
    | RoomList
    | Members
    | HistoryPage
    | TopicChanged
    | ModeChanged
    | AwayChanged
    | WhoisInfo
    | RoomInfoReply
    | Invited
    | Notice
    | AdminResult
    | Error
    | Ping
    | Pong
    | Bye
)
