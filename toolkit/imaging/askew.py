"""How far a sheet is askew (`skew`), measured on its rules and form boxes, for the segmenter to turn it square
before it looks for lines along the axes (`toolkit.imaging.segment`)."""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.boxes import BOX_MIN, framing, outline, row_of_boxes, sides_covered
from toolkit.imaging.combs import rule_angle
from toolkit.imaging.common import LINE_MIN, LINE_THICK

SKEW_MIN, SKEW_MAX = 0.7, 6.0  # degrees: a sheet askew by this much is turned square before it is read
SKEW_CONTRAST = 0.1  # ink this far above the paper is looked at for rules when measuring the skew
SKEW_PARTS = 20  # ... among this many of the largest parts
FIT_POINTS = 512  # at most this many points of each rule of a row of boxes are fitted (a robust fit: ~2 us a point)
RULED_STOUT = 0.75  # a row of boxes found by its rules (`_rules_rect`) may be as short as two boxes
RULE_COVER = 0.9  # ... and cover this share of the row's length (a number's bars in line: 0.75-0.94)
RULE_BAND = 2.5  # px: a rule's points lie this close to its strongest line (`_strongest_line`)


def skew(ink: np.ndarray) -> float:
    """The angle (degrees) a sheet is askew by, measured on its rules and boxes, 0.0 when it is square (under
    SKEW_MIN) or when there are none or it is beyond SKEW_MAX (no form is filled in at that angle; the
    axis-aligned search is right). The rules are the SKEW_PARTS largest connected parts of the ink that are
    long and thin (their direction by a least-squares line), or a bar (a row of boxes), a box's outline or a box
    with a mark touching it (`framing`) (the direction of its minimum-area rectangle's side), or a row of boxes
    with a digit standing out of it (`_rules_rect`, `_ruled_row`), each weighed by its length: the weighted
    median wins, so a slanted 1 among them does not tilt the sheet. Parts from BOX_MIN to 4 LINE_MIN px count
    only as a box's outline (a row of small boxes, each a part of its own; a short stroke may be a 1)."""
    flat = ink - np.float32(np.median(ink[:: max(1, ink.shape[0] // 64), :: max(1, ink.shape[1] // 64)]))
    mask = (flat > SKEW_CONTRAST).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return 0.0
    sides = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
    order = np.argsort(-sides)[:SKEW_PARTS] + 1
    angles, weights = [], []
    for label in order.tolist():
        x, y, w, h, area = (int(v) for v in stats[label])
        if max(w, h) < BOX_MIN:
            break
        region = (labels[y : y + h, x : x + w] == label).view(np.uint8)
        points = cv2.findNonZero(region)
        rect = cv2.minAreaRect(points)
        long, short = max(rect[1]), min(rect[1])
        corners = cv2.boxPoints(rect)
        dx, dy = corners[1] - corners[0]
        along = float(np.degrees(np.arctan2(dy, dx)))  # the direction of the rectangle's side
        if max(w, h) < 4 * LINE_MIN:  # a small part: only a box's outline (a short stroke may be a digit's)
            if not (outline(region, rect, float(area)) or _blurred_box(flat, x, y, region)):
                continue
            angle, long = along, 2 * (long + short)
        elif short <= max(3.0, 0.08 * long):  # a rule
            vx, vy, _, _ = cv2.fitLine(points, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
            angle = float(np.degrees(np.arctan2(vy, vx)))
        elif (
            row_of_boxes(region, rect)
            or outline(region, rect, float(area))
            or _blurred_box(flat, x, y, region)
            or framing(region, rect)
        ):
            angle, long = along, 2 * (long + short)
        elif (ruled := _rules_rect(region, w >= h)) is not None and _ruled_row(region, ruled):
            # A row of boxes with a digit standing out of it: its rectangle taken on its rules alone.
            angle, long = ruled[2], 2 * sum(ruled[1])
        elif (comb := rule_angle(region)) is not None:  # a comb: ticks standing on a rule, maybe a digit too
            angle, long = comb, w
        else:
            continue
        angles.append((angle + 45.0) % 90.0 - 45.0)  # a rule's direction, whichever way it runs
        weights.append(long)
    if not angles:
        return 0.0
    order = np.argsort(angles)
    cumulative = np.cumsum(np.asarray(weights)[order])
    angle = float(np.asarray(angles)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    return angle if SKEW_MIN <= abs(angle) <= SKEW_MAX else 0.0


def _strongest_line(mask: np.ndarray, points: np.ndarray, horizontal: bool) -> tuple[np.ndarray, float]:
    """The line (vx, vy, x0, y0, as `cv2.fitLine`) through most of `points` (x, y in `mask`'s frame), within
    SKEW_MAX of the rows' direction (`horizontal`) or the columns', and the share of the points' extent along
    it that its own points cover: the Hough transform's strongest line, fitted to the points near it. A rule
    with a digit's bar or loop beside it (a digit standing out of its box) is the line through most points (a
    fit to all of them leans towards the digit) and runs all along the row; a digit's bars cover part of it."""
    half = np.zeros(mask.shape if horizontal else mask.shape[::-1], np.uint8)
    xy = points if horizontal else points[:, ::-1]
    half[xy[:, 1], xy[:, 0]] = 1
    spread = np.radians(SKEW_MAX + 1.0)
    found = cv2.HoughLines(half, 1, np.pi / 720, LINE_MIN, min_theta=np.pi / 2 - spread, max_theta=np.pi / 2 + spread)
    extent = float(np.ptp(xy[:, 0])) + 1.0
    if found is not None:
        # The strongest line lies in the rule but may cross a bold one aslant (as many votes as along it): the
        # rule's whole width is taken round it (up to LINE_THICK + 2 px), fitted, then the points near that fit.
        rho, theta = found[0, 0]
        xy = xy[np.abs(xy @ (np.cos(theta), np.sin(theta)) - rho) <= LINE_THICK + 2]
        vx, vy, x0, y0 = _fit(xy)
        near = np.abs((xy - (x0, y0)) @ (-vy, vx)) <= RULE_BAND
        xy = xy[near] if near.sum() >= 2 else xy
    fit = _fit(xy)
    covered = len(np.unique(xy[:, 0])) / extent
    return (fit if horizontal else fit[[1, 0, 3, 2]]), covered


def _fit(xy: np.ndarray) -> np.ndarray:
    """A line robust to a few stray points (vx, vy, x0, y0) through at most FIT_POINTS of `xy`, evenly spread."""
    return cv2.fitLine(xy[:: -(-len(xy) // FIT_POINTS)].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()


def _ruled_row(region: np.ndarray, ruled: tuple) -> bool:
    """Whether a part (`region`) is a row of boxes by the rectangle of its two rules (`ruled`, `_rules_rect`):
    as `row_of_boxes`, down to two boxes side by side (RULED_STOUT), and closed at both ends (touching digits
    whose bars lie in line are open at one end or both)."""
    corners = np.round(cv2.boxPoints(ruled)).astype(np.int32)
    return row_of_boxes(region, ruled, RULED_STOUT) and sides_covered(region, corners, range(4), 5)


def _blurred_box(flat: np.ndarray, x: int, y: int, region: np.ndarray) -> bool:
    """Whether a part (`region`, its mask in its box at `x`, `y`) is a box's outline blurred (a soft scan, a
    JPEG) too wide to pass as one at the faint threshold `skew` looks at: its pixels at half its peak or more,
    the rule's own width, are."""
    values = flat[y : y + region.shape[0], x : x + region.shape[1]] * region
    solid = (values >= 0.5 * float(values.max())).view(np.uint8)
    points = cv2.findNonZero(solid)
    return points is not None and outline(solid, cv2.minAreaRect(points), float(len(points)))


def _rules_rect(region: np.ndarray, horizontal: bool) -> tuple | None:
    """The rectangle of the two rules of a row of boxes (`region`, a part), in minAreaRect's form, for when a
    digit stands out of one of its boxes and makes the part's own rectangle too tall: its long straight runs
    (opened with a LINE_MIN px kernel, which a rule up to SKEW_MAX degrees askew passes) on either side of their
    middle, each side's rule its strongest straight line (`_strongest_line`), and the rectangle between the two.
    None when there are too few runs on either side, or when either rule covers under RULE_COVER of the row."""
    kernel = np.ones((1, LINE_MIN) if horizontal else (LINE_MIN, 1), np.uint8)
    opened = cv2.morphologyEx(region, cv2.MORPH_OPEN, kernel)
    points = cv2.findNonZero(opened)
    if points is None:
        return None
    vx, vy, x0, y0 = cv2.fitLine(points, cv2.DIST_L2, 0, 0.01, 0.01).ravel()
    xy = points.reshape(-1, 2).astype(np.float64)
    side = (xy - (x0, y0)) @ (-vy, vx) > 0
    if min(side.sum(), (~side).sum()) < 2 * LINE_MIN:
        return None
    found = [_strongest_line(opened, points[half].reshape(-1, 2), horizontal) for half in (side, ~side)]
    rules = [rule for rule, _ in found]
    if min(covered for _, covered in found) < RULE_COVER:
        return None  # not two rules along the whole row: a number's digits touching, their bars in line
    ux, uy = np.mean([r[:2] * np.sign(r[:2] @ (vx, vy)) for r in rules], axis=0)
    norm = float(np.hypot(ux, uy))
    if norm < 1e-6:
        return None  # the rules stand across the ink's own direction (a lone box taller than wide): no row
    ux, uy = ux / norm, uy / norm
    along = xy @ (ux, uy)
    offsets = [float(np.dot(r[2:], (-uy, ux))) for r in rules]  # each rule's centre line, across the row
    a0, a1, c0, c1 = along.min(), along.max(), min(offsets), max(offsets)
    ma, mc = (a0 + a1) / 2, (c0 + c1) / 2
    centre = (float(ma * ux - mc * uy), float(ma * uy + mc * ux))
    return centre, (float(a1 - a0), float(c1 - c0)), float(np.degrees(np.arctan2(uy, ux)))
