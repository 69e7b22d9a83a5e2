"""A small image's frame (`frame.framed`, the fast path's look for a form's box around its digit): a box filled
with a tint is a frame, and the image goes to the segmenter, which erases the box; a tinted patch with no darker
outline, or a label over a digit with no box, is none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.test_forms import PAPER, RULE, digit_image, read, stamp
from toolkit.imaging import frame, rough


def field(mnist_test, digit: int, *, tint: int = 0, label: str = "", box: bool = True) -> np.ndarray:
    """A crop of one form field: `label` printed above a 70 x 82 px box (3 px rules), the box filled `tint` grey
    levels darker than the paper, a 52 px `digit` in it."""
    sheet = np.full((170, 220), PAPER, np.uint8)
    if label:
        cv2.putText(sheet, label, (40, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, RULE, 2, cv2.LINE_AA)
    if tint:
        sheet[56:138, 42:112] = PAPER - tint
    if box:
        cv2.rectangle(sheet, (42, 56), (112, 138), RULE, 3)
    stamp(sheet, digit_image(mnist_test, digit), 70, 51, 52)
    return cv2.GaussianBlur(sheet, (3, 3), 0.8)


def is_framed(sheet: np.ndarray) -> bool:
    ink = 1.0 - sheet.astype(np.float32) / 255
    return frame.framed(ink, rough.rough_box(ink).near, 1.0 - PAPER / 255)


@pytest.mark.parametrize(("digit", "tint"), [(3, 30), (9, 45), (0, 30)])
def test_a_box_filled_with_a_tint_frames_its_digit(mnist_test, scorer, digit, tint):
    """The tint inside the box stood above the paper by more than the frame's contrast, so the box was inked all
    through, as a shadow's band is, and no frame: the model read the label, the box and the digit as one (a 3
    read 0, rejected as no digit). The frame is now measured against the tint."""
    sheet = field(mnist_test, digit, tint=tint, label="Day")
    assert is_framed(sheet)
    read_digit, result = read(sheet, scorer)
    assert read_digit == digit and result.plan is not None, (read_digit, result.plan, result.flags)


def test_a_tinted_patch_with_no_darker_outline_is_no_frame(mnist_test):
    """A patch of tint (a sticker, a shadow's square) under a digit is inked along its sides as a box is; measured
    against its own tint it has no frame."""
    assert not is_framed(field(mnist_test, 3, tint=40, box=False))


@pytest.mark.parametrize("digit", [0, 8])
def test_a_digit_under_a_wide_label_with_no_box_is_no_frame(mnist_test, digit):
    """A label over a digit with no box is no frame, however the label's ink widens the digit's rough box."""
    assert not is_framed(field(mnist_test, digit, label="Monthly", box=False))
