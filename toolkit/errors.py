"""The toolkit's exception family. Only cli.py turns these into exit codes and one-line messages."""

from __future__ import annotations

import errno
import os
from pathlib import PurePath

# "No space left on device" and "disk quota exceeded": both mean the disk is full for this user.
DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


class ToolkitError(Exception):
    """A user-facing failure: its message is one line saying what went wrong and how to fix it."""

    exit_code = 1


class UsageError(ToolkitError):
    """Bad arguments or options: exit code 2."""

    exit_code = 2


class DataError(ToolkitError):
    """MNIST could not be found, read or verified."""


class ModelKindError(UsageError):
    """A path that is not the kind of model the command takes (a .keras to predict, an .onnx to export): exit 2."""


class ModelLoadError(ToolkitError):
    """A model file is missing, is not a model, or is of an unknown format."""


class ModelFileError(UsageError, ModelLoadError):
    """A model file that is not of its format at all (a text file named .onnx): the user named the wrong file,
    so exit 2 as for a path of the wrong kind; still a ModelLoadError to whoever reports models that do not
    load (parity)."""


class MissingExtraError(ToolkitError):
    """An optional dependency is not installed; the message names the pip extra that fixes it."""

    def __init__(self, module: str, extra: str, alternative: str = ""):
        super().__init__(
            f"this needs the Python package '{module}', which is not installed; "
            f"fix it with: pip install 'mnist-toolkit[{extra}]'" + (f", {alternative}" if alternative else "")
        )


class ExportError(ToolkitError):
    """A conversion to another format failed; nothing was written."""


class ShapeMismatchError(ToolkitError):
    """Two models being compared do not produce outputs of the same shape."""


class Interrupted(ToolkitError):
    """The user stopped a run (Ctrl-C, SIGTERM); the message says how to continue it."""

    exit_code = 130


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first non-empty line of an exception's message (its class name if it has none), for one-line errors."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else exc.__class__.__name__)[:limit]


def os_error_line(exc: OSError, retry: str = "run it again") -> str:
    """One line for an OSError: the file it concerns, then what is wrong. A full disk is called that, followed by
    `retry`; anything else (a missing folder, no permission, a read-only file system) points at the path and its
    permissions."""
    where = f"{exc.filename}: " if exc.filename else ""
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and exc.filename:
        # A file where a folder must be (`--out notes.txt/x.csv`): "File exists" would not say which, or why.
        blocking = file_in_the_way(str(exc.filename))
        if blocking is not None:
            inside = f" (it is on the way to {exc.filename})" if blocking != str(exc.filename) else ""
            return f"{blocking} is a file, not a folder{inside}; choose another path"
    if exc.errno in DISK_FULL:
        return f"{where}the disk is full ({exc.strerror or 'no space left'}); free some space and {retry}"
    return f"{where}{exc.strerror or first_line(exc)}; check the path and its permissions"


def file_in_the_way(path: str) -> str | None:
    """The nearest of `path` and its parents that is a regular file and so cannot be the folder a path needs,
    if there is one."""
    for candidate in (path, *map(str, PurePath(path).parents)):
        if os.path.isfile(candidate):
            return candidate
    return None
