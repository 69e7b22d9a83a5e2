"""A sheet's skew (`lines.skew`), measured on form boxes the segmenter otherwise missed: boxes too small to be
looked at, two boxes side by side, and a row of boxes whose rule has a digit's bar or loop beside it."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script
from toolkit.imaging import askew, light

PAPER, RULE = 235, 40


def rotated(sheet: np.ndarray, degrees: float) -> np.ndarray:
    h, w = sheet.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(sheet, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)


def skew_of(sheet: np.ndarray) -> float:
    return askew.skew(light.working_ink(sheet.astype(np.float32) / 255)[0])


@pytest.mark.parametrize("degrees", [3.0, -4.5, 1.5])
def test_a_row_of_separate_small_boxes_askew_is_measured(degrees):
    """Five 36 px boxes 10 px apart, each a part of its own: every part was under the 48 px the skew looked at,
    so the sheet was read unturned (renderer D's forms of 30-40 px boxes askew, 5 of 200). A part down to
    `boxes.BOX_MIN` counts when it is a box's outline."""
    sheet = np.full((120, 320), PAPER, np.uint8)
    for k in range(5):
        cv2.rectangle(sheet, (30 + 46 * k, 40), (66 + 46 * k, 76), RULE, 3)
    cv2.line(sheet, (100, 50), (104, 68), RULE, 2)  # a short stroke in one box: a 1, no rule
    assert abs(skew_of(rotated(sheet, degrees)) + degrees) < 0.5


def test_a_small_stroke_alone_gives_no_skew():
    """A part under 48 px counts only as a box's outline: a short straight stroke (a 1 leaning) does not."""
    sheet = np.full((120, 320), PAPER, np.uint8)
    for k in range(4):
        cv2.line(sheet, (40 + 60 * k, 40), (46 + 60 * k, 76), RULE, 3)
    assert skew_of(sheet) == 0.0


def test_a_small_square_box_with_a_zero_touching_it_stays_square():
    """A 0 bulging out of a small box tilts the rectangle round both: a small part counts when it is the box
    alone, not a box with a mark touching it (it turned an unrotated form by 2.4 degrees)."""
    sheet = np.full((120, 120), PAPER, np.uint8)
    cv2.rectangle(sheet, (30, 30), (70, 72), RULE, 2)
    cv2.ellipse(sheet, (66, 48), (10, 14), 20, 0, 360, RULE, 3)
    assert skew_of(sheet) == 0.0


@pytest.mark.parametrize("degrees", [0.0, 2.0])
def test_two_bold_boxes_are_measured_along_their_rules(degrees):
    """Two boxes with 5 px rules and an 8 standing out of one: the strongest straight line through a bold rule
    may cross it aslant (as many pixels lie along either), which turned a square form by 1.2 degrees; the
    rule's whole width is fitted round it."""
    sheet = np.full((220, 360), PAPER, np.uint8)
    cv2.rectangle(sheet, (60, 60), (180, 150), RULE, 5)
    cv2.rectangle(sheet, (180, 60), (300, 150), RULE, 5)
    cv2.ellipse(sheet, (110, 125), (24, 30), 0, 0, 360, RULE, 6)  # the 8's lower loop, over the bottom rule
    cv2.ellipse(sheet, (110, 80), (18, 22), 0, 0, 360, RULE, 6)
    measured = skew_of(rotated(sheet, degrees))
    assert (measured == 0.0) if degrees == 0.0 else abs(measured + degrees) < 0.5


@pytest.mark.parametrize("index", [4, 14, 87, 141, 186])
def test_renderer_d_rows_with_a_digit_standing_out_are_measured(tmp_path, index):
    """Renderer D's forms (seed 1357) of two or three boxes askew with a digit over a rule: the row's rules
    were fitted with the digit's bar or loop pulling one of them (a 7's bar 35 px inside the top rule turned
    the fit from 4.6 to 11 degrees), and a row of two or three boxes was too stout to count. Each rule is now the
    strongest straight line on its side; a row found that way may be as short as two boxes."""
    (tmp_path / "forms").mkdir()
    name, _, _, traits = load_script("render_scans_d").render_one(("forms", index, 1357, str(tmp_path)))
    turned = float(re.search(r"rotated=([-+][\d.]+)", traits).group(1))
    sheet = np.asarray(Image.open(tmp_path / name).convert("L"))
    assert abs(skew_of(sheet) + turned) < 0.5, traits


def test_a_seven_standing_out_of_a_large_row_askew_is_read(tmp_path):
    """Renderer D's form 87 (seed 1357): three 120 px boxes 4.6 degrees askew, a 7 over the bottom rule. The
    skew went unmeasured, the row stayed askew and was read whole as one mark: no digit."""
    from toolkit.predict import predict_images

    (tmp_path / "forms").mkdir()
    name, _, truth, _ = load_script("render_scans_d").render_one(("forms", 87, 1357, str(tmp_path)))
    (record,) = predict_images([str(tmp_path / name)])
    assert (truth, record["digit"]) == ("7", 7), record


@pytest.mark.parametrize(("digits", "nth"), [((2, 2), 1), ((5, 2), 1), ((5, 5), 1)])
def test_touching_digits_with_bars_in_line_give_no_skew(mnist_test, digits, nth):
    """A number's digits overlapping, their top and bottom bars in line, look like two rules from end to end:
    taken for a row of two boxes, they turned square strips by 1-2.3 degrees (A's numbers: 6 of 400 read worse).
    A row found by its rules has rules along 90% of its length (`askew.RULE_COVER`) and is closed at both ends."""
    images, labels = mnist_test
    sheet = np.full((140, 260), PAPER, np.uint8)
    for k, digit in enumerate(digits):
        glyph = cv2.resize(images[np.flatnonzero(labels == digit)[nth]], (70, 70), interpolation=cv2.INTER_CUBIC)
        region = sheet[35:105, 30 + 40 * k : 100 + 40 * k]
        np.minimum(region, (255 - glyph.astype(np.int32) * 235 // 255).astype(np.uint8), out=region)
    assert skew_of(sheet) == 0.0
