"""A form scanned whole: its small boxes come to the working copy (MAX_SIDE px) too small to read the digit in
one, and are read again from the image's own pixels (`toolkit.imaging.closer`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.scripts_loader import load_script
from toolkit.imaging import closer, normalise, reading
from toolkit.onnxmodel import OnnxModel
from toolkit.predict import predict_images
from toolkit.predict.options import REFERENCE_MODEL

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
    """The closer look needs a region (`fine`, shares of the image) and an image FINE_FACTOR times finer than the
    working copy; BOXED_FACTOR times when the page found a candidate in a box itself (this 3 it finds in its
    box; this 4 it does not). Boxes large at the working scale are read there."""
    four = form_page(glyph(mnist_test, 4))
    reduced = normalise.to_max_side(four)
    result = normalise.prepare_gray(normalise.bgr_to_gray(reduced))
    assert result.fine is not None and all(0 <= share <= 1 for share in result.fine)
    assert "b" not in result.plan, result.plan

    def crop(page: np.ndarray):
        return lambda x, y, w, h: normalise.bgr_to_gray(page[y : y + h, x : x + w])

    size = (four.shape[1], four.shape[0])
    assert closer.finer(result, (reduced.shape[1], reduced.shape[0]), crop(reduced)) is None  # no finer pixels
    found = closer.finer(result, size, crop(four))
    assert found is not None and "b" in found.plan and found.fine is None
    three = form_page(glyph(mnist_test, 3))
    result = normalise.prepare_gray(normalise.bgr_to_gray(normalise.to_max_side(three)))
    assert "b" in result.plan and closer.finer(result, size, crop(three)) is not None  # 2.28 times finer
    smaller = cv2.resize(three, (1273, 1800), interpolation=cv2.INTER_AREA)  # 1.76 times: the page's own stands
    assert closer.finer(result, (1273, 1800), crop(smaller)) is None
    assert normalise.prepare_array(form_page(glyph(mnist_test, 3), box=110)).fine is None


def test_a_large_scan_read_through_pillow_looks_closer_at_its_own_pixels(mnist_test, tmp_path):
    """A form at 300 dpi (2480 x 3508, over the pixels `prepare_array` takes from Pillow) is reduced by Pillow by
    a whole factor first (to 1,169 px): the closer look cuts its region from the image as opened, not from that
    copy, which is no finer than the working one."""
    from toolkit.imaging import common

    page = cv2.resize(form_page(glyph(mnist_test, 4)), (2480, 3508), interpolation=cv2.INTER_CUBIC)
    assert page.size > normalise.ARRAY_MAX_PIXELS
    path = tmp_path / "form.png"
    Image.fromarray(page).save(path)
    with Image.open(path) as image:
        result = normalise.prepare(image)
    assert "b" in result.plan and result.fine is None, result.plan  # read closer
    assert max(result.boxes[0]) > common.MAX_SIDE  # in the scan's own pixels
    (record,) = predict_images([str(path)])
    assert record["digit"] == 4, record


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


def test_a_form_scanned_as_jpeg_is_decoded_fine_enough_for_the_closer_look(mnist_test, tmp_path):
    """libjpeg decoded the A4 form at 200 dpi at half size (1,170 px), no finer than the working copy: the
    closer look had nothing to read. A JPEG is now decoded reduced only as far as KEEP_SIDE px, both by OpenCV
    and by Pillow."""
    from toolkit.predict import decode

    page = form_page(glyph(mnist_test, 4))
    path = tmp_path / "form.jpg"
    Image.fromarray(page).save(path, quality=90)
    assert decode.decode_fast(path.read_bytes()).shape == page.shape  # 2,339 px: under 2 x KEEP_SIDE
    (from_file,) = predict_images([str(path)])
    assert from_file["digit"] == 4, from_file
    (from_cli_path,) = decode.prepare_path(str(path))
    assert from_cli_path.error is None and from_cli_path.tensor is not None


@pytest.mark.parametrize(("box", "digit", "nth"), [(40, 0, 1), (46, 0, 1), (34, 4, 0)])
def test_a_form_scanned_at_300_dpi_as_jpeg_is_read_closer_from_its_own_pixels(mnist_test, tmp_path, box, digit, nth):
    """An A4 form at 300 dpi saved as JPEG (3,508 px) is decoded by libjpeg at half size, 1.7 times finer than
    the working copy: short of the 2 times the closer look asks where the page offered a candidate in a box, so
    the digit was read from its box's remains, or not at all (a whole form's commonest miss). The closer look
    now decodes the JPEG at its own size, only when it looks, and an image opened on the file reads as the file
    does."""
    from toolkit.predict import decode

    page = cv2.resize(form_page(glyph(mnist_test, digit, nth), box), (2480, 3508), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "form.jpg"
    Image.fromarray(page).save(path, quality=92)
    assert decode.decode_fast(path.read_bytes()).shape == (1754, 1240)  # halved by libjpeg
    from_file, opened = predict_images([str(path), Image.open(path)])
    assert from_file["digit"] == opened["digit"] == digit, (from_file, opened)
    assert from_file["confidence"] == opened["confidence"]  # the image opened on the file: the same pixels
    (item,) = decode.prepare_path(str(path))
    assert item.plan is not None and "b" in item.plan, item.plan


def test_a_large_scan_to_be_turned_is_read_closer_upright(mnist_test, monkeypatch):
    """A scan over ARRAY_MAX_PIXELS whose orientation asks for a turn (as EXIF does) is reduced and turned by
    Pillow; the closer look cuts its region from the whole image turned the same way."""
    from toolkit.imaging import orient

    page = cv2.resize(form_page(glyph(mnist_test, 4)), (2480, 3508), interpolation=cv2.INTER_CUBIC)
    stored = Image.fromarray(page).transpose(Image.Transpose.ROTATE_270)  # as the scanner stored it
    monkeypatch.setattr(orient, "turn", lambda image: Image.Transpose.ROTATE_90)
    result = normalise.prepare(stored)
    assert "b" in result.plan and result.fine is None, result.plan  # read closer, upright
    left, top, width, height = result.boxes[0]
    assert 0 <= left < 2480 and 0 <= top < 3508 and max(width, height) < 100, result.boxes[0]
    scores = OnnxModel(REFERENCE_MODEL).score(reading.tensors(result), with_not_digit=True)
    assert int(scores[0, :10].argmax()) == 4


def test_the_region_cut_never_runs_past_the_image():
    """Shares rounded back to pixels may reach a pixel past the edge, and Pillow pads a crop past it with black:
    a dark band along the region's edge, ink to the segmenter. The crop asked stays inside the image."""
    from toolkit.imaging.common import Segmented

    asked = []

    def crop(x: int, y: int, w: int, h: int) -> np.ndarray:
        asked.append((x, y, w, h))
        return np.ones((h, w), np.float32)  # blank paper: nothing read closer

    fine = (0.9, 0.9, 0.1004, 0.1004)  # 2,701 + 301 px: one past the edge
    page = Segmented(np.zeros((28, 28), np.float32), False, True, False, plan="pick:1w", fine=fine)
    assert closer.finer(page, (3001, 2001), crop) is None
    ((x, y, w, h),) = asked
    assert x + w <= 3001 and y + h <= 2001 and (w, h) == (3001 - x, 2001 - y)


@pytest.mark.parametrize(("index", "digit"), [(12, 9), (69, 0), (104, 2)])
def test_small_boxes_whose_lines_are_not_found_are_read_closer(mnist_test, tmp_path, index, digit):
    """The probe's varied sheets (seed 11) whose boxes come to the working copy too small or too faint for their
    lines to be found (a 300 dpi sheet's 53 px boxes with 4 px rules: 16 px wide, with 1 px rules): no erased
    lines, so no small boxes, and the row of boxes was read as a mark, rejected. The boxes' insides are holes in
    the ink, square (`segment.SQUARE_HOLE`), and the region is read closer."""
    x, y = mnist_test
    rng = np.random.default_rng(np.random.SeedSequence([11, index]))
    k = int(rng.integers(len(x)))
    page, extension, _ = probe.varied_sheet(rng, x[k])
    assert y[k] == digit
    path = tmp_path / f"form.{extension}"
    Image.fromarray(page).save(path, **({"quality": int(rng.integers(75, 96))} if extension == "jpg" else {}))
    (record,) = predict_images([str(path)])
    assert record["digit"] == digit, record


def test_round_holes_are_no_small_boxes():
    """Printed O, B and 0 and a written 0 hold holes as large as a small box's inside, but round (pi / 4 of
    their box, 0.76-0.84 here): no closer look. A printed box of that size is one. (A printed D's hole fills
    0.86 of its box and passes: it costs a closer look, which keeps the page's reading unless a candidate
    stands in a box there.)"""
    page = np.full((760, 1000), PAPER, np.uint8)
    cv2.putText(page, "BOB 000 OOO", (80, 200), cv2.FONT_HERSHEY_SIMPLEX, 3.0, PRINT, 5)
    cv2.ellipse(page, (500, 500), (40, 60), 0, 0, 360, PRINT, 8)
    assert normalise.prepare_gray(page.astype(np.float32) / 255).fine is None
    cv2.rectangle(page, (700, 600), (722, 624), PRINT, 1)
    assert normalise.prepare_gray(page.astype(np.float32) / 255).fine is not None


def test_a_digit_in_a_box_beyond_the_cells_found_is_read_closer(tmp_path):
    """The whole-form tuning renderer's sheet 45 (seed 777): a 9 in the seventh of a row of nine small boxes. The
    cells found on the working copy stopped short of its box, so the closer look's window cut the row before the
    9, its reading (the labels beside the boxes, rejected) replaced the page's, and the sheet said no digit. A
    digit-sized candidate the page found in a box, in the rows of the cells found, is now inside the window."""
    (tmp_path / "forms").mkdir()
    name, truth, traits = load_script("render_whole_forms").render_one(45, 777, str(tmp_path))
    assert "target=boxes9" in traits and truth == "9"
    (record,) = predict_images([str(tmp_path / name)])
    assert record["digit"] == 9 and not record["flags"] and not record["low_confidence"], record
