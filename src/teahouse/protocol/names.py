"""Naming and text rules of protocol v1, as pure predicates.

These are shared by every door: an IRC nick follows the same rules as a native user name,
and ``#lobby`` is room ``lobby``.
"""

from __future__ import annotations

import re

USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-\[\]\\^{}|]{0,31}")
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,49}")
# Control characters other than tab: C0 (but \t), DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def is_user_name(name: str) -> bool:
    """True if ``name`` is a valid user name (compare names with :func:`fold_user`)."""
    return USER_NAME.fullmatch(name) is not None


def is_room_name(name: str) -> bool:
    """True if ``name`` is a valid room name (always lower case)."""
    return ROOM_NAME.fullmatch(name) is not None


def fold_user(name: str) -> str:
    """The case-insensitive key of a user name.

    ASCII lower case: the name rules allow ASCII only, so this equals IRC's ``ascii``
    CASEMAPPING and the store's uniqueness.
    """
    return name.lower()


def text_problem(text: str, max_text: int) -> str | None:
    """Why ``text`` may not be sent, or None when it is fine."""
    if not text:
        return "text is empty"
    if len(text) > max_text:
        return f"text is longer than max_text ({max_text} characters)"
    if _CONTROL.search(text) is not None:
        return "text holds control characters (only tab is allowed)"
    return None
