"""`essh init`: a commented starter `.esshconfig.lua` that plans as written.

With `ssh_config` text (the user's `~/.ssh/config`), its concrete `Host` names
(no wildcards, no negations) become hosts, tagged `ssh-config`; their options
stay in ~/.ssh/config, which essh reads for each host by its name. Without it,
two example hosts on documentation addresses (192.0.2.0/24, RFC 5737) show the
syntax. Names are written as Lua strings (`_lua_string`), never spliced raw.
"""

from __future__ import annotations

import re

_HEADER = """\
-- essh configuration: ESSH's Lua (Lua 5.4). Written by `essh init`; edit freely.
--
--   essh plan             review what would run where, in which order (the task "default")
--   essh plan -o p.bin    save that plan; `essh apply p.bin` runs exactly it
--   essh run TASK         plan and apply one task at once
--   essh graph            the task graph (--format dot|mermaid|text)
--
-- Every host and task property: docs/configuration.md.
"""

_EXAMPLE_HOSTS = """\
-- Hosts: a name, SSH options (as in ~/.ssh/config), tags to select them by.
host "web-1" { HostName = "192.0.2.11", User = "deploy", tags = { "web" } }
host "web-2" { HostName = "192.0.2.12", User = "deploy", tags = { "web" } }
"""

_TASKS = """\

-- Tasks: a script, the hosts it runs on (names or tags, globs allowed), and how.
task "uptime" {
    description = "Show how long each host has been up",
    targets = { "%(tag)s" },
    parallel = true,        -- all hosts at once; false: one after another; N: at most N at once
    script = "uptime",
}

task "default" {
    description = "What `essh plan` plans when no task is named",
    depends = { "uptime" }, -- runs after every step of "uptime" has ended
    targets = { "%(tag)s" },
    parallel = true,
    on_error = "stop",      -- or "continue", or the name of a handler task
    timeout = 60,           -- seconds per attempt
    script = 'echo "hello from $(hostname)"',
}
"""


def starter_config(ssh_config: str | None = None) -> str:
    """The text of a starter configuration; hosts from `ssh_config` when given."""
    names = ssh_config_hosts(ssh_config) if ssh_config is not None else []
    if names:
        hosts = "-- Hosts from ~/.ssh/config (their options stay there; essh reads it per host).\n" + "".join(
            f"host {_lua_string(name)} {{ tags = {{ \"ssh-config\" }} }}\n" for name in names
        )
        tag = "ssh-config"
    else:
        hosts, tag = _EXAMPLE_HOSTS, "web"
    return _HEADER + "\n" + hosts + _TASKS % {"tag": tag}


def ssh_config_hosts(text: str) -> list[str]:
    """Concrete host names of `Host` lines, in order, each once (patterns and negations left out)."""
    names: dict[str, None] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].replace("=", " ", 1).split()
        if len(words) < 2 or words[0].lower() != "host":
            continue
        for word in words[1:]:
            word = word.strip('"')
            if word and not re.search(r"[*?!]", word) and re.fullmatch(r"[A-Za-z0-9._@:-]+", word):
                names[word] = None
    return list(names)


def _lua_string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in "._@:-" else f"\\{ord(c):03d}" for c in text) + '"'
