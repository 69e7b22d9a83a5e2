"""Other writers' scans drawn from MNIST digits, for training (`recipe.writers`)."""

from __future__ import annotations

import numpy as np

from toolkit import data
from toolkit.other_writers import TRAITS, writer_crop, writer_fields


def test_a_writer_crop_is_a_dark_on_light_scan_of_the_digit():
    (x_train, _), _ = data.load_mnist()
    rng = np.random.default_rng(1)
    for digit in x_train[:60]:
        crop = writer_crop(digit, rng)
        assert crop.dtype == np.uint8 and crop.ndim == 2 and 20 <= crop.shape[0] <= 120
        border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
        assert np.median(border) > crop.min() + 40  # paper lighter than the ink


def test_writer_fields_normalise_like_predict_and_keep_their_indices():
    (x_train, y_train), _ = data.load_mnist()
    fields, kept = writer_fields(x_train[:200], np.random.default_rng(2))
    assert fields.shape == (len(kept), 28, 28) and len(kept) >= 195
    assert fields.max() <= 1.0 and np.allclose(fields.reshape(len(fields), -1).max(axis=1), 1.0)
    again, kept_again = writer_fields(x_train[:200], np.random.default_rng(2))
    np.testing.assert_array_equal(fields, again)
    np.testing.assert_array_equal(kept, kept_again)
    assert set(TRAITS) == {"pen", "lowres", "blur", "slant", "line"}


def test_the_traits_change_the_digit():
    (x_train, _), _ = data.load_mnist()
    mask = x_train[0].astype(np.float32) / 255
    for name, trait in TRAITS.items():
        changed = trait(np.pad(mask, 8), np.random.default_rng(4))
        assert changed.shape[0] == mask.shape[0] + 16, name
        assert not np.array_equal(changed, np.pad(mask, 8)), name


def test_a_coarse_scan_is_a_small_grid_of_grey_levels_dark_on_light():
    from toolkit.other_writers import coarse_crop, coarse_fields

    (x_train, y_train), _ = data.load_mnist()
    rng = np.random.default_rng(4)
    sides, papered = [], 0
    for digit in x_train[:80]:
        crop = coarse_crop(digit, rng)
        assert crop.dtype == np.uint8 and crop.ndim == 2
        assert 6 <= max(crop.shape) <= 4 * (12 + 6)  # 6-12 px of ink, 0-3 px of paper each side, enlarged 1-4x
        border = np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]])
        papered += np.median(border) > crop.min() + 40  # paper lighter than the ink round it
        sides.append(max(crop.shape))
    assert papered >= 60  # a 1 two cells wide with no paper left round it is ink from side to side
    assert min(sides) <= 15 and max(sides) >= 40  # some left small, some enlarged
    fields, kept = coarse_fields(x_train[:200], np.random.default_rng(5))
    assert fields.shape == (len(kept), 28, 28) and len(kept) >= 170  # a few too faint to find are left out
    again, _ = coarse_fields(x_train[:200], np.random.default_rng(5))
    np.testing.assert_array_equal(fields, again)


def test_a_clipped_crop_of_a_thin_wide_mark_keeps_a_row_of_it():
    # What is left of a digit blurred away but for the line drawn across it: 3 px tall, 120 wide. A clip whose
    # length was measured on its width cut away all of its height, and the crop came out empty.
    from toolkit.other_writers import crop_box

    mask = np.zeros((64, 124), np.float32)
    mask[30:33, 2:122] = 1.0
    for seed in range(300):
        crop = crop_box(mask, np.random.default_rng(seed))
        assert crop.shape[0] >= 1 and crop.shape[1] >= 1 and crop.max() > 0.2, seed
