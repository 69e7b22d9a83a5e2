"""Outputs on the MNIST test set: the Keras model's (the golden outputs every export is judged against) and a
loaded export's score on labelled images."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import data, runtimes
from toolkit.parity.comparator import Agreement, agreement
from toolkit.parity.rules import BATCH_SIZE

# Keras predictions on the test set are the slowest step of export and parity alike; a model file's bytes
# decide them, so calls in one process (parity after export, the test suite) reuse them by sha256.
_KERAS_OUTPUTS: OrderedDict[str, np.ndarray] = OrderedDict()
_KERAS_OUTPUTS_KEPT = 16


def labelled_test_images() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images as the model tensor, and their labels."""
    _, (x_test, y_test) = data.load_mnist()
    return data.to_model_input(x_test), y_test


def keras_outputs(model: Any, model_path: Path, sha256: str, images: np.ndarray) -> np.ndarray:
    """The outputs of a Keras model in contract form (`kerasmodel.as_contract`) on `images` at batch 512, cached
    per (model sha256, images digest)."""
    key = f"{sha256}:{data.array_digest(images)}"
    if key not in _KERAS_OUTPUTS:
        runtime = runtimes.keras_runtime(model, model_path)
        _KERAS_OUTPUTS[key] = runtime.predict(images, batch_size=BATCH_SIZE, with_not_digit=True)
        while len(_KERAS_OUTPUTS) > _KERAS_OUTPUTS_KEPT:
            _KERAS_OUTPUTS.popitem(last=False)
    _KERAS_OUTPUTS.move_to_end(key)
    return _KERAS_OUTPUTS[key]


def score(runtime: runtimes.Runtime, images: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> Agreement:
    """Run a loaded export on labelled `images`: its accuracy, the reference's, and their argmax agreement."""
    return agreement(reference, runtime.predict(images, batch_size=BATCH_SIZE, with_not_digit=True), labels)
