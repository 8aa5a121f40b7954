"""The HTML transcript: one valid page, styled by itself alone, and every user text inert."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from teahouse.export import TranscriptMessage, render_html, write_html
from teahouse.export.style import CONTENT_SECURITY_POLICY, STYLE, STYLE_HASH, name_class
from tests.unit.export.pagecheck import (
    HOSTILE,
    assert_inert,
    expected,
    messages,
    parse,
    shown_text,
    text_of,
)

DAY_MS = 86_400_000
T0 = 1_795_507_200_000  # 2026-11-24T08:00:00Z, a Tuesday


def msg(i: int, text: str, sender: str = "alice", **kw: object) -> TranscriptMessage:
    fields: dict[str, object] = {"room": "lobby", **kw}
    return TranscriptMessage(i, sender, text, T0 + i * 60_000, **fields)  # type: ignore[arg-type]


def test_a_page_with_its_head_in_order() -> None:
    page = render_html([msg(1, "hi")], "#lobby", ["From 2026-11-01 to 2026-11-30 (UTC)"])
    root = parse(page)
    head = root.find("head")
    assert head is not None
    metas = head.findall("meta")
    # The charset first, the policy before the style it allows.
    assert metas[0].attrib == {"charset": "utf-8"}
    assert metas[1].attrib["http-equiv"] == "Content-Security-Policy"
    policy = metas[1].attrib["content"]
    assert policy == CONTENT_SECURITY_POLICY
    assert policy.startswith("default-src 'none'; ")
    assert f"style-src '{STYLE_HASH}'" in policy and "unsafe" not in policy
    children = list(head)
    assert children.index(metas[1]) < children.index(head.find("style"))  # type: ignore[arg-type]
    # The hash is of the style element's exact text.
    style = head.find("style")
    assert style is not None and style.text == STYLE
    assert text_of(root.find("body/header/h1")) == "#lobby"  # type: ignore[arg-type]
    assert "From 2026-11-01 to 2026-11-30 (UTC)" in text_of(root.find("body/header"))  # type: ignore[arg-type]
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert " style=" not in page  # the policy would refuse inline style attributes


def test_hostile_text_is_shown_not_obeyed() -> None:
    sent = [msg(i, text, sender="mallory") for i, text in enumerate(HOSTILE, 1)]
    page = render_html(sent, "#lobby")
    root = parse(page)  # strict: any parse error raises
    assert_inert(root)
    blocks = messages(root)
    assert [shown_text(b) for b in blocks] == [expected(t) for t in HOSTILE]
    for name in ("script", "img", "svg", "iframe", "object", "embed", "form", "math"):
        assert root.find(f".//{name}") is None
    # No raw control character or bidi override anywhere in the page.
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", page)


def test_controls_and_overrides_are_marked_escapes() -> None:
    root = parse(render_html([msg(1, "a\x1bb\u202ec")], "#lobby"))
    (block,) = messages(root)
    marks = [text_of(e) for e in block.iter("span") if e.attrib.get("class") == "ctl"]
    assert marks == ["\\x1b", "\\u202e"]
    assert shown_text(block) == "a\\x1bb\\u202ec"


def test_each_name_and_text_is_isolated_from_bidi() -> None:
    root = parse(render_html([msg(1, "שלום", sender="bob"), msg(2, "waves", action=True)], "#x"))
    plain, action = messages(root)
    kinds = [(e.tag, e.attrib.get("class", "")) for e in plain]
    assert kinds == [("time", ""), ("bdi", f"from {name_class('bob')}"), ("bdi", "text")]
    # An action: "* alice waves", the name inside the isolated text.
    assert "action" in action.attrib["class"].split()
    assert shown_text(action) == "alice waves"
    assert [e.tag for e in action.iter() if "who" in e.attrib.get("class", "")] == ["bdi"]


def test_links_only_for_http_and_https() -> None:
    text = "see https://example.org/tea?a=1&b=2. or (http://x.test/wiki_(tea)), not ftp://f.test"
    root = parse(render_html([msg(1, text), msg(2, "javascript:alert(1) www.example.org")], "#x"))
    assert_inert(root)
    anchors = list(root.iter("a"))
    assert [a.attrib["href"] for a in anchors] == [
        "https://example.org/tea?a=1&b=2",
        "http://x.test/wiki_(tea)",
    ]
    assert [text_of(a) for a in anchors] == [a.attrib["href"] for a in anchors]
    assert [shown_text(b) for b in messages(root)] == [text, "javascript:alert(1) www.example.org"]


def test_a_day_heading_when_the_utc_date_changes() -> None:
    sent = [
        TranscriptMessage(1, "alice", "a", T0, room="x"),
        TranscriptMessage(2, "alice", "b", T0 + 3_600_000, room="x"),
        TranscriptMessage(3, "bob", "c", T0 + DAY_MS, room="x"),
    ]
    root = parse(render_html(sent, "#x"))
    days = [(h.find("time").attrib["datetime"], text_of(h)) for h in root.iter("h2")]  # type: ignore[union-attr]
    assert days == [
        ("2026-11-24", "Tuesday 24 November 2026"),
        ("2026-11-25", "Wednesday 25 November 2026"),
    ]
    times = [b.find("time") for b in messages(root)]
    assert [(t.attrib["datetime"], t.text) for t in times if t is not None] == [
        ("2026-11-24T08:00:00.000Z", "08:00:00"),
        ("2026-11-24T09:00:00.000Z", "09:00:00"),
        ("2026-11-25T08:00:00.000Z", "08:00:00"),
    ]


def test_the_same_name_has_the_same_colour() -> None:
    root = parse(render_html([msg(1, "a"), msg(2, "b", sender="bob"), msg(3, "c")], "#x"))
    names = [b[1] for b in messages(root)]
    classes = [n.attrib["class"] for n in names]
    assert classes[0] == classes[2] == f"from {name_class('alice')}"
    assert name_class("Alice") == name_class("alice")  # names compare without case
    assert re.fullmatch(r"n\d+", name_class("bob"))
    assert f".{name_class('bob')}{{color:" in STYLE


def test_long_words_may_wrap() -> None:
    assert "overflow-wrap:anywhere" in STYLE.split(".text{", 1)[1].split("}", 1)[0]


def test_hostile_title_and_details() -> None:
    root = parse(render_html([], "</title><script>x</script>\u202e", ["<b>\x1b</b>"]))
    assert_inert(root)
    assert root.find("head/title").text == "</title><script>x</script>\\u202e"  # type: ignore[union-attr]
    assert text_of(root.find("body/header/h1")) == "</title><script>x</script>\\u202e"  # type: ignore[arg-type]
    assert text_of(root.find("body/main")).strip() == "No messages."  # type: ignore[arg-type]


def test_written_as_it_goes() -> None:
    """Each message reaches the file before the next one is asked for: a million messages
    never sit in memory together."""
    out = io.StringIO()
    seen: list[int] = []

    def source() -> Iterator[TranscriptMessage]:
        for i in range(1, 2001):
            if i > 1:
                assert f'id="m{i - 1}"' in out.getvalue()[-2000:]
            seen.append(i)
            yield msg(i, f"line {i}")

    assert write_html(source(), out, title="#lobby") == 2000
    assert len(seen) == 2000
    assert "2000 messages" in out.getvalue()


# Any character, and more often the pieces of markup and of escapes.
TOKENS = st.sampled_from(
    [
        "<",
        ">",
        "&",
        '"',
        "'",
        "`",
        "=",
        "/",
        "<script>",
        "<img src=x onerror=",
        "<svg/onload=",
        "https://",
        "http://a.b/",
        "javascript:",
        "<!--",
        "]]>",
        "&#x3c;",
        "&lt;",
        "\x00",
        "\x1b",
        "\x9b",
        "\u202e",
        "\u2066",
        "\r\n",
        "\t",
        "</bdi>",
        "</div>",
        "\\x1b",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(st.characters(), TOKENS), min_size=1, max_size=60).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(st.text(min_size=1, max_size=200), HOSTILE_TEXT),
    sender=st.one_of(st.text(min_size=1, max_size=40), HOSTILE_TEXT),
    action=st.booleans(),
)
def test_any_text_stays_text(text: str, sender: str, action: bool) -> None:
    """Whatever the text and the name, the page has only the renderer's own elements, and
    each shows exactly the (visibly escaped) text."""
    root = parse(render_html([msg(7, text, sender=sender, action=action)], "#lobby"))
    assert_inert(root)
    (block,) = messages(root)
    if action:
        assert shown_text(block) == f"{expected(sender)} {expected(text)}"
    else:
        assert shown_text(block) == expected(text)
        assert text_of(block[1]) == expected(sender)


def test_a_lone_surrogate_is_shown_as_an_escape() -> None:
    # Found by hypothesis: a name or text holding one could not be encoded at all.
    root = parse(render_html([msg(7, "a\ud800b", sender="\udfff")], "#lobby"))
    (block,) = messages(root)
    assert shown_text(block) == "a\\ud800b"
    assert text_of(block[1]) == "\\udfff"
