"""The server console: operator commands typed on the server's own terminal.

Runs only when stdin and stdout are a TTY. prompt_toolkit gives line editing, history and
completion of command names, user names and rooms; log lines print above the prompt.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.patch_stdout import patch_stdout

from teahouse.admin.commands import COMMANDS, CommandSet
from teahouse.core.hub import Hub
from teahouse.errors import ChatError


class ConsoleCompleter(Completer):
    """Completes the command word, then user names, rooms, or ``user`` actions."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        words = document.text_before_cursor.split(" ")
        word = words[-1]
        if len(words) == 1:
            choices: Iterable[str] = COMMANDS
        elif words[0] == "user" and len(words) == 2:
            choices = ("add", "del", "passwd", "role", "list")
        elif words[0] in ("topic", "who"):
            choices = self.hub.registry.rooms
        else:
            choices = sorted({s.user for s in self.hub.sessions.values() if s.user})
        for choice in sorted(choices):
            if choice.lower().startswith(word.lower()):
                yield Completion(choice, start_position=-len(word))


async def run_console(commands: CommandSet, hub: Hub) -> None:
    session: PromptSession[str] = PromptSession(completer=ConsoleCompleter(hub))
    # Log lines reach the proxy because the server's console handler writes to whatever
    # sys.stderr is at each record (teahouse.logs.ConsoleHandler). Not raw: the proxy then
    # writes through Output.write, which turns ESC into "?", so no text a user wrote (a
    # topic in an answer) can drive the operator's terminal.
    with patch_stdout():
        while True:
            try:
                line = await session.prompt_async("teahouse> ")
            except (EOFError, KeyboardInterrupt):
                # Ctrl-C or Ctrl-D at the prompt stops the server, as the signal would.
                print("shutting down")
                commands.shutdown(commands.default_grace)
                return
            try:
                words = shlex.split(line)
            except ValueError as exc:
                print(f"error: {exc}")
                continue
            if not words:
                continue
            try:
                text, _ = await commands.run_words(words, actor="server", entrance="console")
            except ChatError as exc:
                print(f"error ({exc.code}): {exc.message}")
                continue
            print(text)
