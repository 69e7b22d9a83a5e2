"""Does each export compute what its Keras model computes? Compared on all 10,000 MNIST test images.

Semantics follow Polygraphy's comparator: an element fails only when its absolute difference exceeds both
`atol` and `rtol * |reference|`; the report gives max/mean/p99 absolute and max relative differences, not just
a verdict, and label-level (argmax) agreement is a first-class check.

Verdict per export:
- float exports (ONNX, SavedModel, TFLite): every element within tolerance and all argmaxes agree;
- int8 ONNX: argmax agreement >= 99% and test accuracy within 0.5 points of the Keras model's;
- both: the file honours the interface contract, outputs no NaN/Inf, and gives the same outputs at batch 1
  as at batch 512.

`compare()` is pure NumPy; `run()` loads models and exports, and `write_json`/`write_junit` write reports.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import data, fsutil, modelkind, onnxmodel, runtimes
from toolkit.contract import KEY_QUANTIZATION, NUM_CLASSES, toolkit_version
from toolkit.errors import ModelLoadError, ShapeMismatchError, UsageError, first_line
from toolkit.kerasmodel import as_contract
from toolkit.timing import Laps

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
INT8_MIN_AGREEMENT = 0.99
INT8_MAX_ACCURACY_DELTA = 0.005  # 0.5 percentage points
BATCH_SIZE = 512
BATCH_CHECK_IMAGES = 512  # images run one at a time for the batch-invariance check
CHECKS = ("load", "shape", "interface", "finite", "tolerance", "argmax", "accuracy", "batch")


@dataclass(frozen=True)
class Check:
    """One named check of one export. Non-gating checks are reported but do not decide the verdict."""

    name: str
    passed: bool
    detail: str
    gating: bool = True


@dataclass(frozen=True)
class ParityReport:
    """How one export's outputs compare with the reference's, and the verdict."""

    name: str
    format: str
    kind: str  # "float" or "int8"
    images: int
    atol: float
    rtol: float
    argmax_agreement: int = 0
    disagreements: tuple[int, ...] = ()
    max_abs_diff: float = math.nan
    mean_abs_diff: float = math.nan
    p99_abs_diff: float = math.nan
    max_rel_diff: float = math.nan
    elements: int = 0
    elements_out_of_tolerance: int = 0
    nonfinite: int = 0
    reference_accuracy: float | None = None
    candidate_accuracy: float | None = None
    per_class_disagreement: tuple[int, ...] = ()
    batch_images: int = 0
    batch_max_abs_diff: float | None = None
    checks: tuple[Check, ...] = ()
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks if check.gating)

    @property
    def failures(self) -> list[Check]:
        """The gating checks that failed, in CHECKS order."""
        return [check for check in self.checks if check.gating and not check.passed]

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["passed"] = self.passed
        payload["failed_checks"] = [check.name for check in self.failures]
        payload["argmax_agreement_rate"] = self.argmax_agreement / self.images if self.images else None
        return _json_safe(payload)


@dataclass(frozen=True)
class ParitySummary:
    """Every export's report against one Keras model, and the overall verdict."""

    model: str
    model_sha256: str
    images: int
    atol: float
    rtol: float
    reference_accuracy: float
    reports: tuple[ParityReport, ...]
    seconds: float = 0.0
    self_exported: bool = False
    timings: tuple[tuple[str, float], ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        return bool(self.reports) and all(report.passed for report in self.reports)

    def to_json(self) -> dict[str, Any]:
        return _json_safe(
            {
                "model": self.model,
                "model_sha256": self.model_sha256,
                "images": self.images,
                "atol": self.atol,
                "rtol": self.rtol,
                "reference_accuracy": self.reference_accuracy,
                "passed": self.passed,
                "self_exported": self.self_exported,
                "seconds": self.seconds,
                "toolkit_version": toolkit_version(),
                "verdict_rules": {
                    "float": "every element within tolerance (|diff| <= atol or |diff| <= rtol*|ref|) and all "
                    "argmaxes agree",
                    "int8": f"argmax agreement >= {INT8_MIN_AGREEMENT:.0%} and accuracy within "
                    f"{INT8_MAX_ACCURACY_DELTA * 100:.1f} points of the reference",
                    "all": "interface contract, no NaN/Inf, batch 1 == batch 512 within tolerance",
                },
                "exports": [report.to_json() for report in self.reports],
            }
        )


def _json_safe(value: Any) -> Any:
    """NaN/Inf -> None, tuples -> lists, so the JSON is strict (json.dumps(allow_nan=False) passes)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.2e}" if value else "0"


def _abs_rel(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute and relative differences in float64; a non-finite candidate value counts as infinitely far."""
    ref = reference.astype(np.float64)
    diff = np.abs(candidate.astype(np.float64) - ref)
    diff[~np.isfinite(diff)] = np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(ref))
    return diff, rel


def out_of_tolerance(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Mask of elements that exceed both atol and rtol*|reference| (Polygraphy's rule)."""
    diff, _ = _abs_rel(reference, candidate)
    return (diff > atol) & (diff > rtol * np.abs(reference.astype(np.float64)))


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    *,
    labels: np.ndarray | None = None,
    kind: str = "float",
    name: str = "candidate",
    fmt: str = "",
    batch: tuple[np.ndarray, np.ndarray] | None = None,
    interface: Sequence[str] = (),
) -> ParityReport:
    """Compare candidate outputs with reference outputs (both [N,10]) and decide the verdict.

    `labels` adds accuracies and per-class disagreement (by true label); `batch` is (outputs at batch 1,
    outputs at batch 512) for the same images; `interface` lists contract problems found by the caller.
    Raises ShapeMismatchError when the two outputs do not have the same shape.
    """
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape or reference.ndim != 2:
        raise ShapeMismatchError(
            f"{name}: output shape {list(candidate.shape)} differs from the reference's "
            f"{list(reference.shape)}; the contract is probabilities [N,{NUM_CLASSES}]"
        )
    if kind not in ("float", "int8"):
        raise UsageError(f"kind must be 'float' or 'int8', not '{kind}'")
    n = len(reference)
    diff, rel = _abs_rel(reference, candidate)
    failing = (diff > atol) & (diff > rtol * np.abs(reference.astype(np.float64)))
    finite = diff[np.isfinite(diff)]
    ref_top, cand_top = reference.argmax(axis=1), candidate.argmax(axis=1)
    disagree = np.flatnonzero(ref_top != cand_top)
    by_class = labels if labels is not None else ref_top
    per_class = np.bincount(np.asarray(by_class)[disagree].astype(np.int64), minlength=NUM_CLASSES)
    ref_acc = cand_acc = None
    if labels is not None:
        ref_acc, cand_acc = float(np.mean(ref_top == labels)), float(np.mean(cand_top == labels))
    nonfinite = int(np.count_nonzero(~np.isfinite(candidate)))

    checks = [
        Check(
            "interface",
            not interface,
            "; ".join(interface) or "input 'image' float32 [batch,28,28,1], output 'probabilities' float32 [batch,10]",
        )
    ]
    checks.append(
        Check("finite", nonfinite == 0, f"{nonfinite:,} NaN/Inf values in the outputs" if nonfinite else "no NaN/Inf")
    )
    count = int(failing.sum())
    if count:
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
        detail = (
            f"{count:,} of {diff.size:,} elements exceed both atol {atol:g} and rtol {rtol:g}*|ref| (max abs "
            f"diff {_fmt(float(diff.max()))} at image {worst[0]}, class {worst[1]})"
        )
    else:
        detail = f"all {diff.size:,} elements within atol {atol:g} or rtol {rtol:g}*|ref|"
    checks.append(
        Check(
            "tolerance",
            count == 0,
            detail + ("" if kind == "float" else " (informational for int8)"),
            gating=kind == "float",
        )
    )
    agree = n - len(disagree)
    shown = ", ".join(map(str, disagree[:10])) + (", ..." if len(disagree) > 10 else "")
    if kind == "float":
        checks.append(
            Check(
                "argmax",
                agree == n,
                f"all {n:,} argmaxes agree"
                if agree == n
                else f"{len(disagree):,} of {n:,} argmaxes differ (images {shown})",
            )
        )
    else:
        rate = agree / n if n else 0.0
        checks.append(
            Check(
                "argmax",
                rate >= INT8_MIN_AGREEMENT,
                f"{rate:.2%} of argmaxes agree ({len(disagree):,} differ), need >= "
                f"{INT8_MIN_AGREEMENT:.0%}" + (f" (images {shown})" if len(disagree) else ""),
            )
        )
    if ref_acc is not None and cand_acc is not None:
        delta = cand_acc - ref_acc
        detail = f"accuracy {cand_acc:.4f} vs reference {ref_acc:.4f} ({delta * 100:+.2f} points)"
        if kind == "int8":
            ok = abs(delta) <= INT8_MAX_ACCURACY_DELTA + 1e-12
            checks.append(Check("accuracy", ok, detail + f", allowed +-{INT8_MAX_ACCURACY_DELTA * 100:.1f}"))
        else:
            checks.append(Check("accuracy", delta == 0, detail + " (informational: argmax decides)", gating=False))
    batch_max = None
    batch_n = 0
    if batch is not None:
        single, batched = (np.asarray(b) for b in batch)
        if single.shape != batched.shape:
            checks.append(
                Check(
                    "batch",
                    False,
                    f"batch 1 gives {list(single.shape)}, batch {BATCH_SIZE} gives {list(batched.shape)}",
                )
            )
        else:
            batch_n = len(single)
            bdiff, _ = _abs_rel(batched, single)
            batch_max = float(bdiff.max()) if bdiff.size else 0.0
            bad = int(out_of_tolerance(batched, single, atol, rtol).sum())
            checks.append(
                Check(
                    "batch",
                    bad == 0,
                    f"batch 1 vs batch {BATCH_SIZE} on {batch_n} images: max abs diff "
                    f"{_fmt(batch_max)}" + (f", {bad:,} elements beyond tolerance" if bad else ""),
                )
            )
    return ParityReport(
        name=name,
        format=fmt or kind,
        kind=kind,
        images=n,
        atol=atol,
        rtol=rtol,
        argmax_agreement=agree,
        disagreements=tuple(int(i) for i in disagree),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(finite.mean()) if finite.size else math.nan,
        p99_abs_diff=float(np.percentile(diff, 99, method="higher")) if diff.size else 0.0,
        max_rel_diff=float(rel.max()) if rel.size else 0.0,
        elements=int(diff.size),
        elements_out_of_tolerance=count,
        nonfinite=nonfinite,
        reference_accuracy=ref_acc,
        candidate_accuracy=cand_acc,
        per_class_disagreement=tuple(int(c) for c in per_class),
        batch_images=batch_n,
        batch_max_abs_diff=batch_max,
        checks=tuple(checks),
    )


def interface_problems(runtime: runtimes.Runtime) -> list[str]:
    """How a loaded export's declared inputs/outputs break the contract, names included (empty when not)."""
    return onnxmodel.interface_problems(runtime.inputs, runtime.outputs, exact=True)


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


def _failed_report(name: str, fmt: str, check: str, detail: str, atol: float, rtol: float, images: int) -> ParityReport:
    return ParityReport(
        name=name,
        format=fmt,
        kind="int8" if fmt == "onnx-int8" else "float",
        images=images,
        atol=atol,
        rtol=rtol,
        checks=(Check(check, False, detail),),
    )


def check_export(
    path: Path,
    reference: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    atol: float,
    rtol: float,
    name: str | None = None,
) -> ParityReport:
    """Load one export, run it on `images`, and compare it with `reference` (the Keras outputs)."""
    started = time.perf_counter()
    path = Path(path)
    name = name or str(path)
    try:
        runtime = runtimes.load(path)
    except (ModelLoadError, UsageError) as exc:
        fmt = modelkind.format_of(path) or path.suffix.lstrip(".").lower() or "unknown"
        return _failed_report(name, fmt, "load", str(exc), atol, rtol, len(images))
    kind = export_kind(runtime)
    fmt = "onnx-int8" if kind == "int8" else runtime.format
    try:
        outputs = runtime.predict(images, batch_size=BATCH_SIZE)
        count = min(BATCH_CHECK_IMAGES, len(images))
        single = runtime.predict(images[:count], batch_size=1)
    except Exception as exc:  # a model that loads but cannot run is a failed export, not a crash
        first = first_line(exc)
        return _failed_report(name, fmt, "load", f"{path}: cannot run it ({first[:300]})", atol, rtol, len(images))
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
        )
        return replace(report, seconds=round(time.perf_counter() - started, 3))
    except ShapeMismatchError as exc:
        return _failed_report(name, fmt, "shape", str(exc), atol, rtol, len(images))


def validate(model_path: Path, exports: Iterable[Path], atol: float, rtol: float) -> list[Path]:
    """Usage checks, before anything heavy is loaded."""
    model_path = Path(model_path)
    modelkind.require(model_path, ("keras",), "parity", "MODEL ")
    for value, option in ((atol, "--atol"), (rtol, "--rtol")):
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"{option} must be a non-negative number, got {value}")
    checked = []
    for export in exports:
        modelkind.require(export, modelkind.EXPORT_FORMATS, "parity", "EXPORT ")
        checked.append(Path(export))
    return checked


def run(
    model_path: Path, exports: Iterable[Path] = (), atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL
) -> ParitySummary:
    """Check every export against the Keras model on the full MNIST test set.

    With no `exports`, export every format to a temporary folder first and check them all, so one call
    covers ONNX, SavedModel, TFLite and int8 ONNX.
    """
    exports = validate(model_path, exports, atol, rtol)
    model_path = Path(model_path)
    laps = Laps()
    lap = laps.lap

    from toolkit.export import FORMATS, Source, architecture_of, export_loaded, keras_outputs

    sha256 = data.sha256_file(model_path)
    _, (x_test, y_test) = data.load_mnist()
    images = data.to_model_input(x_test)
    model = runtimes.load_keras_model(model_path)
    # The reference is the model's own outputs in contract form: after the softmax an export adds to logits.
    served, _ = as_contract(model, model_path)
    lap("load keras model")
    reference = keras_outputs(served, model_path, sha256, images)
    reference_accuracy = float(np.mean(reference.argmax(axis=1) == y_test))
    lap("keras reference prediction")

    def check_all(candidates: list[tuple[Path, str]]) -> list[ParityReport]:
        reports = []
        for path, name in candidates:
            reports.append(check_export(path, reference, images, y_test, atol=atol, rtol=rtol, name=name))
            lap(f"check {name}")
        return reports

    if exports:
        reports = check_all([(path, str(path)) for path in exports])
    else:
        with tempfile.TemporaryDirectory(prefix="mnist-toolkit-parity-") as scratch:
            source = Source(model_path, sha256, architecture_of(model))
            result = export_loaded(model, source, FORMATS, Path(scratch) / "export", reference=reference)
            lap("export all formats")
            reports = check_all([(result.path(fmt), result.path(fmt).name) for fmt in FORMATS])
    return ParitySummary(
        str(model_path),
        sha256,
        len(images),
        atol,
        rtol,
        reference_accuracy,
        tuple(reports),
        laps.total,
        not exports,
        tuple(laps.steps),
    )


def write_json(summary: ParitySummary, path: Path) -> Path:
    """The whole summary as strict JSON."""
    return fsutil.write_text(path, json.dumps(summary.to_json(), indent=2, allow_nan=False) + "\n")


def junit_xml(summary: ParitySummary) -> str:
    """JUnit XML: one <testsuite> per export, one <testcase> per check, <failure> for failed gating checks."""
    root = ET.Element("testsuites", name="mnist-toolkit parity", tests="0", failures="0", time=f"{summary.seconds:.2f}")
    total = failed = 0
    for report in summary.reports:
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"parity {report.name}",
            tests=str(len(report.checks)),
            failures=str(len(report.failures)),
            errors="0",
            skipped="0",
            time=f"{report.seconds:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        for key in (
            "format",
            "kind",
            "images",
            "atol",
            "rtol",
            "argmax_agreement",
            "max_abs_diff",
            "mean_abs_diff",
            "p99_abs_diff",
            "max_rel_diff",
            "elements_out_of_tolerance",
            "nonfinite",
            "reference_accuracy",
            "candidate_accuracy",
            "batch_max_abs_diff",
        ):
            ET.SubElement(properties, "property", name=key, value=str(getattr(report, key)))
        ET.SubElement(properties, "property", name="model", value=summary.model)
        # JUnit viewers split classname at dots (package.Class), so dots inside the export's name would nest it
        classname = "parity." + "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(report.name).name)
        for check in report.checks:
            case = ET.SubElement(suite, "testcase", classname=classname, name=check.name, time="0")
            if check.gating and not check.passed:
                failure = ET.SubElement(case, "failure", message=check.detail, type="ParityFailure")
                failure.text = f"{report.name} ({report.format}) failed '{check.name}': {check.detail}"
            else:
                out = ET.SubElement(case, "system-out")
                out.text = check.detail + ("" if check.gating else " [not part of the verdict]")
        total += len(report.checks)
        failed += len(report.failures)
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(summary: ParitySummary, path: Path) -> Path:
    """Write `junit_xml(summary)` to `path`."""
    return fsutil.write_text(path, junit_xml(summary))
