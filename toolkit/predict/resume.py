"""Reading back what an earlier run wrote, for `--resume`: which files it already has (by identity, however
the inputs are spelled: see `FileKeys`), read from a partial CSV/JSONL journal or a finished output, and how a
recorded fingerprint differs from this run's.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
from collections.abc import Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError, first_line
from toolkit.predict import located
from toolkit.predict.records import GONE, path_bytes
from toolkit.predict.sources import UNKNOWN, Version
from toolkit.predict.writers import jsonl_values, open_text, require_parquet

# The version noted for an error record of an input that could not be stat'ed (missing, vanished): unlike
# UNKNOWN (a record written without versions, which cannot be told from the input), any version the input has
# now differs from it, so a resume scores the file that has since appeared.
ABSENT: Version = (-2, -2)

# Errors of access, not of content (permission denied, an I/O error, a store's missing extra): what the user
# fixes without touching the file (chmod, a mount, an install), so its size and mtime_ns stay as they were. A
# resume scores such an input again whatever its version, and its new record replaces the old one.
RETRIED_KINDS = frozenset({"unreadable"})


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
        """The key of the file at `path` (a path as the walk gives it, not as a record spells it). An archive
        member's key is its local archive's and its name, an object's its URL (`located.key_text`)."""
        text = located.key_text(path, self._text) if located.is_located(path) else self._text(path)
        return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest()

    def _text(self, path: str) -> str:
        folder, name = os.path.split(os.path.join(self.base, path))
        return f"{self._folder(folder)}\0{name}"  # NUL: the one character no file name can hold


def _folder_identity(folder: str) -> str:
    try:
        st = os.stat(folder)
    except (OSError, ValueError):  # ValueError: a NUL byte in a listed path (realpath would raise it too)
        return "path:" + (folder if "\0" in folder else os.path.realpath(folder))
    return f"inode:{st.st_dev}:{st.st_ino}"


class Previous:
    """What a previous run already wrote: which inputs it covered (by `FileKeys`, so a resume may spell its
    inputs differently) and at which version (size and mtime_ns), how many records, and how many were errors.

    A resumed run asks `admit` of every input it walks: an input recorded at the same version is skipped
    (`seen`), one recorded at another version is scored again (`changed`: its old records are dropped when the
    output is finished), and so is one whose latest record is an error of access (RETRIED_KINDS: `retried`),
    whatever its version; one never recorded is new. Recorded inputs the walk never reaches are `gone`: their
    records are kept, flagged `input-gone` (`verdict`). A replacement with the same size and mtime_ns cannot
    be told from the original.

    Built for millions of records: per input 16 bytes of key digest, 16 of version and 1 of state, in sorted
    NumPy arrays looked up by binary search (a set of path strings takes over 100 bytes an entry). `base` is
    the folder the recorded relative paths are relative to; paths looked up are relative to the current folder.
    """

    SAME, CHANGED = 1, 2

    def __init__(self, base: str | None = None) -> None:
        cwd = os.getcwd()
        self.base = base or cwd
        self.records = 0
        self.errors = 0
        self.relative = False  # does any recorded path depend on `base`?
        self.changed = 0  # inputs admitted again because they changed
        self.retried = 0  # inputs admitted again because their latest record is an error of access
        self.restored = 0  # inputs flagged gone by an earlier resume that are back as they were
        self.superseded = 0  # records of an older version of an input that has a later record too
        self._recorded = FileKeys(self.base)
        self._current = self._recorded if self.base == cwd else FileKeys(cwd)
        self._new = bytearray()  # digests added since the arrays were last sorted
        self._new_versions: list[int] = []
        self._new_firsts: list[int] = []  # the index of each entry's first record
        self._new_retry = bytearray()  # 1 where an entry's record is an error of access (RETRIED_KINDS)
        self._last = b""
        self._last_version: Version = UNKNOWN
        self._last_retry = False  # whether the record before was an error of access
        self._high: Any = None
        self._low: Any = None
        self._versions: Any = None  # (n, 2) int64: size, mtime_ns
        self._state: Any = None  # 0 not seen by this run, SAME, CHANGED
        self._firsts: Any = None  # int64: the index of the first record of each input's latest entry
        self._retry: Any = None  # bool: whether an input's latest record is an error of access
        self._gone_flagged: set[bytes] = set()  # inputs whose records say input-gone already
        self._u64: Any = None  # numpy.uint64, imported when first needed

    def add(
        self,
        path: str,
        status: str,
        version: Version = UNKNOWN,
        flags: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        """Note a record of an earlier run; `path` as the record spells it (`records.path_text`)."""
        index = self.records
        self.records += 1
        self.errors += status == "error"
        self.relative = self.relative or located.relative(path)
        key = self._recorded.key(os.fsdecode(path_bytes(path)))
        if status == "error" and version == UNKNOWN:
            version = ABSENT  # it could not be stat'ed: whatever version it has now is another
        # The frames of one file come one after the other: one entry for them all. The same file at another
        # version right after it (an interrupted resume that scored it again) is an entry of its own, the
        # later one current (`_sort`), and so is any record right after an error of access (one record a file:
        # the record after it is the same file tried again).
        retry = status == "error" and error_kind in RETRIED_KINDS
        if key != self._last or version != self._last_version or self._last_retry:
            self._new += key
            self._new_versions.extend(version)
            self._new_firsts.append(index)
            self._new_retry.append(retry)
            self._last, self._last_version = key, version
        self._last_retry = retry
        if flags and GONE in flags.split():
            self._gone_flagged.add(key)

    def check_inputs(self, inputs: Sequence[str], out: Path | str) -> None:
        """UsageError when this run would add paths relative to another folder than the recorded ones are:
        one output would then hold relative paths that mean different files, and no later resume could tell
        them apart. Inputs on stdin (-) may be relative too."""
        if not self.relative or not any(i == "-" or located.relative(i) for i in inputs):
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

    def _find(self, key: bytes) -> int | None:
        if self._new or self._high is None:
            self._sort()
        high, low = self._high, self._low
        want_high, want_low = self._u64(int.from_bytes(key[:8], "big")), self._u64(int.from_bytes(key[8:], "big"))
        i = int(high.searchsorted(want_high))
        while i < len(high) and high[i] == want_high:  # more than one only if two digests share 64 bits
            if low[i] == want_low:
                return i
            i += 1
        return None

    def __contains__(self, path: str) -> bool:
        """Whether an earlier run recorded the input at `path` (a path as the walk gives it), at any version."""
        return self._find(self._current.key(path)) is not None

    def admit(self, path: str, version: Version) -> bool:
        """Whether this run must score the input at `path`, now at `version`: True for a new input and for one
        recorded at another version; False for one recorded at this version, or one that cannot be stat'ed now
        (it keeps its record, flagged gone)."""
        if not self.records:
            return True
        key = self._current.key(path)
        i = self._find(key)
        if i is None:
            return True
        if version == UNKNOWN:
            return False
        if self._retry[i]:  # an error of access: scored again, whatever its version says
            if self._state[i] != self.CHANGED:
                self._state[i] = self.CHANGED
                self.retried += 1
            return True
        recorded = (int(self._versions[i, 0]), int(self._versions[i, 1]))
        if recorded == version or recorded == UNKNOWN:  # UNKNOWN: written without versions, cannot tell
            if self._state[i] == 0:
                self._state[i] = self.SAME
                self.restored += key in self._gone_flagged
            return False
        if self._state[i] != self.CHANGED:
            self._state[i] = self.CHANGED
            self.changed += 1
        return True

    def verdict(self, path: str, version: Version = UNKNOWN, index: int = -1, error_kind: str | None = None) -> int:
        """What becomes of a recorded input's record when the output is finished: SAME (kept as it is), CHANGED
        (dropped: the input was scored again, or the record is of an older version than the input's latest
        record, or an error of access that a later record of the input replaces), or 0 (kept, flagged gone).
        `path` as the record spells it, `version` as its sources entry says, `index` the record's place among
        the earlier run's records (`add`'s order) and `error_kind` its error kind, if any."""
        i = self._find(self._recorded.key(os.fsdecode(path_bytes(path))))
        if i is None:
            return 0
        latest = (int(self._versions[i, 0]), int(self._versions[i, 1]))
        if version != UNKNOWN and latest != UNKNOWN and version != latest:
            return self.CHANGED
        if error_kind in RETRIED_KINDS and 0 <= index < int(self._firsts[i]):
            return self.CHANGED
        return int(self._state[i])

    @property
    def gone(self) -> int:
        """Recorded inputs this run has not reached (so far: final once the walk has ended)."""
        if self._state is None and self._new:
            self._sort()
        return 0 if self._state is None else int((self._state == 0).sum())

    @property
    def needs_rewrite(self) -> bool:
        """Whether the recorded records must change: some are dropped, flagged gone, or lose that flag."""
        # Without changes or restores, every input flagged gone before is gone still: more are gone only if
        # the count grew.
        return bool(
            self.changed or self.retried or self.restored or self.superseded or self.gone > len(self._gone_flagged)
        )

    def _sort(self) -> None:
        import numpy as np

        self._u64 = np.uint64
        pairs = np.frombuffer(self._new, dtype=">u8").reshape(-1, 2)
        high, low = pairs[:, 0].astype(np.uint64), pairs[:, 1].astype(np.uint64)
        versions = np.asarray(self._new_versions, np.int64).reshape(-1, 2)
        firsts = np.asarray(self._new_firsts, np.int64)
        retry = np.frombuffer(bytes(self._new_retry), np.uint8).astype(bool)
        del pairs  # releases the bytearray, which can then be emptied
        self._new, self._new_versions, self._new_firsts, self._new_retry = bytearray(), [], [], bytearray()
        state = np.zeros(len(high), np.uint8)
        if self._high is not None:
            high, low = np.concatenate([self._high, high]), np.concatenate([self._low, low])
            versions, state = np.concatenate([self._versions, versions]), np.concatenate([self._state, state])
            firsts, retry = np.concatenate([self._firsts, firsts]), np.concatenate([self._retry, retry])
        # By key, then in the order the records came; of records of one input at several versions (a resume
        # that scored a changed input again and was itself interrupted), the last is the current one.
        order = np.lexsort((np.arange(len(high)), low, high))
        high, low, versions, state = high[order], low[order], versions[order], state[order]
        firsts, retry = firsts[order], retry[order]
        last = np.ones(len(high), bool)
        last[:-1] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
        ends = np.flatnonzero(last)
        current = versions[ends[np.searchsorted(ends, np.arange(len(high)))]]  # each entry's latest version
        older = (versions != current).any(axis=1)
        # An error of access followed by a later record of its input at the same version (a resume that scored
        # it again and was itself interrupted) is replaced by it too.
        self.superseded += int(older.sum() + (retry & ~last & ~older).sum())
        self._high, self._low, self._versions, self._state = high[last], low[last], versions[last], state[last]
        self._firsts, self._retry = firsts[last], retry[last]

    def forget_versions(self) -> None:
        """Treat every recorded version as unknown (the sidecar does not match the records it should describe)."""
        if self._new or self._high is None:
            self._sort()
        self._versions[:] = UNKNOWN


def other_columns(path: Path) -> UsageError:
    return UsageError(
        f"cannot --resume: {path} has other columns than this run writes; use the same options or a new --out"
    )


def scan_text(
    path: Path, fmt: str, columns: Sequence[str], previous: Previous, versions: Iterator[Version] | None = None
) -> None:
    """Note every record of a CSV/JSONL file in `previous`, with its input's version from `versions` (one per
    record, in order; UNKNOWN for all without); Damaged where a line is not a record of ours."""
    columns = list(columns)
    versions = versions or repeat(UNKNOWN)
    flags_at = columns.index("flags") if "flags" in columns else None
    kind_at = columns.index("error_kind") if "error_kind" in columns else None
    with open_text(path, "r") as fh:
        if fmt == "jsonl":
            first = True
            values = jsonl_values(fh)
            while True:
                try:
                    number, obj = next(values)
                except StopIteration:
                    break
                except ValueError as exc:
                    raise Damaged(str(exc)) from None
                if not (
                    isinstance(obj, dict) and isinstance(obj.get("path"), str) and isinstance(obj.get("status"), str)
                ):
                    raise Damaged(f"line {number} is not a record (an object with a path and a status)")
                if list(obj) != columns:
                    if first:
                        raise other_columns(path)
                    raise Damaged(f"line {number} has other keys than the lines before it")
                first = False
                version = next(versions, UNKNOWN)
                previous.add(obj["path"], obj["status"], version, obj.get("flags"), obj.get("error_kind"))
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
                previous.add(
                    row[0],
                    row[1],
                    next(versions, UNKNOWN),
                    row[flags_at] if flags_at is not None else None,
                    row[kind_at] if kind_at is not None else None,
                )
        except csv.Error as exc:
            raise Damaged(f"line {reader.line_num} is not CSV ({first_line(exc)})") from None


def scan_parquet(
    path: Path, columns: Sequence[str], previous: Previous, versions: Iterator[Version] | None = None
) -> None:
    versions = versions or repeat(UNKNOWN)
    pa = require_parquet()
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        if list(parquet.schema_arrow.names) != list(columns):
            raise other_columns(path)
        for batch in parquet.iter_batches(columns=["path", "status", "flags", "error_kind"], batch_size=65536):
            paths, statuses, flags, kinds = (batch.column(i).to_pylist() for i in range(4))
            for p, s, f, k in zip(paths, statuses, flags, kinds, strict=True):
                previous.add(p, s, next(versions, UNKNOWN), f, k)
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


def with_gone_flag(flags: str | None, gone: bool) -> str | None:
    """`flags` with GONE at its end (`gone`) or without it."""
    tokens = [flag for flag in (flags or "").split() if flag != GONE]
    return " ".join([*tokens, GONE] if gone else tokens) or None
