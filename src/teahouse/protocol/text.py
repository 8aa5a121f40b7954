"""The one set of rules for text that leaves the server, as pure functions.

Free text reaches other people's terminals and windows: messages, notices, kick/part/quit
reasons, away text, topics. Raw, an ESC sequence clears a screen or plants an OSC 8
hyperlink, a NUL or CR cuts an IRC line in two, and a right-to-left override makes text
read as something else. So:

- **Core text** is what the hub stores and relays: any Unicode text without the
  :data:`UNSAFE` code points, which may hold mIRC formatting codes (:data:`IRC_FORMATTING`).
  :func:`clean_text` makes core text out of whatever a door received.
- **Each door's encoder** renders core text for its wire: :func:`for_irc` keeps the
  formatting codes, :func:`for_native` strips them (native clients show plain text). Both
  also remove anything unsafe, so an encoder is safe even when handed text that was never
  cleaned.
- **say/dm** from native clients are checked against the protocol contract by
  :func:`text_problem` (1..max_text characters, no control character but tab), which refuses
  rather than cleans, so the sender gets a clear error.

What is removed (:data:`UNSAFE`), and why:

- C0 controls except tab, DEL, C1 (U+0080-U+009F): terminal escapes (ESC, CSI, OSC),
  NUL/CR/LF that split protocol lines, BEL.
- Line breaks of every kind (LF, CR, VT, FF, NEL, U+2028, U+2029) become one space, so
  no text can fake a second line (``<admin> ...``) in a client that honours them; ``\\r\\n``
  counts as one break.
- Bidi embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069): they reorder
  everything up to the end of the paragraph, and a client draws a reason or a message in
  one paragraph with the names around it (Trojan Source, CVE-2021-42574, used both kinds).
- Invisible characters with no use in chat text that hide or split words: ZERO WIDTH SPACE
  U+200B, WORD JOINER and the invisible operators U+2060-U+2064, the deprecated format
  controls U+206A-U+206F, ZERO WIDTH NO-BREAK SPACE / BOM U+FEFF, interlinear annotation
  U+FFF9-U+FFFB, and tag characters U+E0000-U+E007F (invisible ASCII, "ASCII smuggling")
  except inside an emoji flag tag sequence such as England's.
- Lone surrogates U+D800-U+DFFF: not text; encoding them to UTF-8 raises.

What is kept, and why: tab; ZWNJ U+200C and ZWJ U+200D (emoji ZWJ sequences such as
families, Persian and Indic spelling); LRM U+200E, RLM U+200F and ALM U+061C (marks, not
scopes: they cannot reverse a span, and mixed right-to-left text needs them); soft hyphen,
variation selectors, combining marks, private use.

Every function here is pure and idempotent.
"""

from __future__ import annotations

import re

IRC_FORMATTING = "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f"
"""mIRC codes: bold, colour, hex colour, reset, monospace, reverse, italic, strike, underline."""

_BREAK_CHARS = "\n\r\x0b\x0c\x85\u2028\u2029"
_BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
_INVISIBLE = "\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb"
_TAGS = "\U000e0000-\U000e007f"
_SURROGATES = "\ud800-\udfff"

UNSAFE = (
    "\x00-\x08\x0a-\x1f\x7f-\x9f"
    + "\u2028\u2029"
    + _BIDI_CONTROLS
    + _INVISIBLE
    + _TAGS
    + _SURROGATES
)
"""The code points no outgoing text holds, as the body of a regex character class.

IRC formatting codes are among them (they are C0); :func:`for_irc` and core text keep
those alone. Tag characters are allowed only inside an emoji flag tag sequence.
"""

MAX_REASON = 390
"""A bound for short texts (kick, part and quit reasons, away text, topics): what fits in one
IRC line beside its prefix, as ``core.hub.MAX_TOPIC`` already is."""

_BREAK = re.compile(f"\r\n|[{_BREAK_CHARS}]")
_FORMATTING_SET = frozenset(IRC_FORMATTING)
# Everything in UNSAFE but breaks (already spaces), formatting codes and tags (kept or
# dropped by _safe).
_DROP_KEEPING_FORMATTING = re.compile(
    "["
    + "".join(
        f"\\x{c:02x}"
        for c in [*range(0x00, 0x09), *range(0x0A, 0x20), *range(0x7F, 0xA0)]
        if chr(c) not in _FORMATTING_SET and chr(c) not in _BREAK_CHARS
    )
    + _BIDI_CONTROLS
    + _INVISIBLE
    + _SURROGATES
    + "]"
)
_FORMATTING_CODE = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"  # colour: \x03[fg[,bg]], bg only after fg
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"  # hex colour: \x04[RRGGBB[,RRGGBB]]
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
_FORMATTING_CHAR = re.compile(f"[{IRC_FORMATTING}]")
_UNSAFE_CHAR = re.compile(f"[{UNSAFE}]")
_NO_FORMATTING = str.maketrans("", "", IRC_FORMATTING)
_TAG = re.compile(f"[{_TAGS}]")
FLAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{2,7}\U000e007f")
"""An emoji flag tag sequence (England's flag is one): the only place tag characters stay.

Black flag, a subdivision code in tag digits and tag letters (a region and up to four more,
so a "flag" cannot carry a long hidden payload), CANCEL TAG."""
# The tags of a flag sequence that a cut left open, at the very end of the text.
_OPEN_FLAG_TAGS = re.compile("(?<=\U0001f3f4)[\U000e0030-\U000e0039\U000e0061-\U000e007a]+\\Z")


def clean_text(text: str, max_chars: int, *, formatting: bool = False) -> str:
    """Core text from text a door received: unsafe code points out, at most ``max_chars``.

    Line breaks become spaces, every other :data:`UNSAFE` code point is removed, and the
    result is cut to ``max_chars`` code points (never inside an emoji flag sequence). With
    ``formatting=True`` (text from an IRC client) mIRC formatting codes stay, for IRC
    recipients; with ``formatting=False`` (text from a native client or an operator) they
    are stripped as IRC clients would, so ``"\\x0304red"`` becomes ``"red"``.

    The result may be empty (a reason that was all escapes): the caller decides whether
    that means "no reason" or an error. Idempotent: ``clean_text(clean_text(t, n), n) ==
    clean_text(t, n)``.
    """
    if max_chars < 0:
        raise ValueError("max_chars must be >= 0")
    text = _safe(text) if formatting else for_native(text)
    if len(text) > max_chars:
        text = _OPEN_FLAG_TAGS.sub("", text[:max_chars])
    return text


def for_irc(text: str) -> str:
    """Core text as the IRC door sends it: formatting codes kept, nothing unsafe.

    The identity on core text; on any other text it removes what :func:`clean_text` would
    (no length bound: the IRC encoder splits or cuts lines itself). Its result never holds
    CR, LF or NUL, so it cannot end an IRC line early.
    """
    return _safe(text)


def for_native(text: str) -> str:
    """Core text as the native door sends it: plain, formatting stripped, nothing unsafe.

    ``for_native(t) == for_native(for_irc(t))`` and ``for_irc(for_native(t)) ==
    for_native(t)``: the native rendering is also safe for IRC.
    """
    if _UNSAFE_CHAR.search(text) is None:  # formatting codes are unsafe too: one scan
        return text
    return strip_irc_formatting(_safe(text))


def strip_irc_formatting(text: str) -> str:
    """Drop mIRC formatting codes: bold, colours with their digits, reset, and the rest.

    ``\\x03`` takes up to two digits of foreground, then ``,`` and up to two digits of
    background only after a foreground (a lone ``\\x03,5`` keeps ``,5`` as text, as clients
    show it); ``\\x04`` takes ``RRGGBB[,RRGGBB]``. Only ASCII digits count. Other control
    characters are left alone: this is about looks, :func:`clean_text` is about safety.
    """
    if _FORMATTING_CHAR.search(text) is None:
        return text
    return _FORMATTING_CODE.sub("", text)


def has_unsafe(text: str, *, formatting: bool = False) -> bool:
    """True if ``text`` holds a code point that no outgoing text may hold.

    Tag characters inside an emoji flag tag sequence are fine. IRC formatting codes are
    unsafe unless ``formatting=True`` (core text and IRC output may hold them).
    ``has_unsafe(for_native(t))`` and ``has_unsafe(for_irc(t), formatting=True)`` are
    always False.
    """
    rest = FLAG_SEQUENCE.sub("", text)
    if formatting:
        rest = rest.translate(_NO_FORMATTING)
    return _UNSAFE_CHAR.search(rest) is not None


def text_problem(text: str, max_text: int) -> str | None:
    """Why ``text`` may not be a native ``say``/``dm`` text, or None when it is fine.

    The protocol contract: 1..``max_text`` characters, no control character (Unicode
    category Cc) other than tab. It refuses instead of cleaning, so the sender gets a
    clear error; the text it lets through may still hold invisible characters that
    :func:`clean_text` removes before the core stores it.
    """
    if not text:
        return "text is empty"
    if len(text) > max_text:
        return f"text is longer than max_text ({max_text} characters)"
    if _CONTROL.search(text) is not None:
        return "text holds control characters (only tab is allowed)"
    return None


# Unicode category Cc but tab: C0 (but \t), DEL and C1.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    """Breaks to spaces, unsafe code points out but formatting codes and flag sequences."""
    if _UNSAFE_CHAR.search(text) is None:  # the common case: one scan, no copy
        return text
    text = _BREAK.sub(" ", text)
    text = _DROP_KEEPING_FORMATTING.sub("", text)
    if _TAG.search(text) is None:
        return text
    pieces: list[str] = []
    start = 0
    for flag in FLAG_SEQUENCE.finditer(text):
        pieces.append(_TAG.sub("", text[start : flag.start()]))
        pieces.append(flag.group())
        start = flag.end()
    pieces.append(_TAG.sub("", text[start:]))
    return "".join(pieces)
