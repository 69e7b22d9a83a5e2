"""scripts/probe_numbers.py: touching gaps touch, paper gaps do not, and what it reports adds up."""

from __future__ import annotations

import cv2
import numpy as np

from tests.scripts_loader import load_script

probe_numbers = load_script("probe_numbers")


def _ink_parts(image: np.ndarray) -> int:
    """How many 8-connected parts the dark ink of a probe image makes."""
    count, _ = cv2.connectedComponents((image < 150).view(np.uint8), connectivity=8)
    return count - 1


def _bar(height: int, width: int) -> np.ndarray:
    return np.ones((height, width), np.float32)


def test_a_touching_gap_joins_the_digits_and_a_paper_gap_keeps_them_apart():
    bars = [_bar(40, 6), _bar(40, 6)]
    touching = probe_numbers.number_image(bars, [0, 0], [0], 230.0, 30.0, 0.1)
    apart = probe_numbers.number_image(bars, [0, 0], [8], 230.0, 30.0, 0.1)
    assert _ink_parts(touching) == 1
    assert _ink_parts(apart) == 2
    columns = np.flatnonzero((apart < 150).any(axis=0))
    assert columns.max() - columns.min() + 1 == 6 + 8 + 6  # the gap asked for, in paper between them
    # Touching is side by side, no column shared; slid 3 px further, the pair is 3 px narrower.
    width = lambda image: np.ptp(np.flatnonzero((image < 150).any(axis=0))) + 1  # noqa: E731
    assert width(touching) == 6 + 6
    deeper = probe_numbers.number_image(bars, [0, 0], [-3], 230.0, 30.0, 0.1)
    assert width(deeper) == 6 + 6 - 3


def test_a_glyph_is_cropped_to_its_ink_and_scaled_to_the_height_asked(mnist_test):
    x, _ = mnist_test
    g = probe_numbers.glyph(x[0], 50, aspect=1.0)
    assert g.shape[0] == 50 and 0.0 <= g.min() and g.max() <= 1.0
    assert g[:, 0].max() > 0.1 and g[:, -1].max() > 0.1  # ink reaches both sides: cropped to it
    assert probe_numbers.glyph(x[0], 50, aspect=1.5).shape[1] > g.shape[1]


def test_the_probe_reads_every_number_and_its_tallies_add_up():
    tally = probe_numbers.probe(count=20, seed=5, touching=0.0)
    total = tally["all"]
    assert total["images"] == 20 == sum(c["images"] for k, c in tally.items() if k != "all")
    assert set(tally) == {"all", "0 touching"}  # no gap touches at 0.0
    assert total["right"] >= 15  # numbers of 2-8 MNIST test digits none touching: most read whole (18 of 20)
    assert total["right, flagged"] <= total["right"]
    assert total["right"] + total["wrong, unflagged"] <= 20
    touching = probe_numbers.probe(count=20, seed=5, touching=1.0)["all"]
    assert touching["images"] == 20 and touching["right"] < total["right"]  # every gap touching is harder
