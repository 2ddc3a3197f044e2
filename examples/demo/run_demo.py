"""The demo: four real sshd hosts on loopback, an ESSH configuration, `essh plan -o`, `essh show`,
`essh apply plan.bin`. Run by scripts/demo.sh (as root, after set-up)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.sshd import start_fleet  # noqa: E402  (the same servers the tests use)

TAGS = {"db-1": ["db"], "db-2": ["db"], "web-1": ["web", "production"], "web-2": ["web", "production"]}


def essh(*args: str, cwd: Path) -> int:
    print(f"\n$ essh {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "essh", *args], cwd=cwd, stdin=subprocess.DEVNULL).returncode


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="essh-demo-"))
    work.chmod(0o755)  # sshd reads the fleet's authorized_keys as the test user
    fleet = start_fleet(work / "fleet")
    try:
        lines = ["return {", f"  user = {fleet.user!r},", f"  key = {str(fleet.key_path)!r},",
                 f"  known_hosts = {str(fleet.known_hosts)!r},", "  hosts = {"]
        for name, port in fleet.hosts:
            tags = ", ".join(repr(t) for t in TAGS.get(name, []))
            lines.append(f"    {{ name = {name!r}, port = {port}, tags = {{ {tags} }} }},")
        lines += ["  },", "}", ""]
        (work / "hosts.lua").write_text("\n".join(lines).replace("'", '"'))
        shutil.copy(Path(__file__).with_name("esshconfig.lua"), work / ".esshconfig.lua")
        steps = [
            ("hosts",),
            ("plan", "-o", "plan.bin"),
            ("show", "plan.bin"),
            ("apply", "plan.bin", "--report", "report.json", "--log-dir", "logs"),
        ]
        for args in steps:
            code = essh(*args, cwd=work)
            if code != 0:
                print(f"demo: `essh {' '.join(args)}` exited {code}", file=sys.stderr)
                return code
        print(f"\nThe plan, the report and the logs are in {work}")
        return 0
    finally:
        fleet.stop()


if __name__ == "__main__":
    sys.exit(main())
