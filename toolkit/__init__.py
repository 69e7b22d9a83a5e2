"""mnist-toolkit: train the classic Keras MNIST networks, export them, check export parity, score scans.

Importing the package is cheap: heavy parts load when used (`toolkit.predict_folder` imports the scorer on
first access, never TensorFlow).
"""

from __future__ import annotations

from typing import Any

__all__ = ["predict_folder"]


def __getattr__(name: str) -> Any:
    if name == "predict_folder":
        from toolkit.predict import predict_folder

        return predict_folder
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
