"""`essh ssh`, `essh scp`, `essh rsync`: OpenSSH's own client on the generated ssh_config,
against the real test sshd, with the host's hooks."""

from __future__ import annotations

import os



def _config(sshd, extra: str = "") -> str:
    name, port = sshd.hosts[0]
    return (
        f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
        f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}", '
        f'BatchMode = "yes", {extra} }}\n'
        'host "bastion" { HostName = "127.0.0.1", hidden = true }\n'
    )


def test_ssh_runs_openssh_on_the_generated_config(sshd, ws):
    name = sshd.hosts[0][0]
    ws.write(".esshconfig.lua", _config(sshd))
    result = ws.essh("ssh", name, "echo", "hello from $(hostname -s >/dev/null; echo remote) as $(id -un)")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"hello from remote as {sshd.user}\n"
    generated = ws.path / ".essh" / "ssh_config"
    assert oct(generated.stat().st_mode & 0o777) == "0o600"
    assert f"Host {name}\n" in generated.read_text() and "Host bastion\n" in generated.read_text()
    # The remote command's exit status is essh's, as with ssh.
    assert ws.essh("ssh", name, "exit 7").returncode == 7


def test_essh_host_is_essh_ssh_host(sshd, ws):
    name = sshd.hosts[0][0]
    ws.write(".esshconfig.lua", _config(sshd))
    result = ws.essh(name, "echo plain")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plain\n"


def test_hooks_fire_around_a_login_and_never_in_a_plan(sshd, ws):
    name = sshd.hosts[0][0]
    hooks = (
        'hooks_before_connect = { "echo before >> hooks.log", function() return "echo lua-before >> hooks.log" end }, '
        'hooks_after_connect = { "echo remote-after-connect $(id -un)" }, '
        'hooks_after_disconnect = { "echo after >> hooks.log" },'
    )
    ws.write(".esshconfig.lua", _config(sshd, hooks) + f'task "t" {{ targets = "{name}", script = "true" }}\n')
    result = ws.essh("ssh", name)
    assert result.returncode == 0, result.stderr
    assert f"remote-after-connect {sshd.user}" in result.stdout
    assert (ws.path / "hooks.log").read_text() == "before\nlua-before\nafter\n"
    planned = ws.essh("plan", "t")
    assert planned.returncode == 0, planned.stderr
    assert f"host {name}: its hooks run only around `essh ssh` logins, never in tasks" in planned.stdout + planned.stderr


def test_essh_ssh_config_is_a_path_a_proxy_command_can_name(sshd, ws):
    name, port = sshd.hosts[0]
    ws.write(
        ".esshconfig.lua",
        _config(sshd)
        + f'host "behind" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
        f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}", '
        f'HostKeyAlias = "[127.0.0.1]:{port}", BatchMode = "yes", '
        f'ProxyCommand = "ssh -q -F " .. essh.ssh_config .. " -W %h:%p {name}" }}\n'
        'task "t" { targets = "behind", script = "true" }\n',
    )
    result = ws.essh("ssh", "behind", "echo through the gateway")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "through the gateway\n"
    planned = ws.essh("plan", "t")
    assert "ProxyCommand reads essh.ssh_config" in planned.stdout + planned.stderr


def test_scp_and_print(sshd, ws):
    name = sshd.hosts[0][0]
    ws.write(".esshconfig.lua", _config(sshd))
    result = ws.essh("scp", f"{name}:/etc/hostname", "copied")
    assert result.returncode == 0, result.stderr
    assert (ws.path / "copied").read_text() == open("/etc/hostname").read()
    printed = ws.essh("--print")
    assert printed.returncode == 0 and f"Host {name}" in printed.stdout
    assert os.path.exists(ws.path / ".essh" / "ssh_config")


def test_git_ssh_command_is_essh_ssh(sshd, ws, tmp_path):
    # ESSH's `GIT_SSH=essh`: git runs `essh ssh [-o SendEnv=GIT_PROTOCOL] HOST "git-upload-pack '/path'"`.
    import pwd
    import shutil
    import subprocess
    import sys
    import tempfile

    name = sshd.hosts[0][0]
    ws.write(".esshconfig.lua", _config(sshd))
    shared = tempfile.mkdtemp(prefix="essh-git-", dir="/tmp")  # readable by the test user, unlike tmp_path
    try:
        repo = os.path.join(shared, "repo.git")
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", repo], check=True)
        work = tmp_path / "work"
        git_env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
                   "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
        subprocess.run(["git", "init", "--quiet", "-b", "main", str(work)], check=True, env=git_env)
        (work / "f").write_text("x\n")
        subprocess.run(["git", "-C", str(work), "add", "f"], check=True, env=git_env)
        subprocess.run(["git", "-C", str(work), "commit", "--quiet", "-m", "c"], check=True, env=git_env)
        subprocess.run(["git", "-C", str(work), "push", "--quiet", repo, "main"], check=True, env=git_env)
        entry = pwd.getpwnam(sshd.user)
        os.chmod(shared, 0o755)
        for root, dirs, files in os.walk(shared):
            for item in [root, *(os.path.join(root, f) for f in files)]:
                os.chown(item, entry.pw_uid, entry.pw_gid)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ESSH_")}
        env.update(HOME=str(ws.path / "home"), XDG_STATE_HOME=str(ws.path / "state"),
                   GIT_SSH_COMMAND=f"{sys.executable} -m essh ssh")
        listed = subprocess.run(["git", "ls-remote", f"{name}:{repo}"], cwd=ws.path, env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        head = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        assert f"{head}\trefs/heads/main" in listed.stdout
    finally:
        shutil.rmtree(shared, ignore_errors=True)
