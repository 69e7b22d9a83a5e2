"""Uneven light, undone before any ink is looked for: step 1 of the segmenter (`toolkit.imaging.segment`).

A sheet under a desk lamp or photographed by a phone is not one grey: its corners fall to a fifth of the
centre's brightness, a hand or the phone casts a soft shadow, two pasted pieces of paper differ in tone. What
the eye reads as ink is a stroke darker than the paper *around it*, by a ratio: ink on paper lit at 20% is
still 20% as bright as that paper.

So the paper's own brightness is estimated at every pixel and divided out:

1. A grey closing (a maximum, then a minimum, over a square of `kernel` px) removes everything darker than the
   paper and narrower than the square: the strokes of any digit, printed rules, specks. What is left is the
   paper as lit, shadows, vignettes and tone boundaries included (a closing keeps a step edge where it is).
   The square is PAPER_SHARE of the image's longer side on a page (wider than the pen stroke of any digit the
   segmenter reads there) and STRIP_SHARE of the shorter side on a strip or a form field, where the digits
   fill the height.
2. The image over that estimate is the paper's reflectance: paper 1 wherever it is, ink the share of light it
   holds back. `1 - reflectance` is the ink, bright on black, at the same contrast in a dark corner as in the
   middle of the sheet.

Which way round the ink is (dark on light or light on dark) is judged on the same estimate: the ink is what
stands out from its local paper, and whichever side stands out further is the ink. A photo whose darkened
border would fool the border rule (`common.paper`) is read right.
"""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.common import MAX_SIDE, PAGE_SIDE, border, coarse_median, paper, reduce

PAPER_SHARE = 0.035  # the closing's square on a page: this share of the longer side (27 px at 780 px) ...
STRIP_SHARE = 0.3  # ... and on a strip or field, this share of the shorter side (digits fill the height)
MIN_KERNEL = 5  # px
DARKEST_PAPER = 0.05  # the paper estimate is floored here: below it there is no light to read ink by
DARK_BORDER = 0.3  # a small image's border this dark is a dark ground, whatever its middle (`kept_polarity`)
STANDS_OUT = 0.1  # ink darker (or lighter) than its paper by this much; less on both sides: no ink to judge by


def kernel_side(shape: tuple[int, int], page: bool) -> int:
    """The side of the closing's square (odd) for an image of this shape."""
    h, w = shape
    side = PAPER_SHARE * max(h, w) if page else STRIP_SHARE * min(h, w)
    return max(MIN_KERNEL, int(side) | 1)


def flatten(gray: np.ndarray, page: bool, inverted: bool | None = None) -> tuple[np.ndarray, bool]:
    """A grey float image (1 = white) -> its ink (bright on black, float32, paper about 0, the paper's light
    divided out) and whether the ink was dark on light paper (`inverted`: judged here when not given). See the
    module docstring."""
    gray = np.asarray(gray, dtype=np.float32)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (kernel_side(gray.shape, page),) * 2)
    lit = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, square)  # the paper, if the ink is darker than it
    dark = cv2.morphologyEx(gray, cv2.MORPH_OPEN, square)  # the paper, if the ink is lighter
    if dark_ink(gray, lit, dark) if inverted is None else inverted:
        np.maximum(lit, np.float32(DARKEST_PAPER), out=lit)
        ink = gray / lit
        np.subtract(np.float32(1.0), ink, out=ink)
        return ink, True
    if page:
        # Light ink on a dark page (a blackboard, a negative) is read by its level: a page is judged light on dark
        # by the edges of the two estimates, and a photo's light paper between dark corners judged so would have
        # its noise multiplied by dividing.
        return gray - dark, False
    # Light ink on a small dark image (a digit's crop, white on black): as dark ink, black and white swapped, so
    # that a stroke wider than the square (a 9's loop filled in) is kept as a dark ink's is.
    paper = np.float32(1.0) - dark
    np.maximum(paper, np.float32(DARKEST_PAPER), out=paper)
    ink = (np.float32(1.0) - gray) / paper
    np.subtract(np.float32(1.0), ink, out=ink)
    return ink, False


def kept_polarity(gray: np.ndarray, level: float, inverted: bool) -> bool | None:
    """The polarity a small image the segmenter reads keeps (`inverted`, as the fast path of
    `toolkit.imaging.normalise` judged it): when its border's paper (`level`) is near black (DARK_BORDER), or
    stands on the same side of mid-grey as its median pixel (a digit cropped to its ink, white on black, whose
    ink may be most of it); None, for `flatten` to judge, when a grey border and a light middle disagree (a strip
    whose dark corners darken its border)."""
    if level < DARK_BORDER:
        return inverted
    return inverted if (level > 0.5) == (coarse_median(gray) > 0.5) else None


def dark_ink(gray: np.ndarray, lit: np.ndarray, dark: np.ndarray) -> bool:
    """True when the ink is darker than its paper. A light border means light paper and dark ink, as on the
    fast path. A dark border may be a phone photo's dark corners around light paper: then, of the two paper
    estimates, the closing (paper under dark ink) and the opening (paper under light ink), the right one is
    smooth, light and shade only; the wrong one keeps the ink's whole outline as a blob of "paper", with edges:
    the estimate with less edge (its mean gradient) is the paper. Where the two never part by STANDS_OUT there
    is no ink to judge by, and the border decides.

    The edges alone are no judge on a light page: a small digit weighs little against a broad shadow, or
    against the wedges of the scanner's white lid around a sheet askew, which are "light ink" (3 of 60 pages
    were read inverted so)."""
    level, _ = paper(border(gray))
    if level > 0.5 or float((lit - dark).max()) <= STANDS_OUT:
        return level > 0.5
    return _edge(lit) <= _edge(dark)


def _edge(values: np.ndarray) -> float:
    """The mean absolute difference between neighbouring pixels, across and down."""
    return float(np.abs(np.diff(values, axis=0)).mean() + np.abs(np.diff(values, axis=1)).mean())


def working_ink(gray: np.ndarray, inverted: bool | None = None) -> tuple[np.ndarray, bool]:
    """The ink the segmenter reads (`flatten`): of a grey float image (1 = white), bright on
    black, the paper's light divided out, at the working resolution (at most MAX_SIDE px), and whether the image
    was inverted (dark ink on light paper; `inverted`: already known). `toolkit.explain` draws it."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or gray.size == 0:
        raise ValueError(f"expected a non-empty 2-D grey image, got shape {gray.shape}")
    if max(gray.shape) > MAX_SIDE:
        gray = reduce(gray, -(-max(gray.shape) // MAX_SIDE))
    return flatten(gray, page=max(gray.shape) > PAGE_SIDE, inverted=inverted)
