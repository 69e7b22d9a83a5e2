"""A sheet photographed on a desk in perspective is found and read flattened (`toolkit.imaging.sheet`); a scan,
a page on a brighter lid and a crop of paper are read as they are."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.scripts_loader import load_script
from toolkit.imaging import normalise, reading, sheet
from toolkit.predict import predict_images

PAPER, PRINT, DESK = 235, 60, 70


def form(mnist_test, digit: int) -> tuple[np.ndarray, tuple[int, int]]:
    """An A5-like form (700 x 1000 px): a title, a table of 4 x 6 cells and a row of six 60 px boxes with
    `digit` written in the third; and where that box's centre is."""
    page = np.full((1000, 700), PAPER, np.uint8)
    cv2.putText(page, "Delivery note", (60, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.4, PRINT, 3)
    for j in range(7):
        cv2.line(page, (60 + 96 * j, 560), (60 + 96 * j, 880), PRINT, 2)
    for i in range(5):
        cv2.line(page, (60, 560 + 80 * i), (636, 560 + 80 * i), PRINT, 2)
    for j in range(6):
        cv2.rectangle(page, (80 + 70 * j, 300), (140 + 70 * j, 370), PRINT, 2)
    x, y = mnist_test
    glyph = cv2.resize(x[np.flatnonzero(y == digit)[3]], (44, 44), interpolation=cv2.INTER_CUBIC)
    region = page[313:357, 228:272]
    np.minimum(region, (255 - glyph.astype(np.int32) * (255 - 25) // 255).astype(np.uint8), out=region)
    return page, (250, 335)


def photographed(page: np.ndarray, corners: np.ndarray, size: tuple[int, int] = (1200, 1500)) -> np.ndarray:
    """`page` seen in perspective on a dark desk: its corners at `corners` (tl, tr, br, bl) of a photo `size`."""
    h, w = page.shape
    warp = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    photo = cv2.warpPerspective(page, warp, size, borderValue=DESK)
    noise = np.random.default_rng(0).normal(0, 3, photo.shape)
    return np.clip(cv2.GaussianBlur(photo.astype(np.float32), (0, 0), 0.8) + noise, 0, 255).astype(np.uint8)


TILTED = np.float32([[260, 150], [960, 230], [1010, 1330], [180, 1260]])


def test_the_sheets_corners_are_found_on_a_desk(mnist_test):
    page, _ = form(mnist_test, 4)
    found = sheet.find(photographed(page, TILTED).astype(np.float32) / 255)
    assert found is not None
    assert np.abs(found - TILTED).max() < 12, found  # found on a copy 512 px long: 3 of its pixels


def test_a_sheet_turned_far_on_the_desk_keeps_its_four_corners_in_order():
    """Corners are taken in the outline's own order, clockwise from the one nearest the top left (sorting them by
    the sums and differences of their coordinates can pick one corner twice when two tie, near 45 degrees)."""
    desk = np.full((1000, 1000), DESK, np.uint8)
    cv2.fillConvexPoly(desk, cv2.boxPoints(((500, 500), (500, 650), 40)).astype(np.int32), PAPER)
    found = sheet.find(desk.astype(np.float32) / 255)
    assert found is not None and len({tuple(np.round(c)) for c in found}) == 4
    assert cv2.contourArea(found, oriented=True) > 0.25 * 1000 * 1000


@pytest.mark.parametrize("kind", ["scan", "lid", "crop"])
def test_a_scan_a_page_on_a_lid_and_a_crop_are_no_photographed_sheet(mnist_test, kind):
    """A scan's paper fills the image; a lid brighter than the paper is no desk; a crop of the paper is all
    paper. None of them is flattened."""
    page, _ = form(mnist_test, 4)
    if kind == "lid":
        lid = np.full((1300, 1000), 252, np.uint8)
        lid[150:1150, 150:850] = page
        page = lid
    elif kind == "crop":
        page = page[250:800, 40:660]
    assert sheet.find(page.astype(np.float32) / 255) is None


@pytest.mark.parametrize("digit", [4, 6, 2])
def test_a_form_photographed_in_perspective_is_read_flattened(mnist_test, scorer, digit):
    """The table's sides, leaning differently across the photo, were pieces no line search erased, read as sure
    1s. Flattened, the table and the boxes are erased, the digit is read, and its box is given in the photo's
    own pixels, around where the digit was photographed."""
    page, (cx, cy) = form(mnist_test, digit)
    photo = photographed(page, TILTED)
    (record,) = predict_images([photo])
    assert record["digit"] == digit, record
    h, w = page.shape
    warp = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), TILTED)
    seen = cv2.perspectiveTransform(np.float32([[[cx, cy]]]), warp)[0, 0]
    result = normalise.prepare_array(photo)
    (chosen,) = reading.decide(result, scorer.score(reading.tensors(result), with_not_digit=True))
    left, top, width, height = result.boxes[chosen]
    assert left <= seen[0] <= left + width and top <= seen[1] <= top + height, (result.boxes[chosen], seen)
    assert width < 80 and height < 80  # the digit's box, not the sheet's


@pytest.mark.parametrize("index", [13, 80, 134])
def test_whole_forms_photographed_are_read(tmp_path, index):
    """The whole-form tuning renderer's phone photos (seed 777): each read as no digit, or as a table's side
    read as 1, before the sheet was flattened."""
    (tmp_path / "forms").mkdir()
    name, truth, traits = load_script("render_whole_forms").render_one(index, 777, str(tmp_path))
    assert "photo" in traits
    (record,) = predict_images([str(tmp_path / name)])
    assert record["digit"] == int(truth), (record, traits)


def test_a_box_is_mapped_alike_by_an_affine_and_a_perspective_transform():
    """`common.mapped_box`, the one mapping of boxes back for the skew's turn (2x3) and the sheet's flattening
    (3x3): the identity keeps a box; a turn gives the box round the turned corners, kept inside the image."""
    from toolkit.imaging.common import mapped_box

    box, shape = (100, 50, 40, 60), (400, 300)
    assert mapped_box(box, np.eye(3), shape) == box
    turn = cv2.getRotationMatrix2D((150, 200), 10.0, 1.0)
    as_perspective = np.vstack([turn, [0, 0, 1]])
    assert mapped_box(box, turn, shape) == mapped_box(box, as_perspective, shape)
    x, y, w, h = mapped_box(box, turn, shape)
    assert w > 40 and h > 60  # the box round a turned box is larger
    assert mapped_box((280, 380, 50, 50), np.eye(3), shape) == (280, 380, 20, 20)  # clipped to the image
