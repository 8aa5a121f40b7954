"""Room ban masks, door-neutral: a name pattern and a host pattern with ``*`` and ``?``.

IRC spells a ban ``nick!user@host``; a native client names a user. Both become a
:class:`BanMask` that matches a member by display name and by the host other users see
(cloaked, see the hub). Matching is case-insensitive; ``[`` and ``]`` are literal.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@functools.lru_cache(maxsize=1024)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(re.escape(glob.lower()).replace(r"\*", ".*").replace(r"\?", "."))


def glob_match(glob: str, text: str) -> bool:
    """``*`` any run, ``?`` one character; case-insensitive."""
    return _pattern(glob).fullmatch(text.lower()) is not None


@dataclass(frozen=True, slots=True)
class BanMask:
    name: str
    """Glob over the display name (and, from IRC, the ident: both are the name here)."""
    host: str
    """Glob over the visible host."""

    @classmethod
    def parse(cls, text: str) -> BanMask:
        """``nick!user@host``, ``nick``, ``*@host``, ``nick!*`` -> a mask; missing parts: ``*``.

        The ident (``user``) part is matched against the name as well, so ``*!bob@*``
        bans bob: teahouse has no separate ident.
        """
        text = text.strip()[:200] or "*"
        name, _, host = text.partition("@")
        nick, _, ident = name.partition("!")
        if nick in ("", "*") and ident not in ("", "*"):
            nick = ident
        return cls(nick or "*", host or "*")

    @property
    def key(self) -> tuple[str, str]:
        """What two masks are compared by: they match case-insensitively, so ``+b Bob`` and
        ``-b bob`` are the same ban."""
        return self.name.lower(), self.host.lower()

    def matches(self, name: str, host: str) -> bool:
        return glob_match(self.name, name) and glob_match(self.host, host)

    def __str__(self) -> str:
        return f"{self.name}!*@{self.host}"
