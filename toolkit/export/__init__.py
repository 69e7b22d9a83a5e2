"""Export a trained Keras model (.keras or .h5) to ONNX, SavedModel, TFLite and int8 ONNX (and .keras) in one go,
atomically.

`export()` builds every requested format in a hidden temp folder next to `out`, writes manifest.json, and only
then moves the folder into place: a failed or interrupted export leaves nothing behind. One module per format
(onnx.py, savedmodel.py, tflite.py, quantize.py), each `export_<format>(model, path, ...)`; build.py runs them
in a staged folder, manifest.py writes the manifest, artifacts.py names what was written. Export builds and
does not judge: the accuracy figures it records are parity's (`toolkit.parity`). TensorFlow, tf2onnx and onnx
are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import modelkind, runtimes, zoo
from toolkit.contract import NOT_DIGIT_NAME, ModelContract, toolkit_version
from toolkit.data import sha256_file
from toolkit.errors import ExportError, UsageError
from toolkit.export.artifacts import (
    ALL_FORMATS,
    DEFAULT_FORMATS,
    FLOAT_FORMATS,
    FORMATS,
    KERAS_FORMAT,
    ExportedFile,
    ExportResult,
    Int8Summary,
    Source,
    file_names,
)
from toolkit.export.build import build_formats, check_out, staged
from toolkit.export.manifest import MANIFEST_NAME, describe_files, manifest_payload, write_manifest
from toolkit.export.onnx import DEFAULT_OPSET, OPSETS, check_opset
from toolkit.export.quantize import QuantizeInfo
from toolkit.kerasmodel import all_layers, as_contract, has_not_digit, weights_digest
from toolkit.parity.comparator import accuracy
from toolkit.parity.outputs import keras_outputs, labelled_test_images, score
from toolkit.timing import Laps

__all__ = [
    "ALL_FORMATS",
    "DEFAULT_FORMATS",
    "DEFAULT_OPSET",
    "FLOAT_FORMATS",
    "FORMATS",
    "KERAS_FORMAT",
    "OPSETS",
    "ExportResult",
    "ExportedFile",
    "Int8Summary",
    "Source",
    "architecture_of",
    "check_exportable",
    "export",
    "export_loaded",
    "file_names",
    "measure_int8",
    "parse_formats",
]


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
    check_out(out, force)
    unsafe = runtimes.unsafe_layers(model_path)
    if unsafe:
        raise ExportError(
            f"cannot export {model_path}: {unsafe[0]}; mnist-toolkit loads models in Keras safe "
            "mode and exports built-in Keras layers only, so rebuild the model without it"
        )
    model = runtimes.load_keras_model(model_path)
    source = Source(model_path, sha256_file(model_path), architecture_of(model))
    return export_loaded(model, source, formats, out, opset=opset, force=force)


def measure_int8(
    quantized: QuantizeInfo,
    float_size: int,
    out: Path,
    images: np.ndarray,
    labels: np.ndarray,
    reference: np.ndarray,
) -> Int8Summary:
    """What the int8 file saves (its size against the float ONNX's `float_size`) and costs (accuracy and argmax
    agreement on labelled `images`, scored by parity against the Keras `reference` outputs); `out` is where
    the export folder will be."""
    scored = score(runtimes.load(quantized.path), images, labels, reference)
    return Int8Summary(
        path=out / quantized.path.name,
        size=quantized.path.stat().st_size,
        float_size=float_size,
        test_accuracy=scored.accuracy,
        source_accuracy=scored.reference_accuracy,
        argmax_agreement=scored.argmax_agreement,
        calibration_images=quantized.calibration_images,
        float_nodes=quantized.float_nodes,
    )


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
    laps = Laps()
    formats = parse_formats(formats)
    check_opset(opset)
    out = Path(out)
    check_exportable(model, source.path)
    served, adaptation = as_contract(model, source.path)
    check_out(out, force)

    images, labels = labelled_test_images()
    if reference is None and ("onnx" in formats or "onnx-int8" in formats):
        reference = keras_outputs(served, source.path, source.sha256, images)
        laps.lap("keras test-set prediction")
    source_accuracy = accuracy(reference, labels) if reference is not None else None
    contract = ModelContract(
        architecture=source.architecture,
        source_sha256=source.sha256,
        source_weights=weights_digest(model),
        source_test_accuracy=source_accuracy,
        toolkit_version=toolkit_version(),
        adaptation=adaptation,
        not_digit_name=NOT_DIGIT_NAME if has_not_digit(served) else None,
    )
    names = file_names(source.path.stem)
    with staged(out, force) as folder:
        built = build_formats(model, served, formats, folder, names, contract=contract, opset=opset, lap=laps.lap)
        int8 = None
        if built.quantized is not None and reference is not None:  # the reference exists whenever int8 is built
            int8 = measure_int8(built.quantized, built.float_onnx_size, out, images, labels, reference)
            laps.lap("onnx-int8 test-set evaluation")
        entries, files = describe_files(folder, out, built.artifacts, formats, opset, contract)
        serving = names["savedmodel"] if "savedmodel" in formats else None
        write_manifest(folder, manifest_payload(source, contract, formats, entries, serving_folder=serving, int8=int8))
    laps.lap("manifest and move into place")
    return ExportResult(
        out, source, source_accuracy, opset, files, out / MANIFEST_NAME, int8, laps.total, tuple(laps.steps)
    )
