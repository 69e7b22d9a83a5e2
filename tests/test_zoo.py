"""The zoo: every architecture keeps the model contract and carries its tutorial's recipe."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import zoo
from toolkit.errors import UsageError

EXPECTED_PARAMS = {  # counted by hand from the layer sizes
    "mlp256": 784 * 256 + 256 + 256 * 10 + 10,
    "mlp1000": 784 * 1000 + 1000 + 1000 * 10 + 10,
    "mlp1000x2": 784 * 1000 + 1000 + 1000 * 1000 + 1000 + 1000 * 10 + 10,
    "mlp512x2": 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10,
}


def test_tutorial_rows_are_all_present():
    assert set(zoo.ZOO) == {
        "mlp256",
        "mlp1000",
        "mlp1000x2",
        "mlp689x3",
        "mlp512x2",
        "mlp-deep",
        "cnn3",
        "cnn2",
        "cnn-bn",
        "cnn-lite",
    }
    assert zoo.get("mlp256").recipe == zoo.Recipe(epochs=10, batch_size=200, validation_split=0.2)
    assert zoo.get("mlp689x3").recipe.limit == 10000 and zoo.get("mlp689x3").recipe.batch_size == 10000
    assert zoo.get("cnn3").recipe.optimizer == "rmsprop"
    assert zoo.get("mlp-deep").recipe.loss == "sparse_categorical_crossentropy"
    assert zoo.get("cnn2").reported_accuracy == 0.9927


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_every_arch_keeps_the_contract(name):
    model = zoo.get(name).build()
    assert model.inputs[0].name == zoo.INPUT_NAME
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    outputs = model(np.zeros((2, 28, 28, 1), np.float32))
    if name == "cnn-lite":  # probabilities, then the optional not_digit output (a sigmoid)
        assert [o._keras_history[0].name for o in model.outputs] == [zoo.OUTPUT_NAME, zoo.NOT_DIGIT_NAME]
        probabilities, rejection = (np.asarray(o) for o in outputs)
        assert rejection.shape == (2, 1) and ((rejection > 0) & (rejection < 1)).all()
    else:
        assert model.layers[-1].name == zoo.OUTPUT_NAME
        probabilities = np.asarray(outputs)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.count_params() == zoo.param_count(name)
    if name in EXPECTED_PARAMS:
        assert model.count_params() == EXPECTED_PARAMS[name]


def test_unknown_arch_lists_valid_names():
    with pytest.raises(UsageError, match="unknown architecture 'lenet'; choose one of: mlp256, "):
        zoo.get("lenet")


def test_recipe_overrides_ignore_none():
    recipe = zoo.get("cnn3").recipe.with_overrides(epochs=1, batch_size=None)
    assert recipe.epochs == 1 and recipe.batch_size == 64 and recipe.optimizer == "rmsprop"


def test_recipes_recorded_before_newer_fields_read_as_today_s_recipe():
    recipe = zoo.get("mlp512x2").recipe
    older = {k: v for k, v in recipe.as_dict().items() if k not in ("label_smoothing", "ema", "clean_epochs")}
    assert zoo.Recipe.from_dict({**older, "augment": False}) == recipe
    assert zoo.Recipe.from_dict(zoo.get("cnn-bn").recipe.as_dict()) == zoo.get("cnn-bn").recipe
    assert zoo.Recipe.from_dict({**older, "epochs": 5}) != recipe
