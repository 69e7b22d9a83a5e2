"""Training: every architecture trains, outputs are complete, seeds make runs repeatable, bad options fail."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit import zoo
from toolkit.errors import UsageError
from toolkit.train import train

from .conftest import QUICK


@pytest.mark.slow
def test_every_arch_trains_one_quick_epoch(trained_models):
    assert set(trained_models) == set(zoo.ZOO)
    for name, path in trained_models.items():
        metrics = json.loads((path.parent / "metrics.json").read_text())
        assert metrics["arch"] == name and metrics["recipe"]["epochs"] == 1
        assert metrics["train_images"] == int(1024 * 0.9)
        # One epoch on 1,024 images is far from converged but far above chance (0.1).
        assert 0.3 < metrics["test_accuracy"] <= 1.0, (name, metrics["test_accuracy"])


def test_outputs_are_complete(mlp_model):
    out = mlp_model.parent
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert {
        "test_accuracy",
        "test_loss",
        "per_class_test_accuracy",
        "train_seconds",
        "data_digest",
        "versions",
        "recipe",
    } <= set(metrics)
    assert sorted(metrics["per_class_test_accuracy"]) == [str(d) for d in range(10)]
    assert metrics["recipe"]["batch_size"] == 128 and metrics["recipe"]["optimizer"] == "adam"
    assert "keras" in metrics["versions"] and len(metrics["data_digest"]) == 16
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(history["loss"]) == 1
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*part*"))  # nothing half-written left behind


SEEDED = {**QUICK, "limit": 512}  # mlp512x2 has dropout, so the seed must also fix the dropout masks


@pytest.fixture(scope="module")
def seed_7_weights(tmp_path_factory) -> list[np.ndarray]:
    from toolkit.runtimes import load_keras_model

    path = train("mlp512x2", tmp_path_factory.mktemp("seed7"), seed=7, **SEEDED).model_path
    return load_keras_model(path).get_weights()


def test_same_seed_same_weights(seed_7_weights, tmp_path):
    from toolkit.runtimes import load_keras_model

    again = load_keras_model(train("mlp512x2", tmp_path, seed=7, **SEEDED).model_path).get_weights()
    for wa, wb in zip(seed_7_weights, again, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_another_seed_other_weights(seed_7_weights, tmp_path):
    from toolkit.runtimes import load_keras_model

    other = load_keras_model(train("mlp512x2", tmp_path, seed=8, **SEEDED).model_path).get_weights()
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(seed_7_weights, other, strict=True))


def test_refuses_to_overwrite_without_force(mlp_model):
    with pytest.raises(UsageError, match="already exists; pass --force"):
        train("mlp256", mlp_model.parent, **QUICK)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"validation_split": 1.5}, "--validation-split must be in"),
        ({"limit": 70000}, "--limit must be between 1 and 60000"),
        ({"optimizer": "adagrad2"}, "unknown optimizer 'adagrad2'"),
        ({"learning_rate": -1.0}, "--learning-rate must be positive"),
        ({"augment": "mixup"}, "unknown augmentation 'mixup'; choose one of: affine, elastic"),
        ({"clean_epochs": -1}, "clean epochs must be 0 or more, got -1"),
        ({"label_smoothing": 1.0}, r"label smoothing must be in \[0, 1\), got 1.0"),
        (
            {"label_smoothing": 0.1, "loss": "sparse_categorical_crossentropy"},
            "label smoothing needs one-hot targets",
        ),
    ],
)
def test_bad_recipe_is_refused_before_training(tmp_path, override, message):
    with pytest.raises(UsageError, match=message):
        train("mlp256", tmp_path, **override)
    assert not (tmp_path / "mlp256.keras").exists()


def test_threads_are_recorded_and_a_change_in_a_running_process_is_refused(mlp_model, tmp_path):
    """TensorFlow's thread count decides the float rounding, so it is part of what makes a run repeatable."""
    from toolkit import lazy
    from toolkit.predict.options import cpu_count

    metrics = json.loads((mlp_model.parent / "metrics.json").read_text())
    assert metrics["threads"] == cpu_count()
    lazy.tensorflow().constant(1)  # TensorFlow is running: its thread pool can no longer change
    with pytest.raises(
        UsageError,
        match=f"--threads {cpu_count() + 1}: TensorFlow already runs with {cpu_count()} threads in this process",
    ):
        train("mlp256", tmp_path, threads=cpu_count() + 1, **QUICK)


def test_augmented_input_distorts_afresh_each_epoch_then_serves_clean_epochs():
    from toolkit import data
    from toolkit.train_data import augmented_input

    (x_train, y_train), _ = data.load_mnist()
    x = data.to_model_input(x_train[:300])
    y = np.eye(10, dtype=np.float32)[y_train[:300]]
    recipe = zoo.Recipe(epochs=3, batch_size=128, augment="elastic", clean_epochs=1)
    batches = augmented_input(x, y, recipe, seed=5)
    assert len(batches) == 3
    epoch = [batches[i] for i in range(3)]
    assert [len(b[0]) for b in epoch] == [128, 128, 44] and epoch[0][0].shape[1:] == (28, 28, 1)
    assert np.array_equal(sum(b[1].sum(axis=0) for b in epoch), y.sum(axis=0))  # every image once
    assert not any((x == image).all(axis=(1, 2, 3)).any() for image in epoch[0][0])  # all distorted
    assert np.array_equal(augmented_input(x, y, recipe, seed=5)[0][0], epoch[0][0])  # same seed, same epoch
    batches.on_epoch_end()
    second = batches[0][0]
    assert not np.array_equal(second, epoch[0][0])  # a new shuffle and new distortions
    assert not any((x == image).all(axis=(1, 2, 3)).any() for image in second)
    batches.on_epoch_end()
    assert all((x == image).all(axis=(1, 2, 3)).any() for image in batches[0][0])  # the last epoch is clean
    one_epoch = augmented_input(x, y, zoo.Recipe(epochs=1, augment="affine", clean_epochs=2), seed=5)
    assert not any((x == image).all(axis=(1, 2, 3)).any() for image in one_epoch[0][0])  # the first never is
