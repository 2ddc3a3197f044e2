"""File operations in the plan (format version 3): what a step uploads and downloads.

A step runs, in this order: its uploads (templates are uploads whose contents
the planner rendered), then its script (if it has one), then its downloads.
The operations are a tagged union (`kind`: "upload" | "download") in the
plan's `operations` table; a step lists the ones it runs by index
(`Step.ops`), so a hundred hosts that receive the same file at the same place
share one entry.

Contents are pinned by sha256 in the plan's `files` table, each distinct
content once: inline (`data`) up to the planner's size limit, above it as a
reference (`source`, a local path read at apply time, which refuses it when
its digest no longer matches).

`Observed` is what `essh plan --refresh` saw at an upload's destination;
a step's `observed` is aligned with its `ops` (None: not observed, for
downloads and unreachable hosts). At apply, an upload whose destination no
longer matches what was observed is refused (the stale-plan rule, per file).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Index = Annotated[int, msgspec.Meta(ge=0)]
Mode = Annotated[int, msgspec.Meta(ge=0, le=0o7777)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Origin = Literal["upload", "content", "template"]

INLINE_LIMIT = 16 * 1024 * 1024  # default: bigger contents are stored as a reference


class _Struct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Shared settings of these Structs (as `essh.schema.plan`'s)."""


class FileBlob(_Struct, kw_only=True):
    """A file's contents, pinned by digest: inline `data`, or a reference to `source` (data empty)."""

    sha256: Sha256
    data: bytes = b""
    size: NonNegative = 0
    source: str | None = None  # a reference: the local file read at apply time

    @property
    def is_reference(self) -> bool:
        return self.source is not None


class Upload(_Struct, tag="upload", tag_field="kind", kw_only=True):
    """Write the blob `blob` to `dest` on the host (atomically), with `mode` and, if set, owner/group."""

    dest: str
    blob: Index
    mode: Mode = 0o644
    owner: str | None = None
    group: str | None = None
    origin: Origin = "upload"
    src: str = ""  # what it was made from (a path, or "" for inline content): for the review
    # Inline content with secrets: (byte offset into the blob's data, secret name), offsets in order.
    # At apply each secret's value is put in at its offset; the blob holds only the text around them,
    # and no digest of the whole (its value) is in the plan.
    secrets: tuple[tuple[NonNegative, str], ...] = ()
    parents: bool = False  # create missing parent folders first (a file of a directory upload)


def with_secrets(data: bytes, places: tuple[tuple[int, str], ...], values: dict[str, str]) -> bytes:
    """An upload's contents: `data` with each secret's value (UTF-8) put in at its offset."""
    if not places:
        return data
    parts, at = [], 0
    for offset, name in places:
        parts += [data[at:offset], values[name].encode("utf-8", "surrogateescape")]
        at = offset
    parts.append(data[at:])
    return b"".join(parts)


class Download(_Struct, tag="download", tag_field="kind", kw_only=True):
    """Fetch `src` from the host into the local file `dest` (a path naming the host)."""

    src: str
    dest: str


Operation = Upload | Download


class Observed(_Struct, kw_only=True):
    """An upload's destination as `essh plan --refresh` saw it (exists False: no file there)."""

    exists: bool
    sha256: str = ""
    size: NonNegative = 0
    mode: Mode = 0
    owner: str = ""
    group: str = ""


def as_recorded(seen: Observed, op: Upload) -> Observed:
    """What a plan keeps of what was seen at `op`'s destination, and what apply compares with it: for
    an upload with secrets, no digest and no size (the host's file holds a value a digest or a length
    would help guess)."""
    return msgspec.structs.replace(seen, sha256="", size=0) if op.secrets else seen
