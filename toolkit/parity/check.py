"""Checking exports: open each one, tell float from int8, read its declared interface, run it, and hand the
outputs to `compare`. `run` does that for every export of one Keras model, exporting them itself when given none.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import modelkind, onnxmodel, runtimes
from toolkit.contract import KEY_LAYOUT, KEY_QUANTIZATION
from toolkit.errors import ModelLoadError, ShapeMismatchError, UsageError, first_line
from toolkit.parity import reference
from toolkit.parity.comparator import accuracy, compare
from toolkit.parity.provenance import recorded_weights
from toolkit.parity.report import ParityReport, ParitySummary, failed_report
from toolkit.parity.rules import BATCH_CHECK_IMAGES, BATCH_SIZE, DEFAULT_ATOL, DEFAULT_RTOL
from toolkit.timing import Laps


def interface_problems(runtime: runtimes.Runtime) -> list[str]:
    """How a loaded export's declared inputs/outputs break the contract, names included (empty when not). The
    layout its metadata names counts (an NCHW export is fine when it says so), and a fixed batch size, which
    every command runs in calls of that size, is not a problem."""
    layout = runtime.metadata.get(KEY_LAYOUT, "NHWC")
    return onnxmodel.interface_problems(runtime.inputs, runtime.outputs, layout=layout, exact=True, fixed_batch=True)


def export_kind(runtime: runtimes.Runtime) -> str:
    """ "int8" for a quantized ONNX file (by its metadata, else by its nodes), "float" otherwise."""
    if runtime.format != "onnx":
        return "float"
    declared = runtime.metadata.get(KEY_QUANTIZATION)
    if declared:
        return "int8" if declared.startswith("int8") else "float"
    from toolkit import lazy
    from toolkit.export.quantize import is_int8

    onnx = lazy.require("onnx", "train")
    return "int8" if is_int8(onnx.load(str(runtime.path), load_external_data=False)) else "float"


def check_export(
    path: Path,
    reference: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    atol: float,
    rtol: float,
    name: str | None = None,
    weights: str = "",
) -> ParityReport:
    """Load one export, run it on `images`, and compare it with `reference` (the Keras outputs; `labels` may be
    None for images without them); `weights`, the reference model's weights digest, checks where it came from."""
    started = time.perf_counter()
    path = Path(path)
    name = name or str(path)
    try:
        runtime = runtimes.load(path)
    except (ModelLoadError, UsageError) as exc:
        fmt = modelkind.format_of(path) or path.suffix.lstrip(".").lower() or "unknown"
        return failed_report(name, fmt, "load", str(exc), atol, rtol, len(images))
    kind = export_kind(runtime)
    fmt = "onnx-int8" if kind == "int8" else runtime.format
    try:
        outputs = runtime.predict(images, batch_size=BATCH_SIZE, with_not_digit=True)
        count = min(BATCH_CHECK_IMAGES, len(images))
        single = runtime.predict(images[:count], batch_size=1, with_not_digit=True)
    except Exception as exc:  # a model that loads but cannot run is a failed export, not a crash
        first = first_line(exc)
        return failed_report(name, fmt, "load", f"{path}: cannot run it ({first[:300]})", atol, rtol, len(images))
    try:
        report = compare(
            reference,
            outputs,
            atol,
            rtol,
            labels=labels,
            kind=kind,
            name=name,
            fmt=fmt,
            batch=(single, outputs[:count]),
            interface=interface_problems(runtime),
            provenance=(recorded_weights(runtime), weights),
        )
    except ShapeMismatchError as exc:
        return failed_report(name, fmt, "shape", str(exc), atol, rtol, len(images))
    return replace(report, seconds=round(time.perf_counter() - started, 3))


def validate(model_path: Path, exports: Iterable[Path], atol: float, rtol: float) -> tuple[str, list[Path]]:
    """Usage checks, before anything heavy is loaded: what MODEL is ("keras", "export" or "golden": a reference
    saved with --save-reference) and the exports to check."""
    model_path = Path(model_path)
    if model_path.suffix.lower() == ".npz" and model_path.is_file():
        kind = "golden"
    else:
        fmt = modelkind.require(model_path, ("keras", *modelkind.EXPORT_FORMATS), "parity", "MODEL ")
        kind = "keras" if fmt == "keras" else "export"
    for value, option in ((atol, "--atol"), (rtol, "--rtol")):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{option} must be a non-negative number, got {value}")
    checked = []
    for export in exports:
        modelkind.require(export, modelkind.FORMATS, "parity", "EXPORT ")
        checked.append(Path(export))
    if kind != "keras" and not checked:
        raise UsageError(f"name the exports to check against {model_path}; only a Keras model can export its own")
    return kind, checked


# The checks whose failure says the numbers differ (not the file's interface or provenance): then the layer
# comparison says where.
NUMERIC_CHECKS = frozenset({"finite", "tolerance", "sqnr", "argmax", "not_digit", "accuracy", "batch"})


def localised(
    reports: list[ParityReport], paths: list[Path], found: Any, kind: str, every: bool, laps: Laps, model: Path
) -> list[ParityReport]:
    """`reports` with the layer-by-layer comparison added where an export failed a numeric check (or to every
    export with `every`). It needs the Keras model: with a reference from a golden file or an export the
    reports say so and stay as they are."""
    wanted = [every or any(c.name in NUMERIC_CHECKS for c in r.failures) for r in reports]
    if not any(wanted):
        return reports
    if kind != "keras":  # a golden file or an export as the reference: no Keras layers to compare with
        note: dict[str, Any] = {
            "first_divergence": None,
            "layers": [],
            "unmapped": [],
            "fused": {},
            "needs": "the Keras model",
        }
        return [replace(r, localisation=note) if w else r for r, w in zip(reports, wanted, strict=True)]
    from toolkit.parity import layers

    keras = found.keras if found.keras is not None else runtimes.load_keras_model(model)
    labels = found.images.labels
    sample = (
        layers.subset(found.images.tensors, labels)
        if labels is not None
        else found.images.tensors[: layers.SUBSET_SIZE]
    )
    out = []
    for report, path, want in zip(reports, paths, wanted, strict=True):
        if want and report.format not in ("savedmodel", "keras") and report.check("load") is None:
            try:
                failed = any(c.name in NUMERIC_CHECKS for c in report.failures)
                localisation = layers.localise(keras, Path(path), report.format, report.kind, sample, failed).to_json()
            except Exception as exc:  # the verdict stands without it: say why the layers could not be compared
                localisation = {"first_divergence": None, "layers": [], "unmapped": [], "fused": {}}
                localisation["failed"] = f"{type(exc).__name__}: {first_line(exc, 200)}"
            report = replace(report, localisation=localisation)
            laps.lap(f"layers of {report.name}")
        out.append(report)
    return out


@contextmanager
def _own_exports(
    model: Any, model_path: Path, sha256: str, reference: np.ndarray | None, lap: Callable[[str], None]
) -> Iterator[list[tuple[Path, str]]]:
    """Every deployable format exported to a temporary folder, as (path, name), for as long as the block runs."""
    # Export measures its int8 file with parity's scorer, so it is imported when first needed rather than
    # when this package loads.
    from toolkit.export import FORMATS, Source, architecture_of, export_loaded

    with tempfile.TemporaryDirectory(prefix="mnist-toolkit-parity-") as scratch:
        source = Source(model_path, sha256, architecture_of(model))
        result = export_loaded(model, source, FORMATS, Path(scratch) / "export", reference=reference)
        lap("export all formats")
        yield [(result.path(fmt), result.path(fmt).name) for fmt in FORMATS]


def run(
    model_path: Path,
    exports: Iterable[Path] = (),
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    *,
    saved: Path | None = None,
    save_to: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    images: Path | None = None,
    layers: bool = False,
) -> ParitySummary:
    """Check every export against the reference: the Keras model's outputs (from the cache when it ran on these
    images before, so without TensorFlow), a golden file's (MODEL a .npz, or `saved`), or the first export's.
    Images: the MNIST test set, a stratified subset of `limit`, or the user's own (`images`, a folder).

    With no `exports`, export every format of the Keras model to a temporary folder first and check them all.
    `save_to` keeps the reference as a golden file for later runs (and CI jobs without TensorFlow).
    An export that fails a numeric check (every export with `layers`) is compared layer by layer with the Keras
    model (`localised`), which then must be loaded.
    """
    kind, exports = validate(model_path, exports, atol, rtol)
    model_path = Path(model_path)
    laps = Laps()
    found = reference.resolve(model_path, kind, saved=saved, limit=limit, seed=seed, folder=images)
    laps.lap("reference outputs")
    if save_to is not None:
        reference.save(found, save_to)
    tensors, labels = found.images.tensors, found.images.labels

    def check_all(candidates: list[tuple[Path, str]]) -> list[ParityReport]:
        reports = []
        for path, name in candidates:
            reports.append(
                check_export(
                    path, found.outputs, tensors, labels, atol=atol, rtol=rtol, name=name, weights=found.weights
                )
            )
            laps.lap(f"check {name}")
        return reports

    if exports:
        reports = localised(
            check_all([(path, str(path)) for path in exports]), exports, found, kind, layers, laps, model_path
        )
    else:
        keras = found.keras if found.keras is not None else runtimes.load_keras_model(model_path)
        found = replace(found, keras=keras)
        full = found.images.description == reference.MNIST_TEST
        with _own_exports(keras, model_path, found.sha256, found.outputs if full else None, laps.lap) as candidates:
            checked = check_all(candidates)
            reports = localised(checked, [path for path, _ in candidates], found, kind, layers, laps, model_path)
    return ParitySummary(
        str(model_path),
        found.sha256,
        len(tensors),
        atol,
        rtol,
        accuracy(found.outputs, labels) if labels is not None else None,
        tuple(reports),
        laps.total,
        not exports,
        tuple(laps.steps),
        data=found.images.description,
        reference=found.source,
    )
