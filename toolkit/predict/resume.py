"""Reading back what an earlier run wrote, for `--resume`: which files it already has (by identity, however
the inputs are spelled: see `FileKeys`), read from a partial CSV/JSONL journal or a finished output, and how a
recorded fingerprint differs from this run's.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError, first_line
from toolkit.predict.writers import display_path, open_text, require_parquet


class Damaged(Exception):
    """A file to resume from is not as this module writes it (cut, torn or edited by hand): what is wrong."""


class FileKeys:
    """Keys that tell files apart whatever their paths' spelling: `data/a.png`, `./data/a.png`, `$PWD/data/a.png`,
    `../here/data/a.png` and `link-to-data/a.png` all get one key. The key is a 16-byte digest of the folder's
    identity (device and inode: one stat per folder, cached, so a folder of a million files costs one) and the
    file's own name, which is not resolved: a file that is itself a symbolic link is its own entry, as it is for
    the walk. A folder that cannot be stat'ed (gone since) is taken by its resolved path instead.
    Relative paths are taken relative to `base`, the folder the run that wrote them was started in."""

    def __init__(self, base: str):
        self.base = base
        self._folder = functools.lru_cache(maxsize=4096)(_folder_identity)

    def key(self, path: str) -> bytes:
        """The key of `path` (as written in a record: see `display_path`)."""
        folder, name = os.path.split(os.path.join(self.base, path))
        text = f"{self._folder(folder)}\0{name}"  # NUL: the one character no file name can hold
        return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest()


def _folder_identity(folder: str) -> str:
    try:
        st = os.stat(folder)
    except OSError:
        return "path:" + os.path.realpath(folder)
    return f"inode:{st.st_dev}:{st.st_ino}"


class Previous:
    """What a previous run already wrote: which files it covered (by `FileKeys`, so a resume may spell its inputs
    differently), how many records, and how many of them were errors.

    Built for millions of records: the keys are kept as 128-bit digests in two sorted NumPy arrays, 16 bytes a
    file (a set of path strings takes over 100), and looked up by binary search. `base` is the folder the
    recorded relative paths are relative to; paths looked up are relative to the current folder.
    """

    def __init__(self, base: str | None = None) -> None:
        cwd = os.getcwd()
        self.base = base or cwd
        self.records = 0
        self.errors = 0
        self.relative = False  # does any recorded path depend on `base`?
        self._recorded = FileKeys(self.base)
        self._current = self._recorded if self.base == cwd else FileKeys(cwd)
        self._new = bytearray()  # digests added since the arrays were last sorted
        self._last = b""
        self._high: Any = None
        self._low: Any = None
        self._u64: Any = None  # numpy.uint64, imported when first needed

    def add(self, path: str, status: str) -> None:
        self.records += 1
        self.errors += status == "error"
        self.relative = self.relative or not os.path.isabs(path)
        key = self._recorded.key(path)
        if key != self._last:  # the frames of one file come one after the other: one key for them all
            self._new += key
            self._last = key

    def check_inputs(self, inputs: Sequence[str], out: Path | str) -> None:
        """UsageError when this run would add paths relative to another folder than the recorded ones are:
        one output would then hold relative paths that mean different files, and no later resume could tell
        them apart. Inputs on stdin (-) may be relative too."""
        if not self.relative or not any(i == "-" or not os.path.isabs(i) for i in inputs):
            return
        try:
            same = os.path.samefile(self.base, os.getcwd())
        except OSError:  # the first run's folder is gone
            same = False
        if not same:
            raise UsageError(
                f"cannot --resume from {os.getcwd()}: the paths already in {out} are relative to "
                f"{self.base}, where the first run started; run it from there, or name every input "
                "by an absolute path"
            )

    def __contains__(self, path: str) -> bool:
        if self._new or self._high is None:
            self._sort()
        key = self._current.key(display_path(path))
        high, low = self._high, self._low
        want_high, want_low = self._u64(int.from_bytes(key[:8], "big")), self._u64(int.from_bytes(key[8:], "big"))
        i = int(high.searchsorted(want_high))
        while i < len(high) and high[i] == want_high:  # more than one only if two digests share 64 bits
            if low[i] == want_low:
                return True
            i += 1
        return False

    def _sort(self) -> None:
        import numpy as np

        self._u64 = np.uint64
        pairs = np.frombuffer(self._new, dtype=">u8").reshape(-1, 2)
        high, low = pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64)
        del pairs  # releases the bytearray, which can then be emptied
        self._new = bytearray()
        if self._high is not None:
            high, low = np.concatenate([self._high, high]), np.concatenate([self._low, low])
        order = np.argsort(high, kind="stable")
        self._high, self._low = high[order], low[order]


def other_columns(path: Path) -> UsageError:
    return UsageError(
        f"cannot --resume: {path} has other columns than this run writes; use the same options or a new --out"
    )


def scan_text(path: Path, fmt: str, columns: Sequence[str], previous: Previous) -> None:
    """Note every record of a CSV/JSONL file in `previous`; Damaged where a line is not a record of ours."""
    columns = list(columns)
    with open_text(path, "r") as fh:
        if fmt == "jsonl":
            first = True
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    raise Damaged(f"line {number} is not JSON") from None
                if not (
                    isinstance(obj, dict) and isinstance(obj.get("path"), str) and isinstance(obj.get("status"), str)
                ):
                    raise Damaged(f"line {number} is not a record (an object with a path and a status)")
                if list(obj) != columns:
                    if first:
                        raise other_columns(path)
                    raise Damaged(f"line {number} has other keys than the lines before it")
                first = False
                previous.add(obj["path"], obj["status"])
            return
        reader = csv.reader(fh)
        try:
            header = next(reader, None)
            if header is None:
                raise Damaged("is empty (not even a header row)")
            if header != columns:
                raise other_columns(path)
            for row in reader:
                if len(row) != len(columns):
                    raise Damaged(
                        f"line {reader.line_num} is blank"
                        if not row
                        else f"line {reader.line_num} has {len(row)} fields, not {len(columns)}"
                    )
                previous.add(row[0], row[1])
        except csv.Error as exc:
            raise Damaged(f"line {reader.line_num} is not CSV ({first_line(exc)})") from None


def scan_parquet(path: Path, columns: Sequence[str], previous: Previous) -> None:
    pa = require_parquet()
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        if list(parquet.schema_arrow.names) != list(columns):
            raise other_columns(path)
        for batch in parquet.iter_batches(columns=["path", "status"], batch_size=65536):
            for p, s in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                previous.add(p, s)
    except (pa.ArrowException, ValueError) as exc:  # not Parquet, or cut short
        raise Damaged(f"is not a readable Parquet file ({first_line(exc)})") from None


def differences(recorded: Any, current: dict[str, Any]) -> str:
    """What differs between a recorded fingerprint and this run's, as `key (was X, now Y)`; empty if nothing."""
    recorded = recorded if isinstance(recorded, dict) else {}
    parts = []
    for key, now in current.items():
        was = recorded.get(key)
        if was == now:
            continue
        if key not in recorded:
            parts.append(f"{key} (not recorded)")
        elif isinstance(was, list | dict) or isinstance(now, list | dict):
            parts.append(key)
        elif key.endswith("sha256"):
            parts.append(f"{key} (was {str(was)[:12]}..., now {str(now)[:12]}...)")
        else:
            parts.append(f"{key} (was {was}, now {now})")
    return ", ".join(parts)


def base_folder(recorded: dict[str, Any]) -> str | None:
    """The folder a state or sidecar says its relative paths are relative to (older ones do not say)."""
    cwd = recorded.get("cwd")
    return cwd if isinstance(cwd, str) and cwd else None
