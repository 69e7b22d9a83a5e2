"""A digit written in a comb's cell (`|_|_|_|`) stands between two of its ticks: in a form's field, as a digit in
a box does (`combs.between_ticks`), so a whole form's closer look keeps it and a label does not outweigh it."""

from __future__ import annotations

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
