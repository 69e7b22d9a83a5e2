"""A digit written in a comb's cell (`|_|_|_|`) stands between two of its ticks: in a form's field, as a digit in
a box does (`combs.between_ticks`), so a whole form's closer look keeps it and a label does not outweigh it; and
a comb's ticks whose boxes a fringe of JPEG ringing or a foot of the rule widens are found and erased
(`combs.find`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.scripts_loader import load_script
from tests.test_forms import PAPER, RULE, digit_image, read, stamp
from toolkit.imaging import combs
from toolkit.predict import predict_images


def ticks(stats, touching, labels=None):
    """The labels of the combs' ticks `combs.find` finds."""
    return combs.labels_of(combs.find(stats, touching, labels))


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
    assert ticks(stats, touching) == []  # measured by their boxes alone, they are no ticks
    assert ticks(stats, touching, labels) == [1, 2, 3, 4, 5]


def test_upright_strokes_on_feet_by_hand_are_no_ticks():
    """A footed bar is a tick only as one of a regular row: 1s written on a rule, each keeping a foot of it, stand
    at uneven heights and spacing, and stay."""
    labels = np.zeros((60, 300), np.int32)
    for label, (x, top, tall) in enumerate([(30, 14, 30), (80, 20, 24), (141, 10, 34), (175, 16, 28)], start=1):
        labels[top : top + tall, x : x + 3] = label  # the bar
        labels[44:48, x - 3 : x + 6] = label  # its foot
    assert ticks(stats_of(labels), np.arange(1, 5), labels) == []
    even = np.zeros_like(labels)
    for label, x in enumerate([30, 90, 150, 210], start=1):
        even[20:44, x : x + 3] = label
        even[44:48, x - 3 : x + 6] = label
    assert ticks(stats_of(even), np.arange(1, 5), even) == [1, 2, 3, 4]
    assert ticks(stats_of(even), np.arange(1, 5)) == []  # measured by its box alone, a footed tick is none


def comb_sheet(glyph: np.ndarray, size: int = 34, sits: float = 0.95) -> np.ndarray:
    """A comb of five ticks 55 px apart (10 px tall on a 2 px rule) with `glyph` (MNIST, white on black) written
    `size` px tall over its third tick, the rule `sits` of the way down the digit, softened as a scan is."""
    sheet = np.full((90, 260), PAPER, np.uint8)
    rule = 20 + int(sits * size)
    cv2.line(sheet, (20, rule), (240, rule), RULE, 2)
    for k in range(5):
        cv2.line(sheet, (20 + 55 * k, rule - 10), (20 + 55 * k, rule), RULE, 2)
    stamp(sheet, glyph, 20, 100, size)
    return cv2.GaussianBlur(sheet, (3, 3), 0.8)


@pytest.mark.parametrize(("digit", "nth"), [(0, 3), (0, 6), (0, 9), (6, 10), (2, 3)])
def test_a_digit_written_over_a_combs_tick_keeps_no_stub_of_it(mnist_test, scorer, digit, nth):
    """A digit written across one of a comb's ticks is joined to it, so the tick was never a part of its own:
    its stub stayed as a stroke under the digit, and these read 9, 9, 9, 9 and 4 (of 180 test 0s written so,
    29 were misread). Where the comb's other ticks say a tick stands, its rows no wider than a tick are now
    erased with the comb."""
    got, result = read(comb_sheet(digit_image(mnist_test, digit, nth)), scorer)
    assert got == digit, result.plan


def merged_comb(beyond: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Five ticks 5 px wide and 24 px tall standing on row 44, 110 px apart, as `comb_parts` draws them, with a
    ring of 12 px radius (a 0) over the third one (`beyond`: over the fifth), joined to it as one part: the
    other ticks are labels 1-4, the ring and its tick 5."""
    labels = np.zeros((60, 520), np.int32)
    hidden = 4 if beyond else 2
    for k in range(5):
        labels[20:44, 20 + 110 * k : 25 + 110 * k] = 5 if k == hidden else k + 1 - (k > hidden)
    ring = np.zeros((60, 520), np.uint8)
    cv2.circle(ring, (18 + 110 * hidden, 16), 12, 1, 3)
    labels[ring.astype(bool)] = 5
    return labels, stats_of(labels)


def test_a_tick_under_a_digit_is_erased_where_it_is_no_wider_than_a_tick():
    labels, stats = merged_comb()
    touching = np.array([1, 2, 3, 4, 5])
    teeth = combs.find(stats, touching, labels)
    assert ticks(stats, touching, labels) == [1, 2, 3, 4]  # the ring and its tick are no tick
    rule = np.zeros_like(labels, np.uint8)
    rule[44:46, 20:465] = 1
    hidden = combs.hidden(labels, teeth, np.array([5]), rule)
    assert hidden is not None
    tick = np.zeros_like(hidden)
    tick[20:44, 240:245] = 1
    assert (hidden <= tick).all()  # the tick's pixels and no others
    assert hidden[31:44, 240:245].all()  # all of it under the ring
    assert not hidden[23:31].any()  # where the ring's stroke crosses it, kept (as the ring's)


def test_no_tick_is_erased_where_the_comb_does_not_go():
    """Beyond a comb's last tick found, a tick stands under a digit only where the comb's rule leads to it: a
    digit written after the comb's end, one spacing on, keeps its strokes."""
    labels, stats = merged_comb(beyond=True)
    teeth = combs.find(stats, np.array([1, 2, 3, 4, 5]), labels)
    rule = np.zeros_like(labels, np.uint8)
    assert combs.hidden(labels, teeth, np.array([5]), rule) is None  # no rule past the fourth tick
    rule[44:46, 20:465] = 1
    assert combs.hidden(labels, teeth, np.array([5]), rule) is not None
    assert combs.hidden(labels, teeth, np.array([], np.int64), rule) is None  # the ring never touched the rule


def test_a_combs_ticks_erased_as_lines_are_found_among_the_lines_and_a_row_of_boxes_sides_are_not():
    """Read closer, a whole form's comb has ticks longer than its labels are tall: they are erased with the rule
    as lines, none is left standing to be found, and a digit written in a cell stood in no box or comb cell (the
    form read no digit). The erased lines' upright pieces that meet a rule at one end only, standing as a comb's
    ticks do, are its ticks; a box's sides meet rules at both ends and are none."""
    lines = np.zeros((200, 320), np.uint8)
    lines[60:64, 40:300] = 1  # a comb's rule, its six ticks 30 px tall standing on it, 50 px apart
    for x in range(40, 300, 50):
        lines[30:64, x : x + 4] = 1
    lines[110:114, 40:300] = 1  # a row of boxes below it: two rules joined by sides
    lines[150:154, 40:300] = 1
    for x in range(40, 300, 50):
        lines[110:154, x : x + 4] = 1
    found = combs.erased_ticks(lines)
    assert [(x, y, h) for x, y, _, h in found] == [(x, 30, 30) for x in range(40, 300, 50)], found
    assert combs.between_ticks((106, 28, 22, 34), found)  # a digit on the comb, in its second cell
    assert not combs.between_ticks((106, 115, 22, 34), found)  # in the row of boxes: those are no ticks
    assert combs.erased_ticks(lines[100:, :]) == ()  # the boxes alone
    uneven = np.zeros_like(lines)
    uneven[60:64, 40:300] = 1
    for x, top in [(40, 30), (75, 40), (150, 25), (185, 45), (280, 35)]:  # bars at hand-drawn heights and places
        uneven[top:64, x : x + 4] = 1
    assert combs.erased_ticks(uneven) == ()


@pytest.mark.parametrize("index", [2, 90])
def test_a_digit_on_a_whole_forms_comb_whose_ticks_were_erased_as_lines_is_read(tmp_path, index):
    """The whole-form tuning renderer's sheets (seed 777) 2 and 90: a 6 read as 7 and a 1 read as 8, both
    flagged, because their combs' ticks were erased as lines and the digit stood in no cell."""
    (tmp_path / "forms").mkdir()
    name, truth, traits = load_script("render_whole_forms").render_one(index, 777, str(tmp_path))
    assert "target=comb" in traits
    (record,) = predict_images([str(tmp_path / name)])
    assert record["digit"] == int(truth), (record, traits)
