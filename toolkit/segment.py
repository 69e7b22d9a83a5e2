"""Find digits where they really are: anywhere on a whole page, inside a ruled form box, or side by side in a
number. `toolkit.preprocess` sends here every image larger than `preprocess.PAGE_SIDE` (pages, photos, form
fields) and every image read with `multi_digit`; single-digit scans keep its fast path.

The image arrives as ink (bright on black, polarity already settled) at its working resolution, at most
`preprocess.MAX_SIDE` px. All per-pixel work is OpenCV's (resizing, median, thresholds, morphology, connected
components); Python only loops over the few connected parts found.

1. Paper. On a page the paper level is flattened: a median over a third of the sheet, taken on a copy of about
   96 px, is the local paper, and subtracting it makes uneven light (a gradient, a phone photo's dark corners)
   flat, so that one threshold fits the whole sheet. A small image's paper is its border's median, as on the
   fast path.
2. Ink. A pixel is ink when it stands out from the paper by 4 sigma of the paper's noise and by MIN_CONTRAST.
   This is decided on the page itself, at its own resolution, never on a fixed-size copy, so an 80 px digit on
   a 2339 px page is found as surely as a digit that fills the image.
3. Ruled lines. Long runs (openings with LINE_MIN px horizontal and vertical kernels) that are straight and thin
   (at most LINE_THICK px, at least LINE_RATIO times longer than thick) are candidates. A candidate is a line when it is longer than the largest
   other ink (1.1x its longer side), when it is part of a closed box (3 of the 4 sides of its outline), when it belongs
   to the same stroke as such a line, or, on a page with no other ink, when it crosses half the sheet. A thin
   "1" or the bar of a "7" is never longer than the digits are tall, so it stays. Lines are erased before any
   digit is cut out: a form box never reaches the model.
4. Specks. Parts under SPECK_SIDE px, or with under SPECK_SHARE of the heaviest part's ink, are dust.
5. Digits. Parts closer than JOIN x their height are one object (a 5 whose cap is detached). Single-digit mode
   reads the heaviest object. Multi-digit mode takes the main row of objects, left to right, merges parts
   stacked above one another, and splits an object too wide for one digit at the columns where the ink is
   thinnest (see `_split`).
6. Each digit is cut out with its own mask (a neighbour's ink never enters its box, and neither does an erased
   line), contrast-stretched so that solid ink is 1, and placed in the model's field by
   `preprocess.to_field`, exactly as a single scan is.

What deserves a human look is flagged (`FLAGS`), never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from toolkit import preprocess
from toolkit.preprocess import SIZE, Normalized

MIN_CONTRAST = 0.08  # ink must stand this far (0..1) above the paper, whatever the noise
NOISE_SIGMAS = 4.0  # ... and this many sigmas of the paper's noise
BACKGROUND_SIDE = 96  # the paper level is estimated on a copy reduced to about this size
LINE_MIN = 12  # px: runs shorter than this are never line candidates
LINE_RATIO = 8.0  # a line is at least this many times longer than it is thick
LINE_THICK = 4.0  # px: and at most this thick (a printed rule is thinner than a pen stroke of a digit this size)
LINE_OVER_DIGIT = 1.1  # ... and longer than the other ink is large, by this factor
PAGE_LINE = 0.5  # on a page with no other ink, a lone rule crosses at least this share of the sheet
SPECK_SIDE = 3  # px: parts smaller than this on both sides are dust
SPECK_SHARE = 0.04  # parts with less ink than this share of the heaviest part are dust
JOIN = 0.2  # parts closer than this x the taller one's height belong to one object
COMPARABLE = 0.35  # another object with this share of the chosen one's ink makes the choice ambiguous
MAX_PARTS = 200  # only the heaviest parts are considered (a page of text is not a number)
DIGIT_WIDTH = 0.8  # a digit's typical width, as a share of its height (MNIST: median 0.8)
SPLIT_WIDTH = 1.25  # an object wider than this x the row's digit height holds more than one digit

FLAGS = {
    "blank-page": "a page-sized image in which no digit was found",
    "lines-only": "ruled lines (a form box, a rule) were found, and nothing else",
    "ambiguous": "several blobs of ink of comparable weight, or several rows: which one is meant is a guess",
    "several-digits": "single-digit mode, but the ink looks like several digits side by side (--multi-digit)",
    "touches-line": "the digit touched a ruled line that was erased, and may have lost part of a stroke",
    "split": "touching digits were split at the column where their ink is thinnest",
}


@dataclass
class Layout:
    """What `analyse` found on an image: the ink above the paper, its parts, and the lines erased from it."""

    flat: np.ndarray  # float32, ink above the local paper (paper about 0)
    labels: np.ndarray  # int32 connected-part labels of the ink that is left (lines and specks removed)
    parts: np.ndarray  # int64 rows (label, left, top, width, height, ink mass x 1000), heaviest first
    lines: np.ndarray | None  # uint8 mask of the erased lines (grown by a pixel), None when there were none
    touching: np.ndarray  # labels of the parts that were joined to an erased line
    noise: float  # the paper's noise (sigma)
    page: bool  # larger than preprocess.PAGE_SIDE


def read(ink: np.ndarray, inverted: bool, multi_digit: bool = False) -> Normalized:
    """Ink (bright on black, float32) -> the digit (single-digit mode: tensor (28, 28)) or the digits left to
    right (`multi_digit`: tensor (n, 28, 28)), their boxes and flags. See the module docstring."""
    layout = analyse(ink)
    flags: list[str] = []
    digits = _number(layout, flags) if multi_digit else _single(layout, flags)
    kept = []
    if digits:
        solid = _solid(layout, digits)
        kept = [t for t in (_tensor(layout, labels, box, solid) for labels, box in digits) if t is not None]
    if not kept:
        if layout.page:
            flags.insert(0, "blank-page")
        shape = (0, SIZE, SIZE) if multi_digit else (SIZE, SIZE)
        return Normalized(np.zeros(shape, np.float32), blank=True, inverted=inverted, passthrough=False,
                          flags=tuple(flags), boxes=())
    if len(layout.touching) and np.isin(np.concatenate([labels for labels, _ in digits]), layout.touching).any():
        flags.append("touches-line")
    tensor = np.stack([t for t, _ in kept]) if multi_digit else kept[0][0]
    return Normalized(tensor, blank=False, inverted=inverted, passthrough=False, flags=tuple(flags),
                      boxes=tuple(box for _, box in kept))


# --- finding the ink ---------------------------------------------------------------------------------------


def analyse(ink: np.ndarray) -> Layout:
    """Flatten the paper, find the ink, erase ruled lines and drop specks (steps 1-4 of the module docstring)."""
    page = max(ink.shape) > preprocess.PAGE_SIDE
    if page:
        flat = ink - _background(ink)
    else:
        flat = ink - np.float32(preprocess._median(preprocess._border(ink)))
    level, noise = preprocess._paper(preprocess._border(flat))
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


def _background(ink: np.ndarray) -> np.ndarray:
    """The local paper level of a page: a median over a third of the sheet on a copy of about
    BACKGROUND_SIDE px (digits and lines are far thinner than that window, so the median is paper), brought back
    to full size. Kept at or below the border's paper, so that a dense patch of ink is never taken for paper."""
    h, w = ink.shape
    small = preprocess._reduce(ink, max(1, -(-max(h, w) // BACKGROUND_SIDE)))
    window = max(3, (max(small.shape) // 3) | 1)
    # medianBlur takes large windows on 8-bit images only; 1/255 steps are far below any ink contrast.
    paper = cv2.medianBlur(cv2.convertScaleAbs(small, alpha=255.0), window)
    background = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    background *= np.float32(1.0 / 255.0)
    border = preprocess._border(ink)
    ceiling = preprocess._quantile(border, 0.95) + MIN_CONTRAST
    return np.minimum(background, np.float32(ceiling), out=background)


def _parts(flat: np.ndarray, labels: np.ndarray, stats: np.ndarray, count: int) -> np.ndarray:
    """The parts that are not specks: rows (label, left, top, width, height, mass x 1000), heaviest first."""
    if count <= 1:
        return np.zeros((0, 6), np.int64)
    mass = np.bincount(labels.ravel(), weights=flat.ravel(), minlength=count)[1:]
    rows = np.column_stack([np.arange(1, count), stats[1:, :4], np.round(mass * 1000)]).astype(np.int64)
    big = np.maximum(rows[:, 3], rows[:, 4]) >= SPECK_SIDE
    rows = rows[big & (rows[:, 5] >= SPECK_SHARE * rows[:, 5].max())]
    return rows[np.argsort(-rows[:, 5], kind="stable")][:MAX_PARTS]


def _lines(mask: np.ndarray, flat: np.ndarray, labels: np.ndarray, stats: np.ndarray,
           page: bool) -> tuple[np.ndarray, set[int]] | None:
    """The ruled lines among the ink (step 3 of the module docstring) as a mask grown by a pixel (their
    anti-aliased edges) and the labels of the connected parts they lie on, or None when there are none.
    `labels`, `stats`: the ink's connected parts."""
    h, w = mask.shape
    runs = []  # (labels of the runs, stats of the runs, indices of the thin ones, horizontal?)
    for horizontal in (True, False):
        kernel = np.ones((1, LINE_MIN) if horizontal else (LINE_MIN, 1), np.uint8)
        opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
        if not cv2.countNonZero(opened):
            continue
        _, run_labels, run_stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
        length = run_stats[:, cv2.CC_STAT_WIDTH if horizontal else cv2.CC_STAT_HEIGHT].astype(np.float64)
        # By the pixel count first (a blob three times too thick needs no closer look), then by the ink.
        maybe = np.flatnonzero(3 * length[1:] ** 2 >= LINE_RATIO * run_stats[1:, cv2.CC_STAT_AREA]) + 1
        thin = [int(i) for i in maybe if _thin(flat, run_labels, run_stats[i], i, horizontal)]
        if thin:
            runs.append((run_labels, run_stats, thin, horizontal))
    if not runs:
        return None
    candidates = [(run_labels, run_stats[i], int(i), horizontal)
                  for run_labels, run_stats, thin, horizontal in runs for i in thin]
    thin_mask = np.zeros_like(mask)
    for run_labels, c, i, _ in candidates:
        _paint(thin_mask, run_labels, i, c)
    # The scale of the digits: the longer side of the largest connected part that is mostly not thin runs (a
    # digit, even one whose bar is a candidate or that touches a line; not a box, a rule or dust). No stroke of
    # a digit is longer than the digit.
    thin_area = np.bincount(labels[thin_mask.view(bool)], minlength=len(stats))
    area = stats[:, cv2.CC_STAT_AREA]
    side = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    solid = (area - thin_area >= 0.5 * area) & (side >= SPECK_SIDE)
    solid[0] = False  # the background
    digit = int(side[solid].max()) if solid.any() else None

    # The connected stroke of the ink each candidate lies on: boxes and "the same stroke as a line" go by it.
    owners = [_owner(labels, run_labels, c, i) for run_labels, c, i, _ in candidates]
    lines = set()
    for k, (_, c, _, horizontal) in enumerate(candidates):
        length = c[cv2.CC_STAT_WIDTH] if horizontal else c[cv2.CC_STAT_HEIGHT]
        if digit is not None and length >= LINE_OVER_DIGIT * digit:
            lines.add(k)
        elif digit is None and page and length >= PAGE_LINE * (w if horizontal else h):
            lines.add(k)
    for stroke in set(owners):
        members = [k for k, owner in enumerate(owners) if owner == stroke]
        if _is_box(stats[stroke], [candidates[k] for k in members]):
            lines.update(members)
    strokes = {owners[k] for k in lines}
    lines.update(k for k, owner in enumerate(owners) if owner in strokes)
    if not lines:
        return None
    erase = np.zeros_like(mask)
    for k in lines:
        run_labels, c, i, _ = candidates[k]
        _paint(erase, run_labels, i, c)
    return cv2.dilate(erase, np.ones((3, 3), np.uint8)), strokes


def _thin(flat: np.ndarray, labels: np.ndarray, stats_row: np.ndarray, label: int, horizontal: bool) -> bool:
    """True when a run of ink is a straight thin stroke: at most LINE_THICK px and at least LINE_RATIO times
    longer than thick, and across its length mostly within a band a quarter of its length wide (the joined
    bars and slanted strokes of two 7s make long runs too, but not a straight band).

    The thickness is the run's ink (its summed contrast) over its length and its peak contrast: a scanner's
    blur widens a thin rule by a faint pixel on each side, which would triple a count of pixels."""
    x, y, w, h = (int(v) for v in stats_row[:4])
    length = w if horizontal else h
    region = labels[y : y + h, x : x + w] == label
    values = flat[y : y + h, x : x + w][region]
    peak = float(values.max())
    if peak <= 0:
        return False
    thickness = float(values.sum()) / (peak * length)
    if thickness > LINE_THICK or length < LINE_RATIO * thickness:
        return False
    across = region if horizontal else region.T  # rows: across the run; columns: along it
    present = across.any(axis=0)
    first = np.argmax(across, axis=0)
    last = across.shape[0] - np.argmax(across[::-1], axis=0)
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
    """True when thin runs lie along at least 3 of the 4 sides of a stroke's outline (`outline`: its stats
    row), each covering most of that side: a form box, not a digit (the sides of a 0 are curved, the bar of a
    7 is one side)."""
    x, y, w, h = (int(v) for v in outline[:4])
    near_x, near_y = max(2, w // 7), max(2, h // 7)
    sides = set()
    for _, c, _, horizontal in members:
        cx, cy, cw, ch = (int(v) for v in c[:4])
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


# --- from ink to digits ----------------------------------------------------------------------------------------

Digit = tuple[np.ndarray, tuple[int, int, int, int]]  # (labels of its parts, (left, top, width, height))


def _objects(parts: np.ndarray) -> list[np.ndarray]:
    """Parts grouped into objects (parts closer than JOIN x the taller one's height), heaviest object first;
    each object is the array of its parts' rows."""
    x0, y0 = parts[:, 1], parts[:, 2]
    x1, y1 = x0 + parts[:, 3], y0 + parts[:, 4]
    gap_x = np.maximum(0, np.maximum(x0[:, None], x0[None, :]) - np.minimum(x1[:, None], x1[None, :]))
    gap_y = np.maximum(0, np.maximum(y0[:, None], y0[None, :]) - np.minimum(y1[:, None], y1[None, :]))
    reach = JOIN * np.maximum(parts[:, 4][:, None], parts[:, 4][None, :])
    near = (gap_x <= reach) & (gap_y <= reach)
    group = _connected(near)
    objects = [parts[group == g] for g in np.unique(group)]
    return sorted(objects, key=lambda o: -int(o[:, 5].sum()))


def _connected(adjacent: np.ndarray) -> np.ndarray:
    """Connected components of a symmetric boolean adjacency matrix: a group number per node (the smallest
    node index in its group), by repeated minimum over neighbours (few rounds for the few nodes here)."""
    n = len(adjacent)
    group = np.arange(n)
    while True:
        smallest = np.where(adjacent, group[None, :], n).min(axis=1)
        new = np.minimum(group, smallest)
        new = new[new]  # jump along chains: converges in a few rounds even for long rows
        if np.array_equal(new, group):
            return group
        group = new


def _extent(rows: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the union of parts' boxes."""
    left, top = int(rows[:, 1].min()), int(rows[:, 2].min())
    right, bottom = int((rows[:, 1] + rows[:, 3]).max()), int((rows[:, 2] + rows[:, 4]).max())
    return left, top, right - left, bottom - top


def _single(layout: Layout, flags: list[str]) -> list[Digit]:
    """Single-digit mode: the heaviest object, flagged when another one weighs nearly as much or when it looks
    like several digits side by side."""
    if not len(layout.parts):
        if layout.lines is not None:
            flags.append("lines-only")
        return []
    objects = _objects(layout.parts)
    best = objects[0]
    if len(objects) > 1 and objects[1][:, 5].sum() >= COMPARABLE * best[:, 5].sum():
        flags.append("ambiguous")
    box = _extent(best)
    if box[2] > 1.5 * box[3]:
        flags.append("several-digits")
    return [(best[:, 0], box)]


def _number(layout: Layout, flags: list[str]) -> list[Digit]:
    """Multi-digit mode: the digits of the main row, left to right (step 5 of the module docstring)."""
    if not len(layout.parts):
        if layout.lines is not None:
            flags.append("lines-only")
        return []
    row = _main_row(_objects(layout.parts), flags)
    row = row[np.argsort(row[:, 1] + row[:, 3] / 2, kind="stable")]
    # Parts stacked above one another (x overlap of half the narrower one) are one digit.
    groups: list[list[np.ndarray]] = []
    for part in row:
        if groups:
            left, _, width, _ = _extent(np.array(groups[-1]))
            overlap = min(left + width, part[1] + part[3]) - max(left, part[1])
            if overlap >= 0.5 * min(width, part[3]):
                groups[-1].append(part)
                continue
        groups.append([part])
    boxes = [_extent(np.array(g)) for g in groups]
    height = float(np.median([b[3] for b in boxes]))
    digits: list[Digit] = []
    for group, box in zip(groups, boxes, strict=True):
        if max(box[2], box[3]) < 0.4 * height:
            continue  # a dot or a comma beside the digits, not a digit
        labels = np.array([p[0] for p in group])
        if box[2] > SPLIT_WIDTH * height:
            pieces = _split(layout, labels, box, max(2, round(box[2] / (DIGIT_WIDTH * height))))
            if len(pieces) > 1:
                flags.append("split") if "split" not in flags else None
            digits.extend(pieces)
        else:
            digits.append((labels, box))
    return digits


def _main_row(objects: list[np.ndarray], flags: list[str]) -> np.ndarray:
    """The parts of the heaviest row of objects (objects whose heights overlap by a quarter form a row);
    flagged ambiguous when another row weighs nearly as much."""
    boxes = [_extent(o) for o in objects]
    order = sorted(range(len(objects)), key=lambda k: boxes[k][1])
    rows: list[list[int]] = []
    spans: list[list[int]] = []
    for k in order:
        top, bottom = boxes[k][1], boxes[k][1] + boxes[k][3]
        if rows:
            row_top, row_bottom = spans[-1]
            if min(bottom, row_bottom) - max(top, row_top) >= 0.25 * min(bottom - top, row_bottom - row_top):
                rows[-1].append(k)
                spans[-1] = [min(top, row_top), max(bottom, row_bottom)]
                continue
        rows.append([k])
        spans.append([top, bottom])
    weights = [sum(int(objects[k][:, 5].sum()) for k in r) for r in rows]
    ranked = np.argsort(weights)[::-1]
    if len(rows) > 1 and weights[ranked[1]] >= COMPARABLE * weights[ranked[0]]:
        flags.append("ambiguous")
    return np.concatenate([objects[k] for k in rows[ranked[0]]])


def _split(layout: Layout, labels: np.ndarray, box: tuple[int, int, int, int], n: int) -> list[Digit]:
    """An object too wide for one digit, cut into `n` digits at the columns where its ink is thinnest: each
    cut is the minimum of the column ink profile within a quarter digit of where an even split would put it
    (ties go to the column nearest that place)."""
    left, top, width, height = box
    mask = np.isin(layout.labels[top : top + height, left : left + width], labels)
    profile = mask.sum(axis=0).astype(np.float64)
    step = width / n
    cuts = [0]
    for k in range(1, n):
        centre = k * step
        lo, hi = max(cuts[-1] + 1, int(centre - step / 4)), min(width - 1, int(np.ceil(centre + step / 4)))
        if hi <= lo:
            return [(labels, box)]
        window = np.arange(lo, hi + 1)
        cuts.append(int(window[np.argmin(profile[window] + 1e-3 * np.abs(window - centre))]))
    cuts.append(width)
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        rows = np.flatnonzero(mask[:, a:b].any(axis=1))
        if len(rows):
            pieces.append((labels, (left + a, top + int(rows[0]), b - a, int(rows[-1] - rows[0] + 1))))
    return pieces


def _solid(layout: Layout, digits: list[Digit]) -> float:
    """The level of solid ink of the digits read: the 90th percentile of their ink pixels (one level for all
    the digits of a number, so a light digit is not stretched into a bold one)."""
    left, top, width, height = _extent(np.array([[0, *box, 0] for _, box in digits]))
    labels = np.concatenate([lab for lab, _ in digits])
    region = layout.labels[top : top + height, left : left + width]
    values = layout.flat[top : top + height, left : left + width][np.isin(region, labels)]
    return preprocess._quantile(values, 0.9) if values.size else 0.0


def _tensor(layout: Layout, labels: np.ndarray, box: tuple[int, int, int, int],
            solid: float) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """One digit's field (28x28) and its ink box: the ink of its own parts within its columns, grown by a pixel
    for the anti-aliased edge, without erased lines, contrast-stretched so that solid ink is 1."""
    left, top, width, height = box
    h, w = layout.labels.shape
    x0, y0, x1, y1 = max(0, left - 1), max(0, top - 1), min(w, left + width + 1), min(h, top + height + 1)
    mask = np.isin(layout.labels[y0:y1, x0:x1], labels).view(np.uint8)
    mask[:, : left - x0] = 0  # a split digit keeps to its own columns
    mask[:, left + width - x0 :] = 0
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    if layout.lines is not None:
        mask &= layout.lines[y0:y1, x0:x1] ^ 1
    floor = 2.0 * layout.noise
    if solid - floor < preprocess.BLANK_CONTRAST / 2:
        return None
    patch = layout.flat[y0:y1, x0:x1] - np.float32(floor)
    patch *= np.float32(1.0 / (solid - floor))
    np.clip(patch, 0.0, 1.0, out=patch)
    patch *= mask
    x, y, pw, ph = cv2.boundingRect((patch > 0.05).view(np.uint8))
    if pw == 0:
        return None
    field = preprocess.to_field(patch[y : y + ph, x : x + pw])
    if field is None:
        return None
    return field, (x0 + x, y0 + y, pw, ph)
