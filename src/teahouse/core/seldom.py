"""Attributes most objects leave at their default, kept in one rare-state object.

Thousands of sessions and connections live at once, and most never set an away text, a
role, a ``PASS`` or MONITOR targets. A :class:`SeldomField` keeps such an attribute in its
owner's rare-state object (``owner._seldom``), made when the attribute is set to anything
but its default and let go once every field in it is back at its default: one slot on
every owner instead of one per attribute.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar, cast, overload

_T = TypeVar("_T")


class SeldomOwner(Protocol):
    """What an owner supplies: the slot, and making and letting go of the object in it."""

    @property
    def _seldom(self) -> object | None: ...

    def _seldom_state(self) -> object:
        """The rare-state object, made if there is none."""

    def _forget_seldom(self) -> None:
        """Drop the rare-state object if every field in it is at its default."""


class SeldomField(Generic[_T]):
    """An attribute of the same name on the owner's rare-state object, read as ``default``
    while there is none. Setting it to ``default`` (anything equal) stores the default
    itself and may let the object go; anything else makes the object if needed."""

    def __init__(self, default: _T, doc: str) -> None:
        self.default = default
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> SeldomField[_T]: ...

    @overload
    def __get__(self, obj: SeldomOwner, owner: type | None = None) -> _T: ...

    def __get__(self, obj: SeldomOwner | None, owner: type | None = None) -> _T | SeldomField[_T]:
        if obj is None:
            return self
        seldom = obj._seldom
        if seldom is None:
            return self.default
        return cast(_T, getattr(seldom, self.name))

    def __set__(self, obj: SeldomOwner, value: _T) -> None:
        if value != self.default:
            setattr(obj._seldom_state(), self.name, value)
            return
        seldom = obj._seldom
        if seldom is not None:
            setattr(seldom, self.name, self.default)
            obj._forget_seldom()
