"""Form boxes, told by their shape: a box's outline (`outline`), a row of boxes (`row_of_boxes`), the runs of
ink that make a box (`box_sides`, for `toolkit.imaging.lines.find_lines`) and a divider none of them found
(`paint_divider`), a box two of whose sides a digit hides (`hidden_box`), where runs stand against a box found
(`within`, `entry`), a box with a mark touching it (`framing`, for the skew), and whether a mark stands in a box
once its lines are found (`boxed_in`). The fast path's look for a frame around a small image's digit is
`toolkit.imaging.frame`.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from toolkit.imaging.common import FRAME_HOLLOW, LINE_MIN, LINE_RATIO

BAR = 0.4  # a part this stout at most, ruled along its length, is a row of form boxes (4 boxes 1.4x as tall as wide)
HOLLOW = 0.5  # ... whose centre line, along its length, is ink over less than this share (the dividers)
BOX_THICK = 6.0  # px: a box's outline at most this thick (no digit is a rectangle's outline, so it may be bolder)
SPACING = 0.15  # the dividers of a row of boxes are this evenly spaced (a share of the box width)
PAIRED = 2.2  # the side closing a box may be this many times bolder than its rules: two boxes' sides together
BOXED_SIDE, BOXED_REACH = 0.5, 1.5  # a mark between two upright lines this close and this long is in a box
FRAMING_REACH = 3  # px: a box a mark touches has ink this close to its rectangle's edge all round (`framing`) ...
FRAMING_STOUT = 1.6  # ... and is one box: its rectangle at most this many times longer than wide
CORNERED = 0.05  # a box's ink reaches its corners: on average within this share of its shorter side (a 0's does not)
BOX_MIN = 18  # px: a box's outline is at least this wide (a digit of MIN_DIGIT px fits in it, with its rules)
SQUARE_CORNERS = 0.95  # ... and the convex hull of its ink fills its minimum-area rectangle so (a boxy 0: 0.8-0.93)
HIDDEN_SIZE = 0.1  # a box two of whose sides are hidden: its found sides this close to a box's found elsewhere


def boxed_in(box: tuple[int, int, int, int], lines: np.ndarray) -> bool:
    """Whether a mark (its (left, top, width, height) box) stands between two upright lines of `lines` (a mask
    of the erased lines), one on each side of its middle within BOXED_REACH x its larger side, each along
    BOXED_SIDE or more of the rows its larger side spans around its middle (a rule along a flat mark is no
    upright): in a form's box (or on its side, where it touched it). A label beside a row of boxes has a box's
    side on one side only, and a mark beside a rule or a margin line none or one."""
    left, top, w, h = box
    size, middle = max(w, h), left + w / 2
    reach = BOXED_REACH * size
    lo, hi = max(0, int(top + h / 2 - size / 2)), min(lines.shape[0], int(top + h / 2 + size / 2) + 1)
    first = max(0, int(np.ceil(middle - reach)))
    window = lines[lo:hi, first : min(lines.shape[1], int(middle + reach) + 1)]
    upright = first + np.flatnonzero(np.count_nonzero(window, axis=0) >= BOXED_SIDE * (hi - lo))
    return bool((upright < middle).any() and (upright > middle).any())


def outline(region: np.ndarray, rect: tuple, ink: float) -> bool:
    """True when the ink of `region` (a uint8 mask in its own box; `ink`: its solid-ink pixel count) lies along
    the outline of `rect` (its minimum-area rectangle): BOX_MIN px wide or more and as thin as a rule all round,
    square-cornered (the convex hull of its ink fills SQUARE_CORNERS of the rectangle: a 0 written small, boxy
    and bold inks its corners with its own thickness), nine tenths of the ink pixels within that thickness of
    the outline, each of its four sides covered along 85% of its length, and its corners inked: their mean
    distance to the ink under CORNERED x its shorter side (printed boxes, even askew, blurred or scanned as
    JPEG: 0-0.03; a 0 written roundly in a number, its oval fitting its rectangle closely: 0.07-0.14, and erased
    as a box it was lost)."""
    (_, _), (rw, rh), _ = rect
    thick = ink / (2.0 * (rw + rh))  # the rule's thickness, were the ink all outline
    count = int(region.sum())
    if thick > BOX_THICK or min(rw, rh) < max(BOX_MIN, 5 * thick):
        return False
    if cv2.contourArea(cv2.convexHull(cv2.findNonZero(region))) < SQUARE_CORNERS * rw * rh:
        return False  # rounded off: a 0 written boxy and bold, its corners inked by its own thickness
    # The rule's centre line: the rectangle (the ink's outer edge) drawn in by half the thickness.
    (cx, cy), _, angle = rect
    corners = np.round(cv2.boxPoints(((cx, cy), (rw - thick, rh - thick), angle))).astype(np.int32)
    reach = int(thick) + 4
    band = np.zeros_like(region)
    cv2.polylines(band, [corners], True, 1, reach)
    if int((region & band).sum()) < 0.9 * count:
        return False
    # Every side covered: a 7 lies along two sides of its rectangle, a box along all four.
    return sides_covered(region, corners, range(4), reach) and _cornered(region, corners, min(rw, rh))


def _cornered(region: np.ndarray, corners: np.ndarray, side: float) -> bool:
    """Whether the ink of `region` reaches the corners of its rule's centre line (`corners`), on average within
    CORNERED x `side`: a printed box's sides meet at a corner, a written 0 rounds it off."""
    gap = cv2.distanceTransform(1 - region, cv2.DIST_L2, 3)
    h, w = region.shape
    at = [gap[min(h - 1, max(0, int(y))), min(w - 1, max(0, int(x)))] for x, y in corners]
    return float(np.mean(at)) <= CORNERED * side


def framing(region: np.ndarray, rect: tuple) -> bool:
    """Whether a part (`region`, its minimum-area rectangle `rect`) is one box with a mark inside that touches
    or crosses it, which `outline` cannot pass (its ink is not all along the outline), for `askew.skew`: no
    longer than FRAMING_STOUT x its width, ink along every side of the rectangle within FRAMING_REACH px of its
    edge and into its corners (`_cornered`), and the middle of the rectangle (half its sides) under FRAME_HOLLOW
    ink. A digit touches its rectangle in a few places, and a blob of shading fills its middle."""
    (cx, cy), (rw, rh), angle = rect
    if min(rw, rh) < 2 * LINE_MIN or max(rw, rh) > FRAMING_STOUT * min(rw, rh):
        return False
    corners = np.round(cv2.boxPoints(((cx, cy), (rw - 2, rh - 2), angle))).astype(np.int32)
    if not sides_covered(region, corners, range(4), FRAMING_REACH) or not _cornered(region, corners, min(rw, rh)):
        return False
    middle = np.zeros_like(region)
    cv2.fillPoly(middle, [np.round(cv2.boxPoints(((cx, cy), (rw / 2, rh / 2), angle))).astype(np.int32)], 1)
    return int((middle & region).sum()) < FRAME_HOLLOW * int(middle.sum())


def sides_covered(region: np.ndarray, corners: np.ndarray, sides: range, reach: int) -> bool:
    """Whether the ink of `region` lies along each of `sides` (side k joins corners k and k + 1) over 85% of
    its length, within `reach` px."""
    near = cv2.dilate(region, np.ones((reach, reach), np.uint8))
    for k in sides:
        side = np.zeros_like(region)
        cv2.line(side, tuple(int(v) for v in corners[k]), tuple(int(v) for v in corners[(k + 1) % 4]), 1, 1)
        if int((side & near).sum()) < 0.85 * int(side.sum()):
            return False
    return True


def row_of_boxes(region: np.ndarray, rect: tuple, stout: float = BAR) -> bool:
    """Whether a part (`region`, its minimum-area rectangle `rect`) is long and ruled along both its long sides:
    a row of form boxes, as long as four of them side by side (its short side at most `stout` x its long one),
    as tall as a box's side can be and hollow (its centre line crosses only the dividers: a thick stroke, such
    as a 1, is ruled along both its sides too)."""
    (_, _), (rw, rh), _ = rect
    if min(rw, rh) > stout * max(rw, rh) or min(rw, rh) < LINE_MIN:
        return False
    corners = np.round(cv2.boxPoints(rect)).astype(np.int32)
    first = 0 if np.hypot(*(corners[1] - corners[0])) >= np.hypot(*(corners[2] - corners[1])) else 1
    if not sides_covered(region, corners, range(first, 4, 2), 5):
        return False
    # The centre line, from the middle of one short side to the middle of the other.
    ends = [(corners[k] + corners[(k + 1) % 4]) / 2 for k in (first + 1, (first + 3) % 4)]
    centre = np.zeros_like(region)
    cv2.line(centre, tuple(int(v) for v in np.round(ends[0])), tuple(int(v) for v in np.round(ends[1])), 1, 1)
    return int((centre & region).sum()) < HOLLOW * int(centre.sum())


class Sides(NamedTuple):
    """What `box_sides` found on one connected part's runs."""

    runs: set[int]  # the runs (indices into its `members`) that are a box's rules and sides
    frame: tuple[int, int, int, int, int]  # a box: left, top, right, bottom, thickness of its rules
    # Dividers a row of boxes misses where its others are evenly spaced (a stroke along one made its run too
    # bold to be found): (whether the rules they join are horizontal, where it should be across them, the
    # rules' span across them (lo, hi), and how far from there to look for it).
    hidden: list[tuple[bool, float, float, float, float]]


def box_sides(members: list) -> Sides:
    """The runs (indices into `members`, the ruled runs of one connected part) that make a form box, and the
    box (left, top, right, bottom, thickness of its rules): two parallel runs of about one extent (85%
    overlap) at least 2 LINE_MIN apart, their ends joined by a run across on at least one side, covering most
    of the gap. A digit touching the box or crossing its edge is part of the same connected ink, so the box is
    judged by its runs, not by the part's outline. No runs when there is no box (the sides of a 0 are curved,
    a thin 8 slants, the bar of a 7 is one run; two straight sides of a 0 standing on a rule that runs on past
    them are a digit on it, `_standing_on_rule`). A row of boxes whose dividers are evenly spaced but for a gap
    of two or more spacings says where the dividers it misses are (`Sides.hidden`)."""
    spans = []
    for _, c, _, horizontal, measured in members:
        x, y, w, h = (int(v) for v in c[:4])
        along, at = ((x, x + w), y + h / 2) if horizontal else ((y, y + h), x + w / 2)
        thick = max(1, round(c[cv2.CC_STAT_AREA] / max(w if horizontal else h, 1)))
        spans.append((horizontal, along, at, thick, measured))
    found: set[int] = set()
    frame = (0, 0, 0, 0, 0)
    hidden: list[tuple[bool, float, float, float, float]] = []
    for i, (horizontal, (a0, a1), at_i, thick, rule) in enumerate(spans):
        if a1 - a0 < LINE_RATIO * rule:
            continue  # a box's rules are long; only its sides across them may be short (see `lines.SIDE_RATIO`)
        for j in range(i + 1, len(spans)):
            same, (b0, b1), at_j, _, other = spans[j]
            overlap = min(a1, b1) - max(a0, b0)
            # A box holds a digit: rules closer than 2 LINE_MIN are two strokes of one (a 3's arms).
            if same != horizontal or overlap < 0.85 * max(a1 - a0, b1 - b0) or abs(at_i - at_j) < 2 * LINE_MIN:
                continue
            if b1 - b0 < LINE_RATIO * other:
                continue
            lo, hi = sorted((at_i, at_j))
            near = max(3.0, 0.1 * (a1 - a0))
            ruled = 1.5 * max(rule, other) + 1  # the sides and dividers of one box are ruled alike
            # Runs across from one of the pair to the other: the box's sides at its ends, dividers between.
            spanning = [
                (k, at_k, measured, _at_end(at_k, a0, a1, b0, b1, near, measured / 2))
                for k, (across, (c0, c1), at_k, _, measured) in enumerate(spans)
                if across != horizontal
                and max(a0, b0) - near - measured / 2 <= at_k <= min(a1, b1) + near + measured / 2
                and min(c1, hi) - max(c0, lo) >= 0.85 * (hi - lo)
                and measured <= PAIRED * ruled
            ]
            # Bolder than the rules: a box's closing side (two boxes' sides together), or the dividers of a row of
            # boxes, evenly spaced; a bold stroke of a digit across the box is neither.
            regular = _evenly_spaced([at_k for _, at_k, _, _ in spanning])
            across_runs = [(k, end) for k, _, measured, end in spanning if measured <= ruled or end or regular]
            closing = [k for k, end in across_runs if end]
            if closing and _standing_on_rule(spans, (i, j), [spans[k] for k in closing], lo, hi):
                continue  # a looped digit's two sides standing on (or hanging from) a rule, not a box
            if closing:
                found.update((i, j, *(k for k, _ in across_runs)))
                kept = {k for k, _ in across_runs}
                at_runs = [at_k for k, at_k, _, _ in spanning if k in kept]
                hidden += [(horizontal, at, lo, hi, reach) for at, reach in _missing_dividers(at_runs)]
                pad = thick // 2 + 1
                along_lo, along_hi = min(a0, b0), max(a1, b1)
                across_lo, across_hi = max(0, int(lo) - pad), int(np.ceil(hi)) + pad
                if horizontal:
                    frame = (along_lo, across_lo, along_hi, across_hi, thick + 2)
                else:
                    frame = (across_lo, along_lo, across_hi, along_hi, thick + 2)
    return Sides(found, frame, hidden)


def paint_divider(
    target: np.ndarray, mask: np.ndarray, horizontal: bool, at: float, span: tuple[float, float], reach: float
) -> None:
    """Mark in `target` a divider of a row of boxes that no run found (`boxes.Sides.hidden`): within `reach` of
    `at`, across the row's rules (`horizontal`: they run across the image, the divider down it) over `span`,
    the lines of pixels that are ink along nearly all of it (a stroke running along it widened it; one
    crossing it keeps its pixels, see `strokes.crossings`)."""
    lo, hi = int(span[0]), int(np.ceil(span[1]))
    first, last = max(0, int(at - reach)), int(np.ceil(at + reach)) + 1
    band = mask[lo:hi, first:last] if horizontal else mask[first:last, lo:hi].T
    full = np.flatnonzero(band.sum(axis=0) >= 0.9 * band.shape[0]) + first
    if horizontal:
        target[lo:hi, full] |= mask[lo:hi, full]
    else:
        target[full, lo:hi] |= mask[full, lo:hi]


def _missing_dividers(positions: list[float]) -> list[tuple[float, float]]:
    """Where a row of boxes' dividers (`positions` of its sides, its ends included; a bar and its runs count
    once) miss one: a gap two or more times the spacing of the others, when every gap is a whole number of
    spacings within SPACING and half of them or more are one. The spacing is the gaps' lower median (of two
    gaps the narrower: three positions are enough when one gap is two of the other, a row of three boxes whose
    middle divider a digit's stroke along it hid; of half single gaps and half double ones, a single one). Each
    is (where, how far to look: SPACING x the spacing)."""
    merged: list[float] = []
    for at in sorted(positions):
        if not merged or at - merged[-1] >= LINE_MIN:
            merged.append(at)
    gaps = np.diff(merged)
    if len(gaps) < 2:
        return []
    spacing = float(np.sort(gaps)[(len(gaps) - 1) // 2])
    counts = np.round(gaps / max(spacing, 1.0))
    if spacing < LINE_MIN or counts.min() < 1 or np.any(np.abs(gaps - counts * spacing) > SPACING * spacing):
        return []
    if (counts == 1).sum() * 2 < len(gaps) or counts.max() < 2 or (len(gaps) == 2 and counts.max() > 2):
        return []
    return [
        (float(merged[k] + t * gaps[k] / counts[k]), SPACING * spacing)
        for k in np.flatnonzero(counts > 1)
        for t in range(1, int(counts[k]))
    ]


def _evenly_spaced(positions: list[float]) -> bool:
    """Whether four or more positions (a row of boxes' sides, its ends included) are evenly spaced, within
    SPACING of their median gap."""
    if len(positions) < 4:
        return False
    gaps = np.diff(np.sort(positions))
    middle = float(np.median(gaps))
    return middle >= LINE_MIN and bool(np.all(np.abs(gaps - middle) <= SPACING * middle))


def _standing_on_rule(spans: list, pair: tuple[int, int], closing: list, lo: float, hi: float) -> bool:
    """Whether two parallel runs (`pair`, indices into `spans`, as `box_sides` makes them; `lo`, `hi`: where they
    stand across) closed at one end only by runs across (`closing`, spans) are a digit's strokes on a rule: each
    closing run runs on LINE_MIN px or more beyond both of their middles (a rule, not a box's own edge), and no
    other run parallel to them stands along it (a comb's long ticks, a row of boxes' dividers). A thin 0 written
    narrow over a comb's baseline stands its two sides on it; taken for a box, they were erased as its sides."""
    horizontal, (a0, a1), _, _, _ = spans[pair[0]]
    _, (b0, b1), _, _, _ = spans[pair[1]]
    ends = {abs(at - max(a0, b0)) < abs(at - min(a1, b1)) for _, _, at, _, _ in closing}  # which end each closes
    if len(ends) > 1 or any(c0 > lo - LINE_MIN or c1 < hi + LINE_MIN for _, (c0, c1), _, _, _ in closing):
        return False
    return not any(
        same == horizontal and k not in pair and c0 <= at <= c1
        for k, (same, _, at, _, _) in enumerate(spans)
        for _, (c0, c1), _, _, _ in closing
    )


def _at_end(at: float, a0: float, a1: float, b0: float, b1: float, near: float, half: float) -> bool:
    """Whether a run across at `at` (`half` its thickness) closes the pair of runs (a0, a1) and (b0, b1) at one
    end: its centre within `near` of the end, or beyond it by no more than its half thickness (a bold divider
    cuts the rules it joins at its edge, not at its centre)."""
    start, end = max(a0, b0), min(a1, b1)
    return start - near - half <= at <= start + near or end - near <= at <= end + near + half


def within(stats_row: np.ndarray, horizontal: bool, frame: tuple[int, int, int, int, int]) -> bool:
    """Whether a run (its stats row; `horizontal`) lies inside a box (`frame`: left, top, right, bottom, rule
    thickness), clear of the sides it runs along. It may start or end on the others, or cross them by up to a
    rule's thickness: a stroke meets the box, and the stem of a 4 written down to the box's bottom edge runs a
    pixel or two past it (it was erased as a rule, and the 4 read as a 1)."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    left, top, right, bottom, thick = frame
    if horizontal:
        return top + thick <= y and y + h <= bottom - thick and left - thick <= x and x + w <= right + thick
    return left + thick <= x and x + w <= right - thick and top - thick <= y and y + h <= bottom + thick


def entry(stats_row: np.ndarray, frame: tuple[int, int, int, int, int]) -> bool:
    """Whether an upright run standing free (its stats row) is inside a box (`frame`) no more than twice its
    length across: what a form's box holds, not a rule (a frame around a page is far larger than its rules)."""
    length = int(stats_row[cv2.CC_STAT_HEIGHT])
    left, top, right, bottom, _ = frame
    return within(stats_row, False, frame) and max(right - left, bottom - top) <= 2 * length


def hidden_box(
    members: list, outlines: list[tuple[int, int, int, int, int]]
) -> tuple[tuple[int, int], tuple[int, int, int, int, int]] | None:
    """A box of which the runs of one connected part (`members`, as for `box_sides`) found only two sides, one
    rule and one side across it meeting at a corner, each no bolder than the rules of a box found elsewhere
    (`outlines`, as `Sides.frame`: one box each; a row of boxes sharing walls is one frame, and no model here)
    and as long as its sides, within HIDDEN_SIZE of its longer side (at least 3 px): a digit touching the box
    laid its strokes along the other two and made their runs too bold to be found (a 5 whose cap and back lie
    along a box's top and left side). The box has that box's size, from the corner found, and may reach past
    the image's border. The indices of the two runs and the box, or None."""
    runs = [(k, tuple(int(v) for v in c[:4]), horizontal, t) for k, (_, c, _, horizontal, t) in enumerate(members)]
    rules = [(k, box, t) for k, box, horizontal, t in runs if horizontal]
    sides = [(k, box, t) for k, box, horizontal, t in runs if not horizontal]
    for (i, (hx, hy, hw, hh), rule), (j, (vx, vy, vw, vh), side) in ((r, s) for r in rules for s in sides):
        # Which sides these are: the rule is the bottom when the side rises above it, the side is the right one
        # when the rule runs left of it.
        bottom, right = vy + vh / 2 < hy, hx + hw / 2 < vx
        y_edge = hy + hh if bottom else hy
        x_edge = vx + vw if right else vx
        for left, top, far_right, far_bottom, thick in outlines:
            width, height = far_right - left, far_bottom - top
            near = max(3, HIDDEN_SIZE * max(width, height))
            if abs(hw - width) > near or abs(vh - height) > near or max(rule, side) > thick:
                continue  # not the size of that box, or bolder than its rules (a digit's stem meeting a rule)
            ends = (vy + vh if bottom else vy, hx + hw if right else hx)
            if abs(ends[0] - y_edge) > thick + 2 or abs(ends[1] - x_edge) > thick + 2:
                continue  # the rule and the side do not meet at a corner
            x0 = x_edge - width if right else x_edge
            y0 = y_edge - height if bottom else y_edge
            return (i, j), (x0, y0, x0 + width, y0 + height, thick)
    return None
