"""parity: the comparator's rules on hand-made arrays, the JSON and JUnit reports, every zoo export on the full
test set, int8 on trained models, and exports broken on purpose (a parity check that cannot fail is
worthless)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from toolkit import parity, zoo
from toolkit.errors import ShapeMismatchError, UsageError
from toolkit.export import FLOAT_FORMATS, FORMATS

ZOO = list(zoo.ZOO)


def _probabilities(n: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(n, 10)) * 3
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _names(checks) -> list[str]:
    return [check.name for check in checks]


# --- the comparator ---------------------------------------------------------------------------------------


def test_an_element_fails_only_beyond_both_atol_and_rtol():
    reference = np.full((2, 10), 0.01, np.float32)
    reference[0, 0] = reference[1, 0] = 0.91
    candidate = reference.copy()
    candidate[0, 0] += 2e-5  # beyond atol 1e-5 but within rtol 1e-4 * 0.91: passes
    candidate[1, 5] += 2e-5  # beyond atol and beyond rtol 1e-4 * 0.01: fails
    report = parity.compare(reference, candidate, atol=1e-5, rtol=1e-4)
    assert report.elements_out_of_tolerance == 1 and report.elements == 20
    assert _names(report.failures) == ["tolerance"]
    assert "1 of 20 elements" in report.check("tolerance").detail
    assert report.max_abs_diff == pytest.approx(2e-5, rel=1e-2)
    assert report.max_rel_diff == pytest.approx(2e-3, rel=1e-2)
    loose = parity.compare(reference, candidate, atol=1e-4, rtol=0)
    assert loose.passed and loose.elements_out_of_tolerance == 0


def test_identical_outputs_pass_with_zero_differences():
    reference = _probabilities(100)
    labels = reference.argmax(axis=1)
    report = parity.compare(reference, reference.copy(), labels=labels, batch=(reference[:8], reference[:8]))
    assert report.passed and report.argmax_agreement == 100
    assert (report.max_abs_diff, report.mean_abs_diff, report.p99_abs_diff, report.max_rel_diff) == (0, 0, 0, 0)
    assert _names(report.checks) == ["interface", "finite", "tolerance", "argmax", "accuracy", "batch"]
    assert report.reference_accuracy == report.candidate_accuracy == 1.0


def test_nan_and_inf_fail_and_the_json_stays_strict(tmp_path):
    reference = _probabilities(10)
    candidate = reference.copy()
    candidate[3, 2], candidate[4, 4] = np.nan, np.inf
    report = parity.compare(reference, candidate)
    assert report.nonfinite == 2 and not report.passed
    assert {"finite", "tolerance"} <= set(_names(report.failures))
    assert math.isinf(report.max_abs_diff)
    summary = parity.ParitySummary("m.keras", "0" * 64, 10, 1e-5, 1e-5, 1.0, (report,))
    path = parity.write_json(summary, tmp_path / "r.json")
    loaded = json.loads(path.read_text())
    assert loaded["passed"] is False and loaded["exports"][0]["max_abs_diff"] is None
    assert "finite" in loaded["exports"][0]["failed_checks"]


def test_argmax_disagreements_are_listed_with_their_class():
    reference = _probabilities(50)
    labels = reference.argmax(axis=1)
    candidate = reference.copy()
    for i in (7, 21):  # swap each row's top two classes
        top = np.argsort(reference[i])[-2:]
        candidate[i, top] = candidate[i, top[::-1]]
    report = parity.compare(reference, candidate, atol=1.0, labels=labels)  # tolerance cannot fail here
    assert report.disagreements == (7, 21) and report.argmax_agreement == 48
    assert _names(report.failures) == ["argmax"]
    expected = np.bincount(labels[[7, 21]], minlength=10)
    assert report.per_class_disagreement == tuple(expected)


def test_int8_verdict_thresholds():
    n = 1000
    reference = np.eye(10, dtype=np.float32)[np.arange(n) % 10] * 0.9 + 0.01
    labels = reference.argmax(axis=1)
    for i in range(20):  # near ties, where int8 rounding changes a digit: 0.49 against 0.47 for the next one
        reference[i] = 0.005
        reference[i, labels[i]], reference[i, (labels[i] + 1) % 10] = 0.49, 0.47

    def flipped(count: int, mislabel: bool) -> tuple[np.ndarray, np.ndarray]:
        candidate, truth = reference.copy(), labels.copy()
        for i in range(count):
            first, second = labels[i], (labels[i] + 1) % 10
            candidate[i, [first, second]] = candidate[i, [second, first]]
            if mislabel:  # neither side right on these images: accuracy unchanged
                truth[i] = (labels[i] + 5) % 10
        return candidate, truth

    candidate, truth = flipped(10, mislabel=True)
    assert parity.compare(reference, candidate, labels=truth, kind="int8").passed  # 99.0% agree
    candidate, truth = flipped(11, mislabel=True)
    report = parity.compare(reference, candidate, labels=truth, kind="int8")
    assert _names(report.failures) == ["argmax"]  # 98.9% agree; tolerance is informational for int8
    assert not report.check("tolerance").passed and not report.check("tolerance").gating
    candidate, truth = flipped(5, mislabel=False)  # 0.5 points of accuracy lost: still within
    assert parity.compare(reference, candidate, labels=truth, kind="int8").passed
    candidate, truth = flipped(6, mislabel=False)  # 0.6 points lost
    report = parity.compare(reference, candidate, labels=truth, kind="int8")
    assert _names(report.failures) == ["accuracy"]
    assert "-0.60 points" in report.check("accuracy").detail


def test_an_int8_export_whose_outputs_moved_beyond_rounding_fails_though_its_argmaxes_agree():
    """Damaged weights (a layer's scale off by a quarter) move every output while 99% of the argmaxes still
    agree and the accuracy holds: the outputs' SQNR says so."""
    rng = np.random.default_rng(0)
    n = 2000
    labels = np.arange(n) % 10
    logits = rng.normal(0, 1, (n, 10)) + 8 * np.eye(10)[labels]
    reference = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    rounded = (reference + rng.normal(0, 1e-3, reference.shape)).astype(np.float32)  # int8-like: ~50 dB
    report = parity.compare(reference, rounded, labels=labels, kind="int8")
    assert report.passed and report.output_sqnr_db is not None and 45 < report.output_sqnr_db < 55
    damaged_logits = logits * 0.6  # softer everywhere, the same digits
    damaged = (np.exp(damaged_logits) / np.exp(damaged_logits).sum(1, keepdims=True)).astype(np.float32)
    report = parity.compare(reference, damaged, labels=labels, kind="int8")
    assert report.argmax_agreement == n and report.candidate_accuracy == report.reference_accuracy
    assert _names(report.failures) == ["sqnr"] and report.output_sqnr_db < 30
    assert report.check("sqnr").detail.startswith(f"outputs' SQNR {report.output_sqnr_db:.1f} dB, need >= 30 dB")
    # Float exports are judged by their tolerance, element by element: no SQNR check.
    assert parity.compare(reference, reference, labels=labels).check("sqnr") is None
    nan = rounded.copy()
    nan[0, 0] = np.nan
    assert (
        "not defined" in parity.check_sqnr(reference, nan).check.detail and not parity.check_sqnr(reference, nan).passed
    )


def test_batch_variance_and_interface_problems_fail():
    reference = _probabilities(16)
    shifted = reference.copy()
    shifted[0, 0] += 1e-3
    report = parity.compare(
        reference, reference, batch=(shifted[:4], reference[:4]), interface=["input is named 'input', not 'image'"]
    )
    assert _names(report.failures) == ["interface", "batch"]
    assert report.batch_max_abs_diff == pytest.approx(1e-3, rel=1e-3)


def test_a_batch_whose_large_run_gives_nan_fails_the_batch_check():
    """NaN in one of the two runs of the batch check made `diff > rtol * |NaN|` false everywhere: a max abs diff
    of inf passed. A difference that is not finite is beyond any tolerance."""
    reference = _probabilities(8)
    broken = reference.copy()
    broken[2, 3] = np.nan
    for pair in ((reference, broken), (broken, reference)):
        report = parity.compare(reference, reference, batch=pair)
        assert _names(report.failures) == ["batch"], pair
    assert parity.compare(reference, reference, batch=(reference, reference.copy())).passed


def test_shape_mismatch_is_its_own_error():
    with pytest.raises(ShapeMismatchError, match=r"\[4, 9\] differs from the reference's \[4, 10\]"):
        parity.compare(_probabilities(4), _probabilities(4)[:, :9])


def test_junit_marks_each_failed_check():
    reference = _probabilities(20)
    good = parity.compare(reference, reference, name="m.onnx", fmt="onnx")
    bad = parity.compare(reference, reference + 0.01, name="m.tflite", fmt="tflite")
    summary = parity.ParitySummary("m.keras", "0" * 64, 20, 1e-5, 1e-5, 1.0, (good, bad), seconds=1.5)
    root = ET.fromstring(parity.junit_xml(summary))
    assert root.tag == "testsuites" and root.get("failures") == "1" and root.get("tests") == "8"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["parity m.onnx", "parity m.tflite"]
    failures = [
        (case.get("classname"), case.get("name")) for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert failures == [("parity.m_tflite", "tolerance")]


def test_check_shape_raises_only_on_different_shapes():
    reference = _probabilities(4)
    parity.check_shape(reference, reference.copy())  # same shape: nothing to say
    with pytest.raises(
        ShapeMismatchError, match=r"m.onnx: output shape \[5, 10\] differs from the reference's \[4, 10\]"
    ):
        parity.check_shape(reference, _probabilities(5), "m.onnx")


def test_check_interface_passes_without_problems_and_lists_them_otherwise():
    ok = parity.check_interface([])
    assert ok.passed and ok.check.name == "interface" and "input 'image' float32" in ok.check.detail
    assert ok.figures() == {}
    bad = parity.check_interface(["input is named 'x', not 'image'", "2 outputs"])
    assert not bad.passed and bad.check.detail == "input is named 'x', not 'image'; 2 outputs"


def test_check_finite_counts_nan_and_inf():
    candidate = _probabilities(3)
    ok = parity.check_finite(candidate)
    assert ok.passed and ok.nonfinite == 0 and ok.check.detail == "no NaN/Inf"
    candidate[0, 0], candidate[2, 9] = np.nan, -np.inf
    bad = parity.check_finite(candidate)
    assert not bad.passed and bad.figures() == {"nonfinite": 2}
    assert bad.check.detail == "2 NaN/Inf values in the outputs"


def test_check_tolerance_reports_the_worst_element_and_gates_float_only():
    reference = _probabilities(5)
    ok = parity.check_tolerance(reference, reference + 1e-6, atol=1e-5, rtol=0)
    assert ok.passed and ok.elements == 50 and ok.elements_out_of_tolerance == 0
    assert ok.max_abs_diff == pytest.approx(1e-6, rel=0.1) and ok.check.detail.startswith("all 50 elements within")
    candidate = reference.copy()
    candidate[3, 7] += 0.5
    bad = parity.check_tolerance(reference, candidate, atol=1e-5, rtol=1e-5)
    assert not bad.passed and bad.check.gating and bad.elements_out_of_tolerance == 1
    assert "1 of 50 elements exceed both atol 1e-05 and rtol 1e-05*|ref|" in bad.check.detail
    assert "worst at image 3, class 7: |diff| 5.00e-01" in bad.check.detail
    # The largest difference may be one the relative tolerance allows: the failing element is named instead.
    reference = np.full((2, 10), 0.01, np.float32)
    reference[:, 0] = 0.91
    candidate = reference.copy()
    candidate[0, 0] += 5e-6  # within rtol * 0.91
    candidate[1, 1] += 5e-6  # beyond atol and rtol * 0.01
    named = parity.check_tolerance(reference, candidate, atol=1e-6, rtol=1e-5)
    assert named.elements_out_of_tolerance == 1 and "worst at image 1, class 1:" in named.check.detail
    informational = parity.check_tolerance(reference, candidate, atol=1e-6, rtol=1e-5, kind="int8")
    assert not informational.passed and not informational.check.gating
    assert informational.check.detail.endswith("(informational for int8)")


def test_check_argmax_lists_disagreements_by_true_label():
    reference = np.eye(10, dtype=np.float32)[[0, 1, 2, 3]]
    ok = parity.check_argmax(reference, reference)
    assert ok.passed and ok.argmax_agreement == 4 and ok.check.detail == "all 4 argmaxes agree"
    candidate = np.eye(10, dtype=np.float32)[[0, 1, 5, 3]]
    bad = parity.check_argmax(reference, candidate, labels=np.array([0, 1, 7, 3]))
    assert not bad.passed and bad.disagreements == (2,) and bad.argmax_agreement == 3
    assert bad.per_class_disagreement == (0, 0, 0, 0, 0, 0, 0, 1, 0, 0)  # counted under the true label 7
    assert bad.check.detail == "1 of 4 argmaxes differ (images 2)"
    int8 = parity.check_argmax(reference, candidate, kind="int8")
    assert not int8.passed and int8.check.detail.startswith("75.00% of argmaxes agree (1 differ), need >= 99%")


def test_check_accuracy_gates_int8_and_informs_on_float():
    reference = np.eye(10, dtype=np.float32)[[0, 1, 2, 3]]
    labels = np.array([0, 1, 2, 3])
    ok = parity.check_accuracy(reference, reference, labels, kind="int8")
    assert ok.passed and (ok.reference_accuracy, ok.candidate_accuracy) == (1.0, 1.0)
    worse = np.eye(10, dtype=np.float32)[[0, 1, 2, 4]]
    bad = parity.check_accuracy(reference, worse, labels, kind="int8")
    assert not bad.passed and bad.candidate_accuracy == 0.75
    assert bad.check.detail == "accuracy 0.7500 vs reference 1.0000 (-25.00 points), allowed +-0.5"
    float_ = parity.check_accuracy(reference, worse, labels)
    assert not float_.passed and not float_.check.gating and "(informational: argmax decides)" in float_.check.detail


def test_check_batch_compares_batch_1_with_the_big_batch():
    outputs = _probabilities(6)
    ok = parity.check_batch(outputs, outputs.copy(), atol=1e-5, rtol=1e-5)
    assert ok.passed and ok.figures() == {"batch_images": 6, "batch_max_abs_diff": 0.0}
    shifted = outputs.copy()
    shifted[1, 1] += 1e-2
    bad = parity.check_batch(shifted, outputs, atol=1e-5, rtol=1e-5)
    assert not bad.passed and bad.batch_max_abs_diff == pytest.approx(1e-2, rel=1e-3)
    assert bad.check.detail.endswith(", 1 elements beyond tolerance")
    wrong = parity.check_batch(outputs[:, :9], outputs, atol=1e-5, rtol=1e-5)
    assert not wrong.passed and wrong.batch_images == 0 and wrong.batch_max_abs_diff is None
    assert wrong.check.detail == "batch 1 gives [6, 9], batch 512 gives [6, 10]"


def test_accuracy_and_agreement():
    reference = np.eye(10, dtype=np.float32)[[0, 1, 2, 3]]
    candidate = np.eye(10, dtype=np.float32)[[0, 1, 2, 9]]
    labels = np.array([0, 1, 5, 9])
    assert parity.accuracy(reference, labels) == 0.5
    assert parity.agreement(reference, candidate, labels) == parity.Agreement(
        accuracy=0.75, reference_accuracy=0.5, argmax_agreement=0.75
    )


def test_an_unknown_kind_is_a_usage_error():
    with pytest.raises(UsageError, match="kind must be 'float' or 'int8', not 'fp16'"):
        parity.compare(_probabilities(2), _probabilities(2), kind="fp16")


# --- checking an export without TensorFlow ----------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled_images():
    images, labels = parity.labelled_test_images()
    return images[:600], labels[:600]


def test_score_and_check_export_of_an_onnx_file(onnx_model, labelled_images):
    from toolkit import runtimes

    images, labels = labelled_images
    runtime = runtimes.load(onnx_model)
    assert parity.export_kind(runtime) == "float" and parity.interface_problems(runtime) == []
    reference = runtime.predict(images)
    scored = parity.score(runtime, images, labels, reference)
    assert scored.argmax_agreement == 1.0 and scored.accuracy == scored.reference_accuracy > 0.7
    report = parity.check_export(onnx_model, reference, images, labels, atol=1e-5, rtol=1e-5, name="linear")
    assert report.passed and report.format == "onnx" and report.kind == "float", report.failures
    assert report.batch_images == 512 and report.argmax_agreement == 600


def test_check_export_names_a_misnamed_output_and_a_file_that_does_not_load(onnx_model, labelled_images, tmp_path):
    import onnx
    from onnx import numpy_helper

    from tests.onnx_models import linear_model
    from toolkit import runtimes

    images, labels = labelled_images
    initializers = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(onnx_model)).graph.initializer}
    renamed = linear_model(tmp_path / "renamed.onnx", initializers["W"], initializers["b"], output="digits")
    reference = runtimes.load(onnx_model).predict(images)
    report = parity.check_export(renamed, reference, images, labels, atol=1e-5, rtol=1e-5)
    assert [c.name for c in report.failures] == ["interface"]
    assert "output is named 'digits', not 'probabilities'" in report.check("interface").detail
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not onnx")
    failed = parity.check_export(garbage, reference, images, labels, atol=1e-5, rtol=1e-5)
    assert [c.name for c in failed.checks] == ["load"] and not failed.passed and failed.format == "onnx"


# --- real exports ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("arch", ZOO)
def test_every_zoo_export_matches_keras_on_the_full_test_set(zoo_exports, trained_models, arch):
    result = zoo_exports[arch]
    summary = parity.run(trained_models[arch], [result.path(fmt) for fmt in FORMATS])
    reports = {report.format: report for report in summary.reports}
    assert list(reports) == list(FORMATS) and summary.images == 10_000
    for fmt in FLOAT_FORMATS:
        report = reports[fmt]
        assert report.passed, [(check.name, check.detail) for check in report.failures]
        assert report.argmax_agreement == 10_000 and report.elements_out_of_tolerance == 0
        assert report.nonfinite == 0 and report.batch_images == 512
    int8 = reports["onnx-int8"]
    assert int8.kind == "int8"
    # One quick epoch leaves near-uniform outputs on which 8-bit rounding flips near-ties, so the int8
    # verdict may go either way here (it is asserted on trained models below); the rest must hold.
    assert not {check.name for check in int8.failures} - {"argmax", "accuracy"}
    assert int8.argmax_agreement >= 9_500
    assert int8.passed == (
        int8.argmax_agreement >= 9_900 and abs(int8.candidate_accuracy - int8.reference_accuracy) <= 0.005 + 1e-12
    )


@pytest.fixture(scope="module")
def trained_for_int8(tmp_path_factory) -> dict[str, Path]:
    """A CNN and an MLP trained enough (one epoch on 8,192 / all 54,000 images) to have confident outputs."""
    from toolkit.train import train

    root = tmp_path_factory.mktemp("int8")
    return {
        "cnn3": train("cnn3", root / "cnn3", epochs=1, limit=8192, batch_size=64, validation_split=0.1).model_path,
        "mlp512x2": train("mlp512x2", root / "mlp512x2", epochs=1, batch_size=256, validation_split=0.1).model_path,
    }


@pytest.mark.slow
def test_one_parity_command_checks_all_four_formats(cli, trained_for_int8, tmp_path):
    model = trained_for_int8["cnn3"]
    result = cli("parity", model, "--report", tmp_path / "r.json", "--junit", tmp_path / "j.xml")
    assert result.exit_code == 0, result.output
    assert "parity PASSED: 4 of 4 exports pass" in result.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] and report["self_exported"] and report["images"] == 10_000
    assert [e["format"] for e in report["exports"]] == list(FORMATS)
    int8 = report["exports"][-1]
    assert int8["argmax_agreement_rate"] >= 0.99
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert (root.get("tests"), root.get("failures")) == ("29", "0")  # 7 checks for each of 4 exports, int8's sqnr
    assert int8["output_sqnr_db"] > 40 and report["exports"][0]["output_sqnr_db"] is None


@pytest.mark.slow
def test_int8_mlp_passes_parity(trained_for_int8, tmp_path):
    from toolkit.export import export

    model = trained_for_int8["mlp512x2"]
    result = export(model, "onnx-int8", tmp_path / "out")
    assert result.int8.size < 0.3 * result.int8.float_size
    summary = parity.run(model, [result.path("onnx-int8")])
    (report,) = summary.reports
    assert report.format == "onnx-int8" and summary.passed, [(c.name, c.detail) for c in report.failures]


@pytest.mark.slow
def test_int8_weights_keep_to_seven_bits_so_cpus_without_vnni_do_not_saturate(trained_for_int8, tmp_path):
    # Without VNNI, onnxruntime adds pairs of uint8 x int8 products in 16 bits, saturating: 8-bit weights
    # against bright pixels overflow it (a one-epoch mlp689x3 fell to 21 dB and 96% argmax agreement on such a
    # CPU). Seven-bit weights cannot: 2 x 255 x 64 < 32,768.
    import onnx
    from onnx import numpy_helper

    from toolkit.export import export

    result = export(trained_for_int8["mlp512x2"], "onnx-int8", tmp_path / "out")
    graph = onnx.load(str(result.path("onnx-int8"))).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    quantized = [weights[n.input[0]] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in weights]
    int8 = [w for w in quantized if w.dtype == np.int8 and w.size > 10]
    assert len(int8) >= 2  # the hidden layers' weights (the classifier stays float)
    assert all(int(np.abs(w.astype(np.int16)).max()) <= 64 for w in int8), [int(np.abs(w).max()) for w in int8]
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in int8) >= 60  # the range is used, not squashed


# --- exports broken on purpose -------------------------------------------------------------------------


def _broken(source: Path, target: Path, how: str) -> Path:
    import onnx
    from onnx import helper, numpy_helper

    proto = onnx.load(str(source))
    graph = proto.graph
    if how == "perturbed weight":
        (bias,) = [init for init in graph.initializer if list(init.dims) == [10]]  # the classifier's bias
        values = numpy_helper.to_array(bias).copy()
        values[3] += 1e-4  # a nudge far below any training step; near-tie argmaxes may flip too
        bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    elif how == "swapped output":
        for node in graph.node:
            node.output[:] = ["raw" if name == "probabilities" else name for name in node.output]
        graph.initializer.append(numpy_helper.from_array(np.array([1, 0, *range(2, 10)], np.int64), "swap"))
        graph.node.append(helper.make_node("Gather", ["raw", "swap"], ["probabilities"], axis=1))
    elif how == "wrong input name":
        for node in graph.node:
            node.input[:] = ["input" if name == "image" else name for name in node.input]
        graph.input[0].name = "input"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))
    return target


@pytest.mark.slow
@pytest.mark.parametrize(
    "how, failing, only",
    [
        ("perturbed weight", {"tolerance"}, False),
        ("swapped output", {"tolerance", "argmax"}, True),
        ("wrong input name", {"interface"}, True),
    ],
)
def test_broken_onnx_fails_parity_and_the_report_names_the_check(
    cli, zoo_exports, trained_models, tmp_path, how, failing, only
):
    bad = _broken(zoo_exports["mlp256"].path("onnx"), tmp_path / "bad.onnx", how)
    result = cli(
        "parity", trained_models["mlp256"], bad, "--report", tmp_path / "r.json", "--junit", tmp_path / "j.xml"
    )
    assert result.exit_code == 1, result.output
    assert "parity FAILED: 0 of 1 exports pass" in result.stdout
    for name in failing:
        assert f"FAIL {bad}: {name}:" in result.stdout
    (export,) = json.loads((tmp_path / "r.json").read_text())["exports"]
    failed_cases = {
        case.get("name")
        for case in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
        if case.find("failure") is not None
    }
    assert set(export["failed_checks"]) == failed_cases
    assert failed_cases == failing if only else failing <= failed_cases


@pytest.mark.slow
def test_an_export_that_does_not_load_fails_without_a_traceback(cli, mlp_model, tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage")
    result = cli("parity", mlp_model, corrupt)
    assert result.exit_code == 1
    assert f"FAIL {corrupt}: load:" in result.stdout and "Traceback" not in result.output


def test_parity_usage_errors_exit_2(cli, tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"never loaded: usage is checked first")
    other = tmp_path / "notes.txt"
    other.write_text("x")
    cases = [
        ((other,), f"EXPORT {other}: unknown model format '.txt'"),  # not a model format
        ((tmp_path / "missing.onnx",), "missing.onnx: no such file or folder"),
        (("--atol", "-1"), "--atol"),
    ]
    for args, message in cases:
        result = cli("parity", model, *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
    onnx_as_model = tmp_path / "m.onnx"
    onnx_as_model.write_bytes(b"x")
    result = cli("parity", onnx_as_model)  # an export is a reference for other exports, it cannot export itself
    assert result.exit_code == 2
    assert f"name the exports to check against {onnx_as_model}; only a Keras model can export its own" in result.stderr


def test_parity_help_documents_exit_codes(cli):
    result = cli("parity", "--help")
    assert result.exit_code == 0
    assert "0 every export passes" in result.stdout and "2 usage error" in result.stdout


def test_junit_classnames_tell_alike_exports_apart_and_a_load_failure_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reference = _probabilities(20)
    a = parity.compare(reference, reference, name="exports/a/m.onnx", fmt="onnx")
    b = parity.compare(reference, reference + 0.01, name="exports/b/m.onnx", fmt="onnx")
    broken = parity.failed_report("x/m.tflite", "tflite", "load", "x/m.tflite: not a TFLite file", 1e-5, 1e-5, 20)
    summary = parity.ParitySummary("m.keras", "0" * 64, 20, 1e-5, 1e-5, 1.0, (a, b, broken), seconds=1.0)
    root = ET.fromstring(parity.junit_xml(summary))
    classnames = {case.get("classname") for case in root.iter("testcase")}
    assert classnames == {"parity.exports_a_m_onnx", "parity.exports_b_m_onnx", "parity.x_m_tflite"}
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    [error] = root.iter("error")
    assert error.get("type") == "ParityError" and error.get("message") == "x/m.tflite: not a TFLite file"
    outside = parity.junit_classname(str(tmp_path.parent / "elsewhere" / "m.onnx"))
    assert outside.startswith("parity._") and outside.endswith("_elsewhere_m_onnx")


def test_report_paths_that_cannot_be_written_are_refused_before_any_work(cli, tmp_path, onnx_model):
    (tmp_path / "adir").mkdir()
    (tmp_path / "a_file").write_text("x")
    missing_model = tmp_path / "never-loaded.keras"  # the paths are checked before the model is even looked at
    for option, path, message in (
        ("--report", tmp_path / "adir", f"--report {tmp_path / 'adir'} is a folder; name a file"),
        (
            "--junit",
            tmp_path / "a_file" / "x.xml",
            f"--junit {tmp_path / 'a_file' / 'x.xml'}: {tmp_path / 'a_file'} is a file, not a folder",
        ),
    ):
        result = cli("parity", missing_model, onnx_model, option, path)
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines() == [f"error: {message}; see 'mnist-toolkit parity --help'"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "adir"]


@pytest.mark.slow
def test_a_tflite_export_loads_without_litert_log_lines(zoo_exports, capfd):
    from toolkit import runtimes

    capfd.readouterr()
    runtime = runtimes.load(zoo_exports["mlp256"].path("tflite"))
    runtime.predict(np.zeros((3, 28, 28, 1), np.float32))
    assert "XNNPACK" not in capfd.readouterr().err
