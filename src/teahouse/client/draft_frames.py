"""Frames the clients send before the server has them: ``away``, ``whois`` and ``mode``.

Native protocol v1 has no request yet to set yourself away, to ask who a user is, or to see
or change a room's modes (IRC users can). The clients offer ``/away``, ``/whois`` and
``/mode`` anyway and send these frames; a server that does not know them answers the
non-fatal ``unknown_type`` error (with the request's ``ref``), which the clients turn into
"this server does not support /away yet". When the server implements them, these classes
move to :mod:`teahouse.protocol.frames` and this module goes away. The server has ``mode``
now: its reply is :class:`~teahouse.protocol.frames.ModeChanged` (``ModeInfo`` here), which
carries no ``params`` and, for a change, no ``modes``.

The frames, as the clients send and expect them::

    > {"type":"away","text":"making tea","ref":1}      set yourself away ("text": 1 to max_text)
    > {"type":"away","ref":2}                          back (no text)
    < {"type":"away","user":"alice","text":"making tea","ref":1}
      the reply (no "text" when back); the same frame without "ref" tells the members of
      your rooms (as IRCv3 away-notify)

    > {"type":"whois","user":"bob","ref":3}
    < {"type":"whois","user":"bob","online":true,"rooms":["lobby"],"away":"lunch",
       "door":"irc","idle":12.5,"role":"user","ref":3}
      "door": "native", "irc" or "web"; "idle": seconds since bob last sent anything;
      "away": absent when not away; "online": false (and no rooms, door, idle) for an
      account that is not connected; an unknown name is answered "no_such_user"

    > {"type":"mode","room":"lobby","ref":4}                           ask a room's modes
    > {"type":"mode","room":"lobby","changes":"+k","args":["secret"],"ref":5}
    < {"type":"mode","room":"lobby","modes":"+kt","params":["secret"],"ref":4}
    < {"type":"mode","room":"lobby","modes":"+kt","params":["secret"],"changes":"+k",
       "args":["secret"],"by":"alice","ref":5}
      "changes" are IRC mode letters ("+k", "-m", "+o", "+b", "+kl"), "args" their
      arguments in order; "modes" the room's modes now, "params" their arguments in order
      (as IRC's RPL_CHANNELMODEIS; the key is shown to room operators only). Every member
      gets the change (with "by", without "ref"). A member who is not a room operator is
      answered "forbidden", a room that never existed "no_such_room", a mode letter the
      server does not know "invalid_field"
"""

from __future__ import annotations

import msgspec

from teahouse.protocol.frames import ModeChanged, Ref


class _Draft(msgspec.Struct, frozen=True, tag_field="type", omit_defaults=True):
    pass


# -- client -> server --------------------------------------------------------------------


class AwayRequest(_Draft, frozen=True, tag="away"):
    """Set yourself away with ``text``; without it (None), you are back."""

    text: str | None = None
    ref: Ref | None = None


class WhoisRequest(_Draft, frozen=True, tag="whois"):
    user: str
    ref: Ref | None = None


class ModeRequest(_Draft, frozen=True, tag="mode"):
    """Change ``room``'s modes (``changes`` like ``"+k-m"``, ``args`` in order), or with no
    ``changes`` ask what they are."""

    room: str
    changes: str | None = None
    args: list[str] = []
    ref: Ref | None = None


DraftRequest = AwayRequest | WhoisRequest | ModeRequest


# -- server -> client --------------------------------------------------------------------


class Away(_Draft, frozen=True, tag="away"):
    """``user`` is away (``text``), or back (no ``text``)."""

    user: str
    text: str | None = None
    ref: Ref | None = None


class WhoisInfo(_Draft, frozen=True, tag="whois"):
    user: str
    online: bool = True
    rooms: list[str] = []
    away: str | None = None
    door: str | None = None
    """How the user came in: ``native``, ``irc`` or ``web``."""
    idle: float | None = None
    role: str | None = None
    ref: Ref | None = None


ModeInfo = ModeChanged
"""The server has ``mode`` now: its ``ModeChanged`` is the reply (``modes`` in the answer
to a question; ``changes``, ``args`` and ``by`` for a change, ``modes`` absent). A draft
struct of its own with the same ``type`` would make the client's decoder impossible."""


DraftReply = Away | WhoisInfo
