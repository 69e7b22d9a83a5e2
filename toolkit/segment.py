"""Find digits where they really are: anywhere on a whole page, inside a ruled form box, or side by side in a
number. `toolkit.preprocess` sends here every image larger than `preprocess.PAGE_SIDE` (pages, photos, form
fields) and every image read with `multi_digit`; single-digit scans keep its fast path.

The image arrives as ink (bright on black, polarity already settled) at its working resolution, at most
`preprocess.MAX_SIDE` px. The per-pixel work is OpenCV's (resizing, median, thresholds, morphology, connected
components); Python loops only over the few parts found, and over the rows of a cut between touching digits.

1. Paper. On a page the paper level is flattened: a median over a third of the sheet, taken on a copy of about
   BACKGROUND_SIDE px, is the local paper, and subtracting it makes uneven light (a gradient, a phone photo's
   dark corners) flat, so that one threshold fits the whole sheet. A small image's paper is its border's
   median, as on the fast path.
2. Ink. A pixel is ink when it stands out from the paper by NOISE_SIGMAS of the paper's noise and by
   MIN_CONTRAST. This is decided on the page itself, at its own resolution, never on a fixed-size copy, so an
   80 px digit on a 2339 px page is found as surely as a digit that fills the image.
3. Ruled lines. Long runs (openings with LINE_MIN px horizontal and vertical kernels) that are straight and
   thin (at most LINE_THICK px, at least LINE_RATIO times longer than thick) are candidates. A candidate is a
   line when it is longer than the digits are tall (LINE_OVER_DIGIT x the tallest other ink), when it is one of
   three or four sides of a closed box, or, on a page with no other ink, when it crosses PAGE_LINE of the
   sheet. A thin 1 or the bar of a 7 is never longer than the
   digits are large, so it stays. Lines are erased before any digit is cut out: a form box never reaches the
   model.
4. Specks. Parts under SPECK_SIDE px, or with under SPECK_SHARE of the heaviest part's ink, are dust, and so
   is an object (below) under MIN_DIGIT px.
5. Digits. Single-digit mode reads the heaviest object (parts closer than JOIN x their height are one
   object: a 5 whose cap is detached). Multi-digit mode takes the main row of objects, left to right; a part
   shorter than FRAGMENT x the digits' height joins the digit it overlaps; a group too wide for one digit is
   cut into several, and a group that may be one wide digit or two touching ones is offered both ways, for
   the model to choose (see `_split` and `choose`).
6. Each digit is cut out with its own mask (a neighbour's ink never enters its box, and neither does an erased
   line), contrast-stretched so that solid ink is 1, and placed in the model's field by `preprocess.to_field`,
   exactly as a single scan is.

What deserves a human look is flagged (FLAGS), never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from toolkit import preprocess
from toolkit.preprocess import SIZE, Segmented

MIN_CONTRAST = 0.08  # ink must stand this far (0..1) above the paper, whatever the noise
NOISE_SIGMAS = 4.0  # ... and this many sigmas of the paper's noise
BACKGROUND_SIDE = 96  # the paper level is estimated on a copy reduced to about this size
LINE_MIN = 12  # px: runs shorter than this are never line candidates
LINE_RATIO = 8.0  # a line is at least this many times longer than it is thick
LINE_THICK = 4.0  # px: and at most this thick (a printed rule is thinner than a pen stroke of a digit this size)
LINE_OVER_DIGIT = 1.5  # ... and longer than the other ink is tall, by this factor
PAGE_LINE = 0.5  # on a page with no other ink, a lone rule crosses at least this share of the sheet
SPECK_SIDE = 3  # px: parts smaller than this on both sides are dust
SPECK_SHARE = 0.04  # parts with less ink than this share of the heaviest part are dust
MIN_DIGIT = 6  # px: an object smaller than this on both sides is dust too (14 px on an A4 page at 200 dpi)
JOIN = 0.2  # parts closer than this x the taller one's height belong to one object
COMPARABLE = 0.35  # another object with this share of the chosen one's ink makes the choice ambiguous
MAX_PARTS = 200  # only the heaviest parts are considered (a page of text is not a number)
DIGIT_WIDTH = 0.8  # a digit's typical width, as a share of its height (MNIST: median 0.8)
WIDE = 1.45  # a group wider than this x the digits' height holds several digits (MNIST: 99% are narrower)
MAYBE_TWO = 0.9  # a narrower one may still be two digits touching (a 1 and a 7) when wider than this
CUTS = 3  # ... cut at up to this many places, for the model to choose from
PREFER = 3.0  # the segmenter's preferred reading wins unless another is this much surer (log-odds)
FRAGMENT = 0.55  # a part shorter than this x the digits' height is a piece of a digit

FLAGS = {
    "blank-page": "a page-sized image in which no digit was found",
    "lines-only": "ruled lines (a form box, a rule) were found, and nothing else",
    "ambiguous": "several blobs of ink of comparable weight, or several rows: which one is meant is a guess",
    "several-digits": "single-digit mode, but the ink looks like several digits side by side (--multi-digit)",
    "touches-line": "the digit touched a ruled line that was erased, and may have lost part of a stroke",
    "split": "multi-digit: a blob of ink was read as several touching digits, cut apart where they meet",
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


def read(ink: np.ndarray, inverted: bool, multi_digit: bool = False) -> Segmented:
    """Ink (bright on black, float32) -> the digit (single-digit mode: tensor (28, 28)) or the digits left to
    right (`multi_digit`: tensor (n, 28, 28)), their boxes and flags. See the module docstring."""
    layout = analyse(ink)
    flags: list[str] = []
    if multi_digit:
        slots = _number(layout, flags)
    else:
        digit = _single(layout, flags)
        slots = [[digit]] if digit else []
    if not slots and layout.lines is not None:
        flags.append("lines-only")
    read_slots: list[list[list[tuple[np.ndarray, tuple[int, int, int, int]]]]] = []  # (field, box)
    if slots:
        digits = [digit for slot in slots for alternative in slot for digit in alternative]
        solid = _solid(layout, digits)
        if len(layout.touching) and np.isin(np.concatenate([d.labels for d in digits]), layout.touching).any():
            flags.append("touches-line")
        for slot in slots:
            tried = [[_tensor(layout, digit, solid) for digit in alternative] for alternative in slot]
            readable = [[t for t in a if t is not None] for a in tried if a and all(t is not None for t in a)]
            if readable:
                read_slots.append(readable)
    if not read_slots:
        if "touches-line" in flags:
            flags.remove("touches-line")
        if layout.page:
            flags.insert(0, "blank-page")
        shape = (0, SIZE, SIZE) if multi_digit else (SIZE, SIZE)
        return Segmented(
            np.zeros(shape, np.float32), blank=True, inverted=inverted, passthrough=False, flags=tuple(flags), boxes=()
        )
    kept = [t for slot in read_slots for alternative in slot for t in alternative]
    plan = None  # every tensor a digit of its own
    if any(len(slot) > 1 or len(slot[0]) > 1 for slot in read_slots):
        plan = ";".join(",".join(str(len(a)) for a in slot) for slot in read_slots)
    tensor = np.stack([t for t, _ in kept]) if multi_digit else kept[0][0]
    return Segmented(
        tensor,
        blank=False,
        inverted=inverted,
        passthrough=False,
        flags=tuple(flags),
        boxes=tuple(box for _, box in kept),
        plan=plan,
    )


def choose(plan: str | None, probs: np.ndarray) -> tuple[list[int], bool]:
    """Which of a reading's tensors are its digits, given the model's probabilities for each (`plan`: see
    `Segmented.plan`; None: all of them, in order), and whether a group of touching digits was cut apart.

    Where a group of ink could be one digit or several, the model decides: each alternative counts as sure as
    its least sure digit, sureness being the log-odds of a digit's likeliest class over its second (softmax
    confidences saturate at 1.0 for a whole "16" read as 6 and for its two halves alike; the odds do not). The
    segmenter's preference, the first alternative, wins unless another is PREFER surer."""
    if plan is None:
        return list(range(len(probs))), False
    top = np.sort(probs, axis=1)[:, -2:].astype(np.float64)
    sure = np.log(np.maximum(top[:, 1], 1e-30)) - np.log(np.maximum(top[:, 0], 1e-30))
    chosen: list[int] = []
    cut = False
    at = 0
    for slot in plan.split(";"):
        best, best_score = (at, 0), -np.inf
        for k, size in enumerate(int(v) for v in slot.split(",")):
            score = float(sure[at : at + size].min()) + (PREFER if k == 0 else 0.0)
            if score > best_score:
                best, best_score = (at, size), score
            at += size
        chosen.extend(range(best[0], best[0] + best[1]))
        cut |= best[1] > 1
    return chosen, cut


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
        thin = [int(i) for i in maybe if _thin(flat, run_labels, run_stats[i], int(i), horizontal)]
        if thin:
            runs.append((run_labels, run_stats, thin, horizontal))
    if not runs:
        return None
    candidates = [
        (run_labels, run_stats[i], int(i), horizontal) for run_labels, run_stats, thin, horizontal in runs for i in thin
    ]
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


# --- from ink to digits ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digit:
    """Where one digit's ink is: the parts it is made of, its box and, for a digit cut out of touching ones,
    the columns it keeps to on each row (the cut between touching digits need not be straight)."""

    labels: np.ndarray  # labels (in Layout.labels) of its parts
    box: tuple[int, int, int, int]  # (left, top, width, height) of its ink
    # (first row, left column per row, right column per row (exclusive)), absolute; None: all of its parts
    bounds: tuple[int, np.ndarray, np.ndarray] | None = None


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
    # Dust that clumps stays smaller than the smallest digit worth reading.
    objects = [o for o in objects if max(_extent(o)[2:]) >= MIN_DIGIT]
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
    """Single-digit mode: the heaviest object (as a one-digit alternative; none when there is none), flagged
    when another one weighs nearly as much or when it looks like several digits side by side."""
    objects = _objects(layout.parts) if len(layout.parts) else []
    if not objects:
        return []
    best = objects[0]
    if len(objects) > 1 and objects[1][:, 5].sum() >= COMPARABLE * best[:, 5].sum():
        flags.append("ambiguous")
    box = _extent(best)
    if box[2] > WIDE * box[3]:
        flags.append("several-digits")
    return [Digit(best[:, 0], box)]


def _number(layout: Layout, flags: list[str]) -> list[list[list[Digit]]]:
    """Multi-digit mode: the digits of the main row, left to right (step 5 of the module docstring), as slots
    of alternatives (see `_split`)."""
    objects = _objects(layout.parts) if len(layout.parts) else []
    if not objects:
        return []
    row = _main_row(objects, flags)
    heights = row[:, 4]
    height = float(np.median(heights[heights >= 0.5 * heights.max()]))  # the digits' height, not a fragment's
    slots = []
    for group in _groups(row, height):
        box = _extent(group)
        if max(box[2], box[3]) < 0.4 * height:
            continue  # a dot or a comma beside the digits, not a digit
        slots.append(_split(layout, group[:, 0], box, height))
    return slots


def _groups(row: np.ndarray, height: float) -> list[np.ndarray]:
    """The row's parts as one group per digit, left to right. A part at least FRAGMENT x the digits' height is
    (at least) one digit; a shorter one is a piece of a digit (the detached cap of a 5, the left stroke of a 4
    written in two) and joins the digit it overlaps most in x, else the nearest within a third of the height."""
    full = row[:, 4] >= FRAGMENT * height
    groups = [[p] for p in row[full][np.argsort(row[full][:, 1], kind="stable")]]
    lone = []
    for piece in row[~full]:
        left, right = piece[1], piece[1] + piece[3]
        best, best_gap = None, height / 3
        for k, group in enumerate(groups):
            g_left, g_right = group[0][1], group[0][1] + group[0][3]
            gap = max(g_left - right, left - g_right)  # negative: they overlap by that much
            if gap < best_gap:
                best, best_gap = k, gap
        if best is None:
            lone.append([piece])
        else:
            groups[best].append(piece)
    groups += lone
    groups.sort(key=lambda g: min(p[1] for p in g))
    return [np.array(g) for g in groups]


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


def _split(layout: Layout, labels: np.ndarray, box: tuple[int, int, int, int], height: float) -> list[list[Digit]]:
    """A group's readings: as one digit, or as several when it may hold touching digits; the segmenter's
    preference first. `choose` lets the model pick among them.

    Wider than WIDE x the digits' height (no MNIST digit is), the group holds about width / (DIGIT_WIDTH x
    height) digits, and that many come first, then one more and one less, cut near the thinnest column within
    0.4 digit of where an even split would put each cut. Narrower, but wider than MAYBE_TWO x the height, it
    is one digit (a wide 0) or two touching (a 1 beside a 7): one first, then two, cut near each of the CUTS
    thinnest local minima of the column ink profile (where two digits touch is rarely the thinnest column of
    all: a 1 is a full-height stroke, and the middle of a 6 is thin). Each cut then follows the path from top to
    bottom that crosses the least ink (see `_path`), so slanted digits that overlap in x come apart whole."""
    left, top, width, box_height = box
    whole = [Digit(labels, box)]
    if width <= MAYBE_TWO * height:
        return [whole]
    mask = np.isin(layout.labels[top : top + box_height, left : left + width], labels)
    profile = mask.sum(axis=0).astype(np.float64)
    if width > WIDE * height:
        n = max(2, round(width / (DIGIT_WIDTH * height)))
        options = [_cuts(profile, count) for count in (n, n + 1, n - 1)]
    else:
        options = [[0, cut, width] for cut in _minima(profile)]
    alternatives = []
    for cuts in options:
        if cuts is None:
            continue
        if len(cuts) == 2:
            alternatives.append(whole)
            continue
        reach = max(2, round(0.2 * width / (len(cuts) - 1)))
        paths = [np.zeros(box_height, np.int64)]
        paths += [_path(mask, cut, reach) for cut in cuts[1:-1]]
        paths.append(np.full(box_height, width, np.int64))
        columns = np.arange(width)
        pieces = []
        for lo, hi in zip(paths[:-1], paths[1:], strict=True):
            own = mask & (columns >= lo[:, None]) & (columns < hi[:, None])
            x, y, w, h = cv2.boundingRect(own.view(np.uint8))
            if w:
                pieces.append(Digit(labels, (left + x, top + y, w, h), (top, lo + left, hi + left)))
        if len(pieces) == len(cuts) - 1:
            alternatives.append(pieces)
    if width > WIDE * height:
        return alternatives or [whole]
    return [whole, *alternatives]


def _path(mask: np.ndarray, column: int, reach: int) -> np.ndarray:
    """The cut from top to bottom of `mask` (a group of touching digits) that crosses the least ink, moving at
    most one column per row and staying within `reach` columns of `column`: the column it takes on each row.
    Dynamic programming, one vectorised step per row; straight steps and the starting column win ties."""
    rows, width = mask.shape
    lo, hi = max(1, column - reach), min(width - 1, column + reach + 1)
    if hi <= lo:
        return np.full(rows, column, np.int64)
    span = np.arange(lo, hi)
    # Crossing ink costs 1 a pixel; a hundredth per column away from the start keeps the cut put on paper.
    cost = mask[:, lo:hi].astype(np.float64) + 0.01 * np.abs(span - column)[None, :]
    came = np.zeros((rows, hi - lo), np.int8)
    total = cost[0].copy()
    inf = np.array([np.inf])
    for r in range(1, rows):
        options = np.stack([np.concatenate([inf, total[:-1]]) + 0.001, total, np.concatenate([total[1:], inf]) + 0.001])
        step = np.argmin(options, axis=0)
        came[r] = step - 1
        total = options[step, np.arange(len(total))] + cost[r]
    path = np.empty(rows, np.int64)
    at = int(np.argmin(total))
    for r in range(rows - 1, -1, -1):
        path[r] = at + lo
        at += int(came[r, at])
    return path


def _minima(profile: np.ndarray) -> list[int]:
    """Up to CUTS columns where a group of two touching digits may be cut: the thinnest local minima of its
    smoothed column ink profile between 15% and 85% of its width, at least a tenth of the width apart."""
    width = len(profile)
    smooth = np.convolve(np.pad(profile, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    lo, hi = max(1, int(0.15 * width)), min(width - 1, int(np.ceil(0.85 * width)))
    inner = np.arange(lo, hi)
    if not len(inner):
        return []
    # A local minimum: no higher than both neighbours (plateaus count once, at their first column).
    low = (smooth[inner] <= smooth[inner - 1]) & (smooth[inner] <= smooth[inner + 1])
    low &= smooth[inner] < smooth[inner - 1]  # the first column of a plateau
    found = inner[low] if low.any() else inner[[int(np.argmin(smooth[inner]))]]
    chosen: list[int] = []
    for column in found[np.argsort(smooth[found], kind="stable")]:
        if all(abs(int(column) - c) >= width / 10 for c in chosen):
            chosen.append(int(column))
        if len(chosen) == CUTS:
            break
    return chosen


def _cuts(profile: np.ndarray, n: int) -> list[int] | None:
    """Columns that cut a column ink profile into `n` even-ish pieces, 0 and its length included: each cut the
    thinnest column within 0.4 piece of where an even split would put it (ties: the nearest to that place)."""
    width = len(profile)
    step = width / n
    cuts = [0]
    for k in range(1, n):
        centre = k * step
        lo, hi = max(cuts[-1] + 1, int(centre - 0.4 * step)), min(width - 1, int(np.ceil(centre + 0.4 * step)))
        if hi <= lo:
            return None
        window = np.arange(lo, hi + 1)
        cuts.append(int(window[np.argmin(profile[window] + 1e-3 * np.abs(window - centre))]))
    cuts.append(width)
    return cuts


def _solid(layout: Layout, digits: list[Digit]) -> float:
    """The level of solid ink of the digits read: the 90th percentile of their ink pixels (one level for all
    the digits of a number, so a light digit is not stretched into a bold one)."""
    left, top, width, height = _extent(np.array([[0, *d.box, 0] for d in digits]))
    labels = np.concatenate([d.labels for d in digits])
    region = layout.labels[top : top + height, left : left + width]
    values = layout.flat[top : top + height, left : left + width][np.isin(region, labels)]
    return preprocess._quantile(values, 0.9) if values.size else 0.0


def _tensor(layout: Layout, digit: Digit, solid: float) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """One digit's field (28x28) and its ink box: the ink of its own parts (within its bounds, when it was cut
    from touching digits), grown by a pixel for the anti-aliased edge, without erased lines, contrast-stretched
    so that solid ink is 1."""
    left, top, width, height = digit.box
    h, w = layout.labels.shape
    x0, y0, x1, y1 = max(0, left - 1), max(0, top - 1), min(w, left + width + 1), min(h, top + height + 1)
    mask = np.isin(layout.labels[y0:y1, x0:x1], digit.labels)
    if digit.bounds is not None:
        first, lo, hi = digit.bounds
        at = np.clip(np.arange(y0, y1) - first, 0, len(lo) - 1)
        columns = np.arange(x0, x1)
        mask &= (columns >= lo[at, None]) & (columns < hi[at, None])
    grown = np.asarray(cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)), np.uint8)
    if layout.lines is not None:
        grown &= layout.lines[y0:y1, x0:x1] ^ 1
    floor = 2.0 * layout.noise
    if solid - floor < preprocess.BLANK_CONTRAST / 2:
        return None
    patch = layout.flat[y0:y1, x0:x1] - np.float32(floor)
    patch *= np.float32(1.0 / (solid - floor))
    np.clip(patch, 0.0, 1.0, out=patch)
    patch *= grown
    x, y, pw, ph = cv2.boundingRect((patch > 0.05).view(np.uint8))
    if pw == 0:
        return None
    field = preprocess.to_field(patch[y : y + ph, x : x + pw])
    if field is None:
        return None
    return field, (x0 + x, y0 + y, pw, ph)
