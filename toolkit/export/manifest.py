"""manifest.json: every exported file with its format, sha256, size and opset, what it was made from, and what
the int8 file costs; the files' entries become the ExportedFile values `export` returns."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit import fsutil
from toolkit.contract import ModelContract, package_versions
from toolkit.data import sha256_file
from toolkit.export.artifacts import ExportedFile, Int8Summary, Source
from toolkit.export.quantize import SETTINGS

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
RECORDED_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


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


def tree_digest(entries: Sequence[dict[str, Any]]) -> str:
    """One sha256 for a folder artifact: over its entries' digests and paths, as `sha256sum` lists them."""
    lines = "".join(f"{entry['sha256']}  {entry['path']}\n" for entry in entries)
    return hashlib.sha256(lines.encode()).hexdigest()


def describe_files(
    staged: Path, out: Path, built: dict[str, Path], formats: Sequence[str], opset: int, contract: ModelContract
) -> tuple[list[dict[str, Any]], tuple[ExportedFile, ...]]:
    """Manifest entries for every file of every format built in `staged`, and one ExportedFile per format
    at the place it will have under `out`."""
    entries: list[dict[str, Any]] = []
    files = []
    for fmt in formats:
        fmt_opset = opset if fmt.startswith("onnx") else None
        found = file_entries(
            staged,
            built[fmt],
            fmt,
            opset=fmt_opset,
            source_sha256=contract.source_sha256,
            toolkit_version=contract.toolkit_version,
        )
        entries += found
        sha = found[0]["sha256"] if built[fmt].is_file() else tree_digest(found)
        size = sum(entry["size"] for entry in found)
        files.append(ExportedFile(fmt, out / built[fmt].relative_to(staged), size, sha, fmt_opset))
    return entries, tuple(files)


def int8_entry(int8: Int8Summary) -> dict[str, Any]:
    """The manifest's account of the int8 file: its size and accuracy against the float model's."""
    return {
        "file": int8.path.name,
        "size": int8.size,
        "float_size": int8.float_size,
        "test_accuracy": int8.test_accuracy,
        "source_test_accuracy": int8.source_accuracy,
        "accuracy_drop_points": int8.accuracy_drop_points,
        "argmax_agreement": int8.argmax_agreement,
        "settings": SETTINGS,
        "float_nodes": list(int8.float_nodes),
    }


def manifest_payload(
    source: Source,
    contract: ModelContract,
    formats: Sequence[str],
    entries: list[dict[str, Any]],
    *,
    serving_folder: str | None = None,
    int8: Int8Summary | None = None,
) -> dict[str, Any]:
    """Everything manifest.json says besides its version; `serving_folder` is the SavedModel's folder name when
    one was exported (TensorFlow Serving's model_base_path)."""
    adaptation = contract.adaptation
    payload: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "toolkit_version": contract.toolkit_version,
        "source": {
            "file": source.path.name,
            "sha256": source.sha256,
            "weights_sha256": contract.source_weights,
            "architecture": source.architecture,
            "test_accuracy": contract.source_test_accuracy,
            "input": adaptation.input_shape,
            "output": adaptation.output,
            "wrapper": adaptation.describe(),
        },
        "contract": contract.to_metadata(),
        "formats": list(formats),
        "files": entries,
        "versions": package_versions(*RECORDED_PACKAGES),
    }
    if serving_folder is not None:
        payload["tensorflow_serving"] = {"model_base_path": serving_folder, "signature": "serving_default"}
    if int8 is not None:
        payload["int8"] = int8_entry(int8)
    return payload


def write_manifest(folder: Path, payload: dict[str, Any]) -> Path:
    """Write `folder/manifest.json` (atomically: a reader never sees half a manifest)."""
    return fsutil.write_json(Path(folder) / MANIFEST_NAME, {"manifest_version": MANIFEST_VERSION, **payload})
