"""The parts behind :mod:`teahouse.logs`, one job each.

- ``text``: what may go into a log line (one line, no terminal controls, quoted names).
- ``formatters``: the text and JSON line formats.
- ``files``: private log files (0600 in a 0700 directory) that rotate without a stat per line.
- ``aggregate``: repeated lines from one source are counted, not written.
"""
