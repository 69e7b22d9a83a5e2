"""The comparator: one function per check, each taking outputs and returning its verdict with the figures it
measured; `compare` runs them in order and assembles the export's ParityReport. Pure NumPy.

Outputs are the probabilities [N,10], with the optional `not_digit` output as an eleventh column when the
model has one: the tolerance, finiteness and batch checks cover it element by element like any probability,
argmax and accuracy look at the digits only, and `check_not_digit` asks that the yes/no decision it makes
agrees as the argmax must.

Semantics follow Polygraphy's comparator: an element fails only when its absolute difference exceeds both
`atol` and `rtol * |reference|`. Outputs of different shapes are not compared at all: `check_shape` raises
ShapeMismatchError, a different error from any tolerance failure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from toolkit.contract import NUM_CLASSES
from toolkit.errors import ShapeMismatchError, UsageError
from toolkit.parity.report import Check, ParityReport
from toolkit.parity.rules import (
    BATCH_SIZE,
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    INT8_MAX_ACCURACY_DELTA,
    INT8_MIN_AGREEMENT,
    INT8_MIN_OUTPUT_SQNR_DB,
    KINDS,
    NOT_DIGIT_CUT,
)

INTERFACE_OK = (
    "input 'image' float32 [batch,28,28,1], output 'probabilities' float32 [batch,10] (and 'not_digit' [batch,1] "
    "when the model has it)"
)


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict; subclasses add the figures the check measured, named as ParityReport's fields."""

    check: Check

    @property
    def passed(self) -> bool:
        return self.check.passed

    def figures(self) -> dict[str, Any]:
        """The measured figures by ParityReport field name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "check"}


@dataclass(frozen=True)
class FiniteResult(CheckResult):
    nonfinite: int


@dataclass(frozen=True)
class ToleranceResult(CheckResult):
    elements: int
    elements_out_of_tolerance: int
    max_abs_diff: float
    mean_abs_diff: float
    p99_abs_diff: float
    max_rel_diff: float


@dataclass(frozen=True)
class SqnrResult(CheckResult):
    output_sqnr_db: float


@dataclass(frozen=True)
class ArgmaxResult(CheckResult):
    argmax_agreement: int
    disagreements: tuple[int, ...]
    per_class_disagreement: tuple[int, ...]


@dataclass(frozen=True)
class AccuracyResult(CheckResult):
    reference_accuracy: float
    candidate_accuracy: float


@dataclass(frozen=True)
class BatchResult(CheckResult):
    batch_images: int
    batch_max_abs_diff: float | None


@dataclass(frozen=True)
class Agreement:
    """How a candidate's outputs fare on labelled images: its accuracy, the reference's, and the fraction of
    images on which both pick the same digit."""

    accuracy: float
    reference_accuracy: float
    argmax_agreement: float


def sqnr_db(reference: np.ndarray, output: np.ndarray) -> float:
    """Signal to quantization noise ratio in dB, as onnxruntime's qdq_loss_debug computes it, except for
    identical tensors: those that are all zero (a layer no image of the set excites) gave epsilon over epsilon,
    0 dB, and were taken for a layer where an int8 export diverges. Identical tensors get the ceiling of a unit
    signal over epsilon noise (313 dB), or the stronger signal's own over epsilon (as onnxruntime gives them)."""
    ref = np.asarray(reference, np.float64).ravel()
    out = np.asarray(output, np.float64).ravel()
    epsilon = np.finfo(float).eps
    if np.array_equal(ref, out):
        return 20 * math.log10(max(float(np.linalg.norm(ref)), 1.0) / epsilon)
    signal = max(float(np.linalg.norm(ref)), epsilon)
    noise = max(float(np.linalg.norm(ref - out)), epsilon)
    return 20 * math.log10(signal / noise)


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


def _beyond(diff: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Elements beyond both tolerances; a difference that is not finite (a NaN or inf on either side) always is:
    NaN compares false with any bound, and would pass."""
    return ~np.isfinite(diff) | ((diff > atol) & (diff > rtol * np.abs(reference.astype(np.float64))))


def out_of_tolerance(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """Mask of elements that exceed both atol and rtol*|reference| (Polygraphy's rule)."""
    diff, _ = _abs_rel(reference, candidate)
    return _beyond(diff, reference, atol, rtol)


def digits(outputs: np.ndarray) -> np.ndarray:
    """The most probable digit of each row (the not_digit column, if any, left out)."""
    return np.argmax(outputs[:, :NUM_CLASSES], axis=1)


def column_name(column: int) -> str:
    return f"class {column}" if column < NUM_CLASSES else "not_digit"


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of images whose most probable digit is their label."""
    return float(np.mean(digits(probabilities) == np.asarray(labels)))


def agreement(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray) -> Agreement:
    """Accuracies of both outputs on `labels`, and how often their argmaxes agree."""
    return Agreement(
        accuracy=accuracy(candidate, labels),
        reference_accuracy=accuracy(reference, labels),
        argmax_agreement=float(np.mean(digits(candidate) == digits(reference))),
    )


def check_shape(reference: np.ndarray, candidate: np.ndarray, name: str = "candidate") -> None:
    """Raise ShapeMismatchError unless both outputs have the same shape ([N,10], or [N,11] with not_digit):
    nothing else can be compared."""
    if reference.shape != candidate.shape or reference.ndim != 2:
        raise ShapeMismatchError(
            f"{name}: output shape {list(candidate.shape)} differs from the reference's "
            f"{list(reference.shape)}; the contract is probabilities [N,{NUM_CLASSES}]"
        )


def check_interface(problems: Sequence[str]) -> CheckResult:
    """Passes when the caller found no interface problems in the export's declared inputs and outputs."""
    return CheckResult(Check("interface", not problems, "; ".join(problems) or INTERFACE_OK))


def check_finite(candidate: np.ndarray) -> FiniteResult:
    """Passes when the outputs hold no NaN or Inf."""
    count = int(np.count_nonzero(~np.isfinite(candidate)))
    detail = f"{count:,} NaN/Inf values in the outputs" if count else "no NaN/Inf"
    return FiniteResult(Check("finite", count == 0, detail), nonfinite=count)


def check_tolerance(
    reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float, kind: str = "float"
) -> ToleranceResult:
    """Passes when no element exceeds both atol and rtol*|reference|; decides the verdict of float exports
    only, since int8 rounding moves every element."""
    diff, rel = _abs_rel(reference, candidate)
    failing = _beyond(diff, reference, atol, rtol)
    count = int(failing.sum())
    if count:
        # The element that breaks the rule by the widest margin: the largest difference overall may be one the
        # relative tolerance allows (a large reference value), so it would name an element that passes.
        allowed = np.maximum(atol, rtol * np.abs(reference.astype(np.float64)))
        margin = np.where(failing, diff / np.maximum(allowed, np.finfo(np.float64).tiny), -np.inf)
        image, cls = np.unravel_index(int(np.argmax(margin)), diff.shape)
        detail = (
            f"{count:,} of {diff.size:,} elements exceed both atol {atol:g} and rtol {rtol:g}*|ref|; worst at "
            f"image {image}, {column_name(int(cls))}: |diff| {_fmt(float(diff[image, cls]))} against ref "
            f"{_fmt(float(reference[image, cls]))} (max abs diff {_fmt(float(diff.max()))})"
        )
    else:
        detail = f"all {diff.size:,} elements within atol {atol:g} or rtol {rtol:g}*|ref|"
    gating = kind != "int8"
    finite = diff[np.isfinite(diff)]
    return ToleranceResult(
        Check("tolerance", count == 0, detail + ("" if gating else " (informational for int8)"), gating=gating),
        elements=int(diff.size),
        elements_out_of_tolerance=count,
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        mean_abs_diff=float(finite.mean()) if finite.size else math.nan,
        p99_abs_diff=float(np.percentile(diff, 99, method="higher")) if diff.size else 0.0,
        max_rel_diff=float(rel.max()) if rel.size else 0.0,
    )


def check_sqnr(reference: np.ndarray, candidate: np.ndarray) -> SqnrResult:
    """int8 exports only: passes when the outputs, all elements together, have a signal-to-noise ratio against
    the reference's of INT8_MIN_OUTPUT_SQNR_DB or more. int8 rounding moves every element a little; a wrong scale or
    damaged weights move them all much more, often with 99% of the argmaxes still agreeing."""
    value = sqnr_db(reference, candidate) if np.isfinite(candidate).all() else math.nan
    detail = (
        f"outputs' SQNR {value:.1f} dB, need >= {INT8_MIN_OUTPUT_SQNR_DB:g} dB"
        if math.isfinite(value)
        else f"outputs' SQNR not defined (NaN/Inf in the outputs), need >= {INT8_MIN_OUTPUT_SQNR_DB:g} dB"
    )
    return SqnrResult(Check("sqnr", value >= INT8_MIN_OUTPUT_SQNR_DB, detail), output_sqnr_db=value)


def check_argmax(
    reference: np.ndarray, candidate: np.ndarray, kind: str = "float", labels: np.ndarray | None = None
) -> ArgmaxResult:
    """Float exports pass when every argmax agrees, int8 ones when at least INT8_MIN_AGREEMENT do.
    Disagreements are counted per true label when `labels` are given, else per the reference's digit."""
    ref_top, cand_top = digits(reference), digits(candidate)
    disagree = np.flatnonzero(ref_top != cand_top)
    by_class = np.asarray(labels if labels is not None else ref_top)
    per_class = np.bincount(by_class[disagree].astype(np.int64), minlength=NUM_CLASSES)
    n = len(reference)
    agree = n - len(disagree)
    shown = ", ".join(map(str, disagree[:10])) + (", ..." if len(disagree) > 10 else "")
    if kind == "int8":
        rate = agree / n if n else 0.0
        check = Check(
            "argmax",
            rate >= INT8_MIN_AGREEMENT,
            f"{rate:.2%} of argmaxes agree ({len(disagree):,} differ), need >= "
            f"{INT8_MIN_AGREEMENT:.0%}" + (f" (images {shown})" if len(disagree) else ""),
        )
    elif agree == n:
        check = Check("argmax", True, f"all {n:,} argmaxes agree")
    else:
        check = Check("argmax", False, f"{len(disagree):,} of {n:,} argmaxes differ (images {shown})")
    return ArgmaxResult(
        check,
        argmax_agreement=agree,
        disagreements=tuple(int(i) for i in disagree),
        per_class_disagreement=tuple(int(c) for c in per_class),
    )


def check_accuracy(
    reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray, kind: str = "float"
) -> AccuracyResult:
    """int8 exports pass within INT8_MAX_ACCURACY_DELTA of the reference's accuracy. For float exports the
    figure is informational: the argmax check already demands the same digit on every image."""
    reference_accuracy, candidate_accuracy = accuracy(reference, labels), accuracy(candidate, labels)
    delta = candidate_accuracy - reference_accuracy
    detail = f"accuracy {candidate_accuracy:.4f} vs reference {reference_accuracy:.4f} ({delta * 100:+.2f} points)"
    if kind == "int8":
        ok = abs(delta) <= INT8_MAX_ACCURACY_DELTA + 1e-12
        check = Check("accuracy", ok, detail + f", allowed +-{INT8_MAX_ACCURACY_DELTA * 100:.1f}")
    else:
        check = Check("accuracy", delta == 0, detail + " (informational: argmax decides)", gating=False)
    return AccuracyResult(check, reference_accuracy=reference_accuracy, candidate_accuracy=candidate_accuracy)


def check_not_digit(reference: np.ndarray, candidate: np.ndarray, kind: str = "float") -> CheckResult:
    """For models with the not_digit output: its decision (>= NOT_DIGIT_CUT) must agree on every image for a
    float export, on at least INT8_MIN_AGREEMENT of them for an int8 one (the argmax check's rule)."""
    ref, cand = reference[:, NUM_CLASSES] >= NOT_DIGIT_CUT, candidate[:, NUM_CLASSES] >= NOT_DIGIT_CUT
    differ = np.flatnonzero(ref != cand)
    n = len(reference)
    shown = ", ".join(map(str, differ[:10])) + (", ..." if len(differ) > 10 else "")
    detail = f"the not_digit decision differs on {len(differ):,} of {n:,} images" + (
        f" (images {shown})" if len(differ) else ""
    )
    if kind == "int8":
        rate = 1 - len(differ) / n if n else 0.0
        return CheckResult(
            Check("not_digit", rate >= INT8_MIN_AGREEMENT, detail + f", need >= {INT8_MIN_AGREEMENT:.0%} agree")
        )
    return CheckResult(Check("not_digit", not len(differ), detail))


def check_batch(single: np.ndarray, batched: np.ndarray, atol: float, rtol: float) -> BatchResult:
    """Passes when the same images give the same outputs run one at a time as in a batch of BATCH_SIZE."""
    single, batched = np.asarray(single), np.asarray(batched)
    if single.shape != batched.shape:
        detail = f"batch 1 gives {list(single.shape)}, batch {BATCH_SIZE} gives {list(batched.shape)}"
        return BatchResult(Check("batch", False, detail), batch_images=0, batch_max_abs_diff=None)
    diff, _ = _abs_rel(batched, single)
    worst = float(diff.max()) if diff.size else 0.0
    bad = int(_beyond(diff, batched, atol, rtol).sum())
    detail = f"batch 1 vs batch {BATCH_SIZE} on {len(single)} images: max abs diff {_fmt(worst)}" + (
        f", {bad:,} elements beyond tolerance" if bad else ""
    )
    return BatchResult(Check("batch", bad == 0, detail), batch_images=len(single), batch_max_abs_diff=worst)


def check_provenance(recorded: str | None, expected: str) -> CheckResult:
    """Passes when the export records the reference model's weights digest; an export made from another model
    fails here, whatever its numbers. Without a recorded digest (older exports) or a known one, it says so
    and does not decide the verdict."""
    if not recorded or not expected:
        what = "the export records no source weights digest" if not recorded else "the reference's is unknown"
        return CheckResult(Check("provenance", True, f"not checked: {what}", gating=False))
    if recorded == expected:
        return CheckResult(Check("provenance", True, f"exported from this model (weights {expected[:12]}...)"))
    return CheckResult(
        Check(
            "provenance",
            False,
            f"exported from a different model: its source weights are {recorded[:12]}..., "
            f"the model's {expected[:12]}...",
        )
    )


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
    provenance: tuple[str | None, str] | None = None,
) -> ParityReport:
    """Compare candidate outputs with reference outputs (both [N,10]) and decide the verdict.

    `labels` adds accuracies and per-class disagreement (by true label); `batch` is (outputs at batch 1,
    outputs at batch 512) for the same images; `interface` lists contract problems found by the caller;
    `provenance` is (the weights digest the export records, the reference model's).
    Raises ShapeMismatchError when the two outputs do not have the same shape.
    """
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    check_shape(reference, candidate, name)
    if kind not in KINDS:
        raise UsageError(f"kind must be 'float' or 'int8', not '{kind}'")
    results: list[CheckResult] = [check_provenance(*provenance)] if provenance is not None else []
    results += [
        check_interface(interface),
        check_finite(candidate),
        check_tolerance(reference, candidate, atol, rtol, kind),
        *([check_sqnr(reference, candidate)] if kind == "int8" else []),
        check_argmax(reference, candidate, kind, labels),
    ]
    if reference.shape[1] > NUM_CLASSES:
        results.append(check_not_digit(reference, candidate, kind))
    if labels is not None:
        results.append(check_accuracy(reference, candidate, labels, kind))
    if batch is not None:
        results.append(check_batch(*batch, atol, rtol))
    figures: dict[str, Any] = {}
    for result in results:
        figures.update(result.figures())
    return ParityReport(
        name=name,
        format=fmt or kind,
        kind=kind,
        images=len(reference),
        atol=atol,
        rtol=rtol,
        checks=tuple(result.check for result in results),
        **figures,
    )
