"""Training-time distortions: repeatable from a seed, bounded, digit-preserving, and off when asked."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import data
from toolkit.augment import Distortion, distort

NONE = Distortion(rotation=0, zoom=0, shift=0, elastic_alpha=0)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    (x_train, _), _ = data.load_mnist()
    return data.to_model_input(x_train[:200])[..., 0]


def centroid(images: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[:28, :28]
    mass = images.sum(axis=(1, 2))
    return np.stack([(images * rows).sum(axis=(1, 2)) / mass, (images * cols).sum(axis=(1, 2)) / mass], axis=1)


def test_same_seed_same_images_other_seed_other_images(digits):
    first = distort(digits, np.random.default_rng(3))
    again = distort(digits, np.random.default_rng(3))
    other = distort(digits, np.random.default_rng(4))
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 0.02
    assert first.shape == digits.shape and first.dtype == np.float32


def test_no_distortion_returns_the_images_unchanged(digits):
    assert np.allclose(distort(digits, np.random.default_rng(0), NONE), digits, atol=1e-6)


def test_distortions_keep_the_digit_in_place_and_in_range(digits):
    out = distort(digits, np.random.default_rng(0))
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    assert np.abs(out - digits).mean() > 0.02  # it does change the images
    moved = np.linalg.norm(centroid(out) - centroid(digits), axis=1)
    assert np.median(moved) < 2.5 and moved.max() < 5.0
    ink_ratio = out.sum(axis=(1, 2)) / digits.sum(axis=(1, 2))
    assert 0.7 < np.median(ink_ratio) < 1.3


def test_a_pure_shift_moves_the_ink_by_at_most_the_shift(digits):
    how = Distortion(rotation=0, zoom=0, shift=2.0, elastic_alpha=0)
    moved = np.abs(centroid(distort(digits, np.random.default_rng(1), how)) - centroid(digits))
    assert moved.max() <= 2.0 + 0.05 and moved.mean() > 0.5


def test_elastic_part_bends_strokes_and_a_wider_smoothing_bends_them_less(digits):
    def change(sigma: float) -> float:
        how = Distortion(rotation=0, zoom=0, shift=0, elastic_alpha=34, elastic_sigma=sigma)
        return float(np.abs(distort(digits, np.random.default_rng(2), how) - digits).mean())

    assert change(6) > 0.02
    assert change(4) > change(6) > change(12)


@pytest.mark.parametrize("shape", [(28, 28), (4, 28, 27), (2, 28, 28, 1)])
def test_wrong_shape_is_refused(shape):
    with pytest.raises(ValueError, match=r"distort takes \(N,28,28\) images"):
        distort(np.zeros(shape, np.float32), np.random.default_rng(0))
