"""Transcripts: a conversation's history as an HTML page, JSON Lines or plain text.

- :mod:`~teahouse.export.record`: :class:`TranscriptMessage`, what the renderers take;
- :mod:`~teahouse.export.render`: the three renderers, pure and streaming;
- :mod:`~teahouse.export.escape` and :mod:`~teahouse.export.style`: how text is made safe
  to show, and the page's style and Content-Security-Policy;
- :mod:`~teahouse.export.source`: every SQL query, on the database opened read-only;
- :mod:`~teahouse.export.output` and :mod:`~teahouse.export.command`: private files and
  stdout, and ``teahouse export`` itself.

The desktop client saves an open conversation through the same renderers
(:mod:`teahouse.gui.export`).
"""

from teahouse.export.record import TranscriptMessage
from teahouse.export.render import (
    Format,
    render_html,
    render_jsonl,
    render_text,
    write,
    write_html,
    write_jsonl,
    write_text,
)

__all__ = [
    "Format",
    "TranscriptMessage",
    "render_html",
    "render_jsonl",
    "render_text",
    "write",
    "write_html",
    "write_jsonl",
    "write_text",
]
