"""mnist-toolkit: train the classic Keras MNIST networks, export them, check export parity, score scans.

Importing the package is cheap: heavy parts load when used (`toolkit.predict_folder` imports the scorer on
first access, never TensorFlow).
"""

from __future__ import annotations

# No imports here, not even typing: `python -m toolkit` runs this before toolkit.__main__ can install the
# interrupt handlers, so every millisecond spent here is one where Ctrl-C would print a traceback.

__all__ = ["predict_folder"]


def __getattr__(name: str) -> object:
    if name == "predict_folder":
        from toolkit.predict import predict_folder

        return predict_folder
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
