"""Repeated log lines are counted, not written: a flood cannot wash the logs away.

:class:`Aggregator` is a handler in front of the real ones (console, file). It sorts each
record by its *template* — the logger's name and the format string, ``record.msg``, before
its arguments are filled in — and by its *source*, the client address the record carries
in ``record.peer`` (logged with ``extra={"peer": ip}``, the address alone, never the
port). In each window of ``window`` seconds it writes, per template:

- at most ``policy.burst`` lines from each source, and at most ``policy.cap`` lines in all
  (whatever the number of sources; a record without a source counts against the cap only);
- when the window ends, one summary line per source that had lines held back, for at most
  ``policy.summaries`` sources, and one more line for the rest of the sources and one for
  the lines without a source:
  ``...and 37 more like "bad frame peer=%s" from 198.51.100.7 in 10 s``.

So a template writes at most ``cap + summaries + 2`` lines per window, whatever arrives.

A window ends when a record arrives after it or when :meth:`Aggregator.flush_summaries` is
called after it; the server calls that once a second, so summaries are never more than a
second late. The aggregator has no timer of its own, and its clock is injectable.

Memory is bounded: at most ``max_sources`` (source, template) pairs are tracked, the oldest
dropped first (its held-back count moves into its template's line for other sources), and
at most ``max_templates`` templates; beyond that, the new templates of a logger share one
entry. Loggers in ``exempt`` (the audit log) pass through untouched, never dropped.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

# The template of a logger's lines beyond max_templates (see Aggregator._template_for).
OVERFLOW_TEMPLATE = "(lines of too many other kinds)"
TEMPLATE_SHOWN = 80  # characters of a template quoted in a summary line


@dataclass(frozen=True, slots=True)
class Policy:
    """How many lines of one template are written per window, and how summaries read.

    The summary formats are ``str.format`` strings with the fields ``count`` (lines held
    back), ``template`` (the format string, cut to 80 characters), ``peer`` (the source),
    ``sources`` (how many other sources) and ``window`` (seconds).
    """

    burst: int = 5
    cap: int = 100
    summaries: int = 10
    source_summary: str = '...and {count} more like "{template}" from {peer} in {window:g} s'
    others_summary: str = (
        '...and {count} more like "{template}" from {sources} other sources in {window:g} s'
    )
    sourceless_summary: str = '...and {count} more like "{template}" in {window:g} s'


class _Template:
    __slots__ = ("key", "level", "other_sources", "others", "passed", "policy", "sourceless")

    def __init__(self, key: tuple[str, str], level: int, policy: Policy) -> None:
        self.key = key
        self.level = level
        self.policy = policy
        self.passed = 0  # lines written in this window, from all sources
        self.sourceless = 0  # lines held back that carried no source
        self.others = 0  # lines held back from sources without a line of their own
        self.other_sources = 0


class _Source:
    __slots__ = ("held", "template", "written")

    def __init__(self, template: _Template) -> None:
        self.template = template
        self.written = 0
        self.held = 0


def template_of(record: logging.LogRecord) -> str:
    """The part of a record that stays the same from one occurrence to the next."""
    msg = record.msg
    return msg if isinstance(msg, str) else f"<{type(msg).__name__}>"


class Aggregator(logging.Handler):
    """Hands records on to ``targets``, holding back repeats (see the module docstring).

    The aggregator owns its targets: closing it closes them.

    ``policies`` maps a logger's exact name to its :class:`Policy`; other loggers get
    ``default``. The summaries are records of the template's logger and of the level of its
    first record in the window, handed to the targets like any other.
    """

    def __init__(
        self,
        targets: Sequence[logging.Handler],
        *,
        window: float = 10.0,
        default: Policy | None = None,
        policies: Mapping[str, Policy] | None = None,
        exempt: Collection[str] = (),
        max_sources: int = 10_000,
        max_templates: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.targets = list(targets)
        self.window = window
        self.default = default if default is not None else Policy()
        self.policies = dict(policies or {})
        self.exempt = frozenset(exempt)
        self.max_sources = max_sources
        self.max_templates = max_templates
        self.clock = clock
        self._templates: dict[tuple[str, str], _Template] = {}
        # Ordered for dropping the oldest: popitem(last=False) is O(1), where a dict's
        # next(iter()) walks over every entry deleted before it.
        self._sources: OrderedDict[tuple[tuple[str, str], str], _Source] = OrderedDict()
        self._window_end = -math.inf

    @property
    def tracked_sources(self) -> int:
        """How many (source, template) pairs the table holds now (at most ``max_sources``)."""
        return len(self._sources)

    @property
    def tracked_templates(self) -> int:
        return len(self._templates)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.name in self.exempt:
                self._forward(record)
                return
            now = self.clock()
            if now >= self._window_end:
                self._close_window(now)
            if self._admit(record):
                self._forward(record)
        except Exception:
            self.handleError(record)

    def flush_summaries(self, now: float | None = None) -> None:
        """Write the summaries of the window if it has ended by ``now`` (default: the clock).

        The server calls this once a second, so that a summary does not wait for the next
        record. Safe to call from any thread, and cheap when there is nothing to write.
        """
        self.acquire()
        try:
            if now is None:
                now = self.clock()
            if now >= self._window_end and (self._templates or self._sources):
                self._close_window(now)
        finally:
            self.release()

    def close(self) -> None:
        """Write the summaries of the window so far, then close the targets too."""
        self.acquire()
        try:
            if self._templates or self._sources:
                self._close_window(self.clock())
            for target in self.targets:
                target.close()
        finally:
            self.release()
        super().close()

    def holds(self, name: str, msg: str, peer: str) -> bool:
        """Would a line of logger ``name`` with the format string ``msg`` about ``peer`` be
        held back if it came now? Then it is counted as held back here, and the caller
        makes no record: a flood's repeated lines cost a lookup, not a ``LogRecord``.

        Only says True for a template and source this window has already seen over their
        allowance; anything else goes the usual way, through :meth:`emit`.
        """
        if not peer or name in self.exempt:
            return False
        with self.lock:  # type: ignore[union-attr]  # Handler.createLock made it
            template = self._templates.get((name, msg))
            if template is None or self.clock() >= self._window_end:
                return False
            source = self._sources.get((template.key, peer))
            written = 0 if source is None else source.written
            if written < template.policy.burst and template.passed < template.policy.cap:
                return False
            # Held as emit would hold it (a new source past the cap included).
            self._source_for(template, peer).held += 1
            return True

    # -- the decision -----------------------------------------------------------------

    def _admit(self, record: logging.LogRecord) -> bool:
        template = self._template_for(record)
        policy = template.policy
        peer = getattr(record, "peer", None)
        if not isinstance(peer, str) or not peer:
            if template.passed < policy.cap:
                template.passed += 1
                return True
            template.sourceless += 1
            return False
        source = self._source_for(template, peer)
        if source.written < policy.burst and template.passed < policy.cap:
            source.written += 1
            template.passed += 1
            return True
        source.held += 1
        return False

    def _template_for(self, record: logging.LogRecord) -> _Template:
        key = (record.name, template_of(record))
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= self.max_templates:
                # Many kinds of lines from code that formats its own messages: one entry
                # per logger for all of them keeps the table bounded.
                key = (record.name, OVERFLOW_TEMPLATE)
                template = self._templates.get(key)
            if template is None:
                policy = self.policies.get(record.name, self.default)
                template = self._templates[key] = _Template(key, record.levelno, policy)
        return template

    def _source_for(self, template: _Template, peer: str) -> _Source:
        key = (template.key, peer)
        source = self._sources.get(key)
        if source is None:
            if len(self._sources) >= self.max_sources:
                self._drop_oldest_source()
            source = self._sources[key] = _Source(template)
        return source

    def _drop_oldest_source(self) -> None:
        _, source = self._sources.popitem(last=False)
        if source.held:
            source.template.others += source.held
            source.template.other_sources += 1

    # -- the summaries ----------------------------------------------------------------

    def _close_window(self, now: float) -> None:
        shown: dict[tuple[str, str], int] = {}
        for (key, peer), source in self._sources.items():
            if not source.held:
                continue
            template = source.template
            if shown.get(key, 0) < template.policy.summaries:
                shown[key] = shown.get(key, 0) + 1
                fmt = template.policy.source_summary
                self._summarise(template, fmt, source.held, peer=peer)
            else:
                template.others += source.held
                template.other_sources += 1
        for template in self._templates.values():
            if template.others:
                fmt = template.policy.others_summary
                self._summarise(template, fmt, template.others, sources=template.other_sources)
            if template.sourceless:
                self._summarise(template, template.policy.sourceless_summary, template.sourceless)
        self._sources.clear()
        self._templates.clear()
        self._window_end = now + self.window

    def _summarise(
        self, template: _Template, fmt: str, count: int, *, peer: str = "", sources: int = 0
    ) -> None:
        logger, text = template.key
        shown = text if len(text) <= TEMPLATE_SHOWN else text[: TEMPLATE_SHOWN - 3] + "..."
        message = fmt.format(
            count=count, template=shown, peer=peer, sources=sources, window=self.window
        )
        record = logging.LogRecord(logger, template.level, __file__, 0, message, None, None)
        if peer:
            record.peer = peer
        self._forward(record)

    def _forward(self, record: logging.LogRecord) -> None:
        for target in self.targets:
            if record.levelno >= target.level:
                target.handle(record)
