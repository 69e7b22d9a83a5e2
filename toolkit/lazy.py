"""Heavy imports, done only inside the functions that need them, with a pip hint when an extra is missing."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from toolkit.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise MissingExtraError naming the pip extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(module.split(".")[0], extra) from None


def keras() -> ModuleType:
    """Keras 3 on the TensorFlow backend, with TensorFlow's start-up chatter turned down."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN reorders float sums run to run
    require("tensorflow", "train")
    return require("keras", "train")


def tensorflow() -> ModuleType:
    """TensorFlow, imported the same way as `keras()`."""
    keras()
    return require("tensorflow", "train")
