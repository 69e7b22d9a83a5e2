"""The sources sidecar of an output: each record's input version (size and mtime_ns), 16 bytes a record in
record order, in `<out>.sources` beside a finished output and `<out>.partial.sources` beside a partial one.
It is what lets a later `--resume` tell a changed input from the one that was scored (see `resume.Previous`)."""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, BinaryIO

UNKNOWN = (-1, -1)  # the version of an input that could not be stat'ed, or of a record written without one
Version = tuple[int, int]  # (size in bytes, mtime_ns): what tells a changed input from the one that was scored


def version_of(path: str, follow: bool = True) -> Version:
    """An input's version now: its size and modification time, or UNKNOWN when it cannot be stat'ed."""
    try:
        st = os.stat(path, follow_symlinks=follow)
    except (OSError, ValueError):
        return UNKNOWN
    return st.st_size, st.st_mtime_ns


ENTRY = struct.Struct("<qq")  # an input's version in a sources file: size, mtime_ns


def read_versions(path: Path, count: Any) -> Iterator[Version]:
    """The versions in a sources file, one per record, or UNKNOWN for all when the file does not hold
    `count` entries (missing, cut, or no count recorded)."""
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        return repeat(UNKNOWN)
    try:
        data = path.read_bytes()
    except OSError:
        return repeat(UNKNOWN)
    if len(data) < count * ENTRY.size:
        return repeat(UNKNOWN)
    return ENTRY.iter_unpack(data[: count * ENTRY.size])


def open_versions(path: Path, records: int, source: Path, committed: Any, copy: bool = False) -> BinaryIO:
    """The sources file `path` of a partial output, open for appending, holding one entry for each of the
    `records` already in the partial file: cut back to them, or copied from a finished run's `source` (`copy`),
    when `committed` (the count its state or sidecar recorded) says they describe these records; else UNKNOWN
    entries."""
    usable = committed == records and source.exists() and source.stat().st_size >= records * ENTRY.size
    if copy and usable:
        shutil.copyfile(source, path)
    fh = open(path, "r+b" if usable else "wb")
    if usable:
        fh.truncate(records * ENTRY.size)
        fh.seek(0, os.SEEK_END)
    else:
        fh.write(ENTRY.pack(*UNKNOWN) * records)
    return fh
