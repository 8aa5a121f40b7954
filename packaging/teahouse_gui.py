"""Entry point of the one-file desktop client (``packaging/teahouse-gui.spec``).

``teahouse-gui [HOST[:PORT]] [--user NAME] [--register] [--tls] [--ca FILE]`` is
``teahouse gui`` with the same options: the click command itself, so the two never drift.
"""

from teahouse.cli import gui

if __name__ == "__main__":
    gui.main(prog_name="teahouse-gui")
