"""Where an export says it came from: the digest of its source model's weights, read from the export itself
(ONNX metadata) or from the manifest.json its export folder holds (TFLite, SavedModel: formats with no room for
the toolkit's metadata). `check_provenance` in the comparator judges it against the reference's weights."""

from __future__ import annotations

import json
from pathlib import Path

from toolkit import runtimes
from toolkit.contract import KEY_SOURCE_WEIGHTS

MANIFEST = "manifest.json"


def recorded_weights(runtime: runtimes.Runtime) -> str | None:
    """The weights digest an export records of its source model, or None when it records none."""
    if runtime.metadata.get(KEY_SOURCE_WEIGHTS):
        return runtime.metadata[KEY_SOURCE_WEIGHTS]
    return manifest_weights(Path(runtime.path))


def manifest_weights(path: Path) -> str | None:
    """The source weights digest the export folder's manifest.json gives for `path` (a file, or a SavedModel
    folder, which may be a TensorFlow Serving version folder inside the export), or None."""
    resolved = path.resolve()
    for folder in list(resolved.parents)[:3]:
        manifest = folder / MANIFEST
        if not manifest.is_file():
            continue
        try:
            payload = json.loads(manifest.read_text(encoding="utf-8"))
            files = {str((folder / entry["path"]).resolve()) for entry in payload["files"]}
            weights = payload["source"].get("weights_sha256")
        except (OSError, ValueError, KeyError, TypeError):
            return None
        inside = str(resolved) in files or any(f.startswith(str(resolved) + "/") for f in files)
        return weights or None if inside else None
    return None
