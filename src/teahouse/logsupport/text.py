"""What may go into a log line: one line, no terminal controls, attacker text quoted.

A log line is read by people on a terminal (the console prints with escape sequences
passed through) and by programs that split on newlines and fields (fail2ban). Text from
outside (an attempted user name, an exception's message) must not start a line of its
own, move the cursor or forge a ``key=value`` field, so it passes through here first.
"""

from __future__ import annotations

import ipaddress
import json
import re

# C0 and C1 controls, DEL, the Unicode line separators, and the bidirectional overrides and
# isolates (which can make a terminal show a line in another order than it is stored).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TOKEN_UNSAFE = re.compile(r"[^a-z0-9_.-]")

# A security limit: the longest attempted user name a log line repeats (user names are at
# most 32 characters; anything longer is cut, and the line says how long it was).
USER_LOG_LIMIT = 64


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``, ``\\u202e``).

    The result holds no line break and nothing a terminal acts on. Text without such
    characters is returned as it is (the common case costs one ``isprintable`` call).
    """
    if text.isprintable():
        return text
    return _UNSAFE.sub(_escape, text)


def quote_name(name: str | None, limit: int = USER_LOG_LIMIT) -> str:
    """A name for a ``user=`` field: JSON-quoted ASCII, at most ``limit`` characters of it.

    ``None`` (no name was given) becomes ``-``, which no quoted name can be. A name longer
    than ``limit`` is cut and followed by `` cut_from=N``. Inside the quotes ``"``, ``\\``,
    controls and every non-ASCII character are escaped, so the name can never end the
    field, start another one, or start a new line.
    """
    if name is None:
        return "-"
    quoted = json.dumps(name[:limit], ensure_ascii=True).replace("\x7f", "\\u007f")
    if len(name) > limit:
        return f"{quoted} cut_from={len(name)}"
    return quoted


def address(peer: str | None) -> str:
    """A client's address for a ``peer=`` field: a normalised IP address, else ``-``.

    An IPv4 address mapped into IPv6 (``::ffff:198.51.100.7``, from a dual-stack
    listener) becomes the IPv4 address, and an IPv6 zone (``%eth0``) is dropped, so that
    fail2ban bans the address the firewall sees. Anything that is not an IP address
    becomes ``-``, which fail2ban's ``<HOST>`` does not match.
    """
    if not peer:
        return "-"
    try:
        ip = ipaddress.ip_address(peer)
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Address(int(ip)))
    return str(ip)


def token(word: str, limit: int = 32) -> str:
    """A word for a field the code chooses (``door=``, ``reason=``): ``[a-z0-9_.-]``, bounded."""
    return _TOKEN_UNSAFE.sub("_", word.lower()[:limit]) or "-"
