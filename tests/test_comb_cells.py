"""A digit written in a comb's cell (`|_|_|_|`) stands between two of its ticks: in a form's field, as a digit in
a box does (`combs.between_ticks`), so a whole form's closer look keeps it and a label does not outweigh it; and
a comb's ticks whose boxes a fringe of JPEG ringing or a foot of the rule widens are found and erased
(`combs.ticks`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.scripts_loader import load_script
from toolkit.imaging import combs
from toolkit.predict import predict_images

TICKS = ((100, 150, 2, 8), (126, 150, 2, 8), (152, 150, 2, 8), (178, 150, 2, 8))  # ticks 26 px apart, 8 px tall


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((131, 135, 16, 20), True),  # a digit in the second cell, its bottom on the rule
        ((131, 120, 16, 20), True),  # ... written a little high: the ticks stand under it
        ((131, 80, 16, 20), False),  # ... far above the comb: a label
        ((200, 135, 16, 20), False),  # beside the comb: a tick on its left only
        ((60, 135, 16, 20), False),  # before it: a tick on its right only
    ],
)
def test_a_mark_between_two_ticks_is_in_a_combs_cell(box, inside):
    assert combs.between_ticks(box, TICKS) is inside
    assert not combs.between_ticks(box, ())


@pytest.mark.parametrize("index", [15, 58])
def test_a_digit_on_a_whole_forms_comb_is_read(tmp_path, index):
    """The whole-form tuning renderer's sheets (seed 777) with the digit in a comb's cell: read closer, the digit
    stood in no box (a comb's ticks are shorter than a box's sides), so the closer reading was not taken and the
    page said no digit."""
    (tmp_path / "forms").mkdir()
    name, truth, traits = load_script("render_whole_forms").render_one(index, 777, str(tmp_path))
    assert "target=comb" in traits
    (record,) = predict_images([str(tmp_path / name)])
    assert record["digit"] == int(truth), (record, traits)


def comb_parts(noisy: bool = False, footed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Five ticks 5 px wide and 24 px tall, 110 px apart, as parts left where a comb's rule was erased (labels,
    stats): with JPEG ringing beside their top ends (`noisy`: pixels a flattened shadow lifted above the ink's
    threshold), or standing on a foot of the rule wider than they are (`footed`)."""
    rng = np.random.default_rng(3)
    labels = np.zeros((60, 520), np.int32)
    for label in range(1, 6):
        x = 20 + 110 * (label - 1)
        labels[20:44, x : x + 5] = label
        if noisy:
            fringe = rng.random((5, 9)) < 0.4
            labels[20:25, x - 2 : x + 7][fringe] = label
        if footed:
            labels[40:44, x - 3 : x + 8] = label
    return labels, stats_of(labels)


def stats_of(labels: np.ndarray) -> np.ndarray:
    """Stats rows (left, top, width, height, area) of each label, as OpenCV gives them for connected parts."""
    rows = [[0, 0, 0, 0, 0]]
    for label in range(1, int(labels.max()) + 1):
        x, y, w, h = cv2.boundingRect((labels == label).astype(np.uint8))
        rows.append([x, y, w, h, int((labels == label).sum())])
    return np.array(rows, np.int32)


@pytest.mark.parametrize(("noisy", "footed"), [(True, False), (False, True), (True, True)])
def test_a_combs_ticks_are_found_down_their_bars(noisy, footed):
    """A bold comb's ticks on a JPEG with a shadow's edge across it (a tuning form, a 3 in its second cell) kept
    a fringe of ringing at their ends: their boxes grew to twice their width, too little of them inked to be
    ticks, and they were read as 1s with the digit not even offered. A tick is now also measured down its
    bar: the rows that are one run of ink, of the bar's width and centre."""
    labels, stats = comb_parts(noisy, footed)
    touching = np.arange(1, 6)
    assert combs.ticks(stats, touching) == []  # measured by their boxes alone, they are no ticks
    assert combs.ticks(stats, touching, labels) == [1, 2, 3, 4, 5]


def test_upright_strokes_on_feet_by_hand_are_no_ticks():
    """A footed bar is a tick only as one of a regular row: 1s written on a rule, each keeping a foot of it, stand
    at uneven heights and spacing, and stay."""
    labels = np.zeros((60, 300), np.int32)
    for label, (x, top, tall) in enumerate([(30, 14, 30), (80, 20, 24), (141, 10, 34), (175, 16, 28)], start=1):
        labels[top : top + tall, x : x + 3] = label  # the bar
        labels[44:48, x - 3 : x + 6] = label  # its foot
    assert combs.ticks(stats_of(labels), np.arange(1, 5), labels) == []
    even = np.zeros_like(labels)
    for label, x in enumerate([30, 90, 150, 210], start=1):
        even[20:44, x : x + 3] = label
        even[44:48, x - 3 : x + 6] = label
    assert combs.ticks(stats_of(even), np.arange(1, 5), even) == [1, 2, 3, 4]
    assert combs.ticks(stats_of(even), np.arange(1, 5)) == []  # measured by its box alone, a footed tick is none
