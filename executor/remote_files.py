"""The shell programs file operations run on a host, and reading their answers.

Each is a short POSIX sh program handed to the task's shell like a step's
script (so `privileged`/`user` apply through the same sudo), with every path
quoted. `observe` only reads; `upload` receives the contents on its standard
input (see `ssh_upload.py`) into a private temporary file beside the
destination, sets owner, group and mode on it and renames it over the
destination only when every byte arrived, removing it on any failure or
signal, so the destination is either the old file or the new one, never a
half-written one; `download` writes a file on its standard output.
"""

from __future__ import annotations

import posixpath
from shlex import quote

from essh.schema import Observed

OBSERVE = r"""p={path}
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi
if [ ! -f "$p" ]; then echo "$p is not a regular file" >&2; exit 3; fi
m=$(stat -L -c '%a %U %G %s' -- "$p") || exit 4
d=$(sha256sum -- "$p") || exit 5
echo "present $m ${{d%% *}}"
"""

UPLOAD = r"""dest={dest}; dir={folder}; size={size}
{mkdir}tmp=$(mktemp -- "$dir/."{base}".essh-XXXXXX") || exit 3
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
cat > "$tmp" || exit 4
got=$(wc -c < "$tmp") || exit 4
[ "$got" -eq "$size" ] || {{ rm -f -- "$tmp"; echo "the upload stopped after $got of $size bytes" >&2; exit 5; }}
{chown}chmod {mode} -- "$tmp" || exit 7
if [ -d "$dest" ]; then echo "it is a directory" >&2; exit 11; fi
mv -f -T -- "$tmp" "$dest" || exit 8
trap - EXIT
"""

DOWNLOAD = r"""src={src}
if [ ! -e "$src" ]; then echo "No such file or directory" >&2; exit 3; fi
if [ ! -f "$src" ]; then echo "Not a regular file" >&2; exit 4; fi
exec cat -- "$src"
"""


def observe_program(path: str) -> str:
    return OBSERVE.format(path=quote(path))


def parse_observed(out: str) -> Observed:
    """The answer of `observe_program`; ValueError if it is not one."""
    words = out.split()
    if words == ["absent"]:
        return Observed(exists=False)
    if len(words) != 6 or words[0] != "present":
        raise ValueError(f"unexpected answer {out.strip()[:200]!r}")
    _, mode, owner, group, size, sha = words
    return Observed(exists=True, sha256=sha, size=int(size), mode=int(mode, 8), owner=owner, group=group)


def upload_program(
    dest: str, size: int, mode: int, owner: str | None, group: str | None, *, parents: bool = False
) -> str:
    """Reads the contents on its standard input into a private temporary file beside `dest`
    (mktemp: 0600, created exclusively), checks `size` bytes arrived, sets owner, group
    and mode, renames it over `dest`; on any failure or signal, removes it. With `parents`,
    first creates the missing folders above `dest` (exit 10 when it cannot)."""
    chown = ""
    if owner or group:
        who = (owner or "") + (":" + group if group else "")
        chown = f"chown {quote(who)} -- \"$tmp\" || exit 9\n"
    mkdir = 'mkdir -p -- "$dir" || exit 10\n' if parents else ""
    # The folder and name split here, not by dirname/basename (which drop a name's trailing newlines);
    # `mv -T` never moves the file inside a directory that appeared at `dest`.
    folder, base = posixpath.split(dest)
    return UPLOAD.format(dest=quote(dest), folder=quote(folder or "/"), base=quote(base), size=size,
                         chown=chown, mode=f"{mode:04o}", mkdir=mkdir)


def download_program(src: str) -> str:
    """Writes `src` on its standard output (exit 3: no such file, 4: not a regular file)."""
    return DOWNLOAD.format(src=quote(src))
