"""The scan contract's shared pieces: the model's field and how a digit is placed in it (`to_field`, the end of
every path) and what is told of a mark once there (`ruler_straight`, `lying`), the result types, and the paper
statistics that the normaliser (`toolkit.imaging.normalise`) and the segmenter (`toolkit.imaging.segment`) both
measure images with.

MNIST was made by scaling each digit so that its longer side is BOX px, keeping the aspect ratio, and placing
it in a SIZE x SIZE field with its centre of mass at CENTRE; `to_field` does the same to any digit's ink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np

# One thread: the images are small (a thread pool costs more than it gives on them, measured), the engines run
# one process per core, and a parent that forks workers is safer without pool threads.
cv2.setNumThreads(1)

SIZE = 28  # the model's field
BOX = 20  # the longer side of the digit inside the field
CENTRE = 14.0  # where MNIST puts the centre of mass, in index coordinates
MAX_SIDE = 1024  # larger images are box-reduced first: the digit ends up 20 px anyway
BLANK_CONTRAST = 0.1  # ink fainter than this (on a 0..1 scale) above the paper counts as no ink
# Images up to this size (longer side, after the MAX_SIDE reduction) are single-digit scans: the normaliser's
# fast path finds their digit on a 64 px copy. Larger ones are pages, photos or form fields, where a digit can
# be a few percent of the sheet, and go to the segmenter (background flattening, specks, ruled lines).
PAGE_SIDE = 320
LINE_MIN = 12  # px: runs of ink shorter than this are never ruled lines (nor the sides of a box)
LINE_THICK = 4.0  # px: a ruled line is at most this thick (a printed rule is thinner than a pen stroke of a digit)
LINE_RATIO = 8.0  # a ruled line, and a box's rules, are at least this many times longer than thick
EDGE_SOLID = 0.5  # ink from border to border standing under this share of the way to full ink is an edge
FRAMED, FRAME_HOLLOW = 0.85, 0.5  # a frame is inked along this share of each side, and under this share inside
STRAIGHT_OFF, STRAIGHT_LEAN = 0.15, 0.01  # a mark ruler-straight and square to the field: see `ruler_straight`
# ... or at any angle: a bar, its second moments this far apart (0: a disc, 1: a line; 0.8: 3 times longer than wide)
ELONGATED = 0.8
THIN = 10  # ... and thin: its ink this many columns (or rows) of the field wide at most
LEAN_RIGHT, LEAN_LEFT = 45.0, 35.0  # a bar leaning further from upright, top right or left, is no 1: see `lying`
_COLUMNS = np.arange(SIZE, dtype=np.float32)  # the field's column numbers
MIN_DIGIT = 9  # px: an object smaller than this on both sides is dust (21 px on an A4 page at 200 dpi, where a digit of
# 25 px, the smallest read, is 11 px at the working resolution)


@dataclass(frozen=True)
class Normalized:
    """The model input for one image and what the normaliser found out about it."""

    tensor: np.ndarray  # float32 (28, 28) in [0, 1], white ink on black
    blank: bool  # no ink found: the tensor is all zeros and no digit should be read from it
    inverted: bool  # the image had dark ink on a light background
    passthrough: bool  # already in MNIST form, used as it was
    # What `Segmented` adds; plain class attributes here, not fields, so that the fast path builds its result
    # no slower than a bare four-field one (a frozen dataclass pays for every field it sets).
    flags = ()
    boxes = None
    plan = None
    others = None
    fine = None


@dataclass(frozen=True)
class Segmented(Normalized):
    """A `Normalized` made by the segmenter (pages, multi-digit readings), with what it found out."""

    # Why the result deserves a look (see `toolkit.imaging.segment.FLAGS`).
    flags: tuple[str, ...] = ()  # type: ignore[assignment]  # the base has it as a plain class default
    # (left, top, width, height) of each tensor's ink, in the pixels of the image given.
    boxes: tuple[tuple[int, int, int, int], ...] | None = None  # type: ignore[assignment]
    # Multi-digit readings where touching digits may be cut apart: for each group of ink, left to right, "1"
    # (one digit; "1s": one that is a bar straighter than a pen draws) or its candidate spans, e.g.
    # "1;L2:0-1-0.45-1.00,0-2-1.10-1.00,1-2-0.60-0.95" ("k" after a span: the span before it with the line it
    # touched kept; see `toolkit.imaging.reading.choose`); None when every tensor is a digit of its own.
    # Single-digit mode on the segmenter's path: "pick:" (a page) or "keep:" (a smaller image) and each
    # candidate's ink relative to the first's, e.g. "pick:1,0.4" (see `toolkit.imaging.reading.pick`).
    plan: str | None = None  # type: ignore[assignment]
    # Single-digit mode on a page: the other candidates for the digit (k, 28, 28), after `tensor`, heaviest
    # first; their boxes follow the first in `boxes`. The model picks (`toolkit.imaging.reading.pick`).
    others: np.ndarray | None = None  # type: ignore[assignment]
    # Single-digit mode on a page: (left, top, width, height) around the form boxes too small to read well at
    # the working resolution, as shares (0-1) of the image's width and height, whatever its resolution;
    # `toolkit.imaging.closer` reads them again from finer pixels when the image had them. None when there are none.
    fine: tuple[float, float, float, float] | None = None  # type: ignore[assignment]


def off_border(left: Any, top: Any, width: Any, height: Any, shape: tuple[int, ...]) -> Any:
    """Whether boxes (left, top, width, height: numbers, or arrays of them) keep off the border of an image of
    `shape` (height, width, ...): the image's border cuts none of their sides."""
    return (left > 0) & (top > 0) & (left + width < shape[1]) & (top + height < shape[0])


def border(values: np.ndarray) -> np.ndarray:
    """The pixels of a ring along the edges, about 4% of the shorter side wide (at least one pixel)."""
    h, w = values.shape
    k = max(1, round(0.04 * min(h, w)))
    if 2 * k >= min(h, w):
        return values.flatten()
    return np.concatenate(
        [values[:k].ravel(), values[-k:].ravel(), values[k:-k, :k].ravel(), values[k:-k, -k:].ravel()]
    )


def median(values: np.ndarray) -> float:
    """Upper median, without np.median's overhead (it matters at thousands of images per second). Reorders
    `values`, which must be the caller's own copy."""
    k = values.size // 2
    values.partition(k)
    return float(values[k])


def coarse_median(gray: np.ndarray) -> float:
    """The median of a sample of about 16 x 16 of an image's pixels: its paper's level where a digit (and a box
    around it) covers less than half of it, for a few microseconds at any size."""
    step = max(1, max(gray.shape) // 16)
    return median(gray[::step, ::step].flatten())


def quantile(values: np.ndarray, q: float) -> float:
    """np.percentile(values, 100 * q) (linear interpolation), from one partition: several times faster.
    Reorders `values`, which must be the caller's own copy."""
    position = q * (values.size - 1)
    lo = int(position)
    hi = min(lo + 1, values.size - 1)
    values.partition((lo, hi))
    return float(values[lo] + (values[hi] - values[lo]) * (position - lo))


def paper(ring: np.ndarray) -> tuple[float, float]:
    """Background level (median of the border ring) and noise (its scaled median absolute deviation)."""
    level = median(ring)
    deviation = ring - np.float32(level)
    return level, 1.4826 * median(np.abs(deviation, out=deviation))


NOISY_RING = 0.1  # a border ring this noisy (its scaled MAD) is as much ink as paper: see `paper_of` ...
PAPER_BINS, PAPER_NEAR = 32, 0.1  # ... its paper then its commonest of so many levels, its noise the pixels this near


def paper_of(values: np.ndarray, ring: np.ndarray | None = None) -> tuple[float, float]:
    """`paper` of an image's border ring (`ring`, when taken already); when the ring is NOISY_RING noisy or more
    (a digit cropped to its own ink runs along the crop's edges, so its ring is as much ink as paper, and
    blurred, much of it between the two), the paper is the ring's commonest level (a histogram's peak) and its
    noise is measured on the pixels near that level."""
    ring = border(values) if ring is None else ring
    level, noise = paper(ring)
    if noise < NOISY_RING:
        return level, noise
    counts, edges = np.histogram(ring, bins=PAPER_BINS, range=(0.0, 1.0))
    peak = int(np.argmax(np.convolve(counts, (1, 2, 1), mode="same")))
    level = float(edges[peak] + edges[peak + 1]) / 2
    near = ring[np.abs(ring - np.float32(level)) <= PAPER_NEAR]
    return paper(near) if near.size else (level, noise)


def reduce(values: np.ndarray, factor: int) -> np.ndarray:
    """About `factor` times smaller, each pixel the mean of the block it covers (area interpolation)."""
    if factor <= 1:
        return values
    h, w = values.shape
    return cv2.resize(values, (-(-w // factor), -(-h // factor)), interpolation=cv2.INTER_AREA)


def inked_all_round(mask: np.ndarray, band: int) -> bool:
    """Whether a boolean `mask` (the box around something) is a frame: inked along FRAMED of a strip `band` px
    wide inside each of its sides, and under FRAME_HOLLOW inside those strips. A digit touches its box in a few
    places; a blob of shading is inked all through."""
    return hollow(mask, band) and inked_round(mask, band)


def hollow(mask: np.ndarray, band: int) -> bool:
    """Whether a boolean `mask` is under FRAME_HOLLOW inked inside a strip `band` px wide along its sides."""
    return bool(mask[band:-band, band:-band].mean() < FRAME_HOLLOW)


def inked_round(mask: np.ndarray, band: int) -> bool:
    """Whether a boolean `mask` is inked along FRAMED of a strip `band` px wide inside each of its sides."""
    sides = (mask[:band].any(axis=0), mask[-band:].any(axis=0), mask[:, :band].any(axis=1), mask[:, -band:].any(axis=1))
    return min(float(side.mean()) for side in sides) >= FRAMED


def edge_like(ink: np.ndarray, box: tuple[int, int, int, int], solid: float, paper: float) -> bool:
    """Whether ink from border to border (`box`: top, bottom, left, right, inclusive; `solid`: its solid ink's
    level above `paper`, the paper's, on `ink`'s 0-1 scale) is an edge across the image rather than a stroke
    cut off by it: it runs into three borders or more (a tile's or a sheet's edge, a shadow's side), it stands
    under EDGE_SOLID of the way from the paper to full ink (a shadow's band, a fold), or the paper right beside
    it stands at different levels on its two sides (a seam between two tones; bands as wide as half the mark,
    so that light falling off across the image does not count). A 1 written in pen from the top of its crop to
    the bottom is none of these."""
    if solid < EDGE_SOLID * max(1e-6, 1.0 - paper):
        return True
    top, bottom, left, right = box
    h, w = ink.shape
    touching = (top == 0) + (bottom == h - 1) + (left == 0) + (right == w - 1)
    if touching >= 3:
        return True
    if top == 0 and bottom == h - 1:  # runs down the image: its sides are left and right of it
        reach = max(2, (right - left + 1) // 2)
        before, after = ink[:, max(0, left - reach) : left], ink[:, right + 1 : right + 1 + reach]
    else:
        reach = max(2, (bottom - top + 1) // 2)
        before, after = ink[max(0, top - reach) : top], ink[bottom + 1 : bottom + 1 + reach]
    if before.size == 0 or after.size == 0:
        return True
    return abs(float(np.median(before)) - float(np.median(after))) > BLANK_CONTRAST / 2


def centre_of_mass(values: np.ndarray) -> tuple[float, float]:
    """(row, column) of the centre of mass, from OpenCV's moments (one C pass)."""
    m = cv2.moments(values)
    if m["m00"] <= 0:
        return (values.shape[0] - 1) / 2, (values.shape[1] - 1) / 2
    return m["m01"] / m["m00"], m["m10"] / m["m00"]


def to_field(patch: np.ndarray) -> np.ndarray | None:
    """A digit's ink (float32, cropped to its box, solid ink about 1, paper 0) -> the model's 28x28 field, as
    MNIST made it: the longer side scaled to 20 px, aspect ratio kept, full white reached, centre of mass at
    the centre. None when nothing of the ink survives. Every path (single digits, pages, each digit of a
    number) ends here."""
    ph, pw = patch.shape
    scale = BOX / max(ph, pw)
    new_h, new_w = max(1, round(ph * scale)), max(1, round(pw * scale))
    # Area interpolation averages the pixels each output pixel covers: anti-aliased like MNIST's own scaling,
    # and an order of magnitude cheaper than a Lanczos filter for the same accuracy on scans.
    digit = cv2.resize(patch, (new_w, new_h), interpolation=cv2.INTER_AREA)  # means of [0, 1]: no clip needed
    peak = float(digit.max())
    if peak <= 0:
        return None
    digit = digit / np.float32(peak)  # MNIST digits always reach full white

    cy, cx = centre_of_mass(digit)
    y0 = min(max(round(CENTRE - cy), 0), SIZE - new_h)
    x0 = min(max(round(CENTRE - cx), 0), SIZE - new_w)
    out = np.zeros((SIZE, SIZE), np.float32)
    out[y0 : y0 + new_h, x0 : x0 + new_w] = digit
    return out


def ruler_straight(field: np.ndarray, extent: tuple[int, ...] | None = None, *, any_angle: bool = False) -> bool:
    """Whether a model input (SIZE x SIZE, ink bright) holds a bar straighter than a pen draws: thin (ink in at
    most THIN columns, or rows), its middle on every row (or column) within STRAIGHT_OFF px of one line, leaning
    under STRAIGHT_LEAN from the field's axis. A scanner's streak, a seam between two paper tones or a piece of a
    rule is; none of the 1,135 MNIST test 1s is (one would be at 0.2 px instead of 0.15). `any_angle`: at any
    angle, measured across the mark's own long axis (its second moments) turned upright: a staple, a hair pulled
    straight, a fold; 5 of the 1,135 MNIST test 1s are. `extent`: the mark's sides before it was scaled into the
    field, when known, for a first look that costs nothing (most marks are not thin)."""
    if extent is None or min(extent) <= THIN / BOX * max(extent):
        if _straight_along_axes(field):
            return True
    if not any_angle:
        return False
    moments = cv2.moments(field)
    if (degrees := _bar_axis(moments)) is None:
        return False
    centre = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
    turned = cv2.warpAffine(field, cv2.getRotationMatrix2D(centre, degrees - 90.0, 1.0), (SIZE, SIZE))
    return _straight_along_axes(turned, (0,))


def bar_marks(field: np.ndarray, extent: tuple[int, ...] | None = None, *, any_angle: bool = False) -> str:
    """The marks of a candidate that reads as no 1 a pen writes, when the model reads it as a 1: "s", a bar
    straighter than a pen draws (`ruler_straight`, with `extent` and `any_angle` as there), and "t", a bar
    lying further over than a 1 is written (`lying`); "" for neither."""
    return ("s" if ruler_straight(field, extent, any_angle=any_angle) else "") + ("t" if lying(field) else "")


def lying(field: np.ndarray) -> bool:
    """Whether a model input (SIZE x SIZE, ink bright) is a bar (`_bar_axis`) lying further over than people write
    a 1: its long axis leaning more than LEAN_RIGHT degrees from upright with its top to the right, or LEAN_LEFT
    with its top to the left. A hair or a fold on a blank sheet, read as a sure 1, often is. MNIST's 1s lean right
    up to about 45 degrees and left up to 25-40: of its 6,742 training 1s, 27 are such bars, and 2 of its 1,135
    test 1s."""
    degrees = _bar_axis(cv2.moments(field))
    return degrees is not None and 90.0 - abs(degrees) > (LEAN_LEFT if degrees > 0 else LEAN_RIGHT)


def _bar_axis(moments: dict[str, float]) -> float | None:
    """A mark's long axis from its image moments (`cv2.moments`), in degrees from the field's rows (rows run down:
    above 0 its top leans left); None when it is no bar: no ink, or its second moments under ELONGATED apart."""
    along, across = moments["mu20"] - moments["mu02"], 2 * moments["mu11"]
    if moments["m00"] <= 0 or math.hypot(along, across) < ELONGATED * (moments["mu20"] + moments["mu02"]):
        return None  # its ink spreads both ways
    return 0.5 * math.degrees(math.atan2(across, along))


def _straight_along_axes(field: np.ndarray, axes: tuple[int, ...] = (0, 1)) -> bool:
    """`ruler_straight` square to the field: thin, and straight within STRAIGHT_OFF, leaning under STRAIGHT_LEAN;
    upright (axis 0: its columns), flat (axis 1) or either. (Means as sums over counts: NumPy's `mean` costs
    more than the rest on arrays this small.)"""
    ink = field > 0.2
    for axis in axes:
        if not 0 < int(np.count_nonzero(ink.any(axis=axis))) <= THIN:
            continue
        along = field if axis == 0 else field.T
        mass = along.sum(axis=1)
        rows = np.flatnonzero(mass > 0.5)
        if len(rows) < SIZE // 3:
            continue
        middle = (along[rows] @ _COLUMNS) / mass[rows]
        at = rows - rows.sum() / len(rows)
        centred = middle - middle.sum() / len(rows)
        slope = float(at @ centred) / float(at @ at)
        if abs(slope) < STRAIGHT_LEAN and float(np.abs(centred - slope * at).max()) <= STRAIGHT_OFF:
            return True
    return False


def to_max_side(pixels: np.ndarray) -> np.ndarray:
    """`pixels` area-reduced so that their longer side is MAX_SIDE exactly: the one reduction of every path
    (files OpenCV decodes, Pillow's other modes, arrays of any type), so the same pixels give the same tensors."""
    height, width = pixels.shape[:2]
    scale = MAX_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def scaled(result: Normalized, factor: float) -> Normalized:
    """`result` with its boxes in the pixels of an image `factor` times larger than the one it was read on."""
    if result.boxes is None or factor == 1:
        return result
    boxes = tuple(
        (round(t * factor), round(b * factor), round(lf * factor), round(r * factor)) for t, b, lf, r in result.boxes
    )
    return replace(result, boxes=boxes)


def shares(box: tuple[float, ...], shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """A (left, top, width, height) box in pixels -> the same as shares of the image's width and height."""
    left, top, width, height = box
    return left / shape[1], top / shape[0], width / shape[1], height / shape[0]


def mapped_box(box: tuple[float, ...], matrix: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A (left, top, width, height) box -> the box around its corners mapped by `matrix` (a 2x3 affine or a 3x3
    perspective transform), kept inside an image of `shape` (height, width): a box found on a sheet turned or
    flattened, on the sheet as given."""
    left, top, width, height = box
    corners = np.array([[left, top], [left + width, top], [left, top + height], [left + width, top + height]])
    if matrix.shape == (2, 3):
        matrix = np.vstack([matrix, [0.0, 0.0, 1.0]])
    seen = cv2.perspectiveTransform(corners[None].astype(np.float32), matrix.astype(np.float64))[0]
    x0, y0 = (int(v) for v in np.clip(np.floor(seen.min(axis=0)), 0, None))
    x1, y1 = (int(v) for v in np.minimum(np.ceil(seen.max(axis=0)), (shape[1], shape[0])))
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)
