"""ESSH_SSH_CONFIG and ESSH_DEBUG in local steps, as ESSH sets them: the plan's hosts as an
ssh_config written for the run (OpenSSH reaches a real sshd through it), --debug as "1"."""

from __future__ import annotations

import re


def _config(sshd) -> str:
    name, port = sshd.hosts[0]
    return (f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", IdentityFile = "{sshd.key_path}",'
            f' IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}", StrictHostKeyChecking = "yes" }}\n')


def test_a_local_step_reaches_its_host_through_essh_ssh_config(sshd, ws):
    name, _ = sshd.hosts[0]
    ws.write(".esshconfig.lua", _config(sshd) + f'task "hop" {{ targets = "{name}", backend = "local", script = '
             '"echo config=$ESSH_SSH_CONFIG debug=[$ESSH_DEBUG]; ssh -F \\"$ESSH_SSH_CONFIG\\" -o BatchMode=yes $ESSH_HOSTNAME '
             '\'echo on $(id -un)\'" }\n')
    result = ws.essh("run", "hop")
    assert result.returncode == 0, result.stderr
    config_path = re.search(r"config=(\S+)", result.stdout)[1]
    assert f"on {sshd.user}" in result.stdout and "debug=[]" in result.stdout
    assert not (ws.path / config_path).exists()  # written for the run only
    debug = ws.essh("run", "hop", "--debug")
    assert debug.returncode == 0, debug.stderr
    assert "debug=[1]" in debug.stdout


def test_the_generated_file_is_the_plans_hosts_and_private(ws):
    ws.write(".esshconfig.lua", 'host "a" { HostName = "10.0.0.1", Port = 2222 }\nhost "unused" {}\n'
             'task "t" { targets = "a", backend = "local", script = "cat $ESSH_SSH_CONFIG; stat -c %a $ESSH_SSH_CONFIG" }\n')
    result = ws.essh("run", "t")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Host a", "    HostName 10.0.0.1", "    Port 2222", "", "600"]


def test_remote_steps_get_neither(sshd, ws):
    name, _ = sshd.hosts[0]
    ws.write(".esshconfig.lua", _config(sshd) + f'task "r" {{ targets = "{name}", script = "echo [${{ESSH_SSH_CONFIG-unset}}]" }}\n')
    result = ws.essh("run", "r", "--debug")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[unset]"
