"""The [web] section: defaults, and mistakes named at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from teahouse.config import ConfigError, load_config


def test_the_web_door_is_on_by_default_on_loopback() -> None:
    config = load_config(None)
    assert config.web.enabled and config.web.host == "127.0.0.1" and config.web.port == 6690
    assert config.tls.web_port == 6691
    assert config.web.origins == [] and config.web.trusted_proxies == []


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[web]\nport = 7000\norigins = ["https://chat.example.org"]\n')
    config = load_config(path, {"web.port": 0, "web.enabled": False})
    assert config.web.port == 0 and not config.web.enabled
    assert config.web.origins == ["https://chat.example.org"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('[web]\norigins = ["chat.example.org"]\n', "web.origins"),
        ('[web]\norigins = ["https://chat.example.org/"]\n', "web.origins"),
        ('[web]\norigins = ["*"]\n', "web.origins"),
        ('[web]\ntrusted_proxies = ["not-an-address"]\n', "web.trusted_proxies"),
        ("[web]\nport = 70000\n", "web.port"),
        ("[tls]\nweb_port = -1\n", "tls"),
        ("[web]\nbogus = 1\n", "bogus"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, names: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_config(path)


def test_origins_may_have_ports_and_ipv6_hosts(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[web]\norigins = ["http://127.0.0.1:8080", "https://[::1]:8443"]\n')
    assert len(load_config(path).web.origins) == 2
