"""Entry point of the one-file desktop client (``packaging/teahouse-gui.spec``).

``teahouse-gui [HOST[:PORT]] [--user NAME] [--register] [--tls] [--ca FILE]`` is
``teahouse gui`` with the same options: the click command itself, so the two never drift.
"""

import os

from teahouse.cli import gui

if __name__ == "__main__":
    # Only the xcb platform plugin is bundled; a Wayland desktop runs it through XWayland
    # (without this, Qt first looks for its Wayland plugin and says it is missing).
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    gui.main(prog_name="teahouse-gui")
