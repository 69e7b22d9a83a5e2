"""Measures of one run of ink along an axis, for the line finder (`toolkit.imaging.lines`): how thick it is,
whether it bows, and which of its pixels are the straight line itself."""

from __future__ import annotations

import cv2
import numpy as np

BOW = 1.0  # px: a run down the image whose middle stands this far off its ends' line is an arc (`bowed`)
STRAIGHT_MARGIN = 2.0  # px: a run's pixels further than this beyond half its thickness from its line are no line
CLEAR = 0.5  # px: a run whose pixels all lie this well inside that band of its plain fit is all line


def ink_width(values: np.ndarray, length: int) -> float:
    """How thick a run of ink is: its summed contrast (`values`, its pixels) over its length and its peak, so a
    scanner's faint blur on each side of a thin rule does not count as width."""
    return float(values.sum()) / (max(float(values.max()), 1e-6) * length)


def bowed(centre: np.ndarray) -> bool:
    """Whether a run's centre line bows: its middle third's median more than BOW px off its end thirds'. Only
    for runs down the image: a rule under a number thickens on one side where digits sit on it."""
    third = len(centre) // 3
    if third < 3:
        return False
    ends = (np.median(centre[:third]) + np.median(centre[-third:])) / 2
    return abs(float(np.median(centre[third:-third])) - ends) > BOW


def on_the_line(run: np.ndarray, thickness: float) -> np.ndarray:
    """The pixels of `run` (a uint8 mask) that lie on its straight line: within half its `thickness` and
    STRAIGHT_MARGIN px of the line fitted through them (robustly: Huber's distance, so what sticks out does
    not pull it). A stroke joined to a rule at a shallow slant (the bar of a 7 written against a box's top)
    survives the opening that finds the rule, and is part of its run; it is the digit's ink, not the line's."""
    points = cv2.findNonZero(run)
    if points is None or len(points) < 2:
        return run
    xy = points.reshape(-1, 2)
    band = thickness / 2 + STRAIGHT_MARGIN
    # Most runs are a rule and nothing more: every pixel well inside the band around the plain least-squares
    # line. The robust fit then keeps them all as well (it did in all 9,543 such runs of the larger tuning
    # sample), and its random restarts, 0.1-1.6 ms a run, a tenth of the segmenter's time on form boxes and
    # numbers, are skipped.
    vx, vy, x0, y0 = (float(v) for v in cv2.fitLine(points, cv2.DIST_L2, 0, 0.01, 0.01).ravel())
    if np.abs((xy - (x0, y0)) @ (-vy, vx)).max() <= band - CLEAR:
        return run
    vx, vy, x0, y0 = (float(v) for v in cv2.fitLine(points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel())
    off = np.abs((xy - (x0, y0)) @ (-vy, vx))  # each pixel's distance from the line, as `askew._rules_rect` takes it
    far = xy[off > band]
    kept = run.copy()
    kept[far[:, 1], far[:, 0]] = 0
    return kept
