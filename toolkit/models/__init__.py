"""The shipped reference model, as package data so that every install (a wheel too) can score without --model.

`reference.onnx` is what `predict` uses when neither --model nor $MNIST_TOOLKIT_MODEL is given;
`model_card.json` says how it was made and measured (`scripts/train_reference.py` makes both). The Keras
source model stays in the repository, at artifacts/reference/model.keras, and is not shipped.
"""

from __future__ import annotations

from pathlib import Path

REFERENCE_ONNX = Path(__file__).with_name("reference.onnx")
MODEL_CARD = Path(__file__).with_name("model_card.json")
