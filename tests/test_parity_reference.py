"""Parity's reference: golden files (no TensorFlow needed), export against export, image subsets and the user's
own images, and provenance (an export made from another model fails on its own check)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.onnx_models import linear_model, ridge_weights
from toolkit import contract, data
from toolkit.errors import ModelLoadError
from toolkit.parity import reference

NO_TENSORFLOW = (
    "import sys\n"
    "for name in ('tensorflow', 'keras', 'tf2onnx'):\n"
    "    sys.modules[name] = None  # importing any of them now raises ImportError\n"
    "from toolkit.cli import app\n"
    "app(sys.argv[1:], prog_name='mnist-toolkit')\n"
)


@pytest.fixture(scope="module")
def ridge():
    (x, y), _ = data.load_mnist()
    return ridge_weights(x[:12000], y[:12000])


@pytest.fixture(scope="module")
def exports(tmp_path_factory, ridge):
    """Two exports of one 'model' (a linear classifier): one as exported, one a copy with the same weights
    digest recorded; one made from other weights; and one a little off."""
    weights, bias = ridge
    root = tmp_path_factory.mktemp("exports")

    def made(name, w, b, digest):
        meta = contract.ModelContract(source_weights=digest).to_metadata()
        return linear_model(root / f"{name}.onnx", w, b, metadata=meta)

    return {
        "a": made("a", weights, bias, "a" * 64),
        "b": made("b", weights, bias, "a" * 64),
        "other": made("other", weights * 0.9, bias, "b" * 64),
        "off": made("off", weights * 1.001, bias, "a" * 64),
    }


def test_export_against_export_needs_no_keras_model(cli, exports):
    result = cli("parity", exports["a"], exports["b"], "--limit", "200", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["reference"] == str(exports["a"]) and summary["data"] == "mnist-test limit=200 seed=0"
    [report] = summary["exports"]
    assert report["passed"] and report["images"] == 200
    provenance = next(c for c in report["checks"] if c["name"] == "provenance")
    assert provenance["passed"] and provenance["detail"].startswith("exported from this model")
    result = cli("parity", exports["a"], exports["off"], "--limit", "200")
    assert result.exit_code == 1 and "FAIL" in result.stdout and "tolerance" in result.stdout


def test_an_export_from_another_model_fails_its_provenance_check(cli, exports):
    result = cli("parity", exports["a"], exports["other"], "--limit", "100", "--json")
    assert result.exit_code == 1
    [report] = json.loads(result.stdout)["exports"]
    assert report["failed_checks"][0] == "provenance"
    provenance = next(c for c in report["checks"] if c["name"] == "provenance")
    assert provenance["detail"] == (
        f"exported from a different model: its source weights are {'b' * 12}..., the model's {'a' * 12}..."
    )


def test_a_saved_reference_checks_exports_without_tensorflow(cli, exports, tmp_path):
    golden = tmp_path / "golden.npz"
    result = cli("parity", exports["a"], exports["b"], "--limit", "300", "--save-reference", golden)
    assert result.exit_code == 0 and golden.is_file()
    args = ["parity", str(golden), str(exports["b"]), str(exports["off"]), "--json"]
    run = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *args], capture_output=True, text=True)
    assert run.returncode == 1, run.stderr  # "off" fails, "b" passes, and nothing needed TensorFlow
    summary = json.loads(run.stdout)
    assert (summary["images"], summary["data"], summary["reference"]) == (
        300,
        "mnist-test limit=300 seed=0",
        str(golden),
    )
    assert [(Path(r["name"]).name, r["passed"]) for r in summary["exports"]] == [("b.onnx", True), ("off.onnx", False)]


def test_a_golden_file_round_trips_and_refuses_what_it_is_not(tmp_path, exports):
    images = reference.mnist_images(limit=50, seed=3)
    made = reference.from_export(exports["a"], images)
    path = reference.save(made, tmp_path / "r.npz")
    back = reference.load(path)
    np.testing.assert_array_equal(back.outputs, made.outputs)
    np.testing.assert_array_equal(back.images.tensors, images.tensors)
    np.testing.assert_array_equal(back.images.labels, images.labels)
    assert (back.weights, back.images.description) == ("a" * 64, "mnist-test limit=50 seed=3")
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(ModelLoadError, match="junk.npz: not a parity reference written by --save-reference"):
        reference.load(tmp_path / "junk.npz")


def test_limit_takes_a_seeded_stratified_subset():
    _, (_, labels) = data.load_mnist()
    first = reference.stratified(labels, 100, seed=0)
    assert len(first) == 100 and np.bincount(labels[first], minlength=10).tolist() == [10] * 10
    assert np.array_equal(first, reference.stratified(labels, 100, seed=0))
    assert not np.array_equal(first, reference.stratified(labels, 100, seed=1))
    assert np.bincount(labels[reference.stratified(labels, 25)], minlength=10).tolist() == [3] * 5 + [2] * 5


def test_own_images_are_read_as_predict_reads_them_and_have_no_accuracy(cli, exports, tmp_path):
    _, (x, _) = data.load_mnist()
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(12):
        Image.fromarray(255 - x[i]).resize((84, 84)).save(folder / f"{i}.png")  # dark ink on white, as scans come
    (folder / "notes.txt").write_text("not an image")
    result = cli("parity", exports["a"], exports["b"], "--images", folder, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 12 and summary["reference_accuracy"] is None
    assert summary["data"] == f"images {folder}"
    assert "accuracy" not in [c["name"] for c in summary["exports"][0]["checks"]]


def test_reference_options_are_one_line_usage_errors(cli, exports, tmp_path):
    for args, message in (
        (["--limit", "5"], "--limit must be at least 10 (one image a digit), got 5"),
        (["--limit", "50", "--images", tmp_path], "--limit takes a subset of the MNIST test set; it does not combine"),
    ):
        result = cli("parity", exports["a"], exports["b"], *args)
        assert result.exit_code == 2 and result.stderr.strip().startswith(f"error: {message}")
        assert len(result.stderr.strip().splitlines()) == 1
    result = cli("parity", exports["a"])
    assert result.exit_code == 2 and "name the exports to check against" in result.stderr


@pytest.mark.slow
def test_a_second_run_on_a_keras_model_needs_no_tensorflow(cli, mlp_model, tmp_path):
    """The first run computes the Keras outputs and caches them by the model's sha256 and the images; the
    second, with TensorFlow blocked, checks the export from the cache."""
    out = tmp_path / "exports"
    assert cli("export", mlp_model, "--format", "onnx", "--out", out).exit_code == 0
    onnx = next(out.glob("*.onnx"))
    first = cli("parity", mlp_model, onnx, "--limit", "500", "--json")
    assert first.exit_code == 0, first.output
    provenance = next(c for c in json.loads(first.stdout)["exports"][0]["checks"] if c["name"] == "provenance")
    assert provenance["passed"] and provenance["detail"].startswith("exported from this model")
    args = ["parity", str(mlp_model), str(onnx), "--limit", "500", "--json"]
    second = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, *args], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["exports"][0]["passed"]
    # With the reference from the cache, the layer comparison loads the Keras model itself.
    third = cli("parity", mlp_model, onnx, "--limit", "500", "--layers")
    assert third.exit_code == 0, third.output
    assert f"{onnx}: layers: no layer diverges beyond what the export kind explains" in third.stdout


def test_a_saved_reference_is_refused_for_an_export_given_as_model(tmp_path):
    """`parity tampered.onnx good.onnx --reference golden.npz` compared good.onnx with the saved outputs and
    never looked at tampered.onnx: PASS, exit 0. A saved reference stands in for a Keras MODEL only."""
    from toolkit.errors import UsageError

    with pytest.raises(UsageError, match="--reference goes with a Keras MODEL"):
        reference.resolve(tmp_path / "tampered.onnx", "export", saved=tmp_path / "golden.npz")
