"""Values that would escape their place: control characters in SSH options, output that would mix
with essh's own, counts too large for a plan file."""

from __future__ import annotations

import pytest

from essh.planner import ConfigError
from essh.planner.loader import load_config


def _load(tmp_path, source: str):
    path = tmp_path / "config.lua"
    path.write_text(source)
    return load_config([str(path)])


@pytest.mark.parametrize("value", ['"10.0.0.1\\n    ProxyCommand touch /tmp/x"', '"u\\0"', '{"ok", "bad\\r"}'])
def test_ssh_option_values_cannot_carry_control_characters(tmp_path, value):
    with pytest.raises(ConfigError, match=r"config.lua:1: host 'h': HostName must not contain control characters"):
        _load(tmp_path, f'host "h" {{ HostName = {value} }}\n')


def test_lua_output_goes_to_stderr_not_stdout(tmp_path, capfd):
    _load(tmp_path, 'io.write("from io.write\\n")\nprint("from print")\nhost "h" {}\n')
    out, err = capfd.readouterr()
    assert out == ""
    assert "from io.write" in err and "from print" in err


@pytest.mark.parametrize("field", ["retries = 1e300", "parallel = 2^63", "timeout = 1/0", "timeout = 0/0"])
def test_numbers_out_of_range_are_config_errors(tmp_path, field):
    with pytest.raises(ConfigError, match=r"config.lua:1: task 't': "):
        _load(tmp_path, f'task "t" {{ script = "x", {field} }}\n')


@pytest.mark.parametrize(
    "source, message",
    [
        ('host "web 1" {}', "a host name cannot be empty or contain spaces"),
        ('host "web\\nProxyCommand x" {}', "a host name cannot be empty or contain spaces"),
        ('host "h" { HostName = "a b" }', "HostName cannot be empty or contain spaces"),
        ('host "h" { Port = "22 #x" }', "Port cannot be empty or contain spaces"),
        ('host "h" { User = "" }', "User cannot be empty or contain spaces"),
    ],
)
def test_host_names_and_addresses_are_single_words(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, source + "\n")
