"""Room mode strings as IRC and the native ``mode`` frame spell them (``"+kl-i"`` with
their arguments in order): which letters exist, which read an argument, and the parser
every door, the operator commands and the clients share."""

from __future__ import annotations

MODE_FLAGS = "Cimnst"
"""Room flags without an argument: no CTCP, invite only, moderated, no messages from
outside, secret, topic locked to operators."""
MODE_LISTS = "beI"
"""Room list modes, each a list of masks: bans, ban exceptions, invite exceptions."""
MODE_LETTERS = MODE_FLAGS + "klov" + MODE_LISTS
"""Every room mode letter the hub knows."""

ModeWanted = tuple[str, str, str | None]
"""One requested change: ``(sign, letter, argument)``."""


def takes_argument(sign: str, letter: str) -> bool:
    """Whether ``letter`` set (``+``) or unset (``-``) reads an argument: ``o v b e I k``
    always (``-k`` may go without), ``l`` only when set."""
    return letter in "ovkbeI" or (letter == "l" and sign == "+")


def parse_mode_changes(changes: str, args: list[str]) -> tuple[list[ModeWanted], list[str]]:
    """``"+kl-i", ["key", "10"]`` -> ``[("+","k","key"), ("+","l","10"), ("-","i",None)]``,
    and the letters left out because their argument was missing (``-k`` needs none)."""
    wanted: list[ModeWanted] = []
    missing: list[str] = []
    rest = list(args)
    sign = "+"
    for ch in changes:
        if ch in "+-":
            sign = ch
        elif not takes_argument(sign, ch):
            wanted.append((sign, ch, None))
        elif rest:
            wanted.append((sign, ch, rest.pop(0)))
        elif ch == "k" and sign == "-":
            wanted.append((sign, ch, None))
        else:
            missing.append(ch)
    return wanted, missing
