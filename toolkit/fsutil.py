"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast


@contextlib.contextmanager
def naming(path: Path | str) -> Iterator[None]:
    """OSErrors raised inside that name no file get `path` as their file name: a failed write() or flush() does
    not say which file it was writing, and the one-line error must ("x.csv: the disk is full")."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(path)
        raise


def _create_temp(path: Path, suffix: str) -> tuple[int, Path]:
    """A new file beside `path`, with a name no one else uses. Created with mode 0666 so that the umask decides
    the final file's mode, as it does for a plain open(): mkstemp's 0600 would follow the file through the rename
    and make, say, a Parquet output private where the same run's CSV is not."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.part{suffix}"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


@contextlib.contextmanager
def atomic_open(path: Path | str, suffix: str = "") -> Iterator[tuple[BinaryIO, Path]]:
    """Yield (binary file, its temp path) beside `path`; on success fsync and rename it over `path`.

    The temp name is unique, so two writers never share one; on any error the temp file is removed, and an
    OSError that names no file names `path`. `suffix` keeps an extension some writers insist on (Keras wants
    `.keras`).
    """
    path = Path(path)
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(path, suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh, tmp
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_open(path) as (fh, _):
        fh.write(text.encode("utf-8"))
    return Path(path)


def write_json(path: Path | str, payload: Any) -> Path:
    """Write `payload` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2) + "\n")


def lock_exclusive(path: Path) -> BinaryIO | None:
    """Hold an exclusive lock on the file `path` (made if missing) until `unlock`: the open file, or None where
    the file system has no locks (some network mounts, non-POSIX systems). BlockingIOError when another
    process holds it."""
    try:
        import fcntl
    except ImportError:
        return None
    while True:
        fh = open(path, "ab")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise
        except OSError:
            fh.close()
            return None
        # The holder before us removes the file before it lets go (see `unlock`): if it did since we opened it,
        # we hold a lock nobody else will look at; take the new file's instead.
        try:
            if os.path.samestat(os.fstat(fh.fileno()), os.stat(path)):
                return cast(BinaryIO, fh)
        except FileNotFoundError:
            pass
        fh.close()


def unlock(path: Path, held: BinaryIO | None) -> None:
    """Let go of a lock from `lock_exclusive`, removing its file while still holding it."""
    if held is not None:
        path.unlink(missing_ok=True)
        held.close()


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null within the block: for native libraries that print on stderr
    themselves (Python's sys.stderr never sees it). Python exceptions still propagate as usual."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
