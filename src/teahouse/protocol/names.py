"""Naming and text rules of protocol v1, as pure predicates.

These are shared by every door: an IRC nick follows the same rules as a native user name,
and ``#lobby`` is room ``lobby``. Which names look alike, and which are reserved, is
:mod:`teahouse.protocol.lookalike`; :func:`text_problem` lives in
:mod:`teahouse.protocol.text` with the other text rules and is re-exported here.
"""

from __future__ import annotations

import re

from teahouse.protocol.text import text_problem

__all__ = ["ROOM_NAME", "USER_NAME", "fold_user", "is_room_name", "is_user_name", "text_problem"]

USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-\[\]\\^{}|]{0,31}")
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,49}")


def is_user_name(name: str) -> bool:
    """True if ``name`` is a valid user name (compare names with :func:`fold_user`)."""
    return USER_NAME.fullmatch(name) is not None


def is_room_name(name: str) -> bool:
    """True if ``name`` is a valid room name (always lower case)."""
    return ROOM_NAME.fullmatch(name) is not None


def fold_user(name: str) -> str:
    """The case-insensitive key of a user name.

    ASCII lower case: the name rules allow ASCII only, so this equals IRC's ``ascii``
    CASEMAPPING and the store's uniqueness. A name already in lower case is returned as it
    is (no copy: thousands of sessions hold one).
    """
    return name if name.islower() else name.lower()
