"""The terminal client's settings: highlight words, whom you ignore, bell and notifications.

``teahouse chat`` keeps them in ``$XDG_CONFIG_HOME/teahouse/chat.json`` (by default
``~/.config/teahouse/chat.json``), written by ``/ignore``, ``/unignore``, ``/highlight``
and ``/unhighlight`` and readable by hand::

    {
      "highlight": ["scones", "kettle"],
      "bell": true,
      "notify": true,
      "ignore": {"chat.example.org:6680": ["spammer"]}
    }

``highlight``: words that mark a line as mentioning you, besides your own name.
``bell``/``notify``: ring the terminal bell / show a desktop notification when you are
mentioned or get a direct message while not looking. ``ignore``: per server
(``host:port``), the users whose messages and notices are not shown.

The file is private (mode 0600, in a directory created 0700): who you ignore is nobody
else's business. A missing file means the defaults; a file that cannot be read or parsed
means the defaults too, with a warning, and is not overwritten until you change a setting.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

MAX_WORDS = 200
"""At most this many highlight words and ignored names per server (a sanity limit)."""
MAX_WORD = 64


def default_path() -> Path:
    """``$XDG_CONFIG_HOME/teahouse/chat.json``, or ``~/.config/teahouse/chat.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "teahouse" / "chat.json"


class _File(msgspec.Struct, forbid_unknown_fields=False):
    highlight: list[str] = []
    bell: bool = True
    notify: bool = True
    ignore: dict[str, list[str]] = {}


def _clean(words: list[str]) -> list[str]:
    """Distinct (case-insensitively), non-blank, bounded words, in their first order."""
    seen: dict[str, str] = {}
    for raw in words:
        word = raw.strip()
        if word and len(word) <= MAX_WORD and word.lower() not in seen:
            seen[word.lower()] = word
    return list(seen.values())[:MAX_WORDS]


@dataclass
class ChatSettings:
    """The settings in memory; :meth:`save` writes them to :attr:`path` (None: nowhere)."""

    path: Path | None = None
    highlight: list[str] = field(default_factory=list)
    bell: bool = True
    notify: bool = True
    ignore: dict[str, list[str]] = field(default_factory=dict)
    warning: str | None = None
    """Why the file could not be read (the defaults are in use), for the user to see."""

    @classmethod
    def load(cls, path: Path | None) -> ChatSettings:
        """The settings in ``path``; never raises (see the module doc)."""
        if path is None:
            return cls()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return cls(path=path)
        except OSError as exc:
            return cls(path=path, warning=f"cannot read {path}: {exc.strerror or exc}")
        try:
            got = msgspec.json.decode(data, type=_File)
        except msgspec.DecodeError as exc:
            return cls(path=path, warning=f"{path} is not valid settings ({exc}); using defaults")
        return cls(
            path=path,
            highlight=_clean(got.highlight),
            bell=got.bell,
            notify=got.notify,
            ignore={server: _clean(names) for server, names in got.ignore.items() if names},
        )

    def save(self) -> str | None:
        """Write the settings (atomically, mode 0600); an error sentence, or None."""
        path = self.path
        if path is None:
            return None
        data = msgspec.json.format(
            msgspec.json.encode(
                _File(
                    highlight=self.highlight,
                    bell=self.bell,
                    notify=self.notify,
                    ignore={k: v for k, v in sorted(self.ignore.items()) if v},
                )
            ),
            indent=2,
        )
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".chat-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:  # mkstemp makes it 0600
                    out.write(data + b"\n")
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            return f"cannot save the settings in {path}: {exc.strerror or exc}"
        self.warning = None
        return None

    # -- ignore -----------------------------------------------------------------------

    def ignored(self, server: str) -> frozenset[str]:
        """The names ignored on ``server`` (``host:port``), lower-case."""
        return frozenset(name.lower() for name in self.ignore.get(server, ()))

    def ignore_user(self, server: str, name: str) -> bool:
        """Ignore ``name`` on ``server``; False if it already was (or the list is full)."""
        names = self.ignore.setdefault(server, [])
        if name.lower() in self.ignored(server) or len(names) >= MAX_WORDS:
            return False
        names.append(name)
        return True

    def unignore_user(self, server: str, name: str) -> bool:
        """Stop ignoring ``name`` on ``server``; False if it was not ignored."""
        names = self.ignore.get(server, [])
        kept = [n for n in names if n.lower() != name.lower()]
        if len(kept) == len(names):
            return False
        self.ignore[server] = kept
        return True

    # -- highlight words --------------------------------------------------------------

    def add_highlight(self, word: str) -> bool:
        before = len(self.highlight)
        self.highlight = _clean([*self.highlight, word])
        return len(self.highlight) > before

    def remove_highlight(self, word: str) -> bool:
        kept = [w for w in self.highlight if w.lower() != word.strip().lower()]
        changed = len(kept) != len(self.highlight)
        self.highlight = kept
        return changed
