"""scripts/probe_large_digits.py: its images are what it says they are, and what it reports adds up."""

from __future__ import annotations

import numpy as np

from tests.scripts_loader import load_script

probe = load_script("probe_large_digits")


def test_a_drawn_digit_fills_the_share_asked_dark_on_the_paper_asked(mnist_test):
    x, _ = mnist_test
    image = probe.drawn(x[0], 500, 0.6, paper=0.35, ink=0.05)
    assert image.shape == (500, 500) and image.dtype == np.uint8
    rows, columns = np.nonzero(image < 0.3 * 255)
    assert 0.35 * 500 < max(np.ptp(rows), np.ptp(columns)) + 1 <= 0.6 * 500  # MNIST leaves a margin in its field
    assert abs(int(np.median(image)) - round(0.35 * 255)) <= 1 and image.min() <= round(0.06 * 255)


def test_an_enlarged_image_keeps_its_shape_and_reaches_the_side_asked():
    small = np.zeros((40, 30), np.uint8)
    assert probe.enlarged(small, 800).shape == (800, 600)


def test_every_setting_draws_one_image_over_the_page_side(mnist_test):
    x, _ = mnist_test
    names = []
    for name, draw in probe.settings(np.random.default_rng(0)):
        image = draw(x[0])
        assert image.ndim == 2 and max(image.shape) > 320, name
        names.append(name)
    assert len(names) == len(set(names)) == 20


def test_the_score_line_counts_right_unflagged_wrong_and_blank():
    records = [
        {"digit": 3, "low_confidence": False, "flags": None, "blank": False},  # right
        {"digit": 5, "low_confidence": False, "flags": None, "blank": False},  # wrong, unflagged
        {"digit": 5, "low_confidence": True, "flags": None, "blank": False},  # wrong, flagged
        {"digit": None, "low_confidence": True, "flags": "blank-page", "blank": True},  # blank
    ]
    assert probe.scored(records, [3, 3, 3, 3]) == "right  25.0%  wrong and unflagged 1  blank 1  (of 4)"
