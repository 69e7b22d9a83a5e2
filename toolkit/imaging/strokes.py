"""Which pixels of the ruled lines found are a stroke's, not the line's (`toolkit.imaging.lines` erases the
rest): where a stroke meets or crosses a line (`crossings`), and where a pen lies along a printed line, darker
than the lines are (`pen_along`)."""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.common import LINE_THICK

PEN_DARKER = 1.35  # a pen over a printed line: ink at least this many times the lines' median pixel
PEN_THICK = 3  # px: ... in a stretch at least this thick (not a speck of dust on the line)
PEN_ALONG = 5  # px: ... and this long along the line (not where two lines cross)
CORE_SHARE = 0.2  # the lines' median is their core's when the core is this share of their ink or more


def crossings(mask: np.ndarray, horizontal: np.ndarray, vertical: np.ndarray) -> np.ndarray:
    """The pixels of the lines found (`horizontal`, `vertical`: masks) where a stroke meets or crosses them:
    grown from the ink that is not line, across each line (up and down through a horizontal one, sideways
    through a vertical one) and only through line pixels, so a stroke that touches a line keeps the line's
    pixels under it, and ink merely near a line keeps none. Erasing a line whole would cut a 4 whose stroke
    crosses a box edge, or the foot of a 2 lying on it. A line's own anti-aliased fringe is no stroke: ink a
    pixel thin is opened away first. A pen lying along a line (`pen_along`) is kept as it is, not grown from:
    across the line beside it is the line's own ink, and kept it would stand beside the stroke as a bar (a 9
    whose loop lies along a box's side read as a 4)."""
    lines = horizontal | vertical
    rest = mask & (lines ^ 1)
    strokes = cv2.morphologyEx(rest, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
    if not strokes.any():
        return np.zeros_like(mask)
    up_down, sideways = np.ones((3, 1), np.uint8), np.ones((1, 3), np.uint8)
    grown = strokes
    for _ in range(int(2 * LINE_THICK) + 3):  # across a line at its thickest, grown by a pixel on each side
        step = (cv2.dilate(grown, up_down) & horizontal) | (cv2.dilate(grown, sideways) & vertical) | strokes
        if np.array_equal(step, grown):
            break
        grown = step
    return grown & lines


def pen_along(flat: np.ndarray, mask: np.ndarray, horizontal: np.ndarray, vertical: np.ndarray) -> np.ndarray:
    """The pixels of the lines found where a pen lies along them: a 1 written down a box's side, the bar of a 7
    along its top, the top of a 9's loop against it. There the ink is the pen's and the line's together, at
    least PEN_DARKER times the lines' median pixel (`flat`: the ink's contrast), in a stretch at least PEN_THICK
    px thick and PEN_ALONG px long along the line, so a speck of dust on a rule or the spot where two lines
    cross (as dark, but no longer than a line is thick) is not one. A line as dark as the pen hides it, and
    nothing is found. A dark grey pen over grey print stands 1.4-1.5 times as dark as the print.

    The lines' median pixel is taken on their core (their ink a pixel in from its edges) when that is
    CORE_SHARE of their ink or more, as it is but for rules a pixel or two thick: a soft rule's blurred fringe
    (a sheet turned square by interpolation, a soft scan) can be half its pixels, and then the median fell so
    low that the rules' own core passed for a pen and was kept, in pieces, as a stroke's crossing (a row of
    boxes left as dashes, which buried the digit written in one of them)."""
    on = mask.view(bool) & (horizontal | vertical).view(bool)
    if not on.any():
        return np.zeros_like(mask)
    core = on & cv2.erode(on.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    line = float(np.median(flat[core if core.sum() >= CORE_SHARE * on.sum() else on]))
    dark = (on & (flat > PEN_DARKER * line)).view(np.uint8)
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((PEN_THICK, PEN_THICK), np.uint8))
    along: np.ndarray = cv2.morphologyEx(dark & horizontal, cv2.MORPH_OPEN, np.ones((1, PEN_ALONG), np.uint8))
    return along | cv2.morphologyEx(dark & vertical, cv2.MORPH_OPEN, np.ones((PEN_ALONG, 1), np.uint8))
