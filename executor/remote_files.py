"""The shell programs file operations run on a host, and reading their answers.

Each is a short POSIX sh program handed to the task's shell like a step's
script (so `privileged`/`user` apply through the same sudo), with every path
quoted. `observe` only reads; `finish_upload` (the SFTP writer already
checked the digest of what it sent) copies a file staged elsewhere beside the destination, sets owner, group and mode on it and renames it over the
destination, removing it on any failure, so the destination is either the
old file or the new one, never a half-written one.
"""

from __future__ import annotations

from shlex import quote

from essh.schema import Observed

OBSERVE = r"""p={path}
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo absent; exit 0; fi
if [ ! -f "$p" ]; then echo "$p is not a regular file" >&2; exit 3; fi
m=$(stat -L -c '%a %U %G %s' -- "$p") || exit 4
d=$(sha256sum -- "$p") || exit 5
echo "present $m ${{d%% *}}"
"""

FINISH_UPLOAD = r"""src={src}; dest={dest}
tmp=$src
fail() {{ rm -f -- "$tmp"; [ "$tmp" = "$src" ] || rm -f -- "$src"; exit "$1"; }}
if [ {copy} = 1 ]; then
  tmp=$(mktemp -- "$(dirname -- "$dest")/.$(basename -- "$dest").essh-XXXXXX") || {{ tmp=$src; fail 3; }}
  cat -- "$src" > "$tmp" || fail 4
  rm -f -- "$src"
fi
{chown}chmod {mode} -- "$tmp" || fail 7
mv -f -- "$tmp" "$dest" || fail 8
"""

STAGE_DOWNLOAD = r"""t=$(mktemp /tmp/.essh-download-XXXXXX) || exit 3
cat -- {src} > "$t" || {{ rm -f -- "$t"; exit 4; }}
chown -- "${{SUDO_USER:-$(id -un)}}" "$t" || {{ rm -f -- "$t"; exit 5; }}
echo "$t"
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


def finish_program(src: str, dest: str, mode: int, owner: str | None, group: str | None, *, copy: bool) -> str:
    chown = ""
    if owner or group:
        who = (owner or "") + (":" + group if group else "")
        chown = f"chown {quote(who)} -- \"$tmp\" || fail 9\n"
    return FINISH_UPLOAD.format(
        src=quote(src), dest=quote(dest), copy=int(copy), chown=chown, mode=f"{mode:04o}"
    )


def stage_download_program(src: str) -> str:
    return STAGE_DOWNLOAD.format(src=quote(src))
