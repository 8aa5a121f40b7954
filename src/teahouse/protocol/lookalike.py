"""Names people can tell apart: UTS #39 confusable skeletons and reserved names.

A user name (``teahouse.protocol.names.USER_NAME``) is ASCII and case-insensitive: ``Alice``
and ``alice`` are one account (:func:`~teahouse.protocol.names.fold_user`). Two *different*
names may still look alike: ``aIice`` (capital i) and ``alice``, ``rnallory`` and
``mallory``, ``0scar`` and ``Oscar``. This module says which, from Unicode's own data:

- :func:`skeleton` is the UTS #39 skeleton of a name as typed (case-sensitive, as TR39 is).
- :func:`confusable_key` is the key a registry stores: two names look alike in *some* casing
  exactly when their keys are equal. It folds case, so equal names have equal keys too.
- :func:`name_clash` tells "the same name" from "a different name that looks the same".
- :func:`reserved_name` refuses names of services and of the server's staff.

Data: the printable-ASCII rows of UTS #39 ``confusables.txt``, cut by
``tools/gen_confusables.py`` into :mod:`teahouse.protocol._confusables_ascii` (Unicode
13.0.0 as the table says; the same eight rows stand in Unicode 15.0, as ICU 72.1 ships it,
and in 17.0.0). Only five of them touch the name alphabet: ``I``, ``1`` and ``|`` look like
``l``; ``0`` looks like ``O``; ``m`` looks like ``rn``.

Pure: no I/O, no state beyond two constant tables.
"""

from __future__ import annotations

import enum
import functools
import string
import unicodedata
from collections.abc import Iterable

from teahouse.protocol._confusables_ascii import PROTOTYPES
from teahouse.protocol.names import fold_user


def skeleton(name: str) -> str:
    """The UTS #39 skeleton of ``name``, case-sensitive, as TR39 defines it.

    skeleton(X) = NFD(map each character of NFD(X) through confusables.txt). ``name`` must
    be printable ASCII (every user name is); it is taken as typed, before case folding,
    because TR39 is case-sensitive: ``skeleton("aIice") == skeleton("alice") == "alice"``
    but ``skeleton("0scar") == "Oscar" != skeleton("oscar")``. Use :func:`confusable_key`
    to compare names, which are case-insensitive.

    Raises ValueError for a character outside printable ASCII: the table holds only the
    rows teahouse's names can reach, so any other character would be silently unmapped.
    """
    if not (name.isascii() and name.isprintable()):
        raise ValueError(f"skeleton() takes printable ASCII names, not {name!r}")
    # NFD of ASCII is the identity; the prototypes are NFD and each starts with a starter,
    # so the final NFD only matters for a future table (tools/gen_confusables.py checks).
    return unicodedata.normalize("NFD", _prototypes(name))


def confusable_key(name: str) -> str:
    """The look-alike key of a user name: store it, index it, compare it.

    The rule: ``confusable_key(a) == confusable_key(b)`` exactly when some casing of ``a``
    and some casing of ``b`` have the same TR39 :func:`skeleton`. Therefore:

    - ``fold_user(a) == fold_user(b)`` implies equal keys (``Alice``, ``ALICE``): the same
      name, which the account store already tells apart by ``fold_user``;
    - equal keys with different ``fold_user`` is a *confusable* clash (``aIice``/``alice``,
      ``rnallory``/``mallory``, ``0scar``/``oscar``, ``AIICE``/``alice``), see
      :func:`name_clash`.

    Why every casing and not only the name as typed: the spelling a name is shown in is the
    user's to choose (a case-only ``NICK`` change keeps the account), so the as-typed
    skeleton alone is dodged by case. Registering ``ian`` beside ``lan`` and then showing as
    ``Ian`` gives ``skeleton("Ian") == "lan"``; comparing the skeletons of the name's lower
    and upper case forms as well would not catch it either (``ian``, ``IAN`` -> ``lAN``).

    The key is ``skeleton(lower(skeleton(upper(name))))``: upper case sends every letter to
    the form TR39 maps (``I`` -> ``l``, and ``0`` -> ``O`` meets ``o``), lower case folds the
    result, and the last pass maps ``m`` -> ``rn`` again. In effect the key is the name in
    lower case with ``i``, ``1`` and ``|`` as ``l``, ``0`` as ``o`` and ``m`` as ``rn``;
    tests/unit/protocol/test_lookalike.py checks the rule above exhaustively on short names.

    The price: ``i`` and ``l`` never tell two names apart, so ``ali`` and ``all`` clash, and
    so do ``bob1`` and ``bobl``. That is the point for names that may be written ``alI``.

    Raises ValueError for a character outside printable ASCII, as :func:`skeleton` does.
    """
    folded = _prototypes(skeleton(name.upper()).lower())
    return unicodedata.normalize("NFD", folded)


class NameClash(enum.Enum):
    """How a wanted name relates to one already held."""

    SAME = "same"
    """The same name in another case (``Alice`` and ``alice``): the same account."""
    CONFUSABLE = "confusable"
    """A different name that looks the same (``aIice`` and ``alice``): refuse it."""


def name_clash(wanted: str, held: str) -> NameClash | None:
    """Whether ``wanted`` may sit beside ``held``: None when the two can be told apart."""
    if fold_user(wanted) == fold_user(held):
        return NameClash.SAME
    if confusable_key(wanted) == confusable_key(held):
        return NameClash.CONFUSABLE
    return None


RESERVED_NAMES: tuple[str, ...] = (
    # IRC services: users trust what these say (passwords go to NickServ).
    "NickServ",
    "ChanServ",
    "OperServ",
    "MemoServ",
    "HostServ",
    "BotServ",
    "SaslServ",
    "Global",
    "Services",
    "Service",
    # The server itself: its notices and NOTICE AUTH come from these names.
    "server",
    "teahouse",
    "system",
    # Titles that claim authority over other users.
    "admin",
    "administrator",
    "root",
    "operator",
    "oper",
    "sysop",
    "staff",
    "moderator",
)
"""Names a user may not take, nor anything that looks like them (see :func:`reserved_name`)."""

SERVICE_SUFFIX = "serv"
"""Any name ending in this (after :func:`confusable_key`) reads as a service: ``StatServ``."""


def reserved_name(name: str, extra: Iterable[str] = ()) -> bool:
    """True if users may not take ``name``: it looks like a service's or the staff's.

    ``name`` is reserved when, with everything but letters dropped from the
    :func:`confusable_key`, it equals one of :data:`RESERVED_NAMES` or ``extra`` (treated the
    same way), or it ends in ``serv``. So ``NickServ``, ``nickserv``, ``NlckServ``,
    ``N1ckServ``, ``Nick_Serv``, ``NickServ2``, ``r00t`` and ``StatServ`` are all refused;
    ``rooted`` and ``administer`` are not.

    ``extra`` is for the deployment's own names, e.g. the configured ``server.name`` and
    ``irc.network``; characters of it outside printable ASCII are ignored. This is a rule for
    names people pick for themselves (registration, guest nicks, nick changes); the operator
    creating an account by hand may still name it ``admin``.
    """
    letters = _letters_key(name)
    if letters.endswith(SERVICE_SUFFIX):
        return True
    if letters in _RESERVED_KEYS:
        return True
    return any(letters == _extra_key(other) for other in extra)


_TO_PROTOTYPES = str.maketrans(PROTOTYPES)
_ASCII_LETTERS = frozenset(string.ascii_letters)


def _prototypes(text: str) -> str:
    return text.translate(_TO_PROTOTYPES)


_DROP_ASCII_NON_LETTERS = str.maketrans(
    "", "", "".join(chr(i) for i in range(128) if chr(i) not in _ASCII_LETTERS)
)


def _letters_key(name: str) -> str:
    if not (name.isascii() and name.isprintable()):
        name = "".join(c for c in name if c.isascii() and c.isprintable())
    key = confusable_key(name).translate(_DROP_ASCII_NON_LETTERS)
    return key if key.isascii() else "".join(c for c in key if c in _ASCII_LETTERS)


@functools.lru_cache(maxsize=64)
def _extra_key(name: str) -> str:
    """The letters key of a deployment's own name (a handful, asked on every nick)."""
    return _letters_key(name)


_RESERVED_KEYS = frozenset(_letters_key(name) for name in RESERVED_NAMES)
