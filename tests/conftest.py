"""Shared fixtures. Tiny data is built by the tests; real MNIST comes from the cache `make test` fills."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

QUICK = {"epochs": 1, "limit": 1024, "batch_size": 128, "validation_split": 0.1}


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
