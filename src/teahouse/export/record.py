"""What the renderers take: one message of a transcript, independent of the store.

The store, the desktop client and any future source each convert their own rows into
:class:`TranscriptMessage`, so the renderers never change when the schema does (messages
are about to refer to account ids, with names resolved when read).
"""

from __future__ import annotations

from dataclasses import dataclass

ACTION_PREFIX = "/me "
"""How the server stores and sends a ``/me`` action: text that starts with this."""


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    """One message, in a room (``room`` set) or direct (``to`` set), never both.

    ``text`` is what was said; for an action (``action=True``) it is what the sender does,
    without the ``/me`` (``alice`` + ``waves``). ``ts_ms`` is milliseconds since the Unix
    epoch, UTC. The fields hold whatever the source had: the renderers escape everything.
    """

    id: int
    sender: str
    text: str
    ts_ms: int
    room: str | None = None
    to: str | None = None
    action: bool = False

    def __post_init__(self) -> None:
        if (self.room is None) == (self.to is None):
            raise ValueError("a transcript message has either a room or a recipient (to)")

    @property
    def wire_text(self) -> str:
        """The text as the protocol carries it: ``/me waves`` for an action."""
        return ACTION_PREFIX + self.text if self.action else self.text


def split_action(text: str) -> tuple[str, bool]:
    """``("waves", True)`` for the protocol's ``"/me waves"``; ``(text, False)`` otherwise."""
    if text.startswith(ACTION_PREFIX):
        return text[len(ACTION_PREFIX) :], True
    return text, False
