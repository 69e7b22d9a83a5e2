"""What a recipe trains on each epoch: digits (some as other writers), and no-digit crops for a not_digit output."""

from __future__ import annotations

import numpy as np

from toolkit import data, zoo
from toolkit.train_data import as_uint8, epoch_images


def _digits(n: int = 120):
    (x_train, y_train), _ = data.load_mnist()
    x = data.to_model_input(x_train[:n])
    return x, np.eye(10, dtype=np.float32)[y_train[:n]]


def test_an_epoch_for_a_not_digit_model_adds_negatives_that_only_that_output_learns_from():
    x, targets = _digits()
    recipe = zoo.Recipe(augment="affine", writers=0.5, negatives=0.25)
    images, (probs, rejection), (w_probs, w_rejection) = epoch_images(
        x, targets, recipe, np.random.default_rng(0), distorted=True, rejects=True
    )
    assert len(images) == 150 and images.shape[1:] == (28, 28, 1)
    negative = rejection[:, 0] == 1
    assert negative.sum() == 30
    assert (probs[negative] == 0).all() and (probs[~negative].sum(axis=1) == 1).all()
    assert (w_probs[negative] == 0).all() and (w_probs[~negative] == 1).all() and (w_rejection == 1).all()
    assert sorted(probs[~negative].argmax(axis=1).tolist()) == sorted(targets.argmax(axis=1).tolist())


def test_a_plain_model_sees_no_negatives_and_writers_replace_digits_in_place():
    x, targets = _digits()
    recipe = zoo.Recipe(writers=1.0)
    images, y, weights = epoch_images(x, targets, recipe, np.random.default_rng(0), distorted=False, rejects=False)
    assert weights is None and len(images) == len(x)
    assert sorted(y.argmax(axis=1).tolist()) == sorted(targets.argmax(axis=1).tolist())
    assert not any(np.array_equal(images[i], x[j]) for i in range(10) for j in range(len(x)))  # all redrawn
    np.testing.assert_array_equal(as_uint8(x)[0], data.load_mnist()[0][0][0])


def test_recipes_with_an_impossible_share_are_refused_in_one_line():
    import pytest

    from toolkit.errors import UsageError
    from toolkit.train import validate_recipe

    for bad in (zoo.Recipe(writers=1.5), zoo.Recipe(negatives=-0.1)):
        with pytest.raises(UsageError, match="writers share must be in"):
            validate_recipe(bad)
