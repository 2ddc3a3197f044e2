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
