"""The smoke test's instructions, read from the environment (the run itself: test_dist.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)

from teahouse.gui.smoke import ENV, SmokeFailed, SmokeTest, from_environ


def test_no_variable_no_smoke_test() -> None:
    assert from_environ({}) is None
    assert from_environ({ENV: ""}) is None


def test_the_json_object_becomes_the_instructions() -> None:
    spec = from_environ(
        {
            ENV: '{"host": "127.0.0.1", "port": 7000, "user": "alice", "password": "pw",'
            ' "room": "tea", "expect": "hello", "timeout": 12.5}'
        }
    )
    assert spec == SmokeTest(
        host="127.0.0.1",
        port=7000,
        user="alice",
        password="pw",
        room="tea",
        expect="hello",
        timeout=12.5,
    )


def test_no_host_means_stop_at_the_dialog() -> None:
    assert from_environ({ENV: "{}"}) == SmokeTest()
    assert SmokeTest().host is None


@pytest.mark.parametrize("text", ["{", '{"port": "x"}', '{"hots": "127.0.0.1"}', "[]"])
def test_a_wrong_variable_is_one_clear_error(text: str) -> None:
    with pytest.raises(SmokeFailed, match=ENV):
        from_environ({ENV: text})
