"""The optional `not_digit` output, end to end without TensorFlow: the ONNX runner reads it, predict writes it and
flags what the model rejects (and drops rejected candidates from numbers), parity compares it by the same rules
as the probabilities. A model without the output works as before."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.onnx_models import rejecting_model, ridge_weights
from tests.test_predict import read_csv
from toolkit import data
from toolkit.onnxmodel import OnnxModel, interface_problems
from toolkit.parity.comparator import compare
from toolkit.predict.options import PredictOptions
from toolkit.predict.pipeline import make_records
from toolkit.predict.records import ItemMeta


@pytest.fixture(scope="module")
def rejecting(tmp_path_factory):
    (x_train, y_train), _ = data.load_mnist()
    weights, bias = ridge_weights(x_train[:12000], y_train[:12000])
    return rejecting_model(tmp_path_factory.mktemp("reject") / "rejecting.onnx", weights, bias)


def test_the_runner_reads_not_digit_as_an_eleventh_column_only_when_asked(rejecting, onnx_model):
    _, (x_test, y_test) = data.load_mnist()
    images = x_test[y_test != 1][:8].astype(np.float32) / 255  # a 1 has about as little ink as the cut
    images[0] = 0.0
    images[0, 10:12, 10:12] = 1.0  # four pixels of ink: far below the model's 40
    model = OnnxModel(rejecting)
    assert model.width == 11 and model.not_digit_name == "not_digit"
    both = model.score(images, with_not_digit=True)
    assert both.shape == (8, 11)
    np.testing.assert_array_equal(both[:, :10], model.score(images))
    expected = 0.5 * (1 + np.tanh((40.0 - images.reshape(8, -1).sum(axis=1)) / 2))  # the sigmoid
    np.testing.assert_allclose(both[:, 10], expected, rtol=1e-4, atol=1e-6)
    assert both[0, 10] > 0.99 and (both[1:, 10] < 0.5).all()
    plain = OnnxModel(onnx_model)
    assert plain.width == 10 and plain.score(images, with_not_digit=True).shape == (8, 10)


def test_the_interface_allows_not_digit_beside_the_probabilities_and_nothing_else(rejecting):
    model = OnnxModel(rejecting)
    assert interface_problems(model.inputs, model.outputs, exact=True) == []
    third = (*model.outputs, type(model.outputs[0])("extra", "float32", (None, 3)))
    problems = interface_problems(model.inputs, third, exact=True)
    assert len(problems) == 1 and "optionally 'not_digit'" in problems[0]


def test_predict_writes_not_digit_and_flags_what_the_model_rejects(rejecting, onnx_model, cli, tmp_path):
    _, (x_test, y_test) = data.load_mnist()
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(255 - x_test[0]).save(folder / "digit.png")
    dash = np.full((40, 80), 235, np.uint8)
    dash[20, 10:70] = 20  # a thin dash: normalised, a 20 px line, far less ink than any digit
    Image.fromarray(dash).save(folder / "dash.png")
    stroke = np.full((40, 40), 235, np.uint8)
    stroke[10:30, 20] = 20  # a thin upright stroke: a single-digit scan (fast path), normalised a faint "1"
    Image.fromarray(stroke).save(folder / "stroke.png")
    out = tmp_path / "out.csv"
    result = cli("predict", folder, "--out", out, "--model", rejecting)
    assert result.exit_code == 0, result.output
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in read_csv(out)}
    assert list(rows["digit.png"])[-2:] == ["flags", "not_digit"]
    assert rows["digit.png"]["digit"] == str(y_test[0]) and float(rows["digit.png"]["not_digit"]) < 0.5
    assert rows["digit.png"]["flags"] == "" and rows["digit.png"]["low_confidence"] == "false"
    stroke_row = rows["stroke.png"]
    assert float(stroke_row["not_digit"]) >= 0.5
    assert "not-a-digit" in stroke_row["flags"].split() and stroke_row["low_confidence"] == "true"
    assert stroke_row["digit"] != ""  # a single-digit scan keeps its digit for the reviewer, but flagged
    # Ink wider than a digit goes to the segmenter, whose candidates the model judges; a small image is a digit's
    # own scan, so its digit is kept, flagged (a page whose candidates are all rejected has none: test_segment).
    dash_row = rows["dash.png"]
    assert float(dash_row["not_digit"]) >= 0.5 and dash_row["digit"] != "" and dash_row["blank"] == "false"
    assert "not-a-digit" in dash_row["flags"].split() and dash_row["low_confidence"] == "true"
    # The same files through a model without the output: the column is there and empty, nothing flagged.
    plain_out = tmp_path / "plain.csv"
    assert cli("predict", folder, "--out", plain_out, "--model", onnx_model).exit_code == 0
    assert {r["not_digit"] for r in read_csv(plain_out)} == {""}


def _scored(rows: list[tuple[int, float, float]]) -> np.ndarray:
    """Rows of (digit, its probability, not_digit) as the 11-column array engines pass along."""
    out = np.full((len(rows), 11), 0.0, np.float32)
    for i, (digit, p, no) in enumerate(rows):
        out[i, :10] = (1 - p) / 9
        out[i, digit], out[i, 10] = p, no
    return out


def test_a_number_drops_the_candidates_the_model_rejects_and_says_so():
    options = PredictOptions(multi_digit=True, min_confidence=0.5)
    meta = [
        ItemMeta("n.png", 0, 3, False, None, None, None, None),
        ItemMeta("m.png", 0, 2, False, None, None, None, None),
    ]
    scored = _scored([(4, 0.95, 0.02), (1, 0.99, 0.97), (2, 0.9, 0.1), (8, 0.99, 0.9), (0, 0.99, 0.8)])
    number, nothing = make_records(meta, scored, options)
    assert (number["text"], number["n_digits"], number["flags"]) == ("42", 2, "not-a-digit")
    assert number["low_confidence"] is True and number["not_digit"] == pytest.approx(0.1)
    assert [d["digit"] for d in number["per_digit"]] == [4, 2]
    assert (nothing["text"], nothing["n_digits"], nothing["digit"], nothing["flags"]) == ("", 0, None, "not-a-digit")
    assert nothing["low_confidence"] is True and nothing["status"] == "ok"
    kept = make_records(meta[:1], _scored([(4, 0.95, 0.02), (1, 0.99, 0.25), (2, 0.9, 0.1)]), options)[0]
    assert (kept["text"], kept["flags"], kept["low_confidence"]) == ("412", None, False)
    doubted = make_records(meta[:1], _scored([(4, 0.95, 0.02), (1, 0.99, 0.35), (2, 0.9, 0.1)]), options)[0]
    assert (doubted["text"], doubted["flags"], doubted["low_confidence"]) == ("412", None, True)


@pytest.mark.parametrize(
    ("not_digit", "low_confidence", "flags"),
    [(0.1, False, None), (0.29, False, None), (0.3, True, None), (0.45, True, None), (0.5, True, "not-a-digit")],
)
def test_a_digit_the_model_doubts_is_a_digit_is_low_confidence(not_digit, low_confidence, flags):
    """Sure of the digit (0.999) but 3 in 10 or more that there is none: not a read to trust unflagged (a blank
    sheet's header stroke read as a 1 at 0.9996 had not_digit 0.45). Flagged not-a-digit from 0.5."""
    meta = [ItemMeta("d.png", 0, 1, False, None, None, None, None)]
    (record,) = make_records(meta, _scored([(1, 0.999, not_digit)]), PredictOptions())
    assert record["digit"] == 1 and record["not_digit"] == pytest.approx(not_digit)
    assert (record["low_confidence"], record["flags"]) == (low_confidence, flags)


def test_parity_compares_not_digit_with_the_probabilities_rules():
    rng = np.random.default_rng(0)
    reference = _scored(
        [(int(d), 0.9, float(n)) for d, n in zip(rng.integers(0, 10, 400), rng.random(400), strict=True)]
    )
    same = compare(reference, reference.copy())
    assert same.passed and "not_digit" in [c.name for c in same.checks]
    moved = reference.copy()
    worst = int(np.argmin(np.abs(moved[:, 10] - 0.5)))
    moved[worst, 10] = 1.0 - moved[worst, 10]  # flips the decision, and is the largest difference
    report = compare(reference, moved)
    failed = {c.name: c.detail for c in report.failures}
    assert set(failed) == {"tolerance", "not_digit"}
    assert "not_digit: |diff|" in failed["tolerance"] and f"(images {worst})" in failed["not_digit"]
    # int8: one decision in 400 may differ (99% must agree), the tolerance only informs.
    assert compare(reference, moved, kind="int8").passed
    plain = compare(reference[:, :10], reference[:, :10].copy())
    assert "not_digit" not in [c.name for c in plain.checks]


@pytest.mark.slow
def test_a_trained_not_digit_model_exports_to_every_format_and_passes_parity(tmp_path, cli, keras_loaded):
    """cnn-lite, trained briefly: its calibrated not_digit output reaches every export in order, is described in
    the ONNX metadata, and parity checks it in every format. (Trained for seconds, the model's digit scores are
    near ties, so its int8 export may flip a few argmaxes, as its quantisation would on any such model: every
    rule must pass for the float exports, and the not_digit rule for all four.)"""
    import json

    import onnx

    from toolkit.train import train

    result = train("cnn-lite", tmp_path / "run", epochs=3, limit=3000, threads=2)
    metrics = json.loads(result.metrics_path.read_text())
    assert set(metrics["not_digit_platt"]) == {"a", "b", "images"} and metrics["not_digit_platt"]["images"] > 1000
    out = tmp_path / "exp"
    done = cli("export", result.model_path, "--format", "onnx,onnx-int8,savedmodel,tflite", "--out", out)
    assert done.exit_code == 0, done.output
    proto = onnx.load(str(out / "cnn-lite.onnx"))
    assert [o.name for o in proto.graph.output] == ["probabilities", "not_digit"]
    assert {p.key: p.value for p in proto.metadata_props}["mnist_toolkit.output.not_digit"] == "not_digit"
    report = tmp_path / "parity.json"
    exports = [out / name for name in ("cnn-lite.onnx", "cnn-lite.int8.onnx", "cnn-lite.savedmodel", "cnn-lite.tflite")]
    done = cli("parity", result.model_path, *exports, "--limit", "500", "--report", report)
    compared = json.loads(report.read_text())["exports"]
    assert len(compared) == 4
    for export in compared:
        checks = {c["name"]: c for c in export["checks"]}
        assert checks["not_digit"]["passed"], export["name"]
        if export["kind"] != "int8":
            assert export["passed"] and not export["failed_checks"], (export["name"], done.output)
            assert "5,500 elements" in checks["tolerance"]["detail"]
    assert done.exit_code == (0 if all(e["passed"] for e in compared) else 1), done.output


def test_touches_line_is_said_of_the_candidate_read_not_of_the_heaviest():
    """The segmenter judges `touches-line` on its heaviest candidate (here a sheet's edge band, offered with the
    line it touched kept, "1wk"); when the model rejects both and reads a digit that touched nothing, the flag
    said nothing about what was read (a right read on a phone photo was flagged for it)."""
    meta = [ItemMeta("p.jpg", 0, 3, False, None, None, "touches-line", "pick:1w,1wk,0.9")]
    scored = _scored([(5, 0.8, 0.98), (5, 0.6, 0.98), (6, 0.999, 0.01)])
    (record,) = make_records(meta, scored, PredictOptions())
    assert (record["digit"], record["flags"], record["low_confidence"]) == (6, None, False)
    # Read from the heaviest, whose twin with the line kept reads otherwise: the flag stays.
    meta = [ItemMeta("q.jpg", 0, 2, False, None, None, "touches-line", "pick:1,1k")]
    (record,) = make_records(meta, _scored([(4, 0.999, 0.01), (9, 0.9, 0.01)]), PredictOptions())
    assert (record["digit"], record["flags"]) == (4, "touches-line")
    # ... and a lighter candidate that touched a line itself keeps it too.
    meta = [ItemMeta("r.jpg", 0, 3, False, None, None, "touches-line", "pick:1w,0.9,0.9k")]
    (record,) = make_records(meta, _scored([(5, 0.8, 0.98), (7, 0.999, 0.01), (1, 0.99, 0.01)]), PredictOptions())
    assert (record["digit"], record["flags"]) == (7, "touches-line")
