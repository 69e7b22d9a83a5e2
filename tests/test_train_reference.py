"""scripts/train_reference.py's calibration: the fitted temperature makes confidences honest without changing a
single predicted digit (the training and export it runs are tested in test_train.py and test_export.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "train_reference.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_temperature_that_undoes_a_known_flattening_is_found(script):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 20000)
    features = rng.normal(0, 1, (20000, 10))
    features[np.arange(20000), labels] += 2.0
    # Given the features, the label's true probabilities are softmax(2 * features): a calibrated model says so.
    calibrated = softmax(2.0 * features)
    flattened = softmax(0.8 * features)  # what label smoothing does to confidences, roughly
    temperature = script.fit_temperature(flattened, labels)
    assert temperature == pytest.approx(0.4, rel=0.03)
    assert script.nll(flattened, labels, temperature) < script.nll(flattened, labels) - 0.1
    assert script.fit_temperature(calibrated, labels) == pytest.approx(1.0, rel=0.03)  # nothing to undo


@pytest.mark.slow
def test_calibration_is_folded_into_the_output_layer_and_keeps_every_digit(script, trained_models):
    from toolkit import data
    from toolkit.kerasmodel import load_keras_model

    model = load_keras_model(trained_models["cnn-bn"])
    (x_train, y_train), (x_test, _) = data.load_mnist()
    images = data.to_model_input(x_test[:2000])
    before = model.predict(images, verbose=0)
    temperature = script.calibrate(model, data.to_model_input(x_train[:4000]), y_train[:4000])
    after = model.predict(images, verbose=0)
    assert temperature != pytest.approx(1.0, abs=0.01)  # a one-epoch model is far from calibrated
    assert np.array_equal(after.argmax(axis=1), before.argmax(axis=1))
    expected = softmax(np.log(before.astype(np.float64)) / temperature)
    assert np.allclose(after, expected, atol=1e-4)
