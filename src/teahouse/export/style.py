"""The HTML transcript's one style sheet, and the Content-Security-Policy that allows it.

The page allows nothing but this exact style element (by its SHA-256 hash): no script, no
image, no font, no request of any kind, no inline ``style`` attribute, no form, no
``<base>``. Sender colours are the desktop client's, light and dark, from
:mod:`teahouse.gui.markup`: a pure module that imports no Qt, so ``teahouse export`` runs
without the ``gui`` extra (which ``teahouse.gui`` itself must go on allowing).
"""

from __future__ import annotations

import base64
import hashlib

from teahouse.gui.markup import DARK_PALETTE, LIGHT_PALETTE, colour_index

PALETTE_SIZE = len(LIGHT_PALETTE)


def name_class(name: str) -> str:
    """The CSS class that colours ``name``: the same name, the same colour, everywhere."""
    return f"n{colour_index(name, PALETTE_SIZE)}"


def _palette(colours: tuple[str, ...]) -> str:
    return "".join(f".n{i}{{color:{colour}}}" for i, colour in enumerate(colours))


STYLE = (
    """
:root{color-scheme:light dark;--bg:#fbfaf7;--fg:#1d1d1f;--muted:#6b6b70;--rule:#e3e0d8;
--ctl-bg:#f3e3e3;--ctl-fg:#9b2c2c;--link:#1f5fa8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{padding:1.2em 1.5em .8em;border-bottom:1px solid var(--rule)}
h1{margin:0;font-size:1.35em}
header p{margin:.3em 0 0;color:var(--muted);font-size:.88em}
main{padding:.4em 0 1em}
h2.day{display:flex;align-items:center;gap:.8em;margin:1em 1.5em .4em;font-size:.8em;
font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h2.day::before,h2.day::after{content:"";flex:1;border-top:1px solid var(--rule)}
.msg{display:flex;align-items:baseline;gap:.8em;padding:.12em 1.5em}
.msg:hover{background:rgba(127,127,127,.08)}
.msg time{flex:none;color:var(--muted);font-size:.82em;font-variant-numeric:tabular-nums}
.from{flex:0 0 9em;text-align:right;font-weight:600;overflow-wrap:anywhere}
.text{flex:1 1 0;min-width:0;text-align:left;white-space:pre-wrap;overflow-wrap:anywhere;
word-break:break-word}
.action .from{color:var(--muted);font-weight:400}
.action .text{font-style:italic}
.action .who{font-weight:600;font-style:normal}
.ctl{background:var(--ctl-bg);color:var(--ctl-fg);border-radius:3px;padding:0 .15em;
font-style:normal}
a{color:var(--link)}
.empty{margin:2em 1.5em;color:var(--muted)}
footer{padding:.8em 1.5em 1.5em;border-top:1px solid var(--rule);color:var(--muted);
font-size:.82em}
"""
    + _palette(LIGHT_PALETTE)
    + "\n@media (prefers-color-scheme:dark){:root{--bg:#17181b;--fg:#e6e6e6;--muted:#9a9aa2;"
    "--rule:#2c2d31;--ctl-bg:#4a2326;--ctl-fg:#ffb4b4;--link:#79c0ff}"
    + _palette(DARK_PALETTE)
    + "}\n"
)
"""The style sheet, exactly as it appears inside the page's ``<style>`` element."""

STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode()

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; form-action 'none'"
)
"""Nothing may load or run; only :data:`STYLE` may style the page."""
