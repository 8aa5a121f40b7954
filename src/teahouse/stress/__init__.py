"""``teahouse stress``: the attack and benchmark tool (issue 4).

It runs one scenario against a server on loopback, over the native protocol or IRC, so the
same load meets teahouse's two doors and ngIRCd or InspIRCd; it reports what the server did
(``/proc`` samples with ``--server-pid``) and whether legitimate users were served
meanwhile. Layout (each module imports only those above it in this list, so the import
graph has no cycle):

- :mod:`~teahouse.stress.options`: options and the hard limits (loopback only, caps).
- :mod:`~teahouse.stress.measure`: histograms and ``/proc`` sampling.
- :mod:`~teahouse.stress.targets`: the native and IRC speakers over one lean ``Link``.
- :mod:`~teahouse.stress.context`: a worker's job, its pipe, and ``WorkerContext``.
- :mod:`~teahouse.stress.scenario`: the contract of a scenario.
- :mod:`~teahouse.stress.scenarios`: one module per scenario.
- :mod:`~teahouse.stress.catalog`: the scenarios by name.
- :mod:`~teahouse.stress.legit`: the measuring pair and the login prober.
- :mod:`~teahouse.stress.worker`: a worker process (asyncio + uvloop) and its work.
- :mod:`~teahouse.stress.report`: progress bars, the summary table, JSON.
- :mod:`~teahouse.stress.runner`: the parent: processes, phases, sampling, merging.
- :mod:`~teahouse.stress.cli`: the click command.
"""
