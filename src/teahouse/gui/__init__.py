"""``teahouse gui``: the desktop client (Qt 6 through PySide6; the ``gui`` extra).

Install with ``pip install 'teahouse[gui]'`` and run ``teahouse gui [HOST[:PORT]]``.

How it is built
---------------
- **One thread, one loop: qasync.** The client library (:mod:`teahouse.client`) is asyncio;
  Qt has its own event loop. `qasync <https://github.com/CabbageDevelopment/qasync>`_ runs
  asyncio *on* Qt's loop (sockets through ``QSocketNotifier``, timers through Qt timers), so
  the window and the client share one thread with no locks and no cross-thread signals: a
  slot can start a task, a task can touch a widget. We chose it over PySide6's own
  ``QtAsyncio`` because QtAsyncio does not implement the network parts of the event loop
  (``loop.create_connection``, which the client uses for TCP and TLS) and is still marked as
  a technical preview; and over a worker thread because a second thread would make every
  model update a queued signal and every request a ``run_coroutine_threadsafe``, for no
  gain: nothing in the client blocks (password hashing happens on the server; the login is
  awaited, so the dialog stays live while the server checks the password).
- **The Qt thread never waits for the network**: requests are tasks; the keyring, which may
  block on D-Bus, runs in a thread (``asyncio.to_thread``).
- **Model/view**: each conversation is a :class:`~teahouse.gui.models.MessageModel` over a
  pure :class:`~teahouse.gui.transcript.Transcript` (rows sorted by message id, day
  separators, no duplicates), shown by a :class:`QListView` with a painting delegate. Events
  are applied in time slices and grouped per conversation into one model insertion each
  (:mod:`teahouse.gui.session`), so a burst of thousands of messages never freezes the
  window; ``python -m teahouse.gui.bench`` measures it.

Modules: :mod:`~teahouse.gui.app` (entry point), :mod:`~teahouse.gui.connect_dialog`,
:mod:`~teahouse.gui.main_window`, :mod:`~teahouse.gui.dialogs` (join a room, admin panel),
:mod:`~teahouse.gui.session` (events to models), :mod:`~teahouse.gui.models`,
:mod:`~teahouse.gui.views`, :mod:`~teahouse.gui.delegates`, and the pure ones:
:mod:`~teahouse.gui.transcript`, :mod:`~teahouse.gui.commands`,
:mod:`~teahouse.gui.markup`, :mod:`~teahouse.gui.wording`.
"""

from __future__ import annotations
