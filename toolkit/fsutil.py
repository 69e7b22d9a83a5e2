"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def atomic_open(path: Path | str, suffix: str = "") -> Iterator[tuple[BinaryIO, Path]]:
    """Yield (binary file, its temp path) beside `path`; on success fsync and rename it over `path`.

    The temp name is unique, so two writers never share one; on any error the temp file is removed.
    `suffix` keeps an extension some writers insist on (Keras wants `.keras`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, Path(tmp)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_open(path) as (fh, _):
        fh.write(text.encode("utf-8"))
    return Path(path)


def write_json(path: Path | str, payload: Any) -> Path:
    """Write `payload` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(payload, indent=2) + "\n")
