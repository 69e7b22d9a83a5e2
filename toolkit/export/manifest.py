"""manifest.json: every exported file with its format, sha256, size and opset, and what it was made from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit import fsutil
from toolkit.data import sha256_file

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def file_entries(
    root: Path, artifact: Path, fmt: str, *, opset: int | None, source_sha256: str, toolkit_version: str
) -> list[dict[str, Any]]:
    """One entry per file of `artifact` (a file, or every file under a SavedModel folder), paths relative to
    `root`, sorted so the manifest is stable."""
    artifact = Path(artifact)
    files = sorted(p for p in artifact.rglob("*") if p.is_file()) if artifact.is_dir() else [artifact]
    return [
        {
            "path": file.relative_to(root).as_posix(),
            "format": fmt,
            "sha256": sha256_file(file),
            "size": file.stat().st_size,
            "opset": opset,
            "source_sha256": source_sha256,
            "toolkit_version": toolkit_version,
        }
        for file in files
    ]


def write_manifest(folder: Path, payload: dict[str, Any]) -> Path:
    """Write `folder/manifest.json` (atomically: a reader never sees half a manifest)."""
    return fsutil.write_json(Path(folder) / MANIFEST_NAME, {"manifest_version": MANIFEST_VERSION, **payload})


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder."""
    return json.loads((Path(folder) / MANIFEST_NAME).read_text())
