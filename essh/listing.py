"""What `essh hosts`, `essh tasks` and `essh tags` print, from the loaded configuration.

Every name, description, tag and option value is escaped (`essh.schema.escape_text`):
a configuration cannot put a terminal sequence on the screen, nor a newline that
would start a line of its own (in `--ssh-config` output, a keyword of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from essh.schema import escape_text


def host_rows(hosts: Iterable, *, quiet: bool) -> Iterator[str]:
    """`essh hosts`: a NAME, DESCRIPTION, TAGS, REGISTRY table (ESSH 2's columns), or names only."""
    if quiet:
        return (escape_text(h.name) for h in hosts)
    return table(
        ("NAME", "DESCRIPTION", "TAGS", "REGISTRY"), [(h.name, h.description, ",".join(h.tags), h.registry) for h in hosts]
    )


def ssh_config(hosts: Iterable) -> Iterator[str]:
    """`essh hosts --ssh-config`: the hosts as ssh_config blocks."""
    for host in hosts:
        yield f"Host {escape_text(host.name)}"
        for key, value in host.ssh_options:
            yield f"    {escape_text(key)} {escape_text(value)}"
        yield ""


def task_rows(tasks: Iterable, *, quiet: bool) -> Iterator[str]:
    """`essh tasks`: a NAME, DESCRIPTION, TARGETS, REGISTRY table, or names only."""
    if quiet:
        return (escape_text(t.name) for t in tasks)
    return table(
        ("NAME", "DESCRIPTION", "TARGETS", "REGISTRY"),
        [(t.name, t.description, ",".join(t.targets), t.registry or "") for t in tasks],
    )


def tag_lines(hosts: Iterable) -> Iterator[str]:
    """`essh tags`: every tag of the hosts, sorted, once."""
    return (escape_text(tag) for tag in sorted({tag for h in hosts for tag in h.tags}))


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> Iterator[str]:
    """Left-aligned columns two spaces apart, cells escaped before they are measured."""
    cells = [list(header), *([escape_text(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
