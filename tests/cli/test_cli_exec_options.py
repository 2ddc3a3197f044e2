"""ESSH's `--exec` options on `essh exec`, through the real command (local backend)."""

from __future__ import annotations

from cli_workspace import one_error_line

HOSTS = 'host "a" { tags = ["t"] }\nhost "bb" { tags = ["t"] }\n'


def test_prefix_string_is_a_template(ws):
    ws.write(".esshconfig.lua", HOSTS)
    result = ws.essh("exec", "--target", "t", "--backend", "local", "--prefix-string", "<{{.Host.Name}}>", "echo hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["<a>  hi", "<bb> hi"]  # aligned, as every prefix


def test_script_file_reads_the_commands_from_a_file(ws):
    ws.write(".esshconfig.lua", HOSTS)
    ws.write("cmds.sh", "echo one $ESSH_HOSTNAME\necho two\n")
    result = ws.essh("exec", "--target", "a", "--backend", "local", "--script-file", "cmds.sh")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "one a\ntwo\n"
    missing = ws.essh("exec", "--target", "a", "--backend", "local", "--script-file", "nope.sh")
    assert missing.returncode == 2 and "cannot read script file nope.sh" in one_error_line(missing)


def test_driver_renders_the_command(ws):
    ws.write(".esshconfig.lua", HOSTS + 'driver "loud" { engine = [=[{{range .Scripts}}{{.code}} | tr a-z A-Z{{end}}]=] }\n')
    result = ws.essh("exec", "--target", "a", "--backend", "local", "--driver", "loud", "echo quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "QUIET\n"


def test_privileged_user_and_pty_are_options_not_part_of_the_command(sshd, ws):
    name, port = sshd.hosts[0]
    ws.write(".esshconfig.lua", f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
             f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}" }}\n')
    result = ws.essh("exec", "--target", name, "--privileged", "id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "root"
    as_user = ws.essh("exec", "--target", name, "--user", sshd.user, "--pty", "id -un; test -t 1 && echo tty")
    assert as_user.returncode == 0, as_user.stderr
    assert as_user.stdout.split() == [sshd.user, "tty"]


def test_privileged_and_user_steps_run_a_login_shell_as_essh_does(sshd, ws):
    # ESSH: `sudo -u USER bash -l -c SCRIPT`; essh: `sudo -n -u USER -H -- bash -l -c BOOTSTRAP`, the program on stdin.
    name, port = sshd.hosts[0]
    ws.write(".esshconfig.lua", f'host "{name}" {{ HostName = "127.0.0.1", Port = {port}, User = "{sshd.user}", '
             f'IdentityFile = "{sshd.key_path}", IdentitiesOnly = "yes", UserKnownHostsFile = "{sshd.known_hosts}" }}\n'
             f'task "as-user" {{ targets = "{name}", user = "{sshd.user}", script = "shopt -q login_shell && echo login; id -un" }}\n'
             f'task "plain" {{ targets = "{name}", script = "shopt -q login_shell || echo not-login" }}\n')
    user = ws.essh("run", "as-user")
    assert user.returncode == 0, user.stderr
    assert user.stdout.split() == ["login", sshd.user]
    privileged = ws.essh("exec", "--target", name, "--privileged", "shopt -q login_shell && echo login; id -un")
    assert privileged.returncode == 0, privileged.stderr
    assert privileged.stdout.split()[-2:] == ["login", "root"]
    plain = ws.essh("run", "plain")
    assert plain.returncode == 0 and plain.stdout.split() == ["not-login"]
    shown = ws.essh("plan", "as-user", "--verbose")
    assert f"sudo -n -u {sshd.user} -H -- bash -l -c" in shown.stdout
