"""The fast path's look at a small image's digit for a form's box around it or a ruled line beside it (`lined`),
which the segmenter erases and the fast path would read with the digit: a frame (`framed`, tinted too) or a
long straight run (`ruled`). It runs on most small scans, so it is cheap first.
"""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.common import LINE_MIN, hollow, inked_round
from toolkit.imaging.rough import LONG, TILT, Rough

FRAME_BAND, FRAME_CONTRAST, FRAME_ROW = 0.08, 0.1, 0.6  # a small image's frame: see `framed`
FRAME_EDGE = 0.25  # ... and its cheap first look: see `framed`


def lined(ink: np.ndarray, rough: Rough, level: float) -> bool:
    """Whether a small image's digit (where its ink is, roughly: `rough`; `level`: the paper of `ink`) is in a
    box or beside a ruled line, which the segmenter erases and the fast path would read with it: `framed`, or
    `ruled` when the rough look saw a long faint mark (most scans have none, and pay nothing for it)."""
    return rough.boxed or framed(ink, rough.near, level) or (rough.long_mark and ruled(ink, rough.near, level))


def framed(ink: np.ndarray, near: tuple[int, int, int, int], level: float) -> bool:
    """Whether the ink of a small image inside `near` (top, bottom, left, right; `level`: its paper) is framed:
    two rows and two columns of ink, LINE_MIN or more apart, each across FRAME_ROW of the ink, and the
    rectangle they make inked along FRAMED of each side and under FRAME_HOLLOW inside (a box around the
    digit, a little askew; specks outside it do not matter). No digit is: a 7's bar is one such row, and a 0
    or an 8 touches its box over arcs; nor is a shadow's band, inked all through. A box filled with a tint is
    measured again against its tint (`_tint`). Row coverage is counted on every second row and a few dozen
    columns: the fast path pays microseconds."""
    top, bottom, left, right = near
    height, width = bottom - top, right - left
    if height <= 0 or width <= 0:
        return False
    across = (top + 3 * height // 8, top + 5 * height // 8)  # rows across the frame's middle
    middle = (ink[across[0], left:right], ink[across[1], left:right])
    found = _framed(ink, near, middle, np.float32(level + FRAME_CONTRAST))
    if found is not None:
        return found
    # Inked all through, as a shadow's band is: a box filled with a tint, measured again against its tint (on a
    # sample of its middle quarter).
    tint = _tint(ink[across[0] : across[1] + 1 : 2, left:right:2], level)
    return tint is not None and _framed(ink, near, middle, np.float32(tint + FRAME_CONTRAST)) is True


def _framed(
    ink: np.ndarray, near: tuple[int, int, int, int], middle: tuple[np.ndarray, ...], threshold: np.float32
) -> bool | None:
    """`framed`, with ink standing above `threshold` (`middle`: the rows 3/8 and 5/8 down `near`); None for a
    frame inked all through (a box filled with a tint, or a shadow's band)."""
    top, bottom, left, right = near
    height, width = bottom - top, right - left
    # First, cheaply: a frame has ink near both ends of the rows 3/8 and 5/8 down its ink (most digits have not:
    # a 1, a 7, a 4 stand in the middle); rows a quarter in ran through a label printed just above the box. Near:
    # within FRAME_EDGE of the ink's size, as `near` is the rough look's box, grown by a cell of its reduced copy,
    # and a box askew stands further in.
    edge = max(4, int(FRAME_EDGE * min(height, width)))
    if not all(row[:edge].max() > threshold and row[-edge:].max() > threshold for row in middle):
        return False  # (slices of a row: a few us; most scans stop here)
    step = max(1, width // 64)
    sample = ink[top:bottom:2, left:right:step] > threshold
    rows = top + 2 * np.flatnonzero(np.count_nonzero(sample, axis=1) >= FRAME_ROW * sample.shape[1])
    if len(rows) < 2 or rows[-1] - rows[0] < 2 * LINE_MIN:
        return False
    top, bottom = int(rows[0]), int(rows[-1]) + 2
    step = max(1, (bottom - top) // 64)
    sample = ink[top:bottom:step, left:right] > threshold
    columns = left + np.flatnonzero(np.count_nonzero(sample, axis=0) >= FRAME_ROW * sample.shape[0])
    if len(columns) < 2 or columns[-1] - columns[0] < 2 * LINE_MIN:
        return False
    mask = ink[max(0, top - 2) : bottom + 2, max(0, int(columns[0]) - 2) : int(columns[-1]) + 3] > threshold
    inner = mask[2:-2, 2:-2]  # the margin around the outermost rows and columns is no part of the frame
    band = max(4, int(FRAME_BAND * min(inner.shape)))
    # A solid blob (a shadow's band, a tinted box) is inked all round too, but not hollow.
    return inked_round(inner, band) if hollow(inner, band) else None


def _tint(values: np.ndarray, level: float) -> float | None:
    """The level of a tint filling a box, on `ink`'s scale, from a sample of its middle quarter (`level`: the
    paper around it): the sample's median when it stands FRAME_CONTRAST above the paper and under half its
    darkest ink (a digit's bold strokes across most of it are no tint); None otherwise. A digit's strokes fill
    under half of the middle of its box; a tint fills all of it."""
    tint = float(np.median(values))
    return tint if level + FRAME_CONTRAST < tint < 0.5 * (level + float(values.max())) else None


def ruled(ink: np.ndarray, near: tuple[int, int, int, int], level: float) -> bool:
    """Whether a small image holds a straight run of ink, across or down, `rough.LONG` times longer than the
    larger side of `near` (top, bottom, left, right: where the digit is; `level`: the paper of `ink`), leaning
    up to `rough.TILT`: a ruled line or a form box too faint or too far out to be in `near` (which `framed`
    needs), and no part of the digit."""
    span = int(LONG * max(near[1] - near[0], near[3] - near[2])) + 1
    mask = (ink > np.float32(level + FRAME_CONTRAST)).view(np.uint8)
    for axis in (0, 1):
        if mask.shape[1 - axis] < span:
            continue
        reach = 2 * int(TILT * span / 2) + 1  # a leaning line's rows, gathered into one
        smear = (reach, 1) if axis == 0 else (1, reach)
        along = (1, span) if axis == 0 else (span, 1)
        gathered = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_RECT, smear[::-1]))
        if cv2.erode(gathered, cv2.getStructuringElement(cv2.MORPH_RECT, along[::-1])).any():
            return True
    return False
