"""SeldomField: an attribute kept in a rare-state object made when needed and let go when
every field is back at its default."""

from __future__ import annotations

from teahouse.core.seldom import SeldomField

EMPTY: frozenset[str] = frozenset()


class _Rare:
    __slots__ = ("modes", "note")

    def __init__(self) -> None:
        self.note: str | None = None
        self.modes: frozenset[str] = EMPTY

    @property
    def empty(self) -> bool:
        return self.note is None and not self.modes


class Owner:
    __slots__ = ("_seldom",)

    note = SeldomField[str | None](None, "a note")
    modes = SeldomField[frozenset[str]](EMPTY, "modes")

    def __init__(self) -> None:
        self._seldom: _Rare | None = None

    def _seldom_state(self) -> _Rare:
        if self._seldom is None:
            self._seldom = _Rare()
        return self._seldom

    def _forget_seldom(self) -> None:
        if self._seldom is not None and self._seldom.empty:
            self._seldom = None


def test_defaults_cost_no_object_and_set_values_live_in_one() -> None:
    owner = Owner()
    assert (owner.note, owner.modes) == (None, EMPTY) and owner._seldom is None
    owner.note = None  # the default: still nothing made
    assert owner._seldom is None
    owner.note = "away"
    owner.modes = frozenset("i")
    rare = owner._seldom
    assert rare is not None and (rare.note, rare.modes) == ("away", frozenset("i"))
    owner.note = None
    assert owner._seldom is rare, "one field still set: kept"
    owner.modes = frozenset()  # equal to the default: the default object itself is kept
    assert owner._seldom is None and owner.modes is EMPTY


def test_the_field_on_the_class_is_the_field_with_its_doc() -> None:
    field = Owner.__dict__["note"]
    assert Owner.note is field and field.__doc__ == "a note" and field.name == "note"
