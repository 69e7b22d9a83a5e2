"""Form boxes and ruled lines: a stroke that touches or crosses a line keeps its pixels where it crosses
(`lines.crossings`), and lines and boxes drawn askew on a rotated sheet are found as lines, not digits
(`lines.ruled_parts`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from toolkit.imaging import layout, light, lines, normalise, reading

PAPER, RULE = 235, 40


def digit_image(mnist_test, digit: int, nth: int = 0) -> np.ndarray:
    x, y = mnist_test
    return x[np.flatnonzero(y == digit)[nth]]


def stamp(sheet: np.ndarray, glyph: np.ndarray, top: int, left: int, size: int) -> None:
    """Write an MNIST `glyph` (white on black) dark onto `sheet`, `size` px square at (top, left)."""
    ink = cv2.resize(glyph, (size, size), interpolation=cv2.INTER_CUBIC)
    region = sheet[top : top + size, left : left + size]
    np.minimum(region, (255 - ink.astype(np.int32) * (255 - 20) // 255).astype(np.uint8), out=region)


def rotated(sheet: np.ndarray, degrees: float) -> np.ndarray:
    h, w = sheet.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(sheet, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)


def read(sheet: np.ndarray, scorer) -> tuple[int | None, normalise.Normalized]:
    result = normalise.prepare_array(sheet)
    if result.blank:
        return None, result
    scored = scorer.score(reading.tensors(result), with_not_digit=True)
    chosen = reading.decide(result, scored)
    return (int(scored[chosen[0], :10].argmax()) if chosen else None), result


def boxed(mnist_test, digit: int, shift: int, thickness: int = 2) -> np.ndarray:
    """A form field cropped around its 90 px box (`thickness` px) with a 64 px `digit` in it, moved `shift` px
    right of the box's centre (positive: over the right edge)."""
    sheet = np.full((110, 125), PAPER, np.uint8)
    cv2.rectangle(sheet, (10, 10), (100, 100), RULE, thickness)
    stamp(sheet, digit_image(mnist_test, digit), 23, 23 + shift, 64)
    return sheet


@pytest.mark.parametrize("digit", [4, 2, 7])
def test_a_digit_crossing_the_box_edge_keeps_its_stroke(mnist_test, scorer, digit):
    """The issue: a stroke lying on a box edge was erased with it (4 -> 1, 2 -> 7 at 0.9999)."""
    sheet = boxed(mnist_test, digit, shift=30)  # its right part over and beyond the right edge
    found = layout.analyse(light.working_ink(sheet.astype(np.float32) / 255)[0])
    assert found.lines is not None  # the box was found and erased ...
    read_digit, result = read(sheet, scorer)
    assert read_digit == digit, result.flags  # ... but not where the digit crosses it
    assert "touches-line" in result.flags


def test_crossings_keep_line_pixels_only_where_a_stroke_meets_the_line():
    mask = np.zeros((60, 100), np.uint8)
    mask[30:33, :] = 1  # a 3 px horizontal rule
    mask[10:50, 40:45] = 1  # a stroke crossing it
    mask[34, 60:90] = 1  # a pixel-thin fringe under the rule: no stroke
    horizontal = np.zeros_like(mask)
    horizontal[29:34, :] = 1  # the rule as found, grown by a pixel
    keep = lines.crossings(mask, horizontal, np.zeros_like(mask))
    # Within the stroke's columns (its corners may be opened away with the fringe), no others.
    assert set(range(41, 44)) <= set(np.flatnonzero(keep.any(axis=0))) <= set(range(40, 45))
    assert keep[29:34, 41:44].all()


@pytest.mark.parametrize("degrees", [-5.0, -2.0, 3.0, 5.0])
def test_ruled_paper_askew_is_blank(degrees):
    """The issue: ruled lines 41-46 px apart were read as 2, and rotated empty boxes as 0 at 0.99."""
    sheet = np.full((1200, 900), PAPER, np.uint8)
    for y in range(150, 1150, 44):
        cv2.line(sheet, (0, y), (899, y), 150, 2)
    result = normalise.prepare_array(rotated(sheet, degrees))
    assert result.blank and "blank-page" in result.flags


@pytest.mark.parametrize("degrees", [-4.0, 4.0])
def test_an_empty_box_askew_is_no_digit(degrees):
    sheet = np.full((1000, 800), PAPER, np.uint8)
    cv2.rectangle(sheet, (300, 400), (420, 500), RULE, 3)
    result = normalise.prepare_array(rotated(sheet, degrees))
    assert result.blank and "lines-only" in result.flags


@pytest.mark.parametrize("degrees", [-5.0, 5.0])
def test_a_digit_in_a_box_askew_is_read_without_the_box(mnist_test, scorer, degrees):
    sheet = np.full((1000, 800), PAPER, np.uint8)
    cv2.rectangle(sheet, (300, 400), (440, 540), RULE, 3)
    stamp(sheet, digit_image(mnist_test, 3), 425, 325, 90)
    read_digit, result = read(rotated(sheet, degrees), scorer)
    assert read_digit == 3, result.flags
    (_, _, w, h) = result.boxes[0]
    assert max(w, h) < 110  # the digit's box (about 70 px of ink), not the form's (140 px)


def test_a_zero_is_not_a_box(mnist_test, scorer):
    sheet = np.full((600, 500), PAPER, np.uint8)
    stamp(sheet, digit_image(mnist_test, 0), 200, 200, 120)
    read_digit, result = read(sheet, scorer)
    assert read_digit == 0 and "lines-only" not in result.flags
