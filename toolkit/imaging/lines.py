"""Ruled lines and form boxes, told apart from the digits they touch: step 3 of the segmenter
(`toolkit.imaging.segment` describes it). `toolkit.imaging.layout` calls `find_lines` on the ink's connected
parts (axis-aligned rules and boxes, even where a digit touches or crosses them) and `ruled_parts` on what is
left (lines and boxes drawn askew, on their own). A line is erased only where it is line: where a stroke
meets, crosses or lies along it, its pixels stay with the stroke (`toolkit.imaging.strokes`).
"""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.boxes import (
    box_sides,
    boxed_in,
    entry,
    hidden_box,
    outline,
    paint_divider,
    within,
)
from toolkit.imaging.common import LINE_MIN, LINE_RATIO, LINE_THICK, MIN_DIGIT
from toolkit.imaging.runs import bowed, ink_width, on_the_line
from toolkit.imaging.strokes import crossings, pen_along

SIDE_RATIO = 4.0  # a run this many times longer than thick may be a box's side (two boxes' sides side by side)
THICK_MAX = 16.0  # px: runs up to this thick are looked at (a bold box, two boxes' sides as one bar: judged as a box)
LONG_RATIO = 25.0  # a run this many times longer than thick is a rule at any thickness up to THICK_MAX
LINE_OVER_DIGIT = 1.5  # ... and longer than the other ink is tall, by this factor
PAGE_LINE = 0.5  # on a page with no other ink, a lone rule crosses at least this share of the sheet
PAGE_PIECE = 0.12  # on a page, a lone straight part shorter than this share of the sheet may be a 1: the model
# judges it (a bold 1 under a header of small words was longer than they are tall, and erased as a rule)
DIAGONAL, BAND, BAND_ALONE = 35.0, 0.2, 0.25  # a straight band (no wider than BAND x its length) leaning DIAGONAL
# degrees from both axes, longer than PAGE_PIECE of the image and standing LINE_OVER_DIGIT x as tall as the other
# ink is large (its parts' longer sides; when there is none: running into the image's border, or across BAND_ALONE
# of it), is no digit: a 1 leans less or stands no taller
SHEET_EDGE = 8.0  # a part along the border of a page, this many times longer than wide, is the sheet's edge
RULE_ROWS, STANDING_OUT, STANDING_OUT_LONG = 0.8, 0.35, 0.6  # a rule fills its rows along 80% of a run; what
# stands out holds under 35% (under 60% along 8 LINE_MIN or more: the digits of a number sitting on a rule)
BAR_ACROSS = 0.8  # a bar joining a row of boxes' rules crosses this share of the run they make together


def ruled_parts(
    flat: np.ndarray, labels: np.ndarray, parts: np.ndarray, page: bool, erased: np.ndarray | None = None
) -> list[int]:
    """Labels of the parts that are, on their own, a ruled line or a box at any angle (a sheet scanned askew,
    the edge of the sheet on a scanner's lid): step 3 for what the axis-aligned search cannot see. A part is
    measured by its minimum-area rectangle, its thickness by its ink over its peak (as `_thin`: a blurred rule
    is wider in pixels than in ink). It is a line when it is as thin as a rule and straight (the rectangle no
    wider than its thickness and a blur), longer than LINE_OVER_DIGIT x the tallest other part and, on a page,
    than PAGE_PIECE of the sheet (on a page with no other ink: PAGE_LINE of it); it is a box when
    its ink follows the rectangle's outline all round (a 0 touches its rectangle in four places only); it is a
    shadow's or a fold's edge when it is a straight band leaning DIAGONAL from both axes, longer than PAGE_PIECE
    of the sheet and standing LINE_OVER_DIGIT x as tall as the largest other part is long (a 1 leaning in a number,
    longer than its neighbours are tall, stands no taller than they do), or, with no
    other part, running into the image's border or longer than BAND_ALONE of the sheet (a 1 leaning alone in a
    form's box is not). A thin straight stroke standing more up than across between two upright lines already
    `erased` (`boxes.boxed_in`) is a 1 written leaning in a form's box, however it stands beside the labels, as
    `find_lines` keeps an upright one."""
    shaped: dict[int, tuple[str, float, float]] = {}  # label: (kind, length, the length it is measured by)
    sheet = max(labels.shape)
    for label, x, y, w, h, mass in parts.tolist():
        if max(w, h) < 2 * LINE_MIN:
            continue
        region = (labels[y : y + h, x : x + w] == label).view(np.uint8)
        peak = float(flat[y : y + h, x : x + w][region.view(bool)].max())
        ink = mass / 1000.0 / max(peak, 1e-6)  # pixels of solid ink
        points = cv2.findNonZero(region)
        rect = cv2.minAreaRect(points)
        long, short = max(rect[1]), min(rect[1])
        thick = ink / max(long, 1.0)
        if long >= max(4 * LINE_MIN, PAGE_PIECE * sheet) and short <= BAND * long and _diagonal(rect):
            # A long straight band leaning far from both axes: a shadow's or a fold's edge, erased like a box
            # whatever its thickness. A short one may be a 1 written leaning (45 degrees in a form's box): the
            # model judges it; so may one no longer than the digits beside it (a 1 leaning in a number), or one
            # alone that neither runs into the image's border nor crosses BAND_ALONE of it (a 1 alone in a box).
            # Beside digits it is measured by how tall it stands, not by its length: a 1 leaning 40 degrees is
            # longer than the digits beside it are tall, but no taller than they are.
            at_border = x == 0 or y == 0 or x + w == labels.shape[1] or y + h == labels.shape[0]
            shaped[label] = ("edge" if at_border else "band", long, h)
        elif thick <= LINE_THICK and long >= LINE_RATIO * thick and short <= thick + 4:
            if h >= w and erased is not None and boxed_in((x, y, w, h), erased):
                continue  # the entry of the box it stands in
            shaped[label] = ("line", long, long)
        elif outline(region, rect, ink):
            shaped[label] = ("box", long, long)
        elif page and _sheet_edge((x, y, w, h), labels.shape):
            shaped[label] = ("box", long, long)  # erased like a box, whatever the other ink
    if not shaped:
        return []
    others = [max(w, h) for label, _, _, w, h, _ in parts.tolist() if label not in shaped and max(w, h) >= MIN_DIGIT]
    digit = max(others) if others else None
    return [
        label
        for label, (kind, long, tall) in shaped.items()
        if kind == "box"
        or (digit is None and (kind == "edge" or (kind == "band" and long >= BAND_ALONE * sheet)))
        # (a band beside digits is one by the next rule: it is longer than PAGE_PIECE of the sheet)
        or (digit is not None and tall >= LINE_OVER_DIGIT * digit and (not page or long >= PAGE_PIECE * sheet))
        or (digit is None and page and long >= PAGE_LINE * sheet)
    ]


def _diagonal(rect: tuple) -> bool:
    """Whether a minimum-area rectangle's long side leans DIAGONAL degrees or more from both axes."""
    (_, _), (rw, rh), angle = rect
    along = angle if rw >= rh else angle + 90.0  # the long side's direction, in degrees
    return abs((along + 45.0) % 90.0 - 45.0) >= DIAGONAL  # its lean: 0 along an axis, 45 on the diagonal


def _sheet_edge(box: tuple[int, int, int, int], shape: tuple[int, int]) -> bool:
    """Whether a part of a page (its `box`: left, top, width, height) lies along the image's border, long and
    narrow (at most LINE_MIN px across): a sheet's edge askew on the scanner (a photo's desk is wider: kept)."""
    x, y, w, h = box
    along_side = (x == 0 or x + w == shape[1]) and h >= SHEET_EDGE * w
    along_top = (y == 0 or y + h == shape[0]) and w >= SHEET_EDGE * h
    return max(w, h) >= 4 * LINE_MIN and min(w, h) <= LINE_MIN and (along_side or along_top)


def find_lines(
    mask: np.ndarray, flat: np.ndarray, labels: np.ndarray, stats: np.ndarray, page: bool
) -> tuple[np.ndarray, set[int]] | None:
    """The ruled lines among the ink (step 3 of the segmenter) as a mask grown by a pixel (their anti-aliased
    edges) and the labels of the connected parts they lie on, or None when there are none. `labels`, `stats`:
    the ink's connected parts."""
    h, w = mask.shape
    candidates = _line_candidates(mask, flat)
    if not candidates:
        return None
    # The connected part of the ink each candidate lies on: boxes, and the parts that are nothing but a line.
    owners = [_owner(labels, run_labels, c, i) for run_labels, c, i, _, _ in candidates]
    lines: set[int] = set()
    across = {True: np.zeros_like(mask), False: np.zeros_like(mask)}  # horizontal lines, vertical lines
    outlines: list[tuple[int, int, int, int, int]] = []  # the boxes found: (left, top, right, bottom, thickness)
    explained = np.zeros(len(stats), bool)  # parts that are a box or a single line, not writing
    framed: dict[int, tuple[int, int, int, int, int]] = {}  # the box found on each part that holds one
    for stroke in set(owners):
        members = [k for k, owner in enumerate(owners) if owner == stroke]
        sides, frame, hidden = box_sides([candidates[k] for k in members])
        for horizontal, at, lo, hi, reach in hidden:
            paint_divider(across[not horizontal], mask, horizontal, at, (lo, hi), reach)
        if sides:
            lines.update(members[k] for k in sides)
            outlines.append(frame)
            framed[stroke] = frame
            explained[stroke] = True
        explained[stroke] |= any(_whole(candidates[k][1], stats[stroke]) for k in members)  # a rule
    # A box whose other two sides a digit's strokes, laid along them, hid from the runs: as large as a box found.
    for stroke in set(owners) - set(framed):
        members = [k for k, owner in enumerate(owners) if owner == stroke]
        if (found := hidden_box([candidates[k] for k in members], outlines)) is not None:
            pair, box = found
            lines.update(members[k] for k in pair)
            outlines.append(box)
            framed[stroke], explained[stroke] = box, True
    # The digits' scale: the tallest writing's height (a line touching a digit lends its part a width, not a height).
    writing = ~explained & (np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= MIN_DIGIT)
    writing[0] = False  # the background
    digit = int(stats[writing, cv2.CC_STAT_HEIGHT].max()) if writing.any() else None
    for k, (_, c, _, horizontal, thickness) in enumerate(candidates):
        length = c[cv2.CC_STAT_WIDTH] if horizontal else c[cv2.CC_STAT_HEIGHT]
        if thickness > max(LINE_THICK, length / LONG_RATIO) or length < LINE_RATIO * thickness:
            continue  # a bold or short run: a line only as a side of a box
        if owners[k] in framed and within(c, horizontal, framed[owners[k]]):
            continue  # a stroke of the digit written in the box and touching it: only the box's sides are lines
        if not horizontal and owners[k] not in framed and any(entry(c, frame) for frame in outlines):
            continue  # a thin 1 standing free in a form's box is its entry, however tall beside the labels
        if page and not horizontal and length < PAGE_PIECE * max(h, w) and _whole(c, stats[owners[k]]):
            continue  # a lone upright bar on a page, shorter than PAGE_PIECE of it, may be a 1: the model judges it
        if digit is not None and length >= LINE_OVER_DIGIT * digit:
            lines.add(k)
        elif digit is None and page and length >= PAGE_LINE * (w if horizontal else h):
            lines.add(k)
    if not lines:
        return None
    strokes = {owners[k] for k in lines}
    for k in lines:
        run_labels, c, i, horizontal, thickness = candidates[k]
        _paint(across[horizontal], run_labels, i, c, thickness)
    for left, top, right, bottom, thick in outlines:
        # All four sides of a box, also where a digit's stroke ran along one and hid it from the runs.
        for horizontal, (x0, y0, x1, y1) in (
            (True, (left, top, right, top + thick)),
            (True, (left, bottom - thick, right, bottom)),
            (False, (left, top, left + thick, bottom)),
            (False, (right - thick, top, right, bottom)),
        ):
            side = np.s_[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]  # (a box the image's border cuts)
            across[horizontal][side] |= mask[side]
    grow = np.ones((3, 3), np.uint8)
    rules: np.ndarray = cv2.dilate(across[True], grow)
    uprights: np.ndarray = cv2.dilate(across[False], grow)
    pen = pen_along(flat, mask, rules, uprights)
    return (rules | uprights) & ((crossings(mask, rules, uprights) | pen) ^ 1), strokes


def _whole(run: np.ndarray, part: np.ndarray) -> bool:
    """Whether a run (its stats row) covers the part it lies on (its stats row) but for a pixel or two of blur
    around it: the part is nothing but the run."""
    return bool(
        run[cv2.CC_STAT_WIDTH] >= part[cv2.CC_STAT_WIDTH] - 4
        and run[cv2.CC_STAT_HEIGHT] >= part[cv2.CC_STAT_HEIGHT] - 4
    )


def _line_candidates(mask: np.ndarray, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int, bool, float]]:
    """The runs of ink that may be ruled lines: long along an axis (an opening with a LINE_MIN px kernel) and
    thin and straight (see `_thin`). Each is (labels of the runs, its stats row, its label, horizontal?, its
    thickness), the horizontal runs first."""
    candidates: list[tuple[np.ndarray, np.ndarray, int, bool, float]] = []
    for horizontal in (True, False):
        kernel = np.ones((1, LINE_MIN) if horizontal else (LINE_MIN, 1), np.uint8)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        if not cv2.countNonZero(opened):
            continue
        _, run_labels, run_stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        length = run_stats[:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT].astype(np.float64)
        # By the pixel count first (a blob three times too thick needs no closer look), then by the ink.
        maybe = np.flatnonzero(3 * length[1:] ** 2 >= SIDE_RATIO * run_stats[1:, cv2.CC_STAT_AREA]) + 1
        measured = [(int(i), _thin(flat, run_labels, run_stats[i], int(i), horizontal)) for i in maybe]
        candidates += [(run_labels, run_stats[i], i, horizontal, t) for i, t in measured if t is not None]
        long = 4 * LINE_MIN  # a run of boxes joined by their bars, along; their height, across
        for i in [i for i, t in measured if t is None and length[i] >= long]:
            tall = min(run_stats[i, 2:4]) >= 2 * LINE_MIN
            found = _between_bars(flat, run_labels, run_stats[i], i, horizontal) if tall else []
            candidates += found or _along_rule(flat, run_labels, run_stats[i], i, horizontal)
    return candidates


def _between_bars(
    flat: np.ndarray, labels: np.ndarray, stats_row: np.ndarray, label: int, horizontal: bool
) -> list[tuple[np.ndarray, np.ndarray, int, bool, float]]:
    """The thin runs of a run that is none because bars across it join it into one: a row of form boxes whose
    dividers are two boxes' sides side by side is a bar too wide for the opening to remove, and it joins the
    row's top and bottom rules into one run. The bars (columns of the run, for a horizontal one, that cross
    BAR_ACROSS of it) are taken out and what is left is measured again, each piece as a run of its own, and a
    horizontal piece too bold for that also as a rule with a stroke along it (`_along_rule`), kept when in line
    with a thin piece: a digit's stem can be such a bar. Only runs that are no line are looked at."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    region = (labels[y : y + h, x : x + w] == label).view(np.uint8)
    band = region if horizontal else region.T  # rows: across the run; columns: along it
    bars = band.sum(axis=0) >= BAR_ACROSS * band.shape[0]
    if not bars.any() or bars.all():
        return []
    rules = band * ~bars
    whole, stats, found, bold = _measured_pieces(flat, rules, horizontal, labels.shape, (x, y))
    if horizontal and (
        any(length < 4 * LINE_MIN for length in bold.values()) or any(c[1][2] < LINE_RATIO * c[4] for c in found)
    ):
        # Pieces too short to be measured on their own, or to be a box's rules: between the bold dividers of small
        # boxes. Each rule is measured as one piece across the bars, where it is inked on both sides of them.
        # (Rows of boxes only: a desk's upright grain beside a photographed sheet makes such pieces too.)
        bridged = rules.copy()
        edges = np.flatnonzero(np.diff(np.r_[0, bars.view(np.int8), 0]))  # each bar's first column, the one after
        for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            if start > 0 and end < band.shape[1]:
                bridged[(rules[:, start - 1] & rules[:, end]).view(bool), start:end] = 1
        whole, stats, found, bold = _measured_pieces(flat, rules, horizontal, labels.shape, (x, y), bridged)
    if not found:
        return []
    rows = [(c[1], c[1] + c[3]) for _, c, _, _, _ in found]  # the thin pieces' rows (stats: x, y, w, h)
    for piece in [piece for piece, length in bold.items() if horizontal and length >= 4 * LINE_MIN]:
        # In line with a thin piece of the rule: a 6's loop lying along it, its stem a "bar". (Horizontal only: a
        # table's upright grain made "rules".)
        for rule in _along_rule(flat, whole, stats[piece], piece, horizontal):
            top, bottom = rule[1][1], rule[1][1] + rule[1][3]
            if any(top < b and a < bottom for a, b in rows):
                found.append(rule)
    # The bars, as runs across: sides of the boxes the pieces make (see `boxes.box_sides`), whatever their thickness.
    bars_at, stats = _pieces(band * bars, horizontal, labels.shape, (x, y))
    for piece in range(1, len(stats)):
        x0, y0, bw, bh = (int(v) for v in stats[piece, :4])
        values = flat[y0 : y0 + bh, x0 : x0 + bw][bars_at[y0 : y0 + bh, x0 : x0 + bw] == piece]
        found.append((bars_at, stats[piece], piece, not horizontal, ink_width(values, bh if horizontal else bw)))
    return found


def _measured_pieces(
    flat: np.ndarray,
    rules: np.ndarray,
    horizontal: bool,
    shape: tuple[int, ...],
    origin: tuple[int, int],
    joined: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list, dict[int, int]]:
    """The pieces of a run's `rules` (as `_pieces`; `joined`: the same pixels with gaps filled, which make the
    pieces), the thin ones as runs and the length of each other one LINE_MIN long or more (bold or short)."""
    whole, stats = (
        _pieces(rules, horizontal, shape, origin)
        if joined is None
        else _pieces(joined, horizontal, shape, origin, rules)
    )
    found, bold = [], {}
    for piece in range(1, len(stats)):
        length = int(stats[piece, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT])
        thickness = _thin(flat, whole, stats[piece], piece, horizontal) if length >= 2 * LINE_MIN else None
        if thickness is not None:
            found.append((whole, stats[piece], piece, horizontal, thickness))
        elif length >= LINE_MIN:
            bold[piece] = length
    return whole, stats, found, bold


def _along_rule(
    flat: np.ndarray, labels: np.ndarray, stats_row: np.ndarray, label: int, horizontal: bool
) -> list[tuple[np.ndarray, np.ndarray, int, bool, float]]:
    """The rule in a long run that is none because a stroke lying along part of it widens it (the top of a 2
    written against a box's rule): the rows of the run (across it) that the ink fills along RULE_ROWS of its
    length, measured again as a run of their own, when what stands out of them holds at most STANDING_OUT of
    the run's ink (a 9's straight tail below the arc of its loop, which holds more, is no rule), STANDING_OUT_LONG
    along a run 8 LINE_MIN long or more (a number's digits sitting on a rule, or on a row of boxes' rules)."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    region = (labels[y : y + h, x : x + w] == label).view(np.uint8)
    band = region if horizontal else region.T  # rows: across the run; columns: along it
    rows = band.sum(axis=1) >= RULE_ROWS * band.shape[1]
    standing_out = STANDING_OUT_LONG if band.shape[1] >= 8 * LINE_MIN else STANDING_OUT
    if not rows.any() or band[~rows].sum() > standing_out * band.sum():
        return []
    kept = band * rows[:, None].astype(np.uint8)
    pieces, stats = _pieces(kept, horizontal, labels.shape, (x, y))
    longest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT]))
    thickness = _thin(flat, pieces, stats[longest], longest, horizontal)
    return [] if thickness is None else [(pieces, stats[longest], longest, horizontal, thickness)]


def _pieces(
    band: np.ndarray, horizontal: bool, shape: tuple[int, ...], origin: tuple[int, int], kept: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The connected pieces of `band` (a run's mask, along its columns: transposed for a vertical run) as labels
    over the whole image (`shape`; the run's box starts at `origin`, x then y) and their stats in its pixels.
    `kept`: only these pixels of `band` are labelled and counted (its pieces are still those of `band`)."""
    _, pieces, stats, _ = cv2.connectedComponentsWithStats(band if horizontal else np.ascontiguousarray(band.T))
    if kept is not None:
        pieces *= kept if horizontal else kept.T
        stats[:, cv2.CC_STAT_AREA] = np.bincount(pieces.ravel(), minlength=len(stats))
    labels = np.zeros(shape, np.int32)
    labels[origin[1] : origin[1] + pieces.shape[0], origin[0] : origin[0] + pieces.shape[1]] = pieces
    stats[:, :2] += origin
    return labels, stats


def _thin(flat: np.ndarray, labels: np.ndarray, stats_row: np.ndarray, label: int, horizontal: bool) -> float | None:
    """The thickness of a run of ink that is a straight thin stroke along an axis, None for any other: at most
    THICK_MAX px and at least SIDE_RATIO times longer than thick, and across its length mostly within a band a
    quarter of its length wide (the joined bars and slanted strokes of two 7s make long runs too, but not a
    straight band), and, down the image, not bowed (`runs.bowed`).

    The thickness is the run's ink (its summed contrast) over its length and its peak contrast: a scanner's
    blur widens a thin rule by a faint pixel on each side, which would triple a count of pixels."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    length, across = (w, h) if horizontal else (h, w)
    # Straight and along an axis, give or take a scanner's skew of 3 degrees: its box is as narrow as the run is
    # thick (area / length). A slanted stroke of a digit is thin too, but its box is wider than it.
    if across > stats_row[cv2.CC_STAT_AREA] / length + 1 + 0.05 * length:
        return None
    region = labels[y : y + h, x : x + w] == label
    values = flat[y : y + h, x : x + w][region]
    peak = float(values.max())
    if peak <= 0:
        return None
    thickness = ink_width(values, length)
    if thickness > THICK_MAX or length < SIDE_RATIO * thickness:
        return None  # (a run shorter than LINE_RATIO x its thickness is a line only as a side of a box)
    band = region if horizontal else region.T  # rows: across the run; columns: along it
    present = band.any(axis=0)
    inked = int(present.sum())
    if inked < length:  # a rule bridged across bars has no ink at them: its thickness is over the rest
        thickness = ink_width(values, inked)
        if thickness > THICK_MAX or length < SIDE_RATIO * thickness:
            return None
    first = np.argmax(band, axis=0)[present]
    last = band.shape[0] - np.argmax(band[::-1], axis=0)[present]
    if thickness > LINE_THICK and across > stats_row[cv2.CC_STAT_AREA] / length + 2:
        # A bold run must be square to the axes: askew, it is a thin rule's steps (`ruled_parts`). Measured on
        # its middle (the drift of its centre along it), not its box: the fillets where a box's sides meet a
        # rule widen the box locally.
        centre = (first + last) / 2
        drift = float(np.percentile(centre, 95) - np.percentile(centre, 5))
        if drift > 2:
            return None
    if not horizontal and bowed((first + last) / 2):
        return None  # an arc: the side of a 0, a 6 or a 9 written tall, not a box's side
    return thickness if float(np.median(last - first)) * 4 <= length else None


def _paint(target: np.ndarray, labels: np.ndarray, label: int, stats_row: np.ndarray, thickness: float) -> None:
    """Set to 1 the pixels of `target` where `labels` is `label`, inside that part's box (`stats_row`), that
    lie on the run's straight line (`runs.on_the_line`, the run being `thickness` px thick)."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    target[y : y + h, x : x + w] |= on_the_line((labels[y : y + h, x : x + w] == label).view(np.uint8), thickness)


def _owner(labels: np.ndarray, run_labels: np.ndarray, stats_row: np.ndarray, label: int) -> int:
    """The part of `labels` that run `label` (a subset of the ink) lies on."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    region = run_labels[y : y + h, x : x + w] == label
    # Most of the run's pixels: an opening with an even kernel may shift a run by a pixel off its ink.
    under = labels[y : y + h, x : x + w][region]
    under = under[under > 0]
    return int(np.bincount(under).argmax()) if under.size else 0
