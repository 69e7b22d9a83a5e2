"""A closer look at a page's small form boxes: `toolkit.imaging.normalise` reads an image larger than MAX_SIDE
from a copy reduced to MAX_SIDE, where a form scanned whole holds its boxes 15-25 px wide (a 5 mm box on an A4
sheet at 200 dpi: 39 px, then 17) and the digit in one 10-15 px tall, too small for its box's lines to be erased
without its strokes. When the segmenter says where such boxes are (`Segmented.fine`) and the image given had
FINE_FACTOR times more pixels there, that region is read again from them, as a page of its own; its reading
replaces the page's when a candidate stands in a box there: the digit a form's box holds. Where the page offered
a candidate in a box itself, only from BOXED_FACTOR times finer pixels: a little finer, the page reads such a
digit as well, and the model's not_digit is not always as sure of it closer (a 0 in a 23 px box at 1.46 times,
read 0 either way, was rejected closer); at 2-3.4 times (a form at 240-300 dpi), the page's boxed candidate is
often a digit whose strokes went with its box's lines (a 3 whose top arm was erased, read closer whole).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from toolkit.imaging import light, segment
from toolkit.imaging.common import MAX_SIDE, Normalized, Segmented, to_max_side

Crop = Callable[[int, int, int, int], np.ndarray]  # (left, top, width, height) of the image's pixels -> grey floats
# An image decoded reduced, at its own resolution: its (width, height) there, and its pixels, decoded when called.
Source = tuple[tuple[int, int], Callable[[], np.ndarray]]

FINE_FACTOR = 1.3  # the image given must be this many times finer than the working copy for a closer look,
BOXED_FACTOR = 2.0  # ... and this many when the page offered a candidate in a box itself


def finer(result: Normalized, size: tuple[int, int], crop: Crop) -> Segmented | None:
    """`result` (single-digit mode, read from a working copy of an image of `size`, width and height) read again
    closer: the region of its small boxes (`Segmented.fine`) in the image's own pixels, made grey floats by `crop`
    (left, top, width, height), read as a page, its boxes in the image's pixels. None when there is no such region,
    the image is not FINE_FACTOR times finer than its working copy (MAX_SIDE px; BOXED_FACTOR times when the page
    offered a candidate in a box itself), or none read closer stands in a box: the page's own reading stands."""
    finer_by = max(size) / MAX_SIDE
    if result.fine is None or finer_by < FINE_FACTOR or (_boxed(result.plan) and finer_by < BOXED_FACTOR):
        return None
    width, height = size
    share_left, share_top, share_width, share_height = result.fine
    left, top = round(share_left * width), round(share_top * height)
    gray = crop(
        left, top, min(round(share_width * width), width - left), min(round(share_height * height), height - top)
    )
    if gray.size == 0:
        return None
    shrink = 1.0
    if max(gray.shape) > MAX_SIDE:
        reduced = to_max_side(gray)
        gray, shrink = reduced, gray.shape[1] / reduced.shape[1]
    # A window, not an image: its edges as they lie on the square sheet, not turned with it (cut tight round the
    # boxes, it may cut a digit standing out of one).
    closer = segment.read(*light.working_ink(gray), page=True, window=True)
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
