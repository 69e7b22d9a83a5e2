"""The fast path's first look at a small image: where its digit's ink is, roughly, and whether a faint mark
runs far beyond it (a ruled line or a box's side, which `toolkit.imaging.frame.ruled` then measures), both on
a copy reduced to about DETECT_SIDE px: past the reduction, the look costs the same for any image.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from toolkit.imaging.common import BLANK_CONTRAST, inked_all_round, paper_of, reduce

DETECT_SIDE = 64  # ink detection runs on a copy reduced to about this size (box filtering also averages noise)
FAINT = 0.03  # on that copy, a mark this far above the paper (and three sigmas of its noise) may be a line
LONG = 1.1  # ... and one this many times longer than the digit's box is one (`frame.ruled` measures it)
TILT = 0.09  # ... leaning up to this slope (5 degrees)
BOX_CELLS = 8  # a blob this many cells across both ways or more may be a form's box, ...
BOX_BAND = 0.15  # ... when it is a frame (`common.inked_all_round`) with strips this share of its size wide (a box
# askew by 5 degrees drifts 0.09 of its side, inside them)


class Rough(NamedTuple):
    """Where a small image's ink is, roughly."""

    near: tuple[int, int, int, int]  # (top, bottom, left, right) of the digit's ink, bottom and right exclusive
    long_mark: bool  # a faint mark on the reduced copy is LONG times longer than `near`: maybe a line
    boxed: bool = False  # a blob on the reduced copy (or of its faint marks) is inked along all four sides of its
    # box: maybe a form's box


def box3(values: np.ndarray) -> np.ndarray:
    """3x3 mean filter with edge padding (cheap, and enough to tell single-pixel noise from strokes)."""
    return cv2.blur(values, (3, 3), borderType=cv2.BORDER_REPLICATE)


def rough_box(ink: np.ndarray) -> Rough | None:
    """Where the digit's ink is, roughly, on a copy reduced to about DETECT_SIDE px and grown by one of its
    cells, and whether a fainter mark runs far beyond it; None when there is no ink."""
    h, w = ink.shape
    factor = max(1, -(-max(h, w) // DETECT_SIDE))
    # Whole cells only (OpenCV's integer-factor area path is 3-4x faster); the cut edge, under a cell, is back
    # inside the box below, which is grown by a cell and clipped to the whole image.
    if factor == 1 or min(h, w) < factor:
        coarse = reduce(ink, factor)
    else:
        coarse = cv2.resize(
            ink[: h - h % factor, : w - w % factor], None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA
        )
    level, noise = paper_of(coarse)
    smooth = box3(coarse - np.float32(level))
    # The 3x3 mean divides independent noise by 3; five of those sigmas above the paper is ink.
    threshold = max(BLANK_CONTRAST, 5.0 * noise / 3.0)
    mask = (smooth > threshold).view(np.uint8)
    if cv2.countNonZero(mask) < 2:
        return None
    # Specks, dust and shadows are separate, much lighter blobs: keep the 8-connected components that weigh
    # at least a tenth of the heaviest (digits written with a break keep both parts) and box them together.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    kept, ids = stats[1:], np.arange(1, count)
    if count > 2:  # label 0 is the background
        mass = np.bincount(labels.ravel(), weights=smooth.ravel(), minlength=count)[1:]
        kept, ids = kept[mass >= 0.1 * mass.max()], ids[mass >= 0.1 * mass.max()]
    x0, y0 = kept[:, cv2.CC_STAT_LEFT], kept[:, cv2.CC_STAT_TOP]
    top, bottom = int(y0.min()), int((y0 + kept[:, cv2.CC_STAT_HEIGHT]).max())
    left, right = int(x0.min()), int((x0 + kept[:, cv2.CC_STAT_WIDTH]).max())
    # A thin line keeps a `factor`-th of its contrast on the reduced copy (and the smoothing would take two
    # thirds of that): looked for unsmoothed, at a fainter threshold.
    span = LONG * max(bottom - top, right - left)
    faint = (coarse > np.float32(level + max(FAINT, 3.0 * noise))).view(np.uint8)
    long_mark = span <= max(coarse.shape) and _long_mark(faint, span)
    # Grown by one cell: the smoothing spreads ink by a pixel, which at 28 px would shrink the digit by a tenth.
    near = (
        max(0, (top - 1) * factor),
        min(h, (bottom + 1) * factor),
        max(0, (left - 1) * factor),
        min(w, (right + 1) * factor),
    )
    return Rough(near, long_mark, _boxes_in(mask, labels, ids, kept) or _faint_box(faint, mask))


def _boxes_in(mask: np.ndarray, labels: np.ndarray, ids: np.ndarray, stats: np.ndarray) -> bool:
    """Whether any blob `ids` of the reduced copy (`labels`; `stats`: theirs; `mask`: the copy's ink) BOX_CELLS
    or more across both ways is a form's box (`_box_like`)."""
    return any(
        _box_like(mask, labels, label, (x, y, w, h))
        for label, (x, y, w, h, _) in zip(ids.tolist(), stats.tolist(), strict=True)
        if w >= BOX_CELLS and h >= BOX_CELLS
    )


def _faint_box(faint: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the reduced copy's faint marks (`faint`: FAINT above the paper) hold a form's box: a box printed
    thin and grey fades under the ink's threshold once reduced (a 1 px grey rule reduced three times stands
    about 0.05 above the paper), and the digit in it went to the model with the box and its label around it.
    First, cheaply: two sides of the smallest box, 2 BOX_CELLS faint cells or more, stand beyond the ink
    (`mask`) and its fringe."""
    beyond = cv2.countNonZero(faint) - cv2.countNonZero(faint & cv2.dilate(mask, np.ones((3, 3), np.uint8)))
    if beyond < 2 * BOX_CELLS:
        return False
    count, labels, stats, _ = cv2.connectedComponentsWithStats(faint, connectivity=8)
    return _boxes_in(faint, labels, np.arange(1, count), stats[1:])


def _box_like(mask: np.ndarray, labels: np.ndarray, label: int, box: tuple[int, int, int, int]) -> bool:
    """Whether the blob `label` of the reduced copy (`labels`; `box`: its left, top, width and height, BOX_CELLS
    or more both ways; `mask`: the copy's ink) is a form's box, a little askew, maybe with the digit touching
    it: a frame (`common.inked_all_round`, strips BOX_BAND of its size wide). The fast path's own look for a
    frame wants rows of ink across the image, which a box askew by a few degrees, or a label printed beside it,
    does not give."""
    x, y, w, h = box
    band = max(1, round(BOX_BAND * min(w, h)))
    inked = mask[y : y + h, x : x + w]  # first, cheaply: a box has ink in all four corners (most digits do not)
    corners = (inked[:band, :band], inked[-band:, -band:], inked[:band, -band:], inked[-band:, :band])
    if not all(cv2.countNonZero(corner) for corner in corners):
        return False
    return inked_all_round(labels[y : y + h, x : x + w] == label, band)


def _long_mark(faint: np.ndarray, span: float) -> bool:
    """Whether a mask holds `span` px of ink across one row or down one column, the rows (or columns) a line
    leaning up to TILT crosses gathered into one (OpenCV throughout: this runs on most small scans)."""
    reach = 2 * int(TILT * span / 2) + 1
    for kernel, dim in (((reach, 1), 1), ((1, reach), 0)):
        # First, cheaply: a line `span` px long has ink in that many columns (rows) of the mask.
        if cv2.countNonZero(cv2.reduce(faint, 1 - dim, cv2.REDUCE_MAX)) < span:
            continue
        gathered = cv2.dilate(faint, np.ones(kernel, np.uint8))
        if cv2.minMaxLoc(cv2.reduce(gathered, dim, cv2.REDUCE_SUM, dtype=cv2.CV_32S))[1] >= span:
            return True
    return False
