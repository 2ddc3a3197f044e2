"""Bad configuration: one ConfigError with the right file:line, never a traceback."""

from __future__ import annotations

import pytest

from essh.planner.loader import load_config
from essh.planner.model import ConfigError, Source


def test_syntax_error_names_file_and_line_once(load_error, write):
    error = load_error('host "a" {}\n\ntask "t" {\n  script = "x"\n  targets = "y"\n}\n')
    assert error.source == Source(write("config.lua", ""), 5)
    assert error.message.startswith("'}' expected") and "config.lua:" not in error.message
    assert str(error) == f"{error.source.file}:5: {error.message}"


def test_runtime_error_in_a_later_file(write):
    main = write("config.lua", 'host "a" {}\n')
    override = write("config_override.lua", "\n\nlocal x = nil\nx.y = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config([main, override])
    assert caught.value.source == Source(override, 4)
    assert "attempt to index a nil value" in caught.value.message


def test_error_in_a_required_module_names_the_module(load_error, write):
    module = write("broken.lua", "return {\n  a = ,\n}\n")
    error = load_error('require "broken"\n')
    assert error.source == Source(module, 2)


def test_missing_module(load_error, write):
    error = load_error('\nrequire "nowhere"\n')
    assert error.source == Source(write("config.lua", ""), 2)
    folder = write("config.lua", "").rsplit("/", 1)[0]
    assert error.message == (
        f"module 'nowhere' not found next to the configuration file nor in .essh/lib"
        f" (looked for {folder}/nowhere.lua, {folder}/nowhere/init.lua, {folder}/.essh/lib/nowhere.lua)"
    )


def test_long_paths_are_not_shortened(write):
    path = write("a" * 40 + "/" + "b" * 40 + "/config.lua", "\n\nerror('boom')\n")
    with pytest.raises(ConfigError) as caught:
        load_config([path])
    assert caught.value.source == Source(path, 3) and caught.value.message == "boom"


def test_error_with_a_table_value(load_error, write):
    error = load_error("error({code = 1})\n")
    assert error.source == Source(write("config.lua", ""), 0) and "table value" in error.message


def test_prepare_error_points_into_lua(load, write):
    task = load('task "t" {\n  prepare = function(ctx)\n    error("no way")\n  end,\n}\n').tasks["t"]
    with pytest.raises(ConfigError) as caught:
        task.prepare({})
    assert caught.value.source == Source(write("config.lua", ""), 3) and caught.value.message == "no way"


def test_engine_must_return_text(load):
    driver = load('driver "d" {\n  engine = function(ctx) return 42 end,\n}\n').drivers["d"]
    with pytest.raises(ConfigError, match="the result of engine must be a string"):
        driver.engine({})


def test_unknown_host_property_lists_the_known_ones(load_error, write):
    error = load_error('host "web01" {\n  HostName = "x",\n  descripton = "typo",\n}\n')
    assert error.source == Source(write("config.lua", ""), 1)
    assert """host 'web01': unknown property 'descripton'; did you mean "description"?""" in error.message
    assert "known: description, hidden," in error.message


def test_unknown_task_property_suggests_the_closest(load_error):
    error = load_error('task "t" { scirpt = "x" }')
    assert error.message == """task 't': unknown property 'scirpt'; did you mean "script"?"""


def test_a_bad_group_default_is_blamed_on_the_group(load_error, write):
    error = load_error('\ngroup {\n  colour = "red",\n  task "t" {},\n}\n')
    assert error.source == Source(write("config.lua", ""), 2) and "unknown property 'colour'" in error.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("timeout = 0", "task 't': timeout must be a positive number of seconds (at most 10^9), got a number (0)"),
        ('timeout = "5"', "task 't': timeout must be a positive number of seconds (at most 10^9), got a string"),
        ("retries = -1", "task 't': retries must be a whole number from 0 to 1,000,000, got a number (-1)"),
        ("retries = 1.5", "task 't': retries must be a whole number from 0 to 1,000,000, got a number (1.5)"),
        ("parallel = 0", "task 't': parallel must be a whole number from 1 to 1,000,000, got a number (0)"),
        ('parallel = "yes"', "task 't': parallel must be a whole number from 1 to 1,000,000, got a string"),
        ('backend = "cloud"', 'task \'t\': backend must be "remote" or "local", got a string'),
        ("prefix = 1", "task 't': prefix must be true, false or a template string, got a number"),
        ("script = 1", "task 't': script must be a string, a list of strings or a list of"),
        ("script = {{cmd = 'x'}}", "task 't': script must be a string, a list of strings or a list of"),
        ("targets = {1}", "task 't': targets must be a string or a list of strings, got a list"),
        ("depends = {a = 'b'}", "task 't': depends must be a string or a list of strings, got a table"),
        ("env = {['1X'] = 'y'}", "task 't': env: '1X' is not a valid variable name"),
        ("props = {a = {}}", "task 't': props.a must be a string, number or boolean, got an empty table"),
        ("prepare = 'x'", "task 't': prepare must be a function, got a string"),
        ("privileged = 'yes'", "task 't': privileged must be true or false, got a string"),
        ("description = print", "task 't': description must be a string, got a function"),
        ("description = io.stdout", "task 't': description must be a string, got a userdata value"),
        ('description = "\\xff"', "task 't': description must be a string, got a string that is not valid UTF-8"),
        ("script = 'x', script_file = 'y'", "task 't': use script or script_file, not both"),
        ("script_file = 'https://example.com/x.sh'", "task 't': script_file URLs are not supported"),
        ("script_file = 'missing.sh'", "cannot read"),
    ],
)
def test_task_type_errors(load_error, write, body, message):
    error = load_error(f'\ntask "t" {{ {body} }}\n')
    assert error.message.startswith(message)
    assert error.source == Source(write("config.lua", ""), 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tags = 3", "host 'h': tags must be a string or a list of strings, got a number"),
        ("hidden = 1", "host 'h': hidden must be true or false, got a number"),
        ("Port = {}", "host 'h': Port must be a string, number, boolean or a list of them"),
        ("User = {name = 'x'}", "host 'h': User must be a string, number, boolean or a list of them"),
        ("['Host Name'] = 'x'", "host 'h': 'Host Name' is not an ssh_config keyword"),
        ("props = {'a', 'b'}", "host 'h': props must be a table of name = value, got a list"),
        ("hooks_before_connect = {1}", "host 'h': hooks_before_connect must be a list of commands (strings) and functions"),
    ],
)
def test_host_type_errors(load_error, body, message):
    assert load_error(f'host "h" {{ {body} }}').message.startswith(message)


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ('\nhost "x" "y"', 2, 'host "x" expects a table of properties, got a string value'),
        ('\nlocal h = host "x"\nh "y"', 3, 'host "x" expects a table of properties, got a string value'),
        ("\ntask {}", 2, 'task needs a name: task "name" { ... }'),
        ('\ngroup { host "a" {}, task "b" {} }', 2, "group: a group holds one kind of definition"),
        ('\ngroup { "x" }', 2, "group: entry #1 is not a host, task or driver definition"),
        ("\nessh.select_hosts(3)", 2, "select_hosts expects a string or a list of strings"),
        ("\nlocal p = essh.ssh_cfg", 2, "essh.ssh_cfg is not available in this essh"),
        ("\nessh.ssh_config = 1", 0, "essh.ssh_config must be a path"),  # read after the files ran: no line
        ('\ndriver "d" {}', 2, "driver 'd': engine is required"),
        ('\ndriver "d" { engine = 1 }', 2, "driver 'd': engine must be template text (a string) or a function"),
        # A free key is a prop, as in ESSH: a scalar.
        ('\ndriver "d" { engine = "x", colour = {1} }', 2, "driver 'd'.colour must be a string, number or boolean"),
    ],
)
def test_dsl_misuse(load_error, write, source, line, message):
    error = load_error(source)
    assert error.message.startswith(message)
    assert error.source == Source(write("config.lua", ""), line)


def test_task_named_like_a_host(load_error, write):
    error = load_error('host "web" {}\ntask "web" { script = "x" }\n')
    assert error.source == Source(write("config.lua", ""), 2)
    assert error.message.startswith("task 'web' has the name of a host (defined at ")


def test_tag_named_like_a_host(load_error):
    error = load_error('host "db" {}\nhost "web" { tags = {"db"} }\n')
    assert error.message.startswith("host 'web': tag 'db' is also a host name")


def test_file_that_is_not_utf8(write, tmp_path):
    path = tmp_path / "config.lua"
    path.write_bytes(b'host "caf\xe9" {}\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config([str(path)])


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read .*nope.lua: No such file"):
        load_config([str(tmp_path / "nope.lua")])


def test_top_level_yield_is_refused(load_error):
    assert "coroutine.yield" in load_error("coroutine.yield(1)").message


@pytest.mark.parametrize("body", ['"web"', '"web", HostName = "x"'])
def test_a_value_without_a_name(load_error, body):
    error = load_error(f'host "h" {{ {body} }}')
    assert error.message == "host 'h': every property needs a name (name = value); found a value without one"


def test_an_error_passed_on_keeps_its_first_position(load_error, write):
    module = write("inner.lua", "\n\nlocal x = nil + 1\n")
    error = load_error('local co = coroutine.wrap(function() require "inner" end)\nco()\n')
    assert error.source == Source(module, 3) and error.message.startswith("attempt to perform arithmetic")


def test_an_endless_loop_ends_with_an_error(write):
    path = write("config.lua", "local n = 0\nwhile true do\n  n = n + 1\nend\n")
    with pytest.raises(ConfigError) as caught:
        load_config([path], time_limit=0.2)
    assert caught.value.source.file == path and caught.value.source.line in (2, 3, 4)
    assert caught.value.message == "still running after 0.2 s of CPU time; is there an endless loop?"


def test_an_endless_prepare_ends_with_an_error(write):
    path = write("config.lua", 'task "t" {\n  prepare = function(ctx)\n    while true do end\n  end,\n}\n')
    task = load_config([path], time_limit=0.2).tasks["t"]
    with pytest.raises(ConfigError, match="endless loop") as caught:
        task.prepare({})
    assert caught.value.source.line == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('job "j" {}', "job is not supported by this essh; define the hosts and tasks at the top level"),
        # essh.import is import: a missing local module names the folder it looked for.
        ('essh.import "x"', "module x: no folder "),
    ],
)
def test_essh_features_not_supported_say_so(load_error, source, message):
    assert load_error(source).message.startswith(message)


def test_metamethods_of_the_configuration_do_not_run_while_exporting(load_error):
    source = """
    local trap = setmetatable({"a"}, {__len = function() error("len ran") end, __tostring = function() error("x") end})
    host "h" { tags = trap, props = {[trap] = 1} }
    """
    assert load_error(source).message == "host 'h': props: '[table]' is not a valid name (letters, digits and _)"


def test_an_error_object_whose_tostring_fails(load_error):
    error = load_error('error(setmetatable({}, {__tostring = function() error("nested") end}))')
    assert error.message == "error object is a table value"
