"""The scenarios of ``teahouse stress``, one module each.

A scenario's :meth:`Scenario.load` runs in every load worker on that worker's share of the
connections: it sets up, calls ``ctx.ready()``, waits for ``await ctx.go()`` (which gives
the deadline), does its work, hands its figures to ``await ctx.finish(result)``, and
closes what it opened. :meth:`Scenario.merge` turns the workers' figures into the report's
``results`` in the parent. The measuring pair (:mod:`teahouse.stress.legit`) runs beside
it in its own process unless the scenario or ``--no-legit`` says otherwise.

The base class lives in :mod:`teahouse.stress.scenario` and the lookup by name in
:mod:`teahouse.stress.catalog`, so this package imports nothing and its modules never
import each other through it.
"""
