"""Does each export compute what its Keras model computes? Compared on all 10,000 MNIST test images.

Semantics follow Polygraphy's comparator: an element fails only when its absolute difference exceeds both
`atol` and `rtol * |reference|`; the report gives max/mean/p99 absolute and max relative differences, not just
a verdict, and label-level (argmax) agreement is a first-class check.

Verdict per export:
- float exports (ONNX, SavedModel, TFLite): every element within tolerance and all argmaxes agree;
- int8 ONNX: its outputs' SQNR against the Keras model's >= 30 dB, argmax agreement >= 99% and test accuracy within
  0.5 points of the Keras model's;
- both: the file honours the interface contract, outputs no NaN/Inf, and gives the same outputs at batch 1
  as at batch 512.

Modules: `rules` (thresholds), `comparator` (one pure-NumPy function per check, composed by `compare()`),
`outputs` (the Keras golden outputs, an export's score on labelled images), `check` (load and check exports;
`run()` for a whole model) and `report` (the result values, JSON and JUnit).
"""

from toolkit.parity.check import check_export, export_kind, interface_problems, run, validate
from toolkit.parity.comparator import (
    AccuracyResult,
    Agreement,
    ArgmaxResult,
    BatchResult,
    CheckResult,
    FiniteResult,
    SqnrResult,
    ToleranceResult,
    accuracy,
    agreement,
    check_accuracy,
    check_argmax,
    check_batch,
    check_finite,
    check_interface,
    check_shape,
    check_sqnr,
    check_tolerance,
    compare,
    out_of_tolerance,
)
from toolkit.parity.outputs import keras_outputs, labelled_test_images, score
from toolkit.parity.report import (
    Check,
    ParityReport,
    ParitySummary,
    check_report_paths,
    failed_report,
    junit_classname,
    junit_xml,
    write_json,
    write_junit,
)
from toolkit.parity.rules import (
    BATCH_CHECK_IMAGES,
    BATCH_SIZE,
    CHECKS,
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    INT8_MAX_ACCURACY_DELTA,
    INT8_MIN_AGREEMENT,
    INT8_MIN_OUTPUT_SQNR_DB,
)

__all__ = [
    "BATCH_CHECK_IMAGES",
    "BATCH_SIZE",
    "CHECKS",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "INT8_MAX_ACCURACY_DELTA",
    "INT8_MIN_AGREEMENT",
    "INT8_MIN_OUTPUT_SQNR_DB",
    "AccuracyResult",
    "Agreement",
    "ArgmaxResult",
    "BatchResult",
    "Check",
    "CheckResult",
    "FiniteResult",
    "ParityReport",
    "ParitySummary",
    "SqnrResult",
    "ToleranceResult",
    "accuracy",
    "agreement",
    "check_accuracy",
    "check_argmax",
    "check_batch",
    "check_export",
    "check_report_paths",
    "check_finite",
    "check_interface",
    "check_shape",
    "check_sqnr",
    "check_tolerance",
    "compare",
    "export_kind",
    "interface_problems",
    "failed_report",
    "junit_classname",
    "junit_xml",
    "keras_outputs",
    "labelled_test_images",
    "out_of_tolerance",
    "run",
    "score",
    "validate",
    "write_json",
    "write_junit",
]
