"""What a recipe trains on each epoch: digits (some as other writers), and no-digit crops for a not_digit output."""

from __future__ import annotations

import numpy as np

from toolkit import data, zoo
from toolkit.train_data import as_uint8, epoch_images, soften


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


def test_the_clean_epochs_draw_their_own_share_of_writers():
    x, targets = _digits()
    recipe = zoo.Recipe(augment="affine", writers=1.0, clean_writers=0.0)
    as_mnist = set(map(bytes, as_uint8(x)))

    def kept(distorted: bool) -> int:
        images, _, _ = epoch_images(x, targets, recipe, np.random.default_rng(0), distorted, rejects=False)
        return sum(bytes(image) in as_mnist for image in as_uint8(images))

    assert kept(distorted=False) == len(x)  # clean and no writers: MNIST's own digits, untouched
    assert kept(distorted=True) == 0  # every digit redrawn, then distorted
    unset = zoo.Recipe(writers=1.0)  # without clean_writers the clean epochs keep the recipe's share
    images, _, _ = epoch_images(x, targets, unset, np.random.default_rng(0), distorted=False, rejects=False)
    assert not any(bytes(image) in as_mnist for image in as_uint8(images))


def test_recipes_with_an_impossible_share_are_refused_in_one_line():
    import pytest

    from toolkit.errors import UsageError
    from toolkit.train import validate_recipe

    for bad in (zoo.Recipe(writers=1.5), zoo.Recipe(negatives=-0.1), zoo.Recipe(writers=0.4, clean_writers=-0.2)):
        with pytest.raises(UsageError, match="writers shares must be in"):
            validate_recipe(bad)


def test_a_teacher_is_mixed_into_the_targets_of_mnist_digits_only_and_sees_the_image_trained_on():
    x, targets = _digits()
    seen: list[np.ndarray] = []

    def teacher(images: np.ndarray) -> np.ndarray:  # says "3" with some doubt about "8", whatever it sees
        seen.append(images.copy())
        out = np.full((len(images), 10), 0.01, np.float32)
        out[:, 3], out[:, 8] = 0.81, 0.11
        return out

    recipe = zoo.Recipe(writers=0.5, distill=0.5, teacher="unused.onnx")
    images, y, _ = epoch_images(x, targets, recipe, np.random.default_rng(0), False, False, teacher)
    assert len(seen) == 1 and 30 < len(seen[0]) < 90  # about half the digits are drawn as MNIST
    taught = (y != 0).sum(axis=1) > 1  # a one-hot row has one non-zero target
    assert taught.sum() == len(seen[0])
    assert any(np.array_equal(images[i], seen[0][0]) for i in np.flatnonzero(taught))
    np.testing.assert_allclose(y.sum(axis=1), 1, atol=1e-6)
    soft = soften(np.array([[0.01] * 3 + [0.81] + [0.01] * 4 + [0.11, 0.01]], np.float32))[0]
    assert soft[3] < 0.81 and soft[8] > 0.11 and soft.argmax() == 3  # softened: same ranking, flatter
    labels = np.flatnonzero(taught)
    mixed = y[labels]
    hot = mixed.argmax(axis=1)  # the label keeps at least half of the target
    np.testing.assert_allclose(mixed[np.arange(len(hot)), 3][hot != 3], 0.5 * soft[3], rtol=1e-5)
    assert (mixed[np.arange(len(hot)), hot] >= 0.5).all()
    assert ((y[~taught] == 0) | (y[~taught] == 1)).all()  # drawn as other writers: labels kept


def test_distilling_needs_a_teacher_file_and_a_share_in_range():
    import pytest

    from toolkit.errors import UsageError
    from toolkit.train import validate_recipe

    with pytest.raises(UsageError, match="needs a --teacher"):
        validate_recipe(zoo.Recipe(distill=0.5))
    with pytest.raises(UsageError, match="no such file"):
        validate_recipe(zoo.Recipe(distill=0.5, teacher="/nowhere/teacher.onnx"))
    with pytest.raises(UsageError, match=r"--distill must be in \[0, 1\]"):
        validate_recipe(zoo.Recipe(distill=1.5, teacher="x.onnx"))


def test_coarse_scans_replace_their_share_of_the_mnist_digits_in_every_epoch():
    x, targets = _digits(200)
    as_mnist = set(map(bytes, as_uint8(x)))
    for distorted in (False, True):
        recipe = zoo.Recipe(augment="affine", coarse_scans=0.5, clean_epochs=1)
        images, y, _ = epoch_images(x, targets, recipe, np.random.default_rng(0), distorted, rejects=False)
        assert sorted(y.argmax(axis=1).tolist()) == sorted(targets.argmax(axis=1).tolist())  # labels kept
        if not distorted:
            untouched = sum(bytes(image) in as_mnist for image in as_uint8(images))
            assert 60 <= untouched <= 140  # about half redrawn coarse, the clean epochs included
    plain, _, _ = epoch_images(x, targets, zoo.Recipe(), np.random.default_rng(0), False, rejects=False)
    assert all(bytes(image) in as_mnist for image in as_uint8(plain))


def test_a_coarse_scans_share_out_of_range_is_refused():
    import pytest

    from toolkit.errors import UsageError
    from toolkit.train import validate_recipe

    with pytest.raises(UsageError, match="coarse scans share must be in"):
        validate_recipe(zoo.Recipe(coarse_scans=1.2))
