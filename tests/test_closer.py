"""A form scanned whole: its small boxes come to the working copy (MAX_SIDE px) too small to read the digit in
one, and are read again from the image's own pixels (`toolkit.imaging.closer`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script
from toolkit.imaging import closer, normalise
from toolkit.predict import predict_images

probe = load_script("probe_small_boxes")
PAPER, PRINT = probe.PAPER, probe.PRINT


def form_page(glyph: np.ndarray | None, box: int = 40, degrees: float = 0.0) -> np.ndarray:
    """An A4 sheet at 200 dpi: a title, a label and six `box` px boxes, `glyph` in the third (`probe.sheet`)."""
    return probe.sheet(glyph, box, degrees)


def glyph(mnist_test, digit: int, nth: int = 0) -> np.ndarray:
    x, y = mnist_test
    return x[np.flatnonzero(y == digit)[nth]]


@pytest.mark.parametrize(("digit", "degrees"), [(3, 0.0), (4, 0.0), (8, 0.0), (5, 2.5)])
def test_a_digit_in_a_small_box_of_a_whole_form_is_read_from_the_images_own_pixels(mnist_test, digit, degrees):
    """Six 40 px boxes on an A4 sheet at 200 dpi come to the working 1,024 px 17.5 px wide, the digit in one
    to 12 px: erasing the boxes took its strokes, and the page read the printed words, rejected (no digit, 0 of
    10 digits). Read again from the sheet's own pixels, the digit is found in its box, and its box is given in
    the sheet's pixels."""
    page = form_page(glyph(mnist_test, digit), degrees=degrees)
    (record,) = predict_images([page])
    assert record["digit"] == digit, record
    assert "not-a-digit" not in (record["flags"] or ""), record
    result = normalise.prepare_array(page)
    entries = result.plan.split(":", 1)[1].split(",")
    boxed = [box for box, entry in zip(result.boxes, entries, strict=True) if "b" in entry]
    assert boxed, result.plan  # the candidate in a box, and its box in the sheet's pixels: in box 2
    left, top, width, height = boxed[0]
    assert 300 + 80 - 15 <= left <= 300 + 120 and 900 - 15 <= top <= 945 and max(width, height) <= 40, boxed


def test_the_file_and_the_array_read_alike(mnist_test, tmp_path):
    """A PNG file is decoded at full size and reduced by the same rule as an array: the closer look sees the same
    pixels either way."""
    page = form_page(glyph(mnist_test, 6))
    path = tmp_path / "form.png"
    Image.fromarray(page).save(path)
    from_file, from_array = predict_images([str(path), page])
    assert from_file["digit"] == from_array["digit"] == 6
    assert from_file["confidence"] == pytest.approx(from_array["confidence"], abs=1e-6)


def test_a_digit_outside_the_small_boxes_is_still_the_pages(mnist_test):
    """With the boxes empty and a digit written large elsewhere on the sheet, the closer look finds nothing in
    a box, and the page's own reading stands."""
    page = form_page(None)
    stamp = cv2.resize(glyph(mnist_test, 7), (160, 160), interpolation=cv2.INTER_CUBIC)
    region = page[1500:1660, 700:860]
    np.minimum(region, (255 - stamp.astype(np.int32) * (255 - probe.PEN) // 255).astype(np.uint8), out=region)
    (record,) = predict_images([page])
    assert record["digit"] == 7, record


def test_an_empty_form_is_read_blank(mnist_test):
    (record,) = predict_images([form_page(None)])
    assert record["digit"] is None, record


def test_a_closer_look_only_where_it_is_needed_and_finer_pixels_exist(mnist_test):
    """The closer look needs a region (`fine`), pixels FINE_FACTOR times finer than the working copy, and a page
    that found no candidate in a box itself (this 3 it finds in its box; this 4 it does not). A page given at
    1,024 px has no finer pixels, and boxes large at the working scale are read there."""
    four = form_page(glyph(mnist_test, 4))
    reduced = normalise.to_max_side(four)
    factor = four.shape[1] / reduced.shape[1]
    result = normalise.prepare_gray(normalise.bgr_to_gray(reduced))
    assert result.fine is not None and "b" not in result.plan, result.plan
    assert closer.finer(result, reduced, 1.0, normalise.bgr_to_gray) is None  # no finer pixels
    found = closer.finer(result, four, factor, normalise.bgr_to_gray)
    assert found is not None and "b" in found.plan and found.fine is None
    three = form_page(glyph(mnist_test, 3))
    result = normalise.prepare_gray(normalise.bgr_to_gray(normalise.to_max_side(three)))
    assert "b" in result.plan and closer.finer(result, three, factor, normalise.bgr_to_gray) is None
    assert normalise.prepare_array(form_page(glyph(mnist_test, 3), box=110)).fine is None


def test_the_sliver_between_two_boxes_a_rule_crosses_is_no_small_box():
    """Ruled lines running across a row of 55 px boxes 6 px apart close the gaps between them into holes 6 x 19
    px: no form box (a blank page's scribble in a box was read closer, as a sure 4)."""
    page = np.full((700, 1000), PAPER, np.uint8)
    for j in range(5):
        cv2.rectangle(page, (200 + 63 * j, 400), (253 + 63 * j, 470), PRINT, 1)
    for y in (410, 431, 452):
        cv2.line(page, (100, y), (900, y), PRINT, 1)
    assert normalise.prepare_gray(page.astype(np.float32) / 255).fine is None


def test_the_probe_reads_every_sheet_it_writes():
    results = probe.probe(count=1, sizes=[80], seed=0)
    assert set(results) == {(80, digit) for digit in range(10)}
    assert all(total == 1 for _, total in results.values())
    assert sum(right for right, _ in results.values()) >= 9  # boxes this large are read at the working scale
