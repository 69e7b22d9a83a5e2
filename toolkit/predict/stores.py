"""What the walk asks of object stores, worded for the command line: a URL's filesystem (one usage line when
its package is missing), whether an input URL names anything, and an archive's version; and what a glob is."""

from __future__ import annotations

import re
from typing import Any

from toolkit.errors import UsageError, first_line
from toolkit.predict import located
from toolkit.predict.located import Access
from toolkit.predict.sources import UNKNOWN, version_of

_GLOB_CHARS = re.compile(r"[*?[]")


def is_glob(text: str) -> bool:
    """True if an input looks like a glob pattern rather than a path (a local one or a URL)."""
    return bool(_GLOB_CHARS.search(text))


def check_url(url: str, access: Access) -> None:
    """UsageError, one line, for an input URL that names nothing (or a glob that matches nothing), or a store
    that cannot be reached."""
    member = located.split_member(url)
    target = member[2] if member is not None else url
    try:
        fs, path = filesystem(target, access)
        found = bool(fs.glob(path)) if is_glob(path) else fs.exists(path)
    except UsageError:
        raise
    except Exception as exc:  # each store raises its own errors (credentials, endpoint, bucket)
        raise UsageError(f"{target}: cannot reach it ({first_line(exc, 200)}); check --storage-options") from None
    if not found:
        raise UsageError(f"{target}: no such object or folder" if not is_glob(path) else f"no objects match '{url}'")


def filesystem(url: str, access: Access) -> tuple[Any, str]:
    """fsspec's filesystem for a URL and the path in it (`located.filesystem`); UsageError, one line, when its
    package is not installed or the URL is malformed."""
    try:
        return located.filesystem(url, access)
    except ImportError as exc:
        raise UsageError(f"{url}: {first_line(exc, 200)}; install mnist-toolkit[s3], [gcs] or [azure]") from None
    except ValueError as exc:
        raise UsageError(f"{url}: {first_line(exc, 200)}") from None


def version(path: str, access: Access) -> tuple[int, int]:
    """An archive's version: a local file's size and mtime, an object's size and ETag."""
    if not located.is_located(path):
        return version_of(path)
    try:
        fs, inner = located.filesystem(path, access)
        return located.object_version(fs.info(inner))
    except Exception:  # each store raises its own errors: the worker that opens it says what is wrong
        return UNKNOWN
