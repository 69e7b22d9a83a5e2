"""Find digits where they really are: anywhere on a whole page, inside a ruled form box, or side by side in a
number. `toolkit.imaging.normalise` sends here every image larger than `common.PAGE_SIDE` (pages, photos,
form fields) and every image read with `multi_digit`; single-digit scans keep its fast path.

The image arrives as ink (bright on black, polarity already settled) at its working resolution, at most
`common.MAX_SIDE` px. The per-pixel work is OpenCV's (resizing, median, thresholds, morphology, connected
components); Python loops only over the few parts found, and over the rows of a cut between touching digits.

1. Light. The paper's own brightness, estimated at every pixel by a grey closing wider than any pen stroke,
   is divided out (`toolkit.imaging.light`): a shadow, a phone photo's dark corners down to a fifth of the
   centre's light, two pasted papers of different tone all become one flat paper, and ink keeps its contrast
   wherever it lies. The ink's polarity is judged on the same estimate.
2. Ink. A pixel is ink when it stands out from the paper by NOISE_SIGMAS of the paper's noise and by
   MIN_CONTRAST. The paper is measured along the image's border (its noise, on a page, over the whole page
   when the border is MIXED_RING times noisier: a desk along its sides). This is decided on the page itself,
   at its own resolution, never on a fixed-size copy, so an 80 px digit on a 2339 px page is found as surely
   as a digit that fills the image. A form's box filled with a light tint, too small for the light's closing
   to take its tint for paper, is read against its tint as against paper (`layout._untinted`).
3. Ruled lines. Long runs (openings with LINE_MIN px horizontal and vertical kernels) that are straight and
   thin (at most LINE_THICK px, at least LINE_RATIO times longer than thick) are candidates. A candidate is a
   line when it is longer than the digits are tall (LINE_OVER_DIGIT x the tallest other ink), when it is one of
   three or four sides of a closed box, or, on a page with no other ink, when it crosses PAGE_LINE of the
   sheet. A thin 1 or the bar of a 7 is never longer than the digits are large, so it stays; nor is a lone
   upright bar on a page shorter than `lines.PAGE_PIECE` of it a line (a thin 1 among dust, taller than any
   speck). Lines are erased before any digit is cut out: a form box never reaches the model.
4. Specks. Parts under SPECK_SIDE px, or with under SPECK_SHARE of the heaviest part's ink (of those the
   image's border does not cut: a desk beside the sheet is no measure of a digit), are dust, and so is an
   object (below) under MIN_DIGIT px.
5. Digits. Single-digit mode reads the heaviest object (parts closer than JOIN x their height are one
   object: a 5 whose cap is detached). Multi-digit mode takes the main row of objects, left to right; a part
   shorter than FRAGMENT x the digits' height joins the digit it overlaps; a group too wide for one digit is
   cut into several (where, `toolkit.imaging.cuts`), and a group that may be one wide digit or two touching
   ones is offered both ways, for the model to choose (see `toolkit.imaging.digits` and `choose`).
6. Each digit is cut out with its own mask (a neighbour's ink never enters its box, and neither does an erased
   line), contrast-stretched so that solid ink is 1, and placed in the model's field by `common.to_field`,
   exactly as a single scan is. In single-digit mode a digit that touched an erased line is also offered with
   the line kept where its ink meets it (`_line_under_ink`: a stroke lying along the line went with it), and
   the model reads the surer of the two (`reading.pick`); `touches-line` stays only when they differ, and then
   the record reads the digit both find likeliest (`reading.joint`).

What deserves a human look is flagged (FLAGS), never silent. Steps 1-4 are `toolkit.imaging.layout`'s, step 5
`toolkit.imaging.digits`'s, each with the constants named above; this module reads the result and does step 6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np

from toolkit.imaging.askew import skew
from toolkit.imaging.common import (
    BLANK_CONTRAST,
    SIZE,
    Segmented,
    bar_marks,
    mapped_box,
    quantile,
    ruler_straight,
    shares,
    to_field,
)
from toolkit.imaging.digits import WIDE, Digit, extent, find_number, find_single
from toolkit.imaging.layout import Layout, analyse

KEPT_LINE = 3  # px: how far from a digit's ink the pixels of the line it touched are kept, in its alternative
BRIDGE = 0.35  # ... and between two such places this close (x the digit's height), the line between them too
FAINT_RIVAL = 0.5  # a candidate whose solid ink is under this share of the boldest one's is no rival to it
FAINT_INK = 0.25  # a digit read from ink standing less than this above the paper (0-1) is flagged faint-ink
FINE_BOX = 40  # px: form boxes whose cells are under this across at the working resolution, and FINE_CELL or
FINE_CELL = 8  # more, are read again from finer pixels (`toolkit.imaging.closer`)
SQUARE_HOLE = 0.85  # ... also when the lines were not found: a hole in the ink filling this share of its box

FLAGS = {
    "blank-page": "a page-sized image in which no digit was found",
    "lines-only": "ruled lines (a form box, a rule) were found, and nothing else",
    "ambiguous": "several blobs of ink of comparable weight, or several rows, or a digit read from faint ink "
    "beside a bolder mark the model rejected: which one is meant is a guess",
    "several-digits": "single-digit mode, but the ink looks like several digits side by side (--multi-digit)",
    "touches-line": "the digit touched an erased ruled line and reads otherwise with the line kept: a stroke "
    "may have gone with the line",
    "split": "multi-digit: a blob of ink was read as several touching digits, cut apart where they meet, and "
    "the model is short of sure of one of them",
    "cut-by-border": "the digit read runs into the image's border: part of it may be cut off, or it is the edge "
    "of a sheet, a tile or a shadow (no digit read: the only mark ran into the border and read as a 1)",
    "straight-stroke": "the 1 read is a bar straighter than a pen draws, square to the image (a scanner's streak, "
    "a seam between paper tones, a piece of a rule) or, on a page or a form field, at any angle (a staple, a "
    "hair): it may be no digit (multi-digit: such a bar beside other digits was not read)",
    "lying-stroke": "the 1 read is a bar lying further over than people write a 1 (its top more than 45 degrees "
    "to the right of upright, or 35 to the left): a hair, a fold or a staple on a blank sheet reads so; on a "
    "page no digit is read, and a smaller image keeps its 1, flagged",
    "faint-ink": "the mark that would be read is ink barely darker than the paper (a hair, a streak or shading "
    "on a blank sheet reads so; a written digit seldom does): on a page no digit is read, and a smaller "
    "image keeps its digit, flagged",
    "writing-only": "single-digit mode: the only marks on the page are a row of writing (words, or several digits "
    "side by side: try --multi-digit), so no digit was read",
    "not-a-digit": "the model's not_digit output says the image holds no digit (a single-digit scan keeps its "
    "digit; on a page, no candidate was a digit, or only a doubted one in a form's box, which is read; in a "
    "number, a candidate was dropped, or a 1 cut from a touching neighbour was kept)",
}


def read(
    ink: np.ndarray,
    inverted: bool,
    multi_digit: bool = False,
    page: bool | None = None,
    window: bool = False,
) -> Segmented:
    """Ink (bright on black, float32) -> the digit (single-digit mode: tensor (28, 28)) or the digits left to
    right (`multi_digit`: tensor (n, 28, 28)), their boxes and flags. See the module docstring. A sheet askew
    (its rules and boxes, `askew.skew`) is turned square first; the boxes are given in the image's own pixels.
    `page`: read as a page (or not) whatever the ink's size (`layout.analyse`). A mark the image's border cuts
    is one reaching the image's own edges, wherever they lie once the sheet is turned (a page's single digit:
    numbers do not ask); `window`: the ink is a window cut from a larger image (a closer look), and a mark is
    cut by the edges of the square sheet it is turned into, not by the window's own edges turned."""
    angle = skew(ink)
    h, w = ink.shape
    if not angle:
        result = _read(ink, inverted, multi_digit, page)
        return result if result.fine is None else replace(result, fine=shares(result.fine, (h, w)))
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border_at = None if window or multi_digit else _border_at((h, w), turn)
    result = _read(cv2.warpAffine(ink, turn, (w, h), flags=cv2.INTER_LINEAR), inverted, multi_digit, page, border_at)
    back = cv2.invertAffineTransform(turn)
    fine = None if result.fine is None else shares(mapped_box(result.fine, back, (h, w)), (h, w))
    return replace(result, boxes=tuple(mapped_box(box, back, (h, w)) for box in result.boxes or ()), fine=fine)


def _border_at(shape: tuple[int, int], turn: np.ndarray) -> np.ndarray:
    """Where the border of an image of `shape` lies once it is turned by `turn` (a mask): its own edges turned
    with it (a mark into them stands askew in the square sheet, off its edges), and the edges of the square
    sheet, which cut off what the turn took beyond them."""
    h, w = shape
    ring = np.zeros(shape, np.uint8)
    ring[0] = ring[-1] = ring[:, 0] = ring[:, -1] = 1
    return np.asarray(cv2.warpAffine(ring, turn, (w, h), flags=cv2.INTER_NEAREST), np.uint8) | ring


def _read(
    ink: np.ndarray, inverted: bool, multi_digit: bool, page: bool | None, border_at: np.ndarray | None = None
) -> Segmented:
    """`read` on a square sheet (`border_at`: where the image's own border lies on it, `layout.analyse`)."""
    layout = analyse(ink, page, border_at)
    flags: list[str] = []
    if not multi_digit:
        return _read_single(layout, flags, inverted)
    lattices = find_number(layout, flags)
    if not lattices and layout.lines is not None:
        flags.append("lines-only")
    digits = [digit for lattice in lattices for digit in lattice.digits]
    solid = _digits_solid_level(layout, digits) if digits else 0.0
    kept: list[tuple[np.ndarray, tuple[int, int, int, int]]] = []  # (field, box)
    slots: list[str] = []
    for lattice in lattices:
        read = []  # (field and box, span, whether it is the span before it with its line kept)
        own = _group_ink(layout, lattice.digits)
        for digit, span in zip(lattice.digits, lattice.spans, strict=True):
            if (t := _tensor(layout, digit, solid, own=own)) is None:
                continue
            read.append((t, span, False))
            if _touches(layout, digit) and (kept_line := _tensor(layout, digit, solid, True, own)) is not None:
                read.append((kept_line, span, True))
        if not read:
            continue
        kept.extend(t for t, _, _ in read)
        if lattice.cuts == 1 and len(read) == 1:
            (field, (_, _, width, height)), _, _ = read[0]
            slots.append("1s" if ruler_straight(field, (height, width)) else "1")  # "s": see `reading.straight_slots`
        else:
            slots.append(
                f"L{lattice.cuts}:"
                + ",".join(f"{i}-{j}-{r:.2f}-{q:.2f}" + ("k" if twin else "") for _, (i, j, r, q), twin in read)
            )
    if not kept:
        return _nothing(layout, flags, inverted, (0, SIZE, SIZE))
    _touching(layout, digits, flags)
    return Segmented(
        np.stack([t for t, _ in kept]),
        blank=False,
        inverted=inverted,
        passthrough=False,
        flags=tuple(flags),
        boxes=tuple(box for _, box in kept),
        plan=";".join(slots) if any(slot != "1" for slot in slots) else None,
    )


class _Offered(NamedTuple):
    """A single-digit candidate as offered to the model: its field and box, the object it was cut from, its
    solid ink level, and whether it is the candidate before it with the line it touched kept."""

    field: np.ndarray
    box: tuple[int, int, int, int]
    digit: Digit
    solid: float
    line_kept: bool


def _read_single(layout: Layout, flags: list[str], inverted: bool) -> Segmented:
    """Single-digit mode: the heaviest candidate that can be read is the tensor; the others ride along
    (`Segmented.others`), the region of a page's small form boxes to read closer (`Segmented.fine`,
    `_small_boxes`), and the plan (see `_pick_plan`) lets the model judge them all (`pick`), even a lone
    one: on a page, a mark the model rejects is no digit.
    Each candidate is stretched to its own solid ink: a faint line of writing is no digit's neighbour."""
    candidates = find_single(layout, flags)
    if not candidates and layout.lines is not None:
        flags.append("lines-only")
    offered: list[_Offered] = []
    for c in candidates:
        solid = _digits_solid_level(layout, [c])
        if (t := _tensor(layout, c, solid)) is None:
            continue
        offered.append(_Offered(*t, c, solid, False))
        if _touches(layout, c) and (kept := _tensor(layout, c, solid, keep_line=True)) is not None:
            offered.append(_Offered(*kept, c, solid, True))
    if not offered:
        return replace(_nothing(layout, flags, inverted, (SIZE, SIZE)), fine=_small_boxes(layout))
    _touching(layout, candidates[:1], flags)
    return Segmented(
        offered[0].field,
        blank=False,
        inverted=inverted,
        passthrough=False,
        flags=tuple(flags),
        boxes=tuple(o.box for o in offered),
        plan=_pick_plan(offered, layout.page),
        others=np.stack([o.field for o in offered[1:]]) if len(offered) > 1 else None,
        fine=_small_boxes(layout, [o.box for o in offered if o.digit.boxed]),
    )


def _pick_plan(offered: list[_Offered], page: bool) -> str:
    """The plan of single-digit candidates: "pick:" on a page (which may hold no digit), "keep:" on a smaller
    image (a digit's own scan, whose digit is kept even when the model rejects it), then, for each candidate,
    its ink relative to the first's, marked "w" when it is wider than one digit (WIDE x its height), "e" when
    the image's border cuts it (no rival to the others), "f" when its solid ink is under FAINT_RIVAL of the
    boldest candidate's, of those the border does not cut when there are any (a shadow's edge or a pencil mark
    beside a pen's digit: no rival to it either; a desk beside the sheet is no measure of a pen), "b"
    when it stands in a form's box (`boxes.boxed_in`), "s" when it is a bar straighter than a pen draws
    (`common.ruler_straight`: flagged `straight-stroke` when read as a 1), "t" when it is a bar lying further
    over than a 1 is written (`common.lying`: flagged `lying-stroke` when read as a 1), "p" when its solid ink
    stands under FAINT_INK above the paper (flagged `faint-ink` when read) and "k" when it is the candidate
    before it with the line it touched kept (`reading.pick` reads the surer of the two), e.g.
    "pick:1w,0.066,2.1e" or "keep:1,0.2b"."""
    heaviest = max(1, offered[0].digit.mass)
    boldest = max(o.solid for o in ([o for o in offered if not o.digit.edge] or offered))  # a desk is no measure
    return ("pick:" if page else "keep:") + ",".join(
        # Kept within 0.0001-999, which ".3g" writes without an exponent: an "e" in it would read as a mark.
        f"{min(max(o.digit.mass / heaviest, 1e-4), 999.0):.3g}"
        + ("w" if o.box[2] > WIDE * o.box[3] else "")
        + ("e" if o.digit.edge else "")
        + ("f" if o.solid < FAINT_RIVAL * boldest else "")
        + ("b" if o.digit.boxed else "")
        + bar_marks(o.field, o.box[2:], any_angle=True)
        + ("p" if o.solid < FAINT_INK else "")
        + ("k" if o.line_kept else "")
        for o in offered
    )


def _small_boxes(layout: Layout, boxed: Sequence[tuple[int, int, int, int]] = ()) -> tuple[int, int, int, int] | None:
    """On a page, (left, top, width, height) around the cells of its small form boxes from FINE_CELL up to
    FINE_BOX px across and no more than twice as long as wide, grown by FINE_BOX on every side (their labels, a
    digit standing out of them), for `Segmented.fine`; None when there are none. A cell is a hole the erased
    lines close all round (a box, a row of them), or a hole in the ink left that fills SQUARE_HOLE of its
    rectangle: boxes too small or too faint at the working scale for their lines to be found (a row of 16 px
    boxes with 1 px rules). Rules, a shadow's edge and other open lines enclose nothing, the sliver between two
    boxes a rule runs across is no cell, and a written 0's or a printed O's hole is round (pi / 4 of its box).
    `boxed`: the boxes of the candidates the page offered standing in a form's box; those of a digit's size
    whose middle lies in the rows of the cells found are taken in too."""
    if not layout.page:
        return None
    cells = [] if layout.lines is None else _holes(layout.lines, 0.0)
    cells += _holes((layout.labels > 0).view(np.uint8), SQUARE_HOLE)
    small = [
        (x, y, w, h) for x, y, w, h in cells if FINE_CELL <= min(w, h) and max(w, h) < min(FINE_BOX, 2 * min(w, h))
    ]
    if not small:
        return None
    # The cells found may stop short of the box a digit stands in (a row of nine boxes on a whole form, its seventh
    # holding the 9): the window would cut the row before it, and the closer reading replace the page's.
    rows = min(c[1] for c in small), max(c[1] + c[3] for c in small)
    small += [
        (x, y, w, h)
        for x, y, w, h in boxed
        if FINE_CELL <= h < FINE_BOX and w <= 2 * h and rows[0] <= y + h / 2 <= rows[1]
    ]
    h, w = layout.labels.shape
    left, top = max(0, min(c[0] for c in small) - FINE_BOX), max(0, min(c[1] for c in small) - FINE_BOX)
    right = min(w, max(c[0] + c[2] for c in small) + FINE_BOX)
    bottom = min(h, max(c[1] + c[3] for c in small) + FINE_BOX)
    return left, top, right - left, bottom - top


def _holes(mask: np.ndarray, filled: float) -> list[tuple[int, int, int, int]]:
    """The boxes (left, top, width, height) of the holes in `mask` whose area fills `filled` of them or more."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    boxes = [
        (cv2.boundingRect(contour), contour)
        for contour, (_, _, _, parent) in zip(contours, hierarchy[0], strict=True)
        if parent >= 0  # a hole
    ]
    return [
        (int(x), int(y), int(w), int(h))
        for (x, y, w, h), contour in boxes
        if cv2.contourArea(contour) >= filled * w * h
    ]


def _touching(layout: Layout, digits: list[Digit], flags: list[str]) -> None:
    """Flag touches-line when any of `digits` was joined to an erased line."""
    if any(_touches(layout, d) for d in digits):
        flags.append("touches-line")


def _touches(layout: Layout, digit: Digit) -> bool:
    """Whether `digit` was joined to an erased line."""
    return bool(len(layout.touching)) and bool(np.isin(digit.labels, layout.touching).any())


def _line_under_ink(ink: np.ndarray, lines: np.ndarray, height: int) -> np.ndarray:
    """The pixels of erased lines a digit's stroke lay on or crossed: those straight across the line from its
    ink (up to KEPT_LINE px: above or below a rule, beside a box's side, never along the line beyond the
    stroke), and the line between two such places less than BRIDGE x the digit's height apart (the top of a
    9's loop lying on a box's edge closes again)."""
    reach = 2 * KEPT_LINE + 1
    up_down, sideways = (np.asarray(cv2.dilate(ink, np.ones(k, np.uint8)), np.uint8) for k in ((reach, 1), (1, reach)))
    rules, sides = (
        np.asarray(cv2.morphologyEx(lines, cv2.MORPH_OPEN, np.ones(k, np.uint8)), np.uint8)
        for k in ((1, reach), (reach, 1))
    )
    # Across a rule is up or down, across a box's side sideways; a pixel of neither (a slanted line) either way.
    slanted = lines & (1 - (rules | sides))
    near = (rules & up_down) | (sides & sideways) | (slanted & (up_down | sideways))
    gap = max(3, int(BRIDGE * height))
    for kernel in ((1, gap), (gap, 1)):
        near |= lines & np.asarray(cv2.morphologyEx(near, cv2.MORPH_CLOSE, np.ones(kernel, np.uint8)), np.uint8)
    return near


def _nothing(layout: Layout, flags: list[str], inverted: bool, shape: tuple[int, ...]) -> Segmented:
    """The reading of an image in which no digit could be cut out: blank, flagged blank-page on a page."""
    if layout.page:
        flags.insert(0, "blank-page")
    return Segmented(
        np.zeros(shape, np.float32), blank=True, inverted=inverted, passthrough=False, flags=tuple(flags), boxes=()
    )


def _digits_solid_level(layout: Layout, digits: list[Digit]) -> float:
    """The level of solid ink of the digits read: the 90th percentile of their ink pixels (one level for all
    the digits of a number, so a light digit is not stretched into a bold one)."""
    left, top, width, height = extent(np.array([[0, *d.box, 0] for d in digits]))
    labels = np.concatenate([d.labels for d in digits])
    region = layout.labels[top : top + height, left : left + width]
    values = layout.flat[top : top + height, left : left + width][np.isin(region, labels)]
    return quantile(values, 0.9) if values.size else 0.0


def _group_ink(layout: Layout, digits: list[Digit]) -> tuple[np.ndarray, int, int]:
    """Where the ink of a group's parts is, around all of its candidate digits (which share its parts) and as
    far beyond them as `_tensor` looks: (mask, its top, its left). Found once, not once a candidate."""
    h, w = layout.labels.shape
    left, top, width, height = extent(np.array([[0, *d.box, 0] for d in digits]))
    grow = 1 + KEPT_LINE
    x0, y0, x1, y1 = max(0, left - grow), max(0, top - grow), min(w, left + width + grow), min(h, top + height + grow)
    return np.isin(layout.labels[y0:y1, x0:x1], digits[0].labels), y0, x0


def _tensor(
    layout: Layout,
    digit: Digit,
    solid: float,
    keep_line: bool = False,
    own: tuple[np.ndarray, int, int] | None = None,
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """One digit's field (28x28) and its ink box: the ink of its own parts (within its bounds, when it was cut
    from touching digits), grown by a pixel for the anti-aliased edge, without erased lines (`keep_line`: with
    the erased line's pixels next to its ink, KEPT_LINE px: a stroke lying along the line, the top of a 9's loop
    on a box's edge, was erased with it), contrast-stretched so that solid ink is 1. `own`: its group's ink
    (`_group_ink`), when known."""
    left, top, width, height = digit.box
    h, w = layout.labels.shape
    grow = 1 + (KEPT_LINE if keep_line else 0)
    x0, y0 = max(0, left - grow), max(0, top - grow)
    x1, y1 = min(w, left + width + grow), min(h, top + height + grow)
    if own is None:
        mask = np.isin(layout.labels[y0:y1, x0:x1], digit.labels)
    else:
        ink, oy, ox = own
        mask = ink[y0 - oy : y1 - oy, x0 - ox : x1 - ox].copy()
    if digit.bounds is not None:
        first, lo, hi = digit.bounds
        at = np.clip(np.arange(y0, y1) - first, 0, len(lo) - 1)
        columns = np.arange(x0, x1)
        mask &= (columns >= lo[at, None]) & (columns < hi[at, None])
    grown = np.asarray(cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)), np.uint8)
    if layout.lines is not None:
        lines = layout.lines[y0:y1, x0:x1]
        if keep_line:
            grown |= _line_under_ink(grown, lines, height)
        else:
            grown &= lines ^ 1
    floor = 2.0 * layout.noise
    if solid - floor < BLANK_CONTRAST / 2:
        return None
    patch = layout.flat[y0:y1, x0:x1] - np.float32(floor)
    patch *= np.float32(1.0 / (solid - floor))
    np.clip(patch, 0.0, 1.0, out=patch)
    patch *= grown
    x, y, pw, ph = cv2.boundingRect((patch > 0.05).view(np.uint8))
    if pw == 0:
        return None
    field = to_field(patch[y : y + ph, x : x + pw])
    if field is None:
        return None
    return field, (x0 + x, y0 + y, pw, ph)
