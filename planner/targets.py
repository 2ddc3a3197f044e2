"""Host selection: which hosts a task's `targets` and `filters` name.

Each entry matches host names and tags alike. An entry holding `*`, `?` or `[`
is a glob (fnmatch rules, case-sensitive); `all` means every host. `filters`
narrow the selection: a host must match the targets and every filter (ESSH
applies its filters one after another: an intersection). Hidden hosts are selectable like any other.
Results are always sorted by host name.

`HostIndex` is built once per plan so that selecting ~1,000 of 10,000 hosts
for each of hundreds of tasks stays cheap: tags are looked up in a dict, and a
glob with a literal prefix (`web-*`) only scans the names sharing that prefix,
found by bisection in the sorted name list.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence

from .model import HostDef

ALL = "all"
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_glob(entry: str) -> bool:
    """Whether `entry` is a glob pattern rather than a plain name or tag."""
    return _GLOB_CHARS.search(entry) is not None


class HostIndex:
    """The hosts of a configuration, indexed by name and by tag."""

    def __init__(self, hosts: Mapping[str, HostDef]) -> None:
        self.hosts = hosts
        self.names: list[str] = sorted(hosts)
        by_tag: dict[str, list[str]] = {}
        for name in self.names:
            for tag in hosts[name].tags:
                by_tag.setdefault(tag, []).append(name)
        self.by_tag = by_tag
        self._tags_sorted = sorted(by_tag)
        self._cache: dict[str, frozenset[str] | None] = {}  # entry -> names; None for `all`

    def match(self, entry: str) -> frozenset[str] | None:
        """The names `entry` selects; None stands for every host (`all`)."""
        try:
            return self._cache[entry]
        except KeyError:
            pass
        if entry == ALL:
            found: frozenset[str] | None = None
        elif is_glob(entry):
            found = self._match_glob(entry)
        else:
            found = frozenset(self.by_tag.get(entry, ()))
            if entry in self.hosts:
                found = found | {entry}
        self._cache[entry] = found
        return found

    def _match_glob(self, pattern: str) -> frozenset[str]:
        matches = re.compile(fnmatch.translate(pattern)).match
        prefix = pattern[: _GLOB_CHARS.search(pattern).start()]  # type: ignore[union-attr]
        out: set[str] = set(_with_prefix(self.names, prefix, matches))
        for tag in _with_prefix(self._tags_sorted, prefix, matches):
            out.update(self.by_tag[tag])
        return frozenset(out)

    def union(self, entries: Iterable[str]) -> frozenset[str] | None:
        """The names any of `entries` selects; None for every host."""
        out: set[str] = set()
        for entry in entries:
            found = self.match(entry)
            if found is None:
                return None
            out |= found
        return frozenset(out)

    def select(self, targets: Sequence[str], filters: Sequence[str] = ()) -> list[str]:
        """Names selected by `targets`, narrowed by `filters`, sorted by name."""
        if not targets:
            return []
        chosen = self.union(targets)
        for entry in filters:
            keep = self.match(entry)
            if keep is not None:
                chosen = keep if chosen is None else chosen & keep
        if chosen is None:
            return list(self.names)
        return sorted(chosen)


def _with_prefix(sorted_names: list[str], prefix: str, matches) -> Iterable[str]:
    """The names in `sorted_names` that start with `prefix` and fully match."""
    i = bisect.bisect_left(sorted_names, prefix)
    n = len(sorted_names)
    while i < n:
        name = sorted_names[i]
        if not name.startswith(prefix):
            break
        if matches(name):
            yield name
        i += 1


def select_hosts(hosts: Mapping[str, HostDef], patterns: Sequence[str], filters: Sequence[str] = ()) -> list[HostDef]:
    """Hosts matching `patterns` (every host when empty) and `filters`, by name."""
    index = HostIndex(hosts)
    names = index.select(list(patterns) or [ALL], filters)
    return [hosts[name] for name in names]
