"""Reading an HTML transcript back as a browser would (html5lib), and what it may contain."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import html5lib

from teahouse.export.escape import visible

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "'><iframe src=javascript:alert(1)></iframe>",
    "</bdi></div><script>alert(1)</script>",
    "<style>body{display:none}</style>",
    "&lt;script&gt; stays &amp;lt;",
    "<!-- comment --> <![CDATA[ x ]]>",
    "\x1b[31mred\x1b[0m ESC and \x00 NUL and \x07 BEL and \x7f DEL and \x9b CSI",
    "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\",
    "\u202egnp.exe",
    "bidi \u2066isolate\u2069 \u202bembed\u202c \u200fmark",
    "w" * 4000,
    "javascript:alert(1) data:text/html,<b>x</b> vbscript:x",
    'https://example.org/a?b=1&c=<x>"y" and http://x.test/\'onmouseover=alert(1)',
    "tab\tkept and a\nnew line",
    "مرحبا بالعالم (Arabic) and שלום",
]
"""Texts that would do something if an export let them through."""

ALLOWED: dict[str, set[str]] = {
    "html": {"lang"},
    "head": set(),
    "meta": {"charset", "http-equiv", "content", "name"},
    "title": set(),
    "style": set(),
    "body": set(),
    "header": set(),
    "h1": set(),
    "h2": {"class"},
    "p": {"class"},
    "main": set(),
    "footer": set(),
    "div": {"class", "id"},
    "time": {"datetime"},
    "span": {"class"},
    "bdi": {"class"},
    "a": {"href", "rel"},
}
"""Every element and attribute a transcript page may hold: anything else came from a user."""


def parse(page: str) -> ET.Element:
    """The page as the HTML5 parsing algorithm builds it (what a browser would run)."""
    parser = html5lib.HTMLParser(
        tree=html5lib.getTreeBuilder("etree", ET), namespaceHTMLElements=False, strict=True
    )
    return parser.parse(page)  # type: ignore[no-any-return]


def assert_inert(root: ET.Element) -> None:
    """Only the renderer's own elements and attributes; links only to http(s)."""
    for element in root.iter():
        assert element.tag in ALLOWED, f"unexpected element <{element.tag}>"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"event handler {name}={value!r}"
            assert name in ALLOWED[element.tag], f"unexpected attribute {name} on {element.tag}"
        if element.tag == "a":
            assert element.attrib["href"].lower().startswith(("http://", "https://"))
            assert element.attrib["rel"] == "noopener noreferrer nofollow"


def text_of(element: ET.Element) -> str:
    return "".join(element.itertext())


def messages(root: ET.Element) -> list[ET.Element]:
    return [div for div in root.iter("div") if "msg" in div.attrib.get("class", "").split()]


def shown_text(block: ET.Element) -> str:
    """What a message block shows as its text (for an action: the name, then the text)."""
    (text,) = [e for e in block if e.attrib.get("class") == "text"]
    assert text.tag == "bdi"
    return text_of(text)


def expected(text: str) -> str:
    return visible(text)
