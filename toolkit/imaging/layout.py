"""Where the ink is, before any digit is cut out: steps 2-4 of the segmenter (`toolkit.imaging.segment`
describes them in full). The ink arrives with the paper's light already divided out (`toolkit.imaging.light`);
here it is found relative to the paper at the image's own resolution, ruled lines are erased and specks
dropped; what is left is a `Layout` of connected parts for `toolkit.imaging.digits` to group into digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from toolkit.imaging.common import PAGE_SIDE, border, median, paper

MIN_CONTRAST = 0.08  # ink must stand this far (0..1) above the paper, whatever the noise
NOISE_SIGMAS = 4.0  # ... and this many sigmas of the paper's noise
LINE_MIN = 12  # px: runs shorter than this are never line candidates
LINE_RATIO = 8.0  # a line is at least this many times longer than it is thick
LINE_THICK = 4.0  # px: and at most this thick (a printed rule is thinner than a pen stroke of a digit this size)
LINE_OVER_DIGIT = 1.5  # ... and longer than the other ink is tall, by this factor
PAGE_LINE = 0.5  # on a page with no other ink, a lone rule crosses at least this share of the sheet
SPECK_SIDE = 3  # px: parts smaller than this on both sides are dust
SPECK_SHARE = 0.01  # parts with less ink than this share of the heaviest part are dust
MIN_DIGIT = 6  # px: an object smaller than this on both sides is dust too (14 px on an A4 page at 200 dpi)
MAX_PARTS = 200  # only the heaviest parts are considered (a page of text is not a number)


@dataclass
class Layout:
    """What `analyse` found on an image: the ink above the paper, its parts, and the lines erased from it."""

    flat: np.ndarray  # float32, ink above the local paper (paper about 0)
    labels: np.ndarray  # int32 connected-part labels of the ink that is left (lines and specks removed)
    parts: np.ndarray  # int64 rows (label, left, top, width, height, ink mass x 1000), heaviest first
    lines: np.ndarray | None  # uint8 mask of the erased lines (grown by a pixel), None when there were none
    touching: np.ndarray  # labels of the parts that were joined to an erased line
    noise: float  # the paper's noise (sigma)
    page: bool  # larger than common.PAGE_SIDE


def analyse(ink: np.ndarray) -> Layout:
    """Find the ink of flattened ink (`light.flatten`), erase ruled lines and drop specks (steps 2-4 of the
    segmenter)."""
    page = max(ink.shape) > PAGE_SIDE
    flat = ink - np.float32(median(border(ink)))
    level, noise = paper(border(flat))
    if level:
        flat -= np.float32(level)
    threshold = max(MIN_CONTRAST, NOISE_SIGMAS * noise)
    mask = (flat > threshold).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = _lines(mask, flat, labels, stats, page) if count > 1 else None
    lines, touching = None, np.zeros(0, np.int64)
    if found is not None:
        lines, strokes = found
        before = labels
        mask = mask & (lines ^ 1)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        # Each part left was part of one connected part before: those that were joined to a line touched it.
        origin = np.zeros(count, np.int32)
        origin[labels.ravel()] = before.ravel()
        touching = np.flatnonzero(np.isin(origin, list(strokes)))
        touching = touching[touching > 0]
    parts = _parts(flat, labels, stats, count)
    return Layout(flat, labels, parts, lines, touching, noise, page)


def _parts(flat: np.ndarray, labels: np.ndarray, stats: np.ndarray, count: int) -> np.ndarray:
    """The parts that are not specks: rows (label, left, top, width, height, mass x 1000), heaviest first."""
    if count <= 1:
        return np.zeros((0, 6), np.int64)
    # Summed over the ink pixels only: a page is mostly paper, and a weighted count over all of it costs more
    # than everything else here.
    ink = np.flatnonzero(labels)
    mass = np.bincount(labels.ravel()[ink], weights=flat.ravel()[ink], minlength=count)[1:]
    rows = np.column_stack([np.arange(1, count), stats[1:, :4], np.round(mass * 1000)]).astype(np.int64)
    big = np.maximum(rows[:, 3], rows[:, 4]) >= SPECK_SIDE
    rows = rows[big & (rows[:, 5] >= SPECK_SHARE * rows[:, 5].max())]
    return rows[np.argsort(-rows[:, 5], kind="stable")][:MAX_PARTS]


def _lines(
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
    owners = [_owner(labels, run_labels, c, i) for run_labels, c, i, _ in candidates]
    lines: set[int] = set()
    explained = np.zeros(len(stats), bool)  # parts that are a box or a single line, not writing
    for stroke in set(owners):
        members = [k for k, owner in enumerate(owners) if owner == stroke]
        x, y, pw, ph = (int(v) for v in stats[stroke][:4])
        if _is_box(stats[stroke], [candidates[k] for k in members]):
            lines.update(members)
            explained[stroke] = True
        # One run covering the part but for a pixel or two of blur around it: a rule.
        explained[stroke] |= any(
            candidates[k][1][cv2.CC_STAT_WIDTH] >= pw - 4 and candidates[k][1][cv2.CC_STAT_HEIGHT] >= ph - 4
            for k in members
        )
    # The scale of the digits: the height of the tallest part that is writing (heights, because a horizontal
    # line touching a digit lends the digit's part its length as a width, not as a height).
    writing = ~explained & (np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) >= MIN_DIGIT)
    writing[0] = False  # the background
    digit = int(stats[writing, cv2.CC_STAT_HEIGHT].max()) if writing.any() else None
    for k, (_, c, _, horizontal) in enumerate(candidates):
        length = c[cv2.CC_STAT_WIDTH] if horizontal else c[cv2.CC_STAT_HEIGHT]
        if digit is not None and length >= LINE_OVER_DIGIT * digit:
            lines.add(k)
        elif digit is None and page and length >= PAGE_LINE * (w if horizontal else h):
            lines.add(k)
    if not lines:
        return None
    strokes = {owners[k] for k in lines}
    erase = np.zeros_like(mask)
    for k in lines:
        run_labels, c, i, _ = candidates[k]
        _paint(erase, run_labels, i, c)
    return cv2.dilate(erase, np.ones((3, 3), np.uint8)), strokes


def _line_candidates(mask: np.ndarray, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    """The runs of ink that may be ruled lines: long along an axis (an opening with a LINE_MIN px kernel) and
    thin and straight (see `_thin`). Each is (labels of the runs, its stats row, its label, horizontal?), the
    horizontal runs first."""
    candidates: list[tuple[np.ndarray, np.ndarray, int, bool]] = []
    for horizontal in (True, False):
        kernel = np.ones((1, LINE_MIN) if horizontal else (LINE_MIN, 1), np.uint8)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        if not cv2.countNonZero(opened):
            continue
        _, run_labels, run_stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        length = run_stats[:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT].astype(np.float64)
        # By the pixel count first (a blob three times too thick needs no closer look), then by the ink.
        maybe = np.flatnonzero(3 * length[1:] ** 2 >= LINE_RATIO * run_stats[1:, cv2.CC_STAT_AREA]) + 1
        thin = [int(i) for i in maybe if _thin(flat, run_labels, run_stats[i], int(i), horizontal)]
        candidates += [(run_labels, run_stats[i], i, horizontal) for i in thin]
    return candidates


def _thin(flat: np.ndarray, labels: np.ndarray, stats_row: np.ndarray, label: int, horizontal: bool) -> bool:
    """True when a run of ink is a straight thin stroke along an axis: at most LINE_THICK px and at least
    LINE_RATIO times longer than thick, and across its length mostly within a band a quarter of its length wide
    (the joined bars and slanted strokes of two 7s make long runs too, but not a straight band).

    The thickness is the run's ink (its summed contrast) over its length and its peak contrast: a scanner's
    blur widens a thin rule by a faint pixel on each side, which would triple a count of pixels."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    length, across = (w, h) if horizontal else (h, w)
    # Straight and along an axis, give or take a scanner's skew of 3 degrees: its box is as narrow as the run is
    # thick (area / length). A slanted stroke of a digit is thin too, but its box is wider than it.
    if across > stats_row[cv2.CC_STAT_AREA] / length + 1 + 0.05 * length:
        return False
    region = labels[y : y + h, x : x + w] == label
    values = flat[y : y + h, x : x + w][region]
    peak = float(values.max())
    if peak <= 0:
        return False
    thickness = float(values.sum()) / (peak * length)
    if thickness > LINE_THICK or length < LINE_RATIO * thickness:
        return False
    band = region if horizontal else region.T  # rows: across the run; columns: along it
    present = band.any(axis=0)
    first = np.argmax(band, axis=0)
    last = band.shape[0] - np.argmax(band[::-1], axis=0)
    return float(np.median((last - first)[present])) * 4 <= length


def _paint(target: np.ndarray, labels: np.ndarray, label: int, stats_row: np.ndarray) -> None:
    """Set to 1 the pixels of `target` where `labels` is `label`, inside that part's box (`stats_row`)."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    target[y : y + h, x : x + w] |= (labels[y : y + h, x : x + w] == label).view(np.uint8)


def _owner(labels: np.ndarray, run_labels: np.ndarray, stats_row: np.ndarray, label: int) -> int:
    """The part of `labels` that run `label` (a subset of the ink) lies on."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    region = run_labels[y : y + h, x : x + w] == label
    at = int(np.argmax(region))
    return int(labels[y + at // w, x + at % w])


def _is_box(outline: np.ndarray, members: list) -> bool:
    """True when ruled runs lie along at least 3 of the 4 sides of a stroke's outline (`outline`: its stats
    row), each covering most of that side and ruled straight (its box no wider than it is thick): a form box,
    not a digit (the sides of a 0 are curved, the sides of a thin 8 slant, the bar of a 7 is one side)."""
    x, y, w, h = (int(v) for v in outline[:4])
    near_x, near_y = max(2, w // 7), max(2, h // 7)
    sides = set()
    for _, c, _, horizontal in members:
        cx, cy, cw, ch = (int(v) for v in c[:4])
        length, across = (cw, ch) if horizontal else (ch, cw)
        if across > c[cv2.CC_STAT_AREA] / length + 1.5:
            continue
        if horizontal and cw >= 0.85 * w:
            if cy - y <= near_y:
                sides.add("top")
            if y + h - (cy + ch) <= near_y:
                sides.add("bottom")
        elif not horizontal and ch >= 0.85 * h:
            if cx - x <= near_x:
                sides.add("left")
            if x + w - (cx + cw) <= near_x:
                sides.add("right")
    return len(sides) >= 3
