"""Building the formats into a hidden folder next to the destination, and moving that folder into place only when
everything in it is finished: a failed or interrupted export leaves nothing behind.

One function per format, each writing its artifact and checking what a consumer will see of it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.contract import ModelContract
from toolkit.errors import UsageError, file_in_the_way
from toolkit.export import onnx as onnx_export
from toolkit.export import quantize, savedmodel, tflite
from toolkit.export.artifacts import KERAS_FORMAT
from toolkit.export.quantize import QuantizeInfo
from toolkit.kerasmodel import save_keras_model


def check_out(out: Path, force: bool) -> None:
    """Refuse an `out` that is a file or lies under one, or a folder holding files unless `force`."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; it must be a folder (created if missing)")
    blocking = file_in_the_way(str(out))
    if blocking is not None:
        raise UsageError(f"--out {out}: {blocking} is a file, not a folder; choose another path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"--out {out} already exists and is not empty; pass --force to replace it")


def _commit(staged: Path, out: Path, force: bool) -> None:
    """Move the finished export into place; an existing `out` is swapped out only after that succeeded."""
    check_out(out, force)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staged, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, out)


@contextmanager
def staged(out: Path, force: bool) -> Iterator[Path]:
    """A hidden folder next to `out` to build in: moved to `out` when the block succeeds, removed when it fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent / f".{out.name}.part-{uuid.uuid4().hex[:8]}"
    folder.mkdir()  # not mkdtemp: the export folder should get the user's usual permissions
    try:
        yield folder
        _commit(folder, out, force)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def build_keras(source_model: Any, path: Path) -> Path:
    """The source model itself, saved as .keras."""
    return save_keras_model(source_model, path)


def build_savedmodel(served: Any, base: Path) -> Path:
    """A TensorFlow Serving folder `base` with the SavedModel in its version folder; returns the SavedModel."""
    saved_model = savedmodel.export_savedmodel(served, base / savedmodel.SERVING_VERSION)
    savedmodel.check_signature(saved_model)
    return saved_model


def build_tflite(served: Any, path: Path, saved_model: Path) -> Path:
    """A .tflite file converted from the SavedModel just built, so the signature's names carry over."""
    return tflite.export_tflite(served, path, saved_model=saved_model)


def build_onnx(served: Any, path: Path, contract: ModelContract, opset: int) -> Path:
    """A float ONNX file carrying the contract in its metadata."""
    return onnx_export.export_onnx(served, path, contract=contract, opset=opset)


def build_onnx_int8(float_onnx: Path, path: Path, contract: ModelContract) -> QuantizeInfo:
    """An int8 ONNX file quantized from the float one."""
    return quantize.export_onnx_int8(float_onnx, path, contract=contract)


@dataclass(frozen=True)
class Built:
    """What `build_formats` wrote: each format's artifact, and for int8 what quantization did and the size of
    the float ONNX it started from (which may have been a scratch file, gone by now)."""

    artifacts: dict[str, Path]
    quantized: QuantizeInfo | None = None
    float_onnx_size: int = 0


def build_formats(
    source_model: Any,
    served: Any,
    formats: Sequence[str],
    folder: Path,
    names: dict[str, str],
    *,
    contract: ModelContract,
    opset: int,
    lap: Callable[[str], None],
) -> Built:
    """Build every format in `formats` into `folder` (`served` is the model in contract form), plus the ones
    only needed on the way: a SavedModel for TFLite, a float ONNX for int8."""
    scratch = folder / ".scratch"  # formats built only as a step towards another one
    scratch.mkdir()

    def place(fmt: str, scratch_name: str) -> Path:
        return folder / names[fmt] if fmt in formats else scratch / scratch_name

    built: dict[str, Path] = {}
    if KERAS_FORMAT in formats:
        built[KERAS_FORMAT] = build_keras(source_model, folder / names[KERAS_FORMAT])
        lap("keras")
    saved_model = None
    if "savedmodel" in formats or "tflite" in formats:
        built["savedmodel"] = place("savedmodel", "savedmodel")
        saved_model = build_savedmodel(served, built["savedmodel"])
        lap("savedmodel")
    if saved_model is not None and "tflite" in formats:
        built["tflite"] = build_tflite(served, folder / names["tflite"], saved_model)
        lap("tflite")
    if "onnx" in formats or "onnx-int8" in formats:
        built["onnx"] = build_onnx(served, place("onnx", names["onnx"]), contract, opset)
        lap("onnx")
    quantized, float_onnx_size = None, 0
    if "onnx-int8" in formats:
        quantized = build_onnx_int8(built["onnx"], folder / names["onnx-int8"], contract)
        built["onnx-int8"] = quantized.path
        float_onnx_size = built["onnx"].stat().st_size
        lap("onnx-int8 quantization")
    shutil.rmtree(scratch)
    return Built(built, quantized, float_onnx_size)
