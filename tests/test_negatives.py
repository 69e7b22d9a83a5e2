"""Crops with no digit, made the way segmentation makes crops, for the model's not_digit output."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit import data
from toolkit.imaging import negatives


@pytest.fixture(scope="module")
def digits():
    (x_train, _), _ = data.load_mnist()
    return x_train[:500]


@pytest.mark.parametrize("kind", list(negatives.KINDS))
def test_every_kind_is_a_scan_like_crop(kind, digits):
    rng = np.random.default_rng(3)
    for _ in range(20):
        crop, made = negatives.negative_crop(rng, digits, kind)
        assert made == kind and crop.dtype == np.uint8 and crop.ndim == 2
        assert min(crop.shape) >= 2 and max(crop.shape) <= 400
        # Light paper with something visible on it: ink, a speck or a shade.
        assert np.median(crop) >= 90 and crop.max() - crop.min() >= 15


def test_negative_fields_are_what_the_model_sees_and_never_look_like_a_one(digits):
    fields = negatives.negative_fields(300, np.random.default_rng(0), digits)
    assert fields.shape == (300, 28, 28) and fields.dtype == np.float32
    assert fields.min() >= 0.0 and fields.max() <= 1.0
    assert (fields.reshape(300, -1).max(axis=1) > 0).all()  # blank crops never reach the model, so none here
    assert not any(negatives.like_a_one(f) for f in fields)
    again = negatives.negative_fields(300, np.random.default_rng(0), digits)
    np.testing.assert_array_equal(fields, again)  # seeded: same stream, same negatives


def test_a_one_shaped_crop_is_left_out_and_a_blank_one_too():
    one = np.full((60, 30), 240, np.uint8)
    one[5:55, 14:17] = 10  # a vertical stroke: a "1" once normalised
    bar = np.full((30, 60), 240, np.uint8)
    bar[14:17, 5:55] = 10  # a horizontal bar: no digit
    paper = np.full((40, 40), 240, np.uint8)
    fields = negatives.fields_of([one, bar, paper])
    assert len(fields) == 1
    rows, cols = np.nonzero(fields[0] > 0.3)
    assert cols.max() - cols.min() > rows.max() - rows.min()  # the bar, lying down
