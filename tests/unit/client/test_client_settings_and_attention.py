"""The terminal client's settings file, highlight words, and desktop notifications."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest

from teahouse.client.attention import DesktopNotifier, highlights
from teahouse.client.settings import ChatSettings, default_path


def test_settings_default_to_xdg_config_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", "/somewhere")
    assert default_path() == Path("/somewhere/teahouse/chat.json")
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_path() == Path.home() / ".config" / "teahouse" / "chat.json"


def test_settings_are_saved_privately_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "config" / "teahouse" / "chat.json"
    settings = ChatSettings.load(path)
    assert (settings.highlight, settings.bell, settings.notify, settings.ignore) == (
        [],
        True,
        True,
        {},
    )
    assert settings.ignore_user("h:6680", "Spammer")
    assert not settings.ignore_user("h:6680", "spammer")  # names compare case-blind
    assert settings.ignored("h:6680") == {"spammer"} and not settings.ignored("other:1")
    assert settings.add_highlight("  scones ") and not settings.add_highlight("SCONES")
    assert not settings.add_highlight("   ")
    settings.bell = False
    assert settings.save() is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {
        "highlight": ["scones"],
        "bell": False,
        "notify": True,
        "ignore": {"h:6680": ["Spammer"]},
    }
    again = ChatSettings.load(path)
    assert (again.highlight, again.bell, again.ignored("h:6680")) == (
        ["scones"],
        False,
        {"spammer"},
    )
    assert again.unignore_user("h:6680", "SPAMMER") and not again.unignore_user("h:6680", "x")
    assert again.remove_highlight("Scones") and again.highlight == []
    assert again.save() is None
    assert json.loads(path.read_text())["ignore"] == {}
    assert [p.name for p in path.parent.iterdir()] == ["chat.json"]  # no temporary file left


def test_a_broken_settings_file_means_defaults_and_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    path.write_text('{"highlight": "not a list"}')
    settings = ChatSettings.load(path)
    assert settings.highlight == [] and settings.warning is not None
    assert str(path) in settings.warning
    path.write_text("{not json")
    assert ChatSettings.load(path).warning is not None
    assert ChatSettings.load(None).save() is None  # in memory only: nothing to write


def test_highlights_are_whole_words() -> None:
    assert highlights("alice: hi", "alice")
    assert highlights("hi @ALICE!", "alice")
    assert not highlights("malice", "alice") and not highlights("alice_2 here", "alice")
    assert highlights("fresh scones!", "alice", ["scones"])
    assert not highlights("sconesy", "alice", ["scones"])
    assert highlights("c++ is fun", "alice", ["c++"])  # words are literal, not patterns
    assert not highlights("anything", "")


def _recorder(tmp_path: Path) -> tuple[list[str], Path]:
    """A stand-in for notify-send that writes its arguments to a file."""
    out = tmp_path / "notified.json"
    script = tmp_path / "notify.py"
    script.write_text(
        "import json, sys\n"
        f"with open({str(out)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    return [sys.executable, str(script)], out


def _calls(out: Path) -> list[list[str]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_notifications_escape_what_the_server_sent_and_are_rate_limited(tmp_path: Path) -> None:
    command, out = _recorder(tmp_path)
    now = [100.0]
    notifier = DesktopNotifier(command, min_interval=3.0, clock=lambda: now[0])
    assert notifier.available
    assert notifier.notify("bob in #tea\x1b[5m", "<b>hi</b> & <a href='x'>y</a> \x1b]0;t\x07")
    notifier.close()
    assert _calls(out) == [
        [
            "--app-name=teahouse",
            "--",
            "bob in #tea^[[5m",
            "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;a href='x'&gt;y&lt;/a&gt; ^[]0;t^G",
        ]
    ]
    now[0] += 1
    assert not notifier.notify("bob", "too soon")
    assert not notifier.notify("bob", "too soon again")
    now[0] += 3
    assert notifier.notify("bob", "-n looks like an option " + "x" * 400)
    notifier.close()
    last = _calls(out)[-1]
    assert last[2] == "bob" and last[3].startswith("-n looks like an option xxx")
    assert last[3].endswith("… (and 2 more)") and len(last[3]) < 340
    assert notifier.sent == 2


def test_without_notify_send_nothing_happens(tmp_path: Path) -> None:
    assert not DesktopNotifier([]).notify("a", "b")
    missing = DesktopNotifier([str(tmp_path / "no-such-program")])
    assert not missing.notify("a", "b")
    assert not missing.available  # and it stops trying
