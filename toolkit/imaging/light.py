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
   segmenter reads there, unless one digit is drawn large across it: then wider than its strokes,
   `page_kernel`) and STRIP_SHARE of the shorter side on a strip or a form field, where the digits fill the
   height.
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

from toolkit.imaging.common import MAX_SIDE, PAGE_SIDE, border, coarse_median, median, paper, quantile, reduce

PAPER_SHARE = 0.035  # the closing's square on a page: this share of the longer side (27 px at 780 px) ...
STRIP_SHARE = 0.3  # ... and on a strip or field, this share of the shorter side (digits fill the height)
MIN_KERNEL = 5  # px
DARKEST_PAPER = 0.05  # the paper estimate is floored here: below it there is no light to read ink by
DARK_BORDER = 0.3  # a small image's border this dark is a dark ground, whatever its middle (`kept_polarity`)
STANDS_OUT = 0.1  # ink darker (or lighter) than its paper by this much; less on both sides: no ink to judge by
BOLD_SIDE = 256  # a page's pen strokes are measured on a copy reduced to about this size (`page_kernel`) ...
BOLD_PART = 0.2  # ... in parts this share of the page's longer side or more (a digit drawn large) ...
BOLD_BLOB = 0.3  # ... whose stroke is no wider than this share of their longer side (a shadow's patch is) ...
BOLD_WIDE = 1.2  # ... and which are no wider than this x their height (one digit, not a number's digits joined)
BOLD_CUT = 3.0  # ... and meet the border along no more than this x their stroke (a digit cropped tight; a photo's
# desk or dark corner meets it along a long stretch)
SOFT_BLOB = 0.6  # ... and which are dark through, not only in their middle (a shadow's patch is: `_soft`)
BOLD_ROOM = 1.5  # ... and when one is wider than the closing's square, the square is made this many times wider
COARSE_SQUARE = 48  # px: a wider closing's square is applied to a reduced copy (`_paper_estimates`)


def kernel_side(shape: tuple[int, int], page: bool) -> int:
    """The side of the closing's square (odd) for an image of this shape."""
    h, w = shape
    side = PAPER_SHARE * max(h, w) if page else STRIP_SHARE * min(h, w)
    return max(MIN_KERNEL, int(side) | 1)


def page_kernel(gray: np.ndarray) -> int:
    """The side of the closing's square on a page (a grey float image, 1 = white): `kernel_side`, or wider than
    the pen strokes of a digit drawn large on it. A digit filling most of a 1,000 px scan has strokes of 80-100
    px, where the square is 35: the closing took its strokes' middles for paper, and the digit was read hollow,
    or as nothing. The strokes are measured on a reduced copy, the light's fall-off roughly divided out and the
    ink split from the paper by Otsu's threshold, as twice the distance from a part's edge to its middle (95th
    percentile), in parts BOLD_PART of the page or larger, one digit's shape (not several joined), no blobs, dark
    through as a pen's stroke is (not a shadow's patch, darker only towards its middle: `_soft`), and meeting the
    border along one side at most and for no more than BOLD_CUT strokes (a digit cropped tight; a
    photo's desk and dark corners, and a shadow's band across the sheet, meet it along more). Light ink on a
    dark ground (an enlarged MNIST digit; the opening's square, then) is measured on the copy turned over."""
    side = kernel_side(gray.shape, True)
    factor = max(1, max(gray.shape) // BOLD_SIDE)
    small = reduce(gray, factor)
    level = median(border(small))
    if level <= 0.5 and coarse_median(small) <= DARK_BORDER:
        # Light ink on a ground dark all through (an enlarged MNIST digit): measured the same way, turned over. (A
        # dim sheet, or one in a dark surround, is measured as it is, for dark ink.)
        small, level = np.float32(1.0) - small, 1.0 - level
    # The light's fall-off divided out roughly first (a blur a sixth of the copy wide), so that a vignette's dark
    # corners are not ink that joins the digit.
    coarse = reduce(small, 8)  # the blur is as smooth taken on a copy 8 times smaller, and 30 times cheaper
    lit = cv2.resize(cv2.GaussianBlur(coarse, (0, 0), max(coarse.shape) / 6.0), small.shape[::-1])
    grey = np.clip(small / np.maximum(lit, np.float32(DARKEST_PAPER)) * np.float32(255.0 * level), 0, 255)
    grey = grey.astype(np.uint8)
    _, thresholded = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    mask = np.asarray(thresholded, np.uint8)
    paper_level = cv2.mean(grey, 1 - mask)[0]
    if paper_level - cv2.mean(grey, mask)[0] < 255 * STANDS_OUT:
        return side  # no ink stands out: Otsu split the paper's grain
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    distance = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    height, width = small.shape
    widest = 0.0
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        if max(w, h) < BOLD_PART * max(height, width) or w > BOLD_WIDE * h:
            continue
        part = labels[y : y + h, x : x + w] == label
        stroke = 2.0 * quantile(distance[y : y + h, x : x + w][part], 0.95)
        if _soft(grey[y : y + h, x : x + w][part], paper_level):
            continue  # a shadow: dark only in its middle
        if stroke <= BOLD_BLOB * max(w, h) and _on_border(labels == label) <= BOLD_CUT * stroke:
            widest = max(widest, stroke)
    widest *= factor
    return int(BOLD_ROOM * widest) | 1 if widest > side else side


def _soft(values: np.ndarray, paper_level: float) -> bool:
    """Whether a part's grey `values` (on `paper_level`) darken gradually towards their darkest, as a shadow's
    do: their median stands under SOFT_BLOB of the way from the paper to their darkest (the 2nd percentile). A
    pen's stroke, even scaled up from a small scan, is about as dark through as at its darkest (0.63-0.86 for
    MNIST digits drawn across a sheet; a soft elliptic shadow 0.54)."""
    darkest = float(np.percentile(values, 2))
    return paper_level - float(np.median(values)) < SOFT_BLOB * max(1.0, paper_level - darkest)


def _paper_estimates(gray: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The closing (the paper, if the ink is darker than it) and the opening (if lighter) of `gray` over a square
    of `side` px. A square wider than COARSE_SQUARE (a digit drawn large, `page_kernel`) is applied to a copy
    reduced to keep it about that wide, and the estimates scaled back up: the same smooth paper, where the full
    size took 60-180 ms a page (squares of 151-301 px at 1,024 px)."""
    factor = side // COARSE_SQUARE
    small = reduce(gray, factor) if factor > 1 else gray
    square = cv2.getStructuringElement(cv2.MORPH_RECT, ((side // max(factor, 1)) | 1,) * 2)
    lit = cv2.morphologyEx(small, cv2.MORPH_CLOSE, square)
    dark = cv2.morphologyEx(small, cv2.MORPH_OPEN, square)
    if factor > 1:
        size = (gray.shape[1], gray.shape[0])
        lit, dark = (cv2.resize(values, size, interpolation=cv2.INTER_LINEAR) for values in (lit, dark))
    return lit, dark


def _on_border(part: np.ndarray) -> float:
    """How many of a part's pixels (a mask of the whole image) lie on the image's outermost rows and columns;
    infinite when they lie on more than one side (a shadow's band across the sheet, not a digit cropped tight)."""
    sides = [int(np.count_nonzero(edge)) for edge in (part[0], part[-1], part[:, 0], part[:, -1])]
    return float("inf") if sum(1 for count in sides if count) > 1 else float(sum(sides))


def flatten(
    gray: np.ndarray, page: bool, inverted: bool | None = None, kernel: int | None = None
) -> tuple[np.ndarray, bool]:
    """A grey float image (1 = white) -> its ink (bright on black, float32, paper about 0, the paper's light
    divided out) and whether the ink was dark on light paper (`inverted`: judged here when not given). See the
    module docstring. `kernel`: the closing's square (default `kernel_side`)."""
    gray = np.asarray(gray, dtype=np.float32)
    lit, dark = _paper_estimates(gray, kernel or kernel_side(gray.shape, page))
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
    page = max(gray.shape) > PAGE_SIDE
    return flatten(gray, page, inverted, page_kernel(gray) if page else None)
