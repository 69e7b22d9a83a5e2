"""Where the ink is, before any digit is cut out: steps 2-4 of the segmenter (`toolkit.imaging.segment`
describes them in full). The ink arrives with the paper's light already divided out (`toolkit.imaging.light`);
here it is found relative to the paper at the image's own resolution, ruled lines are erased and specks
dropped; what is left is a `Layout` of connected parts for `toolkit.imaging.digits` to group into digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from toolkit.imaging import combs
from toolkit.imaging.common import PAGE_SIDE, border, median, off_border, paper, quantile
from toolkit.imaging.lines import find_lines, ruled_parts

MIN_CONTRAST = 0.08  # ink must stand this far (0..1) above the paper, whatever the noise
NOISE_SIGMAS = 4.0  # ... and this many sigmas of the paper's noise
MIXED_RING = 3.0  # a page's border ring this many times noisier than the whole page is not paper alone ...
PAPER_SAMPLE = 3  # ... and the paper's noise is measured on every this-many-th pixel of the page instead
SPECK_SIDE = 3  # px: parts smaller than this on both sides are dust
SPECK_SHARE = 0.01  # parts with less ink than this share of the heaviest part are dust
MAX_PARTS = 200  # only the heaviest parts are considered (a page of text is not a number)
TINT_DENSE, TINT_SIDE = 0.6, 16  # a part inking this share of its box or more, at least this many px both ways,
TINT_LOW = 0.5  # ... whose median pixel stands under this share of its 95th percentile is marks on a tint


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
    ticks: tuple[tuple[int, int, int, int], ...] = ()  # a comb's ticks (left, top, width, height), erased as lines
    # labels of the parts the image's own border cuts (`analyse`), which are no rivals to a page's digit (`digits`)
    cut: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def analyse(ink: np.ndarray, page: bool | None = None, border_at: np.ndarray | None = None) -> Layout:
    """Find the ink of flattened ink (`light.flatten`), erase ruled lines and drop specks (steps 2-4 of the
    segmenter). `page`: read as a page (or not) whatever its size; by default, when larger than PAGE_SIDE.
    `border_at`: where the image's own border lies in `ink` (a uint8 mask) when that is not only along the edges
    of `ink`: a sheet turned square lies askew in it (`segment.read`). The parts that reach it are `Layout.cut`.
    (The speck share, and which parts join none but their like, still go by the edges of `ink`: see
    docs/scans-history.md.)"""
    page = max(ink.shape) > PAGE_SIDE if page is None else page
    flat = ink - np.float32(median(border(ink)))
    level, noise = paper(border(flat))
    if page:
        # A page's border ring that is not paper alone (a desk along two sides of a photographed sheet) is many
        # times noisier than the paper: the whole page, mostly paper, says how noisy the paper is. (Its level
        # stays the ring's: a vignette the light left darker there is not ink. On a small image the digit is
        # much of the whole, and the ring is its paper.)
        _, sampled_noise = paper(flat[::PAPER_SAMPLE, ::PAPER_SAMPLE].ravel())
        if noise > MIXED_RING * sampled_noise:
            noise = sampled_noise
    if level:
        flat -= np.float32(level)
    threshold = max(MIN_CONTRAST, NOISE_SIGMAS * noise)
    mask = (flat > threshold).view(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if _untinted(flat, mask, labels, stats, threshold):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = find_lines(mask, flat, labels, stats, page) if count > 1 else None
    lines, touching = None, np.zeros(0, np.int64)
    ticks: tuple[tuple[int, int, int, int], ...] = ()
    teeth_left: list[int] = []  # the ticks' own parts, erased as lines
    if found is not None:
        lines, strokes = found
        mask = (mask & (lines ^ 1)).astype(np.uint8)
        count, labels, stats, touching = _erased(mask, labels, np.array(sorted(strokes), np.int64))
        found_combs = combs.find(stats, touching, labels)  # ticks left standing where a comb's rule was erased
        if found_combs:
            teeth_left = combs.labels_of(found_combs)
            ticks = tuple((int(x), int(y), int(w), int(h)) for x, y, w, h in stats[teeth_left, :4].tolist())
            lines = lines | np.isin(labels, teeth_left).view(np.uint8)
            touching = touching[~np.isin(touching, teeth_left)]
            # A tick a digit's stroke joined was never a part of its own: where the comb says one stands.
            if (hidden := combs.hidden(labels, found_combs, touching, lines)) is not None:
                lines = lines | hidden
                mask = (mask & (lines ^ 1)).astype(np.uint8)
                count, labels, stats, touching = _erased(mask, labels, touching)
                teeth_left = []  # (labelled again without them)
    parts = _parts(flat, labels, stats, count)
    cut = _cut(labels, stats, count, border_at)
    if teeth_left:
        parts = parts[~np.isin(parts[:, 0], teeth_left)]
    ruled = ruled_parts(flat, labels, parts, page, lines)
    if ruled:
        drawn = np.isin(labels, ruled).view(np.uint8)
        lines = drawn if lines is None else lines | drawn
        parts = parts[~np.isin(parts[:, 0], ruled)]
    return Layout(flat, labels, parts, lines, touching, noise, page, ticks, cut)


def _untinted(flat: np.ndarray, mask: np.ndarray, labels: np.ndarray, stats: np.ndarray, threshold: float) -> bool:
    """Take the tint of a form's tinted boxes for paper, in `flat` and `mask` (in place); whether any was. A box
    filled with a light tint and smaller than the light's closing square (`light.kernel_side`: a larger one is
    paper to the light already) stays in the ink, tint and all: its lines, its tint and the digit in it are one
    part, no lines are found, and the model reads the whole box as one mark (a 3 in a tinted box rejected). Such
    a part inks TINT_DENSE of its box or more, is TINT_SIDE px or more both ways, does not reach the image's
    border (a photo's desk is left as it is), and is mostly far fainter than its strongest ink (its median under
    TINT_LOW of its 95th percentile: a pen's or a rule's ink is about as dark through). Its tint is its median:
    taken off its pixels, as the paper's level is off the page's, so that its strokes keep their contrast above
    it and no halo of tint; and its pixels within `threshold` of it are no ink. `stats`: the parts' (background
    first)."""
    h, w = mask.shape
    x, y, pw, ph, area = (stats[1:, k] for k in range(5))
    dense = (area >= TINT_DENSE * pw * ph) & (np.minimum(pw, ph) >= TINT_SIDE) & off_border(x, y, pw, ph, (h, w))
    found = False
    for label in (np.flatnonzero(dense) + 1).tolist():
        left, top, width, height = (int(v) for v in stats[label, :4])
        box = np.s_[top : top + height, left : left + width]
        part = labels[box] == label
        region = flat[box]  # a view: written through
        values = region[part]  # a copy, reordered by the two measures
        tint, strongest = median(values), quantile(values, 0.95)
        if tint < TINT_LOW * strongest:
            region[part] -= np.float32(tint)
            mask[box][part & (region <= threshold)] = 0
            found = True
    return found


def _erased(mask: np.ndarray, before: np.ndarray, joined: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The connected parts of `mask`, what is left of the ink labelled `before` once lines were erased from it:
    (count, labels, stats, the labels of the parts that were joined to a line: those of parts `joined` before)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    # Each part left was part of one connected part before: those that were joined to a line touched it.
    origin = np.zeros(count, np.int32)
    origin[labels.ravel()] = before.ravel()
    touching = np.flatnonzero(np.isin(origin, joined))
    return count, labels, stats, touching[touching > 0]


def _cut(labels: np.ndarray, stats: np.ndarray, count: int, border_at: np.ndarray | None) -> np.ndarray:
    """The labels of the parts the image's own border cuts: those reaching the edges of `labels`, or, given
    where the border lies (`border_at`, a 0/1 uint8 mask), those within a pixel of it."""
    if border_at is None:
        x, y, w, h = (stats[1:count, k] for k in range(4))
        return np.flatnonzero(~off_border(x, y, w, h, labels.shape)) + 1
    found = np.unique(labels[cv2.dilate(border_at, np.ones((3, 3), np.uint8)).view(bool)])
    return found[found > 0].astype(np.int64)


def _parts(flat: np.ndarray, labels: np.ndarray, stats: np.ndarray, count: int) -> np.ndarray:
    """The parts that are not specks: rows (label, left, top, width, height, mass x 1000), heaviest first. The
    share that makes a speck (SPECK_SHARE) is of the heaviest part the image's border does not cut, when there
    is one: a desk beside a photographed sheet, a sheet's edge or a shadow's outweighs a thin 1 a hundred times."""
    if count <= 1:
        return np.zeros((0, 6), np.int64)
    # Summed over the ink pixels only: a page is mostly paper, and a weighted count over all of it costs more
    # than everything else here.
    ink = np.flatnonzero(labels)
    mass = np.bincount(labels.ravel()[ink], weights=flat.ravel()[ink], minlength=count)[1:]
    rows = np.column_stack([np.arange(1, count), stats[1:, :4], np.round(mass * 1000)]).astype(np.int64)
    big = np.maximum(rows[:, 3], rows[:, 4]) >= SPECK_SIDE
    inside = big & off_border(rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], labels.shape)
    heaviest = rows[inside, 5].max() if inside.any() else rows[:, 5].max()
    rows = rows[big & (rows[:, 5] >= SPECK_SHARE * heaviest)]
    return rows[np.argsort(-rows[:, 5], kind="stable")][:MAX_PARTS]
