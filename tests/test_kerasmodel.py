"""Any MNIST-shaped Keras model: Sequential or functional, input [N,784], [N,28,28] or [N,28,28,1], softmax or
logits, loads everywhere and exports to the one contract; models of other shapes are refused in one line.

The models are one linear classifier (ridge regression on MNIST pixels, ~85% accurate) in every shape, so
each shape's outputs can be checked against NumPy's softmax(x @ W + b) without training anything.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from toolkit import contract, data

SHAPES = {"flat": (784,), "grid": (28, 28), "image": (28, 28, 1)}
VARIANTS = [
    f"{api}-{shape}-{output}"
    for api, shape, output in itertools.product(("sequential", "functional"), SHAPES, ("softmax", "logits"))
]


def build(variant: str, weights: np.ndarray, bias: np.ndarray):
    """The linear classifier as a Keras model of the given `api-shape-output` variant."""
    import keras

    api, shape, output = variant.split("-")
    body = [keras.layers.Flatten()] if shape != "flat" else []
    dense = keras.layers.Dense(10, activation="softmax" if output == "softmax" else None)
    if api == "sequential":
        model = keras.Sequential([keras.Input(SHAPES[shape]), *body, dense], name=variant.replace("-", "_"))
    else:
        inputs = keras.Input(SHAPES[shape])
        x = inputs
        for layer in [*body, dense]:
            x = layer(x)
        model = keras.Model(inputs, x, name=variant.replace("-", "_"))
    dense.set_weights([weights, bias])
    return model


def expected(weights: np.ndarray, bias: np.ndarray, images: np.ndarray) -> np.ndarray:
    logits = images.reshape(len(images), -1).astype(np.float64) @ weights + bias
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def linear():
    from tests.onnx_models import ridge_weights

    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    weights, bias = ridge_weights(x_train[:4000], y_train[:4000])
    images = data.to_model_input(x_test)
    return weights, bias, images, y_test


@pytest.fixture(scope="module")
def shaped_models(linear, tmp_path_factory) -> dict[str, Path]:
    """Every variant saved as a .keras file: variant -> path."""
    weights, bias, _, _ = linear
    root = tmp_path_factory.mktemp("shaped")
    paths = {}
    for variant in VARIANTS:
        paths[variant] = root / f"{variant}.keras"
        build(variant, weights, bias).save(paths[variant])
    return paths


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_shape_loads_in_contract_form_with_the_models_own_outputs(shaped_models, linear, variant):
    from toolkit import runtimes

    weights, bias, images, labels = linear
    runtime = runtimes.load(shaped_models[variant])
    assert [t.shape for t in runtime.inputs] == [(None, 28, 28, 1)]
    assert [t.shape for t in runtime.outputs] == [(None, 10)]
    got = runtime.predict(images[:500])
    np.testing.assert_allclose(got, expected(weights, bias, images[:500]), atol=1e-5)
    assert np.mean(got.argmax(axis=1) == labels[:500]) > 0.75


def test_adaptation_says_what_the_wrapper_adds(shaped_models):
    from toolkit.kerasmodel import adaptation, load_keras_model

    found = {variant: adaptation(load_keras_model(path)) for variant, path in shaped_models.items()}
    assert found["sequential-flat-logits"] == contract.Adaptation("[N,784]", "logits")
    assert found["functional-grid-softmax"] == contract.Adaptation("[N,28,28]", "softmax")
    assert not found["sequential-image-softmax"].needed and found["functional-image-logits"].needed
    assert found["sequential-flat-logits"].describe() == (
        "reshapes image [N,28,28,1] to the model's input [N,784] and applies softmax to the model's logits"
    )


def test_a_final_layer_without_activation_is_judged_by_its_outputs():
    import keras

    from toolkit.kerasmodel import adaptation

    for activation, kind in (("softmax", "softmax"), (None, "logits")):
        model = keras.Sequential(
            [keras.Input((784,)), keras.layers.Dense(10, activation=activation), keras.layers.Dropout(0.5)]
        )
        assert adaptation(model).output == kind


ODD_MODELS = {
    "32x32x3": (
        (32, 32, 3),
        10,
        None,
        "model maps [N,32,32,3] to [N,10]; an MNIST model takes [N,28,28,1], [N,28,28] or [N,784] and returns [N,10]",
    ),
    "5 classes": ((784,), 5, "softmax", "model maps [N,784] to [N,5]"),
    "sigmoid": (
        (784,),
        10,
        "sigmoid",
        "output layer 'scores' ends in a sigmoid activation; mnist-toolkit needs softmax probabilities or logits",
    ),
}


@pytest.mark.parametrize("odd", ODD_MODELS)
def test_models_of_other_shapes_are_refused_in_one_line(cli, tmp_path, odd):
    import keras

    shape, classes, activation, message = ODD_MODELS[odd]
    path = tmp_path / "odd.keras"
    keras.Sequential(
        [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(classes, activation=activation, name="scores")]
    ).save(path)
    for args in (("evaluate", path, "--no-plots", "--out", tmp_path / "ev"), ("export", path, "--out", tmp_path / "x")):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_unbuilt_sequential_model_is_refused():
    import keras

    from toolkit.errors import ModelLoadError
    from toolkit.kerasmodel import adaptation

    with pytest.raises(ModelLoadError, match="no defined input shape; build it with an Input layer"):
        adaptation(keras.Sequential([keras.layers.Dense(10)]), "m.keras")


def test_sequential_models_work_in_evaluate_and_data_show(cli, shaped_models, tmp_path):
    """The issue's crash: `'Sequential' object has no attribute 'output_names'`."""
    path = shaped_models["sequential-image-softmax"]
    result = cli("evaluate", path, "--no-plots", "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["accuracy"] > 0.8
    shown = cli("data", "show", "--model", shaped_models["sequential-flat-logits"], "--out", tmp_path / "g.png")
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "variant",
    ["sequential-flat-logits", "functional-grid-softmax", "functional-image-logits", "sequential-image-softmax"],
)
def test_onnx_export_presents_the_contract_and_records_the_wrapper(shaped_models, linear, tmp_path, variant):
    import onnx
    import onnxruntime as ort

    from toolkit.export import export

    weights, bias, images, _ = linear
    result = export(shaped_models[variant], "onnx", tmp_path / "out")
    proto = onnx.load(str(result.path("onnx")))
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    meta = contract.read_contract({p.key: p.value for p in proto.metadata_props})
    shape = {"flat": "[N,784]", "grid": "[N,28,28]", "image": "[N,28,28,1]"}[variant.split("-")[1]]
    assert meta.adaptation == contract.Adaptation(shape, variant.split("-")[2])
    assert (meta.adaptation.describe() in proto.doc_string) == meta.adaptation.needed
    manifest = json.loads(result.manifest.read_text())
    assert (manifest["source"]["input"], manifest["source"]["output"]) == (shape, variant.split("-")[2])
    session = ort.InferenceSession(str(result.path("onnx")), providers=["CPUExecutionProvider"])
    (got,) = session.run(["probabilities"], {"image": images[:256]})
    np.testing.assert_allclose(got, expected(weights, bias, images[:256]), atol=1e-5)


@pytest.mark.slow
def test_parity_of_a_flat_logits_sequential_model_passes_for_every_format(cli, shaped_models, tmp_path):
    result = cli("parity", shaped_models["sequential-flat-logits"], "--report", tmp_path / "p.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["passed"] and len(report["exports"]) == 4
    assert all(not e["failed_checks"] for e in report["exports"])
    assert report["reference_accuracy"] > 0.8  # the reference is the model's own outputs after the softmax


# --- legacy .h5: genuine Keras 2 files (tests/fixtures/keras2, made by scripts/make_legacy_h5.py) and Keras 3's --

KERAS2 = Path(__file__).parent / "fixtures" / "keras2"


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name", ["cnn", "mlp784_logits"])
def test_genuine_keras2_h5_gives_what_keras2_computed(name, linear):
    import h5py

    from toolkit import runtimes

    path = KERAS2 / f"{name}.h5"
    with h5py.File(path) as h5:  # the fixture really is a Keras 2 file: layers named by class only
        assert h5.attrs["keras_version"] == "2.21.0"
        assert not any("module" in layer for layer in json.loads(h5.attrs["model_config"])["config"]["layers"])
    raw = np.load(KERAS2 / "expected.npz")[name]
    want = softmax(raw) if name.endswith("logits") else raw
    _, _, images, labels = linear
    runtime = runtimes.load(path)
    assert runtime.format == "keras"
    np.testing.assert_allclose(runtime.predict(images[:32]), want, atol=1e-5)
    assert np.mean(runtime.predict(images[:1000]).argmax(axis=1) == labels[:1000]) > 0.85


def test_keras2_h5_through_every_command(cli, tmp_path, linear):
    import onnx

    from toolkit.kerasmodel import load_keras_model

    mlp, cnn = KERAS2 / "mlp784_logits.h5", KERAS2 / "cnn.h5"
    result = cli("evaluate", cnn, "--no-plots", "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["accuracy"] > 0.8
    assert cli("data", "show", "--model", mlp, "--count", "3", "--out", tmp_path / "g.png").exit_code == 0
    out = tmp_path / "exported"
    result = cli("export", mlp, "--format", "keras,onnx", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mlp784_logits.keras", "mlp784_logits.onnx"]
    # The .keras conversion is the model itself, not the wrapper: same input, same logits.
    converted = load_keras_model(out / "mlp784_logits.keras")
    assert tuple(converted.inputs[0].shape) == (None, 784)
    _, _, images, _ = linear
    np.testing.assert_allclose(
        converted.predict(images[:32].reshape(32, 784), verbose=0),
        np.load(KERAS2 / "expected.npz")["mlp784_logits"],
        atol=1e-5,
    )
    proto = onnx.load(str(out / "mlp784_logits.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert (meta[contract.KEY_SOURCE_INPUT], meta[contract.KEY_SOURCE_OUTPUT]) == ("[N,784]", "logits")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["format"] for e in manifest["files"]] == ["keras", "onnx"]
    result = cli("parity", mlp, out / "mlp784_logits.onnx")
    assert result.exit_code == 0, result.output
    assert "parity PASSED: 1 of 1" in result.stdout


def _edited_copy(tmp_path: Path, edit) -> Path:
    """A copy of the Keras 2 CNN whose saved config `edit` changed: the h5py-level way to make odd files."""
    import shutil

    import h5py

    path = tmp_path / "edited.h5"
    shutil.copy(KERAS2 / "cnn.h5", path)
    with h5py.File(path, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        edit(config["config"]["layers"])
        h5.attrs["model_config"] = json.dumps(config)
    return path


def _lambda(layers):
    layers[2] = {
        "class_name": "Lambda",
        "config": {
            "name": "sneaky",
            "function": ["4wEAAAAAAAAA", None, None],
            "function_type": "lambda",
            "module": "__main__",
        },
    }


def _custom(layers):
    layers[2] = {"class_name": "MyFlatten", "config": {"name": "flat"}}


@pytest.mark.parametrize(
    "edit, message",
    [
        (_lambda, "layer 'sneaky' is a Lambda layer (arbitrary Python code)"),
        (_custom, "layer 'flat' is a custom layer class 'MyFlatten'"),
    ],
)
def test_keras2_h5_with_lambda_or_custom_layers_is_refused_before_keras_reads_it(
    cli, tmp_path, monkeypatch, edit, message
):
    import keras

    def never(*args, **kwargs):
        raise AssertionError("Keras deserialised a file that should have been refused")

    monkeypatch.setattr(keras.saving, "load_model", never)
    path = _edited_copy(tmp_path, edit)
    for args in (
        ("evaluate", path, "--no-plots"),
        ("export", path, "--out", tmp_path / "x"),
        ("parity", path),
        ("data", "show", "--model", path, "--out", tmp_path / "g.png"),
    ):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "safe mode" in lines[0], (args, lines)
        assert "safe_mode=False" not in lines[0]


def test_train_saves_h5_that_loads_back(cli, tmp_path):
    import keras

    from toolkit.kerasmodel import is_hdf5

    result = cli(
        "train",
        "--arch",
        "mlp256",
        "--out",
        tmp_path,
        "--epochs",
        "1",
        "--limit",
        "600",
        "--quiet",
        "--save-format",
        "h5",
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'mlp256.h5'}" in result.stdout and not (tmp_path / "mlp256.keras").exists()
    assert is_hdf5(tmp_path / "mlp256.h5") and "WARNING" not in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    report = cli("evaluate", tmp_path / "mlp256.h5", "--no-plots", "--out", tmp_path / "ev")
    assert report.exit_code == 0, report.output
    assert json.loads((tmp_path / "ev" / "report.json").read_text())["accuracy"] == pytest.approx(
        metrics["test_accuracy"], abs=1e-4
    )
    # Keras 3's own HDF5 writer marks custom classes by registered name; those are refused too.
    lam = keras.Sequential([keras.Input((784,)), keras.layers.Lambda(lambda t: t, name="noop"), keras.layers.Dense(10)])
    lam.save(tmp_path / "lambda.h5")
    result = cli("evaluate", tmp_path / "lambda.h5")
    assert result.exit_code == 1 and "layer 'noop' is a Lambda layer" in result.stderr


def test_h5_files_that_are_not_models_say_so(cli, tmp_path):
    import keras

    fake = tmp_path / "fake.h5"
    fake.write_bytes(b"not hdf5 at all")
    result = cli("evaluate", fake)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {fake}: not a Keras model file (a .h5 file is HDF5)"
    weights = tmp_path / "m.weights.h5"
    keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)]).save_weights(weights)
    result = cli("evaluate", weights)
    assert result.exit_code == 1 and "an HDF5 file without a model config (weights only?)" in result.stderr
    renamed = tmp_path / "renamed.keras"
    renamed.write_bytes((KERAS2 / "cnn.h5").read_bytes())
    result = cli("evaluate", renamed)
    assert result.exit_code == 1 and "it is HDF5, so rename it to .h5" in result.stderr
