"""File operations while planning: contents pinned once by sha256, templates per host, errors at file:line."""

from __future__ import annotations

import hashlib

import pytest

from essh.planner.model import ConfigError
from essh.planner.resolve import make_plan
from essh.schema import Download, Upload, decode_plan, encode_plan

HOSTS = """
host "web-1" { HostName = "10.0.0.1" }
host "web-2" { HostName = "10.0.0.2", props = { role = "api" } }
host "web-3" { HostName = "10.0.0.3" }
"""


def plan_of(load, text: str, **kw):
    return make_plan(load(HOSTS + text), ["conf"], essh_version="test", created_at=0, **kw)


def test_upload_content_template_and_download(load, write):
    write("files/nginx.conf", "worker_processes 4;\n")
    write("files/app.tmpl", "name = {{.Host.Name}}\n")
    plan = plan_of(load, """
    task "conf" {
      targets = "web-*",
      files = {
        { upload = "files/nginx.conf", dest = "/etc/nginx/nginx.conf", mode = "0640", owner = "root", group = "adm" },
        { content = "hi\\n", dest = "/etc/motd" },
        { template = "files/app.tmpl", dest = "/etc/app/{{.Host.Name}}.conf" },
        { download = "/var/log/app.log", dest = "logs/{{.Host.Name}}/app.log" },
      },
    }
    """)
    assert decode_plan(encode_plan(plan)) == plan
    assert [s.script for s in plan.steps] == [None, None, None]
    nginx = plan.operations[plan.steps[0].ops[0]]
    assert isinstance(nginx, Upload) and (nginx.mode, nginx.owner, nginx.group) == (0o640, "root", "adm")
    assert plan.files[nginx.blob].sha256 == hashlib.sha256(b"worker_processes 4;\n").hexdigest()
    # the same file to three hosts: one blob, one operation
    assert len({s.ops[0] for s in plan.steps}) == 1
    rendered = [plan.files[plan.operations[s.ops[2]].blob].data for s in plan.steps]
    assert rendered == [b"name = web-1\n", b"name = web-2\n", b"name = web-3\n"]
    downloads = [plan.operations[s.ops[3]] for s in plan.steps]
    assert all(isinstance(d, Download) for d in downloads)
    assert [d.dest for d in downloads] == ["logs/web-1/app.log", "logs/web-2/app.log", "logs/web-3/app.log"]


def test_equal_renders_share_one_blob(load, write):
    write("files/same.tmpl", "role = {{.Task.Name}}\n")
    plan = plan_of(load, 'task "conf" { targets = "web-*", script = "true", files = {{ template = "files/same.tmpl", dest = "/etc/x" }} }')
    assert len(plan.files) == 1 and len(plan.operations) == 1
    assert all(s.script is not None for s in plan.steps)


def test_large_files_are_stored_as_a_reference(load, write):
    path = write("files/big.bin", "x" * 5000)
    plan = plan_of(load, 'task "conf" { targets = "web-1", files = {{ upload = "files/big.bin", dest = "/opt/big" }} }',
                   inline_limit=1000)
    (blob,) = plan.files
    assert (blob.data, blob.size, blob.source) == (b"", 5000, path)
    assert blob.sha256 == hashlib.sha256(b"x" * 5000).hexdigest()


def test_a_directory_upload_is_one_upload_per_file_below_it(load, write):
    import os

    write("site/index.html", "<h1>hi</h1>\n")
    write("site/css/main.css", "body {}\n")
    tool = write("site/bin/run", "#!/bin/sh\n")
    os.chmod(tool, 0o755)
    plan = plan_of(load, '''task "conf" { targets = "web-1", files = {{ upload = "site", dest = "/srv/site", owner = "www" }} }''')
    ops = [plan.operations[i] for i in plan.steps[0].ops]
    assert [(op.dest, op.mode, op.owner, op.parents) for op in ops] == [
        ("/srv/site/index.html", 0o644, "www", True),
        ("/srv/site/bin/run", 0o755, "www", True),
        ("/srv/site/css/main.css", 0o644, "www", True),
    ]
    assert plan.files[ops[0].blob].data == b"<h1>hi</h1>\n"
    with_mode = plan_of(load, '''task "conf" { targets = "web-1", files = {{ upload = "site", dest = "/srv", mode = "0600" }} }''')
    assert {with_mode.operations[i].mode for i in with_mode.steps[0].ops} == {0o600}


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ("max_files = 2", "has more than 2 files .raise max_files"),
        ("max_bytes = 10", "are more than 10 bytes .raise max_bytes"),
        ("max_files = 0", "max_files: must be a whole number of at least 1"),
        ("max_bytes = 1.5", "max_bytes: must be a whole number of at least 1"),
    ],
)
def test_a_directory_upload_has_limits(load, write, limits, message):
    for name in ("a", "b", "c"):
        write(f"site/{name}", "12345678\n")
    with pytest.raises(ConfigError, match=message) as info:
        plan_of(load, f'task "conf" {{\n targets = "web-1",\n files = {{{{ upload = "site", dest = "/srv", {limits} }}}},\n}}')
    assert "config.lua:" in str(info.value)


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_directory_upload_refuses_symbolic_links(load, write, kind):
    import os

    target = write("elsewhere/secret", "x\n")
    write("site/ok", "ok\n")
    os.symlink(target if kind == "file" else os.path.dirname(target), os.path.join(os.path.dirname(target), "..", "site", "link"))
    with pytest.raises(ConfigError, match="link in .*site is not a regular file"):
        plan_of(load, 'task "conf" { targets = "web-1", files = {{ upload = "site", dest = "/srv" }} }')


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ('{{ upload = "files/missing", dest = "/x" }}', "cannot read .*files/missing: No such file"),
        ('{{ content = "x", dest = "relative/x" }}', "dest must be an absolute, normal path"),
        ('{{ content = "x", dest = "/x", mode = "999" }}', 'mode must be an octal string such as "0644"'),
        ('{{ content = "x", dest = "/x", mode = 644 }}', "mode must be an octal string"),
        ('{{ content = "x", dest = "/x" }, { content = "y", dest = "/x" }}', r"files\[1\] and files\[2\] both write /x on web-1"),
        ('{{ download = "/var/log/x", dest = "logs/x" }}', "name the host in the path"),
        ('{{ download = "log/x", dest = "logs/{{.Host.Name}}" }}', "download must be an absolute remote path"),
        ('{{ content = "x" }}', "dest is required"),
        ('{{ content = "x", upload = "y", dest = "/x" }}', "name exactly one of"),
        ('{{ content = "x", dest = "/x", owner = "-rf" }}', "is not a user or group name"),
        ('{{ content = "x", dest = "/x", colour = "red" }}', "content has no property 'colour'"),
    ],
)
def test_plan_time_errors_are_one_line_with_file_and_line(load, files, message):
    with pytest.raises(ConfigError, match=message) as info:
        plan_of(load, f'task "conf" {{\n  targets = "web-*",\n  files = {files},\n}}')
    text = str(info.value)
    assert "\n" not in text and "config.lua:" in text


def test_file_operations_need_a_remote_task(load):
    with pytest.raises(ConfigError, match="file operations need target hosts"):
        plan_of(load, 'task "conf" { targets = "web-1", backend = "local", files = {{ content = "x", dest = "/x" }} }')


def test_the_example_plans():
    from pathlib import Path

    from essh.planner.loader import load_config

    example = Path(__file__).resolve().parents[2] / "examples" / "files" / "esshconfig.lua"
    plan = make_plan(load_config([str(example)]), ["site", "logs"], essh_version="test", created_at=0)
    kinds = sorted({type(op).__name__ for op in plan.operations})
    assert kinds == ["Download", "Upload"]
    assert len(plan.files) == 4  # nginx.conf, two renders, the motd: each once
    assert decode_plan(encode_plan(plan)) == plan
