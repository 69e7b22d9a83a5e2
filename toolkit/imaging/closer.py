"""A closer look at a page's small form boxes: `toolkit.imaging.normalise` reads an image larger than MAX_SIDE
from a copy reduced to MAX_SIDE, where a form scanned whole holds its boxes 15-25 px wide (a 5 mm box on an A4
sheet at 200 dpi: 39 px, then 17) and the digit in one 10-15 px tall, too small for its box's lines to be erased
without its strokes. When the segmenter says where such boxes are (`Segmented.fine`) and the image given had
FINE_FACTOR times more pixels there, and the page offered no candidate standing in a box, that region is read
again from them, as a page of its own; its reading replaces the page's when a candidate stands in a box there:
the digit a form's box holds. (Where the page found the digit in its box, it reads it as well as closer, and
its not_digit is not always as sure closer: a 0 in a 23 px box, read 0 either way, was rejected closer.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from toolkit.imaging import light, segment
from toolkit.imaging.common import MAX_SIDE, Normalized, Segmented, to_max_side

FINE_FACTOR = 1.3  # the image given must be this many times finer than the working copy for a closer look


def finer(
    result: Normalized, pixels: np.ndarray, factor: float, to_gray: Callable[[np.ndarray], np.ndarray]
) -> Segmented | None:
    """`result` (read from `pixels` reduced `factor` times; single-digit mode) read again closer: the region of
    its small boxes (`Segmented.fine`) cut from `pixels` (as `prepare_array` takes them, made grey floats by
    `to_gray`, or grey floats already), read as a page, its boxes in the pixels of `pixels`. None when there is
    no such region, `pixels` are not finer by FINE_FACTOR, the page offered a candidate in a box already, or
    none read closer stands in one: the page's own reading stands."""
    if result.fine is None or factor < FINE_FACTOR or _boxed(result.plan):
        return None
    left, top, width, height = (round(v * factor) for v in result.fine)
    crop = pixels[top : top + height, left : left + width]
    if crop.size == 0:
        return None
    gray = crop if crop.dtype == np.float32 and crop.ndim == 2 else to_gray(np.ascontiguousarray(crop))
    shrink = 1.0
    if max(gray.shape) > MAX_SIDE:
        gray = to_max_side(gray)
        shrink = crop.shape[1] / gray.shape[1]
    closer = segment.read(*light.working_ink(gray), page=True)
    if not _boxed(closer.plan):
        return None
    boxes = tuple(
        (left + round(x * shrink), top + round(y * shrink), round(w * shrink), round(h * shrink))
        for x, y, w, h in closer.boxes or ()
    )
    return replace(closer, boxes=boxes, fine=None)


def _boxed(plan: str | None) -> bool:
    """Whether a single-digit plan offers a candidate standing in a form's box ("b")."""
    return plan is not None and any("b" in entry for entry in plan.split(":", 1)[1].split(","))
