"""Secret values, resolved when a plan is applied, from the applying environment only.

For each secret a plan names (`Plan.secrets`), the first of these that has it:
1. the environment variable `ESSH_SECRET_<NAME>` (the name as written);
2. the secrets file (`--secrets-file`, or ESSH_SECRETS_FILE): dotenv lines
   `NAME=value` (`export ` allowed, '...' or "..." quotes stripped, # comments);
   refused unless only its owner may read it (mode 0600 or stricter);
3. the secret command (`--secret-command`, or ESSH_SECRET_COMMAND): split like a
   shell's words, `{name}` replaced by the secret's name (appended as the last
   argument when there is no `{name}`), run without a shell; its standard output,
   less one final newline, is the value. A command that fails leaves it missing.

Every missing secret is named in one `SecretsError`, before anything runs.
No value is ever put in a message.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from collections.abc import Mapping, Sequence

ENV_PREFIX = "ESSH_SECRET_"


class SecretsError(Exception):
    """Secrets cannot be resolved (one line, never a value)."""


def resolve(
    names: Sequence[str],
    environ: Mapping[str, str],
    secrets_file: str | None = None,
    secret_command: str | None = None,
) -> dict[str, str]:
    """name -> value for every name; SecretsError naming all the missing ones."""
    if not names:
        return {}
    from_file = read_secrets_file(secrets_file) if secrets_file else {}
    values: dict[str, str] = {}
    missing: list[str] = []
    failures: list[str] = []
    for name in names:
        if ENV_PREFIX + name in environ:
            values[name] = environ[ENV_PREFIX + name]
        elif name in from_file:
            values[name] = from_file[name]
        elif secret_command:
            value, why = _run_command(secret_command, name)
            if value is None:
                missing.append(name)
                failures.append(f"{name}: {why}")
            else:
                values[name] = value
        else:
            missing.append(name)
    for name, value in values.items():
        if "\0" in value:
            raise SecretsError(f"secret {name} contains a NUL character, which a shell variable cannot hold")
    if missing:
        where = [f"{ENV_PREFIX}<NAME>"]
        if secrets_file:
            where.append(secrets_file)
        if secret_command:
            where.append("the secret command")
        detail = f" ({'; '.join(failures)})" if failures else ""
        raise SecretsError(
            f"missing secret{'s' if len(missing) > 1 else ''}: {', '.join(missing)}; looked in {', '.join(where)}{detail}"
        )
    return values


def read_secrets_file(path: str) -> dict[str, str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise SecretsError(f"cannot read secrets file {path}: {exc.strerror or exc}") from None
    with open(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SecretsError(f"secrets file {path} is not a regular file")
        if mode & 0o077:
            raise SecretsError(f"secrets file {path} may be read by others (mode {stat.S_IMODE(mode):04o}): chmod 600 {path}")
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretsError(f"secrets file {path} is not UTF-8 text") from None
    return parse_dotenv(text, path)


def parse_dotenv(text: str, path: str = "secrets file") -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise SecretsError(f"{path}:{number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        values[name] = value
    return values


def _run_command(command: str, name: str) -> tuple[str | None, str]:
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return None, f"the secret command cannot be split into words: {exc}"
    if not words:
        return None, "the secret command is empty"
    argv = [w.replace("{name}", name) for w in words] if any("{name}" in w for w in words) else [*words, name]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"the secret command could not run: {getattr(exc, 'strerror', None) or exc}"
    if done.returncode != 0:
        return None, f"the secret command exited with status {done.returncode}"
    value = done.stdout.decode("utf-8", "surrogateescape")
    return value[:-1] if value.endswith("\n") else value, ""
