"""The one ONNX runner: every command reads a model's contract metadata (label order, layout, ink) the same way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.onnx_models import linear_model, other_contract_model, ridge_weights
from toolkit import data, runtimes
from toolkit.errors import ModelLoadError
from toolkit.onnxmodel import OnnxModel


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(plain, other): the same classifier, once as the contract's defaults, once NCHW, black-on-white and with
    its labels in another order, all said in its metadata."""
    (x_train, y_train), _ = data.load_mnist()
    weights, bias = ridge_weights(x_train[:12000], y_train[:12000])
    root = tmp_path_factory.mktemp("contract")
    return linear_model(root / "plain.onnx", weights, bias), other_contract_model(root / "other.onnx", weights, bias)


def test_the_runner_follows_layout_ink_and_label_order(models):
    plain, other = models
    _, (x_test, _) = data.load_mnist()
    tensors = data.to_model_input(x_test[:256])[..., 0]
    np.testing.assert_allclose(OnnxModel(other).score(tensors), OnnxModel(plain).score(tensors), atol=1e-4)


def test_every_command_scores_the_other_contract_model_as_the_plain_one(models, cli, tmp_path):
    plain, other = models
    (_, _), (x_test, y_test) = data.load_mnist()
    accuracy = {}
    for name, model in (("plain", plain), ("other", other)):
        result = cli("evaluate", model, "--no-plots", "--json", "--out", tmp_path / f"eval-{name}")
        assert result.exit_code == 0, result.output
        accuracy[name] = json.loads(result.stdout)["accuracy"]
    assert accuracy["other"] == pytest.approx(accuracy["plain"], abs=1e-4) and accuracy["plain"] > 0.8

    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(30):
        Image.fromarray(x_test[i]).save(folder / f"{i:02d}.png")
    digits = {}
    for name, model in (("plain", plain), ("other", other)):
        out = tmp_path / f"{name}.jsonl"
        result = cli("predict", folder, "--model", model, "--out", out, "--workers", "0")
        assert result.exit_code == 0, result.output
        digits[name] = [json.loads(line)["digit"] for line in out.read_text().splitlines()]
    assert digits["other"] == digits["plain"]
    assert np.mean(np.array(digits["plain"]) == y_test[:30]) > 0.8

    # parity and `data show` load models through runtimes.load, which is this runner for ONNX.
    images = data.to_model_input(x_test[:200])
    for command in ("parity", "data show"):
        np.testing.assert_allclose(
            runtimes.load(other, command).predict(images), runtimes.load(plain, command).predict(images), atol=1e-4
        )
    result = cli("data", "show", "--model", other, "--out", tmp_path / "grid.png", "--count", "4")
    assert result.exit_code == 0 and (tmp_path / "grid.png").stat().st_size > 0


def test_a_runtime_leaves_numbers_to_its_caller_but_predict_refuses_them(tmp_path):
    """Logits are an error for predict (no record can say what they mean), a number for parity to judge."""
    weights = np.zeros((784, 10), np.float32)
    logits = linear_model(tmp_path / "logits.onnx", weights, np.arange(10, dtype=np.float32), softmax=False)
    images = np.zeros((2, 28, 28, 1), np.float32)
    np.testing.assert_allclose(runtimes.load(logits, "parity").predict(images), [np.arange(10)] * 2)
    with pytest.raises(ModelLoadError, match="not logits"):
        OnnxModel(logits).score(images[..., 0])


def test_a_model_with_labels_that_are_not_digits_is_refused_by_every_command(tmp_path):
    from toolkit import contract

    odd = linear_model(
        tmp_path / "odd.onnx",
        np.zeros((784, 10), np.float32),
        np.zeros(10, np.float32),
        metadata=contract.ModelContract(labels=tuple("abcdefghij")).to_metadata(),
    )
    for command in ("predict", "evaluate"):
        with pytest.raises(ModelLoadError, match=f"{command} needs the digits 0-9"):
            runtimes.load(odd, command) if command != "predict" else OnnxModel(odd)


@pytest.mark.parametrize("batch", [1, 7])
def test_a_model_with_a_fixed_batch_size_is_called_with_that_many_images(models, tmp_path, batch):
    plain, _ = models
    (x_train, y_train), (x_test, _) = data.load_mnist()
    weights, bias = ridge_weights(x_train[:12000], y_train[:12000])
    fixed = linear_model(tmp_path / "fixed.onnx", weights, bias, batch=batch)
    tensors = data.to_model_input(x_test[:10])[..., 0]
    np.testing.assert_allclose(OnnxModel(fixed).score(tensors), OnnxModel(plain).score(tensors), atol=1e-5)
    np.testing.assert_allclose(
        runtimes.load(fixed, "evaluate").predict(tensors[..., None]), OnnxModel(plain).score(tensors), atol=1e-5
    )


def test_metadata_that_contradicts_the_graph_or_is_unknown_is_refused_in_one_line(tmp_path):
    from toolkit import contract

    zeros, bias = np.zeros((784, 10), np.float32), np.zeros(10, np.float32)
    nchw_said = linear_model(
        tmp_path / "nchw.onnx", zeros, bias, metadata=contract.ModelContract(layout="NCHW").to_metadata()
    )
    with pytest.raises(ModelLoadError) as error:
        OnnxModel(nchw_said)
    assert str(error.value) == (
        f"{nchw_said}: model input is float32 [N,28,28,1]; predict needs input float32 [N,1,28,28] "
        "(its metadata says NCHW) and output [N,10]"
    )
    future = contract.ModelContract().to_metadata() | {contract.KEY_CONTRACT_VERSION: "99"}
    with pytest.raises(ModelLoadError, match="contract version '99'; this mnist-toolkit reads version 1"):
        OnnxModel(linear_model(tmp_path / "v99.onnx", zeros, bias, metadata=future))
    for field, value in (("layout", "NWHC"), ("ink", "grey"), ("scale", "1/0"), ("scale", "-1/255"), ("scale", "x")):
        junk = contract.ModelContract(**{field: value}).to_metadata()
        with pytest.raises(ModelLoadError, match=rf"cannot give \({field} {value}\)"):
            OnnxModel(linear_model(tmp_path / "junk.onnx", zeros, bias, metadata=junk))


def test_parity_takes_the_other_contract_model_and_a_fixed_batch_model_as_the_plain_one(models, cli, tmp_path):
    plain, other = models
    (x_train, y_train), _ = data.load_mnist()
    weights, bias = ridge_weights(x_train[:12000], y_train[:12000])
    fixed = linear_model(tmp_path / "fixed.onnx", weights, bias, batch=1)
    result = cli("parity", plain, other, fixed, "--limit", "100", "--atol", "1e-4", "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)["exports"]
    assert [r["passed"] for r in reports] == [True, True]
    assert all(next(c for c in r["checks"] if c["name"] == "interface")["passed"] for r in reports)
