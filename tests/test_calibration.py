"""Calibration of label-smoothed models (toolkit.train): the fitted temperature makes confidences honest
without changing a single predicted digit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit import train


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_temperature_that_undoes_a_known_flattening_is_found():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 20000)
    features = rng.normal(0, 1, (20000, 10))
    features[np.arange(20000), labels] += 2.0
    # Given the features, the label's true probabilities are softmax(2 * features): a calibrated model says so.
    calibrated = softmax(2.0 * features)
    flattened = softmax(0.8 * features)  # what label smoothing does to confidences, roughly
    temperature = train.fit_temperature(flattened, labels)
    assert temperature == pytest.approx(0.4, rel=0.03)
    assert train.nll(flattened, labels, temperature) < train.nll(flattened, labels) - 0.1
    assert train.fit_temperature(calibrated, labels) == pytest.approx(1.0, rel=0.03)  # nothing to undo


@pytest.mark.slow
def test_platt_scaling_recovers_a_known_sigmoid():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, 20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))).astype(float)
    a, b = train.fit_platt(logits, labels)
    assert a == pytest.approx(0.5, abs=0.05) and b == pytest.approx(-1.0, abs=0.1)


def test_platt_scaling_of_an_output_that_separates_its_set_stays_a_probability():
    """Every negative below every positive: plain maximum likelihood runs off to a step function (a fit of
    a = 3.9e7 was folded into a model). Platt's smoothed targets keep it finite and graded."""
    rng = np.random.default_rng(2)
    logits = np.concatenate([rng.uniform(-16, -2, 5000), rng.uniform(2, 16, 5000)])
    labels = np.concatenate([np.zeros(5000), np.ones(5000)])
    a, b = train.fit_platt(logits, labels)
    assert 0 < a < 5 and abs(b) < 5
    p = 1 / (1 + np.exp(-(a * np.array([-2.0, 0.0, 2.0]) + b)))
    assert 0.001 < p[0] < 0.1 and 0.3 < p[1] < 0.7 and 0.9 < p[2] < 0.999  # graded near the boundary


def test_calibration_is_folded_into_the_output_layer_and_keeps_every_digit(trained_models):
    from toolkit import data
    from toolkit.kerasmodel import load_keras_model

    model = load_keras_model(trained_models["cnn-bn"])  # calibrated by train already
    last = model.get_layer("probabilities")
    last.set_weights([w * 0.5 for w in last.get_weights()])  # flatten its confidences: softmax(z / 2)
    (x_train, y_train), (x_test, _) = data.load_mnist()
    images = data.to_model_input(x_test[:2000])
    before = model.predict(images, verbose=0)
    temperature = train.calibrate(model, data.to_model_input(x_train[:4000]), y_train[:4000])
    after = model.predict(images, verbose=0)
    assert 0.3 < temperature < 0.7  # undoes the flattening
    assert np.array_equal(after.argmax(axis=1), before.argmax(axis=1))
    expected = softmax(np.log(before.astype(np.float64)) / temperature)
    assert np.allclose(after, expected, atol=1e-4)


@pytest.mark.slow
def test_a_label_smoothed_run_is_calibrated_and_records_its_temperature(trained_models):
    cnn_bn = json.loads((trained_models["cnn-bn"].parent / "metrics.json").read_text())
    mlp = json.loads((trained_models["mlp256"].parent / "metrics.json").read_text())
    assert cnn_bn["recipe"]["label_smoothing"] > 0 and 0.05 <= cnn_bn["temperature"] <= 2.0
    assert mlp["recipe"]["label_smoothing"] == 0 and mlp["temperature"] is None
