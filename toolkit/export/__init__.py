"""Export a trained Keras model (.keras or .h5) to ONNX, SavedModel, TFLite and int8 ONNX (and .keras) in one go,
atomically.

`export()` builds every requested format in a hidden temp folder next to `out`, writes manifest.json, and only
then moves the folder into place: a failed or interrupted export leaves nothing behind. One module per format
(onnx.py, savedmodel.py, tflite.py, quantize.py), each `export_<format>(model, path, ...)`; manifest.py writes
the manifest. TensorFlow, tf2onnx and onnx are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import data, modelkind, runtimes, zoo
from toolkit.contract import ModelContract, package_versions, toolkit_version
from toolkit.errors import ExportError, UsageError
from toolkit.export.onnx import DEFAULT_OPSET, OPSETS, check_opset
from toolkit.kerasmodel import all_layers, as_contract, save_keras_model
from toolkit.timing import Laps

FORMATS = ("onnx", "savedmodel", "tflite", "onnx-int8")  # the deployable formats, the ones parity checks
KERAS_FORMAT = "keras"  # the source model itself as .keras: how a legacy .h5 becomes a .keras file
ALL_FORMATS = (KERAS_FORMAT, *FORMATS)
DEFAULT_FORMATS = ("onnx", "savedmodel")
FLOAT_FORMATS = ("onnx", "savedmodel", "tflite")

__all__ = [
    "ALL_FORMATS",
    "DEFAULT_FORMATS",
    "DEFAULT_OPSET",
    "FORMATS",
    "KERAS_FORMAT",
    "OPSETS",
    "ExportResult",
    "ExportedFile",
    "Int8Summary",
    "Source",
    "export",
    "export_loaded",
    "keras_outputs",
    "parse_formats",
]


@dataclass(frozen=True)
class Source:
    """The Keras model file (.keras or .h5) an export was made from."""

    path: Path
    sha256: str
    architecture: str


@dataclass(frozen=True)
class ExportedFile:
    """One exported artifact. For a SavedModel, `path` is the TensorFlow Serving folder (with `1/` inside),
    `size` the total of its files and `sha256` a digest of its manifest entries."""

    format: str
    path: Path
    size: int
    sha256: str
    opset: int | None


@dataclass(frozen=True)
class Int8Summary:
    """How much the int8 ONNX file saves and what it costs, measured on the 10,000 test images."""

    path: Path
    size: int
    float_size: int
    test_accuracy: float
    source_accuracy: float
    argmax_agreement: float
    calibration_images: int
    float_nodes: tuple[str, ...]

    @property
    def accuracy_drop_points(self) -> float:
        """Percentage points of test accuracy lost to quantization (negative: gained)."""
        return round(100 * (self.source_accuracy - self.test_accuracy), 4)

    @property
    def size_ratio(self) -> float:
        return self.size / self.float_size if self.float_size else float("nan")


@dataclass(frozen=True)
class ExportResult:
    """What `export` wrote, and where."""

    out: Path
    source: Source
    source_accuracy: float | None
    opset: int
    files: tuple[ExportedFile, ...]
    manifest: Path
    int8: Int8Summary | None = None
    seconds: float = 0.0
    timings: tuple[tuple[str, float], ...] = ()  # (step, seconds), in the order they ran

    def path(self, fmt: str) -> Path:
        """Where format `fmt` was written."""
        for exported in self.files:
            if exported.format == fmt:
                return exported.path
        raise KeyError(fmt)


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """ "onnx,tflite" (or a list) -> validated formats in canonical order; UsageError on unknown names."""
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    names = [name.strip().lower() for name in names if name.strip()]
    unknown = [name for name in names if name not in ALL_FORMATS]
    if unknown:
        raise UsageError(f"unknown export format '{unknown[0]}'; choose any of: {', '.join(ALL_FORMATS)}")
    if not names:
        raise UsageError(f"--format is empty; choose any of: {', '.join(ALL_FORMATS)}")
    return tuple(fmt for fmt in ALL_FORMATS if fmt in names)


def architecture_of(model: Any) -> str:
    """The zoo name of a model (Keras names it with underscores), else the model's own name."""
    for name in zoo.ZOO:
        if model.name == name.replace("-", "_"):
            return name
    return model.name


def check_exportable(model: Any, source: Path) -> None:
    """Refuse models with non-Keras layers (Lambda, custom classes), before anything is written."""
    for layer in all_layers(model):
        module = type(layer).__module__
        if not module.startswith("keras.") or type(layer).__name__ == "Lambda":
            raise ExportError(
                f"cannot export {source}: layer '{layer.name}' is a {type(layer).__name__} "
                f"({module}), not a built-in Keras layer; rebuild the model without it"
            )


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; it must be a folder (created if missing)")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"--out {out} already exists and is not empty; pass --force to replace it")


def _commit(tmp: Path, out: Path, force: bool) -> None:
    """Move the finished export into place; an existing `out` is swapped out only after that succeeded."""
    _check_out(out, force)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _tree_digest(entries: list[dict[str, Any]]) -> str:
    lines = "".join(f"{entry['sha256']}  {entry['path']}\n" for entry in entries)
    return hashlib.sha256(lines.encode()).hexdigest()


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


# Keras predictions on the test set are the slowest step of export and parity alike; a model file's bytes
# decide them, so calls in one process (parity after export, the test suite) reuse them by sha256.
_KERAS_OUTPUTS: OrderedDict[str, np.ndarray] = OrderedDict()
_KERAS_OUTPUTS_KEPT = 16


def keras_outputs(model: Any, model_path: Path, sha256: str, images: np.ndarray) -> np.ndarray:
    """The outputs of a Keras model in contract form (`as_contract`) on `images` at batch 512, cached per
    (model sha256, images digest)."""
    key = f"{sha256}:{data.array_digest(images)}"
    if key not in _KERAS_OUTPUTS:
        _KERAS_OUTPUTS[key] = runtimes.keras_runtime(model, model_path).predict(images, batch_size=512)
        while len(_KERAS_OUTPUTS) > _KERAS_OUTPUTS_KEPT:
            _KERAS_OUTPUTS.popitem(last=False)
    _KERAS_OUTPUTS.move_to_end(key)
    return _KERAS_OUTPUTS[key]


def file_names(stem: str) -> dict[str, str]:
    """Names of each format's artifact inside the export folder."""
    return {
        KERAS_FORMAT: f"{stem}.keras",
        "onnx": f"{stem}.onnx",
        "savedmodel": f"{stem}.savedmodel",
        "tflite": f"{stem}.tflite",
        "onnx-int8": f"{stem}.int8.onnx",
    }


def export(
    model_path: Path,
    formats: str | Iterable[str] = DEFAULT_FORMATS,
    out: Path | None = None,
    opset: int = DEFAULT_OPSET,
    force: bool = False,
) -> ExportResult:
    """Export the Keras model file `model_path` (.keras or .h5) to `formats` in the folder `out` (default
    artifacts/exports/<name>).

    Writes one artifact per format plus manifest.json, all or nothing. Raises UsageError for bad arguments
    and ExportError (naming the layer or op) when a conversion fails.
    """
    formats = parse_formats(formats)
    check_opset(opset)
    model_path = Path(model_path)
    modelkind.require(model_path, ("keras",), "export")
    out = Path(out) if out is not None else Path("artifacts/exports") / model_path.stem
    _check_out(out, force)
    unsafe = runtimes.unsafe_layers(model_path)
    if unsafe:
        raise ExportError(
            f"cannot export {model_path}: {unsafe[0]}; mnist-toolkit loads models in Keras safe "
            "mode and exports built-in Keras layers only, so rebuild the model without it"
        )
    model = runtimes.load_keras_model(model_path)
    source = Source(model_path, data.sha256_file(model_path), architecture_of(model))
    return export_loaded(model, source, formats, out, opset=opset, force=force)


def export_loaded(
    model: Any,
    source: Source,
    formats: Iterable[str],
    out: Path,
    *,
    opset: int = DEFAULT_OPSET,
    force: bool = False,
    reference: np.ndarray | None = None,
) -> ExportResult:
    """`export` for a Keras model already in memory; `reference` (its test-set probabilities) saves a prediction.

    Any MNIST-shaped model is accepted: the exports wrap it to the contract (`kerasmodel.as_contract`) and
    record how in their metadata.
    """
    from toolkit.export.manifest import file_entries, write_manifest
    from toolkit.export.onnx import export_onnx
    from toolkit.export.quantize import export_onnx_int8
    from toolkit.export.savedmodel import SERVING_VERSION, check_signature, export_savedmodel
    from toolkit.export.tflite import export_tflite

    laps = Laps()
    lap = laps.lap

    formats = parse_formats(formats)
    check_opset(opset)
    out = Path(out)
    check_exportable(model, source.path)
    source_model = model
    model, adaptation = as_contract(model, source.path)
    _check_out(out, force)

    _, (x_test, y_test) = data.load_mnist()
    images = data.to_model_input(x_test)
    if reference is None and ("onnx" in formats or "onnx-int8" in formats):
        reference = keras_outputs(model, source.path, source.sha256, images)
        lap("keras test-set prediction")
    source_accuracy = _accuracy(reference, y_test) if reference is not None else None
    version = toolkit_version()
    contract = ModelContract(
        architecture=source.architecture,
        source_sha256=source.sha256,
        source_test_accuracy=source_accuracy,
        toolkit_version=version,
        adaptation=adaptation,
    )
    names = file_names(source.path.stem)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.part-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # not mkdtemp: the export folder should get the user's usual permissions
    try:
        scratch = tmp / ".scratch"  # formats built only as a step towards another one
        scratch.mkdir()
        built: dict[str, Path] = {}
        if KERAS_FORMAT in formats:
            built[KERAS_FORMAT] = save_keras_model(source_model, tmp / names[KERAS_FORMAT])
            lap("keras")
        saved_model = None
        if "savedmodel" in formats or "tflite" in formats:
            base = tmp / names["savedmodel"] if "savedmodel" in formats else scratch / "savedmodel"
            saved_model = export_savedmodel(model, base / SERVING_VERSION)
            check_signature(saved_model)
            built["savedmodel"] = base
            lap("savedmodel")
        if "tflite" in formats:
            built["tflite"] = export_tflite(model, tmp / names["tflite"], saved_model=saved_model)
            lap("tflite")
        if "onnx" in formats or "onnx-int8" in formats:
            float_path = tmp / names["onnx"] if "onnx" in formats else scratch / names["onnx"]
            built["onnx"] = export_onnx(model, float_path, contract=contract, opset=opset)
            lap("onnx")
        int8 = None
        if "onnx-int8" in formats:
            info = export_onnx_int8(built["onnx"], tmp / names["onnx-int8"], contract=contract)
            built["onnx-int8"] = info.path
            lap("onnx-int8 quantization")
            quantized = runtimes.load(info.path).predict(images)
            assert reference is not None and source_accuracy is not None  # computed above whenever int8 is asked
            int8 = Int8Summary(
                path=out / names["onnx-int8"],
                size=info.path.stat().st_size,
                float_size=built["onnx"].stat().st_size,
                test_accuracy=_accuracy(quantized, y_test),
                source_accuracy=float(source_accuracy),
                calibration_images=info.calibration_images,
                argmax_agreement=float(np.mean(quantized.argmax(1) == reference.argmax(1))),
                float_nodes=info.float_nodes,
            )
            lap("onnx-int8 test-set evaluation")
        shutil.rmtree(scratch)

        entries, files = [], []
        for fmt in formats:
            fmt_opset = opset if fmt.startswith("onnx") else None
            found = file_entries(
                tmp, built[fmt], fmt, opset=fmt_opset, source_sha256=source.sha256, toolkit_version=version
            )
            entries += found
            sha = found[0]["sha256"] if built[fmt].is_file() else _tree_digest(found)
            files.append(ExportedFile(fmt, out / names[fmt], sum(e["size"] for e in found), sha, fmt_opset))
        payload: dict[str, Any] = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "toolkit_version": version,
            "source": {
                "file": source.path.name,
                "sha256": source.sha256,
                "architecture": source.architecture,
                "test_accuracy": source_accuracy,
                "input": adaptation.input_shape,
                "output": adaptation.output,
                "wrapper": adaptation.describe(),
            },
            "contract": contract.to_metadata(),
            "formats": list(formats),
            "files": entries,
            "versions": package_versions(
                "tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"
            ),
        }
        if "savedmodel" in formats:
            payload["tensorflow_serving"] = {"model_base_path": names["savedmodel"], "signature": "serving_default"}
        if int8 is not None:
            from toolkit.export.quantize import SETTINGS

            payload["int8"] = {
                "file": names["onnx-int8"],
                "size": int8.size,
                "float_size": int8.float_size,
                "test_accuracy": int8.test_accuracy,
                "source_test_accuracy": int8.source_accuracy,
                "accuracy_drop_points": int8.accuracy_drop_points,
                "argmax_agreement": int8.argmax_agreement,
                "settings": SETTINGS,
                "float_nodes": list(int8.float_nodes),
            }
        write_manifest(tmp, payload)
        _commit(tmp, out, force)
        lap("manifest and move into place")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(
        out, source, source_accuracy, opset, tuple(files), out / "manifest.json", int8, laps.total, tuple(laps.steps)
    )
