"""scripts/probe_boxes.py: where it writes the digit against the box's side, and what it reports."""

from __future__ import annotations

import numpy as np

from tests.scripts_loader import load_script

probe_boxes = load_script("probe_boxes")


def _pen_columns(page: np.ndarray) -> np.ndarray:
    """The columns holding the pen's ink (darker than the grey rules) between the boxes' top and bottom."""
    return np.flatnonzero((page[25:85] < 100).any(axis=0))


def test_the_digit_is_written_where_the_position_says(mnist_test):
    x, y = mnist_test
    one = x[np.flatnonzero(y == 1)[0]]
    box = 70
    side = 20 + box  # the middle box's left side
    centre = probe_boxes.sheet(one, box, 150, "centre")
    on = probe_boxes.sheet(one, box, 150, "on")
    touch = probe_boxes.sheet(one, box, 150, "touch")
    assert _pen_columns(centre).min() > side + 3  # clear of the side
    assert _pen_columns(on).min() < side < _pen_columns(on).max()  # across it
    assert side - 2 <= _pen_columns(touch).min() <= side + 1  # its left edge on the side
    assert on.shape == centre.shape == (box + 40, 3 * box + 40)


def test_the_probe_reads_every_condition_and_a_centred_digit_right():
    results = probe_boxes.probe(digit=1, count=2, sizes=[70])
    assert set(results) == {(70, rule, where) for rule in probe_boxes.RULES for where in probe_boxes.POSITIONS}
    assert all(total == 2 for _, total in results.values())
    assert results[(70, 150, "centre")] == (2, 2) and results[(70, 40, "centre")] == (2, 2)


def test_the_label_probe_writes_the_digit_in_the_box_asked_and_reads_every_image():
    from tests.scripts_loader import load_script

    probe_labels = load_script("probe_labels")
    glyph = np.zeros((28, 28), np.uint8)
    glyph[4:24, 12:16] = 255  # a 1
    page = probe_labels.sheet(glyph, box=50, boxes=4, word="Qty", scale=0.8, which=2)
    pen = np.flatnonzero((page < 40).any(axis=0))  # the pen is darker than the print and the rules
    start = page.shape[1] - 20 - 4 * 50  # where the first box starts
    assert start + 2 * 50 < pen.min() and pen.max() < start + 3 * 50  # inside the third box
    results, wrong = probe_labels.probe(count=6, seed=7)
    assert sum(n for _, n in results.values()) == 6
    assert sum(r for r, _ in results.values()) + sum(wrong.values()) == 6


def test_the_blank_probe_draws_blank_sheets_and_counts_every_read():
    from tests.scripts_loader import load_script

    probe_blanks = load_script("probe_blanks")
    rng = np.random.default_rng(1)
    for _ in range(6):
        page, traits = probe_blanks.sheet(rng)
        assert page.dtype == np.uint8 and min(page.shape) >= 120 and set(traits) <= {"shading", "shadow", "streak"}
    said, unflagged = probe_blanks.probe(count=4, seed=5)
    assert sum(said.values()) == 4 and sum(unflagged.values()) == said["digit, unflagged"]


def test_the_rotated_box_probe_writes_the_digit_against_the_side_asked(mnist_test):
    """scripts/probe_rotated_boxes.py: square, the pen's ink starts 1 px inside the side asked for."""
    probe = load_script("probe_rotated_boxes")
    x, y = mnist_test
    four = x[np.flatnonzero(y == 4)[0]]
    margin, side = probe.MARGIN, 70
    for where, (axis, at) in {"left": (0, margin + 1), "top": (1, margin + 1)}.items():
        page = probe.sheet(four, side, where, 120, 1, 0.0, np.random.default_rng(0))
        pen = np.flatnonzero((page[margin + 3 : margin + side - 2, margin + 3 : margin + side - 2] < 90).any(axis=axis))
        assert abs(int(pen[0]) + margin + 3 - at) <= 2, where
    square = probe.sheet(four, side, "centre", 40, 2, 0.0, np.random.default_rng(0))
    turned = probe.sheet(four, side, "centre", 40, 2, 4.0, np.random.default_rng(0))
    assert turned.shape == square.shape == (side + 2 * margin,) * 2
    assert (square[margin] < 100).sum() > side > 1.5 * (turned[margin] < 100).sum()  # the top rule across rows
