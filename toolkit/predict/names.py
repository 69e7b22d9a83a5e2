"""Which file names a walk scores: the image extensions taken by default, --include/--exclude globs, and the
run's own output and sidecars, which are never inputs."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable

IMAGE_EXTENSIONS = frozenset(
    ".png .jpg .jpeg .jpe .jfif .gif .bmp .dib .tif .tiff .webp .pgm .pbm .ppm .pnm .pcx .tga .ico .jp2 "
    ".j2k .qoi .avif .psd .sgi .rgb .xbm".split()
)


def patterns(globs: Iterable[str]) -> list[re.Pattern]:
    """--include/--exclude globs, compiled to match case-insensitively."""
    return [re.compile(fnmatch.translate(p), re.IGNORECASE) for p in globs]


def wanted(name: str, relative: str, include: list[re.Pattern], exclude: list[re.Pattern]) -> bool:
    """Whether a file (or member) found by walking is scored: not excluded, and included, or by default an image's
    extension. `name` is its own name, `relative` its path from the input folder (or in the archive)."""
    if exclude and matches(exclude, name, relative):
        return False
    if include:
        return matches(include, name, relative)
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS  # as os.path.splitext, without its cost


def matches(patterns: list[re.Pattern], name: str, relative: str) -> bool:
    """Whether any of `patterns` matches a file's own `name` or its `relative` path."""
    return any(p.match(name) or p.match(relative) for p in patterns)


def is_output(path: str, output: str) -> bool:
    """Whether `path` is the run's output (`output`, a real path) or one of its sidecars, by their names. (Names
    first: a real path costs a system call a folder, and a list on stdin may hold millions of paths.)"""
    if not os.path.basename(path).startswith(os.path.basename(output)):
        return False
    real = os.path.realpath(path)
    return real == output or (os.path.dirname(real) == os.path.dirname(output) and real.startswith(output + "."))
