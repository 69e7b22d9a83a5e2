"""Shared fixtures. Tiny data is built by the tests; real MNIST comes from the cache `make test` fills."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# A suite started in the background (`cmd &` in a script, `nohup`) inherits SIGINT or SIGHUP ignored, and so would
# every predict it starts; the interrupt tests need what a terminal gives.
for _signum, _default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGHUP, signal.SIG_DFL)):
    if signal.getsignal(_signum) == signal.SIG_IGN:
        signal.signal(_signum, _default)

QUICK = {"epochs": 1, "limit": 1024, "batch_size": 128, "validation_split": 0.1}


@pytest.fixture(scope="session")
def keras_loaded():
    """Keras with TensorFlow under it. Importing them takes a few seconds once per process: the session's first
    test that trains asks for this, so the import is a setup of its own instead of adding to that training."""
    from toolkit import lazy

    return lazy.keras()


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory) -> dict[str, Path]:
    """Every zoo architecture trained once, one quick epoch on 1,024 images: name -> .keras path."""
    from toolkit import zoo
    from toolkit.train import train

    root = tmp_path_factory.mktemp("zoo")
    return {name: train(name, root / name, **QUICK).model_path for name in zoo.ZOO}


@pytest.fixture(scope="session")
def mlp_model(tmp_path_factory) -> Path:
    """One small trained model for tests that need any model (cheaper than the whole zoo)."""
    from toolkit.train import train

    return train("mlp256", tmp_path_factory.mktemp("mlp") / "m", **QUICK).model_path


@pytest.fixture
def cli():
    """Invoke the Typer app in-process; returns the click Result (exit_code, stdout, stderr)."""
    from typer.testing import CliRunner

    from toolkit.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory) -> Path:
    """A contract-honouring ONNX classifier (linear, ~85% on MNIST) built without TensorFlow, in a second."""
    from tests.onnx_models import linear_model, ridge_weights
    from toolkit import data

    (x_train, y_train), _ = data.load_mnist()
    weights, bias = ridge_weights(x_train[:12000], y_train[:12000])
    return linear_model(
        tmp_path_factory.mktemp("onnx") / "linear.onnx", weights, bias, metadata={"source": "tests/onnx_models.py"}
    )


@pytest.fixture(scope="session")
def zoo_exports(trained_models, tmp_path_factory) -> dict:
    """Every zoo model exported once to all four formats: name -> toolkit.export.ExportResult."""
    from toolkit.export import FORMATS, export

    root = tmp_path_factory.mktemp("exports")
    return {name: export(path, FORMATS, root / name) for name, path in trained_models.items()}


@pytest.fixture(scope="session")
def mnist_test():
    """The MNIST test images and labels (modules that define their own keep theirs)."""
    from toolkit import data

    (_, _), (x_test, y_test) = data.load_mnist()
    return x_test, y_test


@pytest.fixture(scope="session")
def scorer():
    """onnxruntime on the shipped reference model."""
    from toolkit.onnxmodel import OnnxModel
    from toolkit.predict.options import REFERENCE_MODEL

    return OnnxModel(REFERENCE_MODEL)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance (2 CPUs) for the whole session: starting Ray costs seconds."""
    import logging

    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()
