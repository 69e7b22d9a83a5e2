"""What parity found, as values (`Check`, `ParityReport`, `ParitySummary`) and as files: strict JSON and JUnit XML.

Rendering the results for a terminal is the CLI's business; this module only holds and serialises them.
"""

from __future__ import annotations

import contextlib
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import fsutil
from toolkit.contract import toolkit_version
from toolkit.errors import UsageError
from toolkit.parity.rules import VERDICT_RULES

# ParityReport fields JUnit viewers show as suite properties, in this order.
JUNIT_PROPERTIES = (
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
    "output_sqnr_db",
    "elements_out_of_tolerance",
    "nonfinite",
    "reference_accuracy",
    "candidate_accuracy",
    "batch_max_abs_diff",
)


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
    output_sqnr_db: float | None = None  # int8 exports only
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
    # Where it stops agreeing (parity.layers.Localisation.to_json()): None when no layer comparison ran
    localisation: dict[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks if check.gating)

    @property
    def first_divergence(self) -> dict[str, Any] | None:
        return self.localisation["first_divergence"] if self.localisation else None

    @property
    def failures(self) -> list[Check]:
        """The gating checks that failed, in the order they ran."""
        return [check for check in self.checks if check.gating and not check.passed]

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["passed"] = self.passed
        payload["failed_checks"] = [check.name for check in self.failures]
        payload["argmax_agreement_rate"] = self.argmax_agreement / self.images if self.images else None
        localisation = payload.pop("localisation") or {}
        payload["first_divergence"] = localisation.get("first_divergence")
        payload["layers"] = localisation.get("layers", [])
        if localisation:
            payload["unmapped_layers"], payload["fused_layers"] = localisation["unmapped"], localisation["fused"]
        return json_safe(payload)


@dataclass(frozen=True)
class ParitySummary:
    """Every export's report against one Keras model, and the overall verdict."""

    model: str
    model_sha256: str
    images: int
    atol: float
    rtol: float
    reference_accuracy: float | None  # None for images without labels
    reports: tuple[ParityReport, ...]
    seconds: float = 0.0
    self_exported: bool = False
    timings: tuple[tuple[str, float], ...] = field(default=(), repr=False)
    data: str = "mnist-test"  # which images (see parity.reference)
    reference: str = ""  # where the reference outputs came from: the model, a golden file, an export

    @property
    def passed(self) -> bool:
        return bool(self.reports) and all(report.passed for report in self.reports)

    def to_json(self) -> dict[str, Any]:
        return json_safe(
            {
                "model": self.model,
                "model_sha256": self.model_sha256,
                "images": self.images,
                "data": self.data,
                "reference": self.reference or self.model,
                "atol": self.atol,
                "rtol": self.rtol,
                "reference_accuracy": self.reference_accuracy,
                "passed": self.passed,
                "self_exported": self.self_exported,
                "seconds": self.seconds,
                "toolkit_version": toolkit_version(),
                "verdict_rules": dict(VERDICT_RULES),
                "exports": [report.to_json() for report in self.reports],
            }
        )


def failed_report(name: str, fmt: str, check: str, detail: str, atol: float, rtol: float, images: int) -> ParityReport:
    """The report of an export that never got as far as a comparison: one failed check says why."""
    return ParityReport(
        name=name,
        format=fmt,
        kind="int8" if fmt == "onnx-int8" else "float",
        images=images,
        atol=atol,
        rtol=rtol,
        checks=(Check(check, False, detail),),
    )


def json_safe(value: Any) -> Any:
    """NaN/Inf -> None, tuples -> lists, so the JSON is strict (json.dumps(allow_nan=False) passes)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return value


def check_report_paths(**paths: Path | None) -> None:
    """UsageError, before any work, for a report path that cannot be written: a folder, or a file's child.
    Keywords name the option (`report=...` is `--report`)."""
    for option, path in paths.items():
        if path is None:
            continue
        flag = "--" + option.replace("_", "-")
        if Path(path).is_dir():
            raise UsageError(f"{flag} {path} is a folder; name a file")
        blocking = next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise UsageError(f"{flag} {path}: {blocking} is a file, not a folder")


def write_json(summary: ParitySummary, path: Path) -> Path:
    """The whole summary as strict JSON."""
    return fsutil.write_text(path, json.dumps(summary.to_json(), indent=2, allow_nan=False) + "\n")


def divergence_phrase(report: ParityReport) -> str:
    """`; first divergence at layer X (export tensor Y, ...)` for a report whose layers were compared."""
    first = report.first_divergence
    if report.localisation and report.localisation.get("needs"):
        return f"; comparing layers needs {report.localisation['needs']} as MODEL"
    if report.localisation and report.localisation.get("failed"):
        return f"; the layers could not be compared ({report.localisation['failed']})"
    if first is None:
        return "" if report.localisation is None else "; no layer diverges beyond what the export kind explains"
    sqnr = f", SQNR {first['sqnr_db']:.1f} dB" if first.get("sqnr_db") is not None else ""
    # A layer beyond its rule while the outputs pass theirs: said, so the line does not read as a failure.
    passing = "; the outputs are within the rules, so the export passes" if report.passed else ""
    return (
        f"; first divergence at layer {first['layer']} (export tensor {first['export_tensor']}: max abs "
        f"{first['max_abs']:.3g}, {first['relative']:.2g} of its activation scale{sqnr}){passing}"
    )


def junit_classname(name: str) -> str:
    """`parity.` and the export's path relative to the working folder (absolute when outside it), so that two
    exports named alike in different folders stay apart. JUnit viewers split a classname at dots (package.Class),
    so every character but letters, digits, - and _ becomes _."""
    path = Path(name)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(Path.cwd().resolve())
    return "parity." + "".join(c if c.isalnum() or c in "-_" else "_" for c in str(path))


# A check that could not even run the export (it does not load, or crashes) is an error, not a failed comparison.
ERROR_CHECKS = ("load",)


def _junit_suite(root: ET.Element, report: ParityReport, model: str) -> None:
    errors = [c for c in report.failures if c.name in ERROR_CHECKS]
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"parity {report.name}",
        tests=str(len(report.checks)),
        failures=str(len(report.failures) - len(errors)),
        errors=str(len(errors)),
        skipped="0",
        time=f"{report.seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for key in JUNIT_PROPERTIES:
        ET.SubElement(properties, "property", name=key, value=str(getattr(report, key)))
    ET.SubElement(properties, "property", name="model", value=model)
    classname = junit_classname(report.name)
    for check in report.checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=check.name, time="0")
        if check.gating and not check.passed:
            tag, kind = ("error", "ParityError") if check.name in ERROR_CHECKS else ("failure", "ParityFailure")
            message = check.detail + divergence_phrase(report)
            failure = ET.SubElement(case, tag, message=message, type=kind)
            failure.text = f"{report.name} ({report.format}) failed '{check.name}': {message}"
        else:
            out = ET.SubElement(case, "system-out")
            out.text = check.detail + ("" if check.gating else " [not part of the verdict]")


def junit_xml(summary: ParitySummary) -> str:
    """JUnit XML: one <testsuite> per export, one <testcase> per check, <failure> for failed gating checks and
    <error> for an export that could not be run at all."""
    root = ET.Element(
        "testsuites", name="mnist-toolkit parity", tests="0", failures="0", errors="0", time=f"{summary.seconds:.2f}"
    )
    for report in summary.reports:
        _junit_suite(root, report, summary.model)
    errors = sum(1 for report in summary.reports for c in report.failures if c.name in ERROR_CHECKS)
    root.set("tests", str(sum(len(report.checks) for report in summary.reports)))
    root.set("failures", str(sum(len(report.failures) for report in summary.reports) - errors))
    root.set("errors", str(errors))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(summary: ParitySummary, path: Path) -> Path:
    """Write `junit_xml(summary)` to `path`."""
    return fsutil.write_text(path, junit_xml(summary))
