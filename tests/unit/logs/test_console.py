"""The operator console: a log line prints above the prompt, not over it.

The console's handler is made by setup_logging before the console starts, as in the
server; the console then patches stdout and stderr. A handler that kept the terminal's
stream would write straight over the prompt; ours must go through prompt_toolkit's proxy,
which hides the prompt, prints the line and draws the prompt again below it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from teahouse.admin.console import run_console
from teahouse.config import LogSection
from teahouse.logs import setup_logging

PROMPT = "teahouse>"  # the renderer writes the space after it apart


class RecordingOutput(DummyOutput):
    """A terminal that keeps what is written to it and says when a text has arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.changed = asyncio.Event()

    def write(self, data: str) -> None:
        # Output.write's contract: escape sequences are removed (Vt100_Output makes ESC "?").
        self.write_raw(data.replace("\x1b", "?"))

    def write_raw(self, data: str) -> None:
        self.text += data
        self.changed.set()

    async def wait_for(self, needle: str) -> None:
        while needle not in self.text:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), timeout=10)


class FakeCommands:
    default_grace = 1.0

    def __init__(self) -> None:
        self.shutdowns: list[float] = []

    def shutdown(self, grace: float) -> None:
        self.shutdowns.append(grace)

    async def run_words(self, words: list[str], actor: str, entrance: str) -> tuple[str, None]:
        # An answer holding text a user wrote (a topic, say) with a terminal control in it.
        return f"topic of {words[-1]}: \x1b[2Jgotcha", None


@pytest.mark.usefixtures("restore_logging")
async def test_a_log_line_prints_above_the_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    setup_logging(LogSection(file=False), tmp_path / "var")
    commands = FakeCommands()
    with create_pipe_input() as keys:
        screen = RecordingOutput()
        with create_app_session(input=keys, output=screen):
            console = asyncio.create_task(run_console(commands, hub=None))  # type: ignore[arg-type]
            await screen.wait_for(PROMPT)
            logging.getLogger("teahouse.hub").info("login user=%s", "evidence\x1b[2J")
            await screen.wait_for("login user=evidence")
            keys.send_text("topic lobby\r")
            await screen.wait_for("topic of lobby: ")
            await screen.wait_for("gotcha")
            keys.send_text("\x04")  # Ctrl-D: the console asks for a shutdown and ends
            await asyncio.wait_for(console, timeout=10)
    assert commands.shutdowns == [1.0]
    assert "login user=evidence" not in terminal.getvalue()
    line_at = screen.text.index("INFO    teahouse.hub: login user=evidence\\x1b[2J\n")
    assert screen.text.rfind(PROMPT) > line_at  # the prompt is drawn again, below the line
    assert "topic of lobby: ?[2Jgotcha" in screen.text  # printed as text, not obeyed
    assert "\x1b[2J" not in screen.text
