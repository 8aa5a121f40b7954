"""Names people can tell apart: TR39 skeletons, the look-alike key, reserved names."""

from __future__ import annotations

import importlib.util
import itertools
import string
import unicodedata
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teahouse.protocol import _confusables_ascii as table
from teahouse.protocol.lookalike import (
    RESERVED_NAMES,
    NameClash,
    confusable_key,
    name_clash,
    reserved_name,
    skeleton,
)
from teahouse.protocol.names import fold_user, is_user_name

ROOT = Path(__file__).resolve().parents[3]
NAME_CHARS = string.ascii_letters + string.digits + "_-[]\\^{}|"

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-\[\]\\^{}|]{0,31}", fullmatch=True)
# Names drawn mostly from the characters the table maps, so that clashes are common.
lookalike_names = st.text(alphabet="aIil1|0oOmMrnN", min_size=1, max_size=8).map(lambda s: "x" + s)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_confusables", ROOT / "tools" / "gen_confusables.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def casings(name: str) -> list[str]:
    """Every spelling of ``name`` in upper and lower case letters."""
    choices = [{c.lower(), c.upper()} for c in name]
    return ["".join(p) for p in itertools.product(*choices)]


# -- the data ------------------------------------------------------------------------------


def test_the_committed_table_is_what_the_generator_makes_of_unicodes_file() -> None:
    generator = load_generator()
    committed = (ROOT / "src" / "teahouse" / "protocol" / "_confusables_ascii.py").read_text()
    assert committed == generator.generate(), "run: python tools/gen_confusables.py"


def test_the_table_names_the_unicode_version_it_was_cut_from() -> None:
    assert table.UNICODE_VERSION == "13.0.0"


def test_skeleton_agrees_with_tr39_on_the_whole_confusables_file() -> None:
    """The runtime table gives what the full file gives, for every printable ASCII character."""
    generator = load_generator()
    _, full = generator.parse(generator.package_data().read_text(encoding="utf-8"))
    for char in map(chr, range(0x20, 0x7F)):
        expected = unicodedata.normalize("NFD", full.get(char, char))
        assert skeleton(char) == expected, char


@given(st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], max_size=40))
def test_skeleton_is_tr39s_definition(text: str) -> None:
    mapped = "".join(table.PROTOTYPES.get(c, c) for c in unicodedata.normalize("NFD", text))
    assert skeleton(text) == unicodedata.normalize("NFD", mapped)


# -- skeleton: TR39 as it is, case-sensitive -----------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aIice", "alice"),  # capital I looks like small l
        ("alice", "alice"),
        ("a1ice", "alice"),
        ("a|ice", "alice"),
        ("mallory", "rnallory"),  # m looks like rn
        ("rnallory", "rnallory"),
        ("0scar", "Oscar"),  # zero looks like capital O ...
        ("Oscar", "Oscar"),
        ("oscar", "oscar"),  # ... and TR39 says nothing of small o
    ],
)
def test_skeleton_maps_as_unicode_says(name: str, expected: str) -> None:
    assert skeleton(name) == expected


@pytest.mark.parametrize("text", ["élise", "ａlice", "al\u0131ce", "alice\n", "\x00"])
def test_skeleton_refuses_what_its_table_does_not_cover(text: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        skeleton(text)


def test_tr39_alone_is_case_sensitive() -> None:
    assert skeleton("Alice") != skeleton("alice")
    assert skeleton("0scar") != skeleton("oscar")


# -- the key and the clash rule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        ("aIice", "alice"),
        ("rnallory", "mallory"),
        ("RNALLORY", "mallory"),
        ("0scar", "Oscar"),
        ("0scar", "oscar"),  # the owner of oscar may show as Oscar
        ("AIICE", "alice"),  # alice may show as AlICE, whose skeleton is AIICE's
        ("Ian", "lan"),
        ("ian", "lan"),  # registered as ian, then shown as Ian
        ("b0b1", "bobl"),
        ("x|y", "xly"),
    ],
)
def test_names_that_look_alike_clash(wanted: str, held: str) -> None:
    assert name_clash(wanted, held) is NameClash.CONFUSABLE
    assert name_clash(held, wanted) is NameClash.CONFUSABLE
    assert confusable_key(wanted) == confusable_key(held)


@pytest.mark.parametrize(
    ("wanted", "held"), [("Alice", "alice"), ("ALICE", "alice"), ("N[1]", "n[1]")]
)
def test_the_same_name_in_another_case_is_the_same_name(wanted: str, held: str) -> None:
    assert name_clash(wanted, held) is NameClash.SAME


@pytest.mark.parametrize(
    ("wanted", "held"),
    [
        ("bob", "alice"),
        ("alice", "alicia"),
        ("mallory", "mallorv"),
        ("oscar", "oskar"),
        ("al", "a_l"),
    ],
)
def test_names_that_differ_do_not_clash(wanted: str, held: str) -> None:
    assert name_clash(wanted, held) is None


def test_the_price_i_and_l_never_tell_names_apart() -> None:
    # ali may be written alI, which reads as all
    assert name_clash("ali", "all") is NameClash.CONFUSABLE


@given(names, st.lists(st.booleans(), min_size=32, max_size=32))
def test_the_key_does_not_depend_on_case(name: str, upper: list[bool]) -> None:
    spelled = "".join(c.upper() if up else c.lower() for c, up in zip(name, upper, strict=False))
    assert confusable_key(spelled) == confusable_key(name)


@given(names | lookalike_names, names | lookalike_names)
def test_equal_skeletons_or_equal_folds_mean_equal_keys(a: str, b: str) -> None:
    if skeleton(a) == skeleton(b) or fold_user(a) == fold_user(b):
        assert confusable_key(a) == confusable_key(b)


@given(lookalike_names, lookalike_names, lookalike_names)
def test_clashing_is_an_equivalence(a: str, b: str, c: str) -> None:
    def clash(x: str, y: str) -> bool:
        return name_clash(x, y) is not None

    assert clash(a, a)
    assert clash(a, b) == clash(b, a)
    if clash(a, b) and clash(b, c):
        assert clash(a, c)


def test_keys_are_equal_exactly_when_some_casings_have_equal_skeletons() -> None:
    """The docstring's rule, checked on every string of up to 3 of the mapped characters."""
    alphabet = "ail1|o0mrn"
    words = ["".join(p) for n in range(1, 4) for p in itertools.product(alphabet, repeat=n)]
    skeletons = {w: {skeleton(c) for c in casings(w)} for w in words}
    by_skeleton: dict[str, set[str]] = defaultdict(set)
    for word, skels in skeletons.items():
        for skel in skels:
            by_skeleton[skel].add(word)
    # some casings share a skeleton -> equal keys
    for group in by_skeleton.values():
        assert len({confusable_key(w) for w in group}) == 1, group
    # equal keys -> some casings share a skeleton
    by_key: dict[str, list[str]] = defaultdict(list)
    for word in words:
        by_key[confusable_key(word)].append(word)
    for group in by_key.values():
        for a, b in itertools.combinations(group, 2):
            assert skeletons[a] & skeletons[b], (a, b)
    assert len(by_key["rn"]) > 1  # "m" and "rn" share it: the check is not vacuous


@given(names)
def test_keys_are_printable_ascii_of_about_the_names_length(name: str) -> None:
    key = confusable_key(name)
    assert key.isascii() and key.isprintable()
    assert len(name) <= len(key) <= 2 * len(name)


# -- reserved names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "NickServ",
        "nickserv",
        "NICKSERV",
        "NlckServ",  # small L for i
        "N1ckServ",
        "NIckServ",
        "Nick_Serv",
        "NickServ2",
        "NickServ_",
        "ChanServ",
        "Chan-Serv",
        "StatServ",  # any *Serv reads as a service
        "Global",
        "services",
        "teahouse",
        "server",
        "admin",
        "adm1n",
        "Admin_",
        "root",
        "r00t",
        "operator",
        "sysop",
    ],
)
def test_service_and_staff_names_are_reserved(name: str) -> None:
    assert is_user_name(name)
    assert reserved_name(name)


@pytest.mark.parametrize(
    "name", ["alice", "nick", "Serva", "rooted", "administer", "globally", "operators_fan", "tea"]
)
def test_ordinary_names_are_not_reserved(name: str) -> None:
    assert not reserved_name(name)


def test_every_listed_name_is_a_valid_user_name_and_reserved() -> None:
    for name in RESERVED_NAMES:
        assert is_user_name(name), name
        assert reserved_name(name), name


def test_the_deployment_adds_its_own_names() -> None:
    assert not reserved_name("TeaNet")
    assert reserved_name("TeaNet", extra=["teanet"])
    assert reserved_name("TeaNet", extra=["Tea.Net"])  # a network name may hold a dot
    assert reserved_name("Tea_Net", extra=["teanet", "caf\u00e9"])


@given(names)
def test_reserved_is_decided_by_the_key(name: str) -> None:
    assert reserved_name(name) == reserved_name(name.swapcase())
