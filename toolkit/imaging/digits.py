"""From ink to digits: step 5 of the segmenter (`toolkit.imaging.segment` describes it in full). The parts of
a `Layout` are grouped into objects; single-digit mode takes the heaviest, multi-digit mode the main row, left
to right, one group per digit, offering a group that may hold touching digits both whole and cut apart.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from toolkit.imaging.boxes import boxed_in
from toolkit.imaging.combs import between_ticks, erased_ticks
from toolkit.imaging.common import MIN_DIGIT, off_border
from toolkit.imaging.cuts import distinct, least_ink_paths, one_loop, profile_minima
from toolkit.imaging.layout import Layout
from toolkit.imaging.slant import lean, slant_of, stood_upright

JOIN = 0.2  # parts closer than this x the taller one's height belong to one object
APART_SHARE = 0.25  # on a page, a part the border cuts whose box covers this share of the image joins no other
ACROSS_LINE = 0.15  # ... and two parts that both touched an erased line, this much further (the line's gap)
COMPARABLE = 0.35  # another object with this share of the chosen one's ink makes the choice ambiguous
CANDIDATE_SHARE = 0.02  # single-digit mode offers the model every object with this share of the heaviest's ink
CANDIDATES = 8  # ... at most this many (and one in a form's box besides), chosen as `_taken` says
EDGE_MARK = 0.25  # on a page, a mark the image's border cuts, smaller than this share of its sides, is no digit
DIGIT_WIDTH = 0.8  # a digit's typical width, as a share of its height (MNIST: median 0.8)
WIDE = 1.45  # a group wider than this x the digits' height holds several digits (MNIST: 99% are narrower)
MAYBE_TWO = 0.5  # a narrower one may still be two touching digits (two 1s meeting in a V: 0.55 heights) when wider
CUTS = 3  # ... cut at up to this many places (about three per digit it may hold when wider), for the model
MIN_PIECE = 0.12  # cuts at least this x the digits' height apart (a 1 is about this wide)
MAX_PIECES = 4  # a candidate digit spans at most this many pieces between cuts
MAX_SPAN = 1.3  # ... and is at most this x the digits' height wide
REACH = 0.2  # a cut's path may wander this x the digits' height from its column ...
STRAIGHT_REACH = 0.05  # ... and each cut is offered held within this too (at least 2 px either way) ...
WIDE_REACH = 0.4  # ... and free to wander this far (a slanted 1 or 7 reaching under or over its neighbour)
ROW_MIN, ROW_GAP = 3, 1.5  # on a page, this many objects side by side are a line of writing (see `_in_rows`) ...
ROW_TOWER = 10.0  # ... but for one with this many times the ink of any other in it (a digit among box fragments)
STACKED = 0.5  # two groups overlapping in x by this share of the narrower one, one above the other, are one digit
FRAGMENT = 0.55  # a part shorter than this x the digits' height is a piece of a digit


@dataclass(frozen=True)
class Digit:
    """Where one digit's ink is: the parts it is made of, its box and, for a digit cut out of touching ones,
    the columns it keeps to on each row (the cut between touching digits need not be straight)."""

    labels: np.ndarray  # labels (in Layout.labels) of its parts
    box: tuple[int, int, int, int]  # (left, top, width, height) of its ink
    # (first row, left column per row, right column per row (exclusive)), absolute; None: all of its parts
    bounds: tuple[int, np.ndarray, np.ndarray] | None = None
    mass: int = 0  # its ink (x 1000, as Layout.parts), where the choice among candidates needs it
    edge: bool = False  # single-digit candidate on a page that the image's border cuts: no rival to the others
    boxed: bool = False  # single-digit candidate standing in a form's box (`boxes.boxed_in`)


def _objects(parts: np.ndarray, touching: np.ndarray | None = None, page: Layout | None = None) -> list[np.ndarray]:
    """Parts grouped into objects (parts closer than JOIN x the taller one's height), heaviest object first;
    each object is the array of its parts' rows. On a `page` (its layout), a part its border cuts (`Layout.cut`)
    lends no reach: a desk beyond the paper's edge, as tall as the photo, would otherwise take in every mark
    within a fifth of the photo's height, the digit too; and one whose box meets the image's edges and covers
    APART_SHARE of it (a desk along two sides of the sheet, all of it ink) is joined to none but its like, since
    its box holds every mark on the sheet. Two parts that both touched an erased line
    (`touching`: labels) reach ACROSS_LINE further: a 5 crossing a box's edge falls apart into pieces the
    width of the line apart when the line is erased."""
    x0, y0 = parts[:, 1], parts[:, 2]
    gap_x = np.maximum(0, _gaps(x0, x0 + parts[:, 3]))
    gap_y = np.maximum(0, _gaps(y0, y0 + parts[:, 4]))
    tall = parts[:, 4].copy()
    apart = np.zeros(len(parts), bool)
    if page is not None:
        tall[np.isin(parts[:, 0], page.cut)] = 0
        shape = page.labels.shape
        meets = ~off_border(x0, y0, parts[:, 3], parts[:, 4], shape)
        apart = meets & (parts[:, 3] * parts[:, 4] > APART_SHARE * shape[0] * shape[1])
    share = np.full((len(parts), len(parts)), JOIN)
    if touching is not None and len(touching):
        joined = np.isin(parts[:, 0], touching)
        share[joined[:, None] & joined[None, :]] += ACROSS_LINE
    reach = share * np.maximum(tall[:, None], tall[None, :])
    near = (gap_x <= reach) & (gap_y <= reach)
    near[apart[:, None] != apart[None, :]] = False  # a desk's box takes in the sheet it lies around
    group = _connected(near)
    objects = [parts[group == g] for g in np.unique(group)]
    # Dust that clumps stays smaller than the smallest digit worth reading.
    objects = [o for o in objects if max(extent(o)[2:]) >= MIN_DIGIT]
    return sorted(objects, key=lambda o: -int(o[:, 5].sum()))


def _gaps(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The gap between every pair of intervals [start, end) (negative: their overlap), as a square matrix."""
    return np.maximum(start[:, None], start[None, :]) - np.minimum(end[:, None], end[None, :])


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


def extent(rows: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the union of parts' boxes."""
    left, top = int(rows[:, 1].min()), int(rows[:, 2].min())
    right, bottom = int((rows[:, 1] + rows[:, 3]).max()), int((rows[:, 2] + rows[:, 4]).max())
    return left, top, right - left, bottom - top


def find_single(layout: Layout, flags: list[str]) -> list[Digit]:
    """Single-digit mode: the candidates for the digit, heaviest object first (on a page never objects in a row of
    writing, flagged writing-only when there is nothing else, and those the image's border cuts after all, no rival to
    the others here; none when there is none): every object with CANDIDATE_SHARE of the heaviest's ink, up to CANDIDATES
    (the heaviest, then those shaped like one digit, and one in a form's box besides: `_taken`), for the model to
    judge (a faint line of writing or a shadow can outweigh a thin 1; see `reading.pick`). An object in a form's
    box or a comb's cell (`boxes.boxed_in`, `combs.between_ticks`: the comb's ticks left standing, or erased as
    lines, `combs.erased_ticks`) is never writing: a digit in the first box of a row would otherwise join the
    label printed before it; it is offered
    marked `boxed`, so that the label, heavier, does not push it aside as a speck (`reading.pick`). Flagged
    ambiguous when another object weighs nearly as much as the heaviest, and several-digits when the ink looks
    like digits side by side."""
    page = layout if layout.page else None
    objects = _objects(layout.parts, layout.touching, page) if len(layout.parts) else []
    if not objects:
        return []
    lines = layout.lines

    @functools.cache
    def ticks() -> tuple[tuple[int, int, int, int], ...]:  # those left standing, and those erased as lines
        return layout.ticks + (erased_ticks(lines) if lines is not None else ())  # (found once, when first asked)

    def in_box(o: np.ndarray) -> bool:  # what a form's boxes (or a comb's cells) hold is its entry, never writing
        return (lines is not None and boxed_in(extent(o), lines)) or between_ticks(extent(o), ticks())

    rivals, edge = objects, []
    if layout.page:  # what the image's border cuts (a desk beyond the paper's edge) after all that it does not
        height, width = layout.labels.shape
        cut = [bool(np.isin(o[:, 0], layout.cut).any()) for o in objects]
        inside = [o for o, c in zip(objects, cut, strict=True) if not c]
        # A small mark the border cuts (a shadow's or a sheet's edge, dust at the edge) is not the digit, which
        # a scan shows whole; a large one may be a digit cropped tight, and is offered last.
        edge = [o for o, c in zip(objects, cut, strict=True) if c and not _small(extent(o), width, height)]
        # A line of writing (a header, a label) outweighs a thin 1 word by word, and a word may pass for a digit:
        # it is no candidate. A page whose only marks are writing holds no single digit, and says why.
        in_row = _in_rows(inside)
        alone = [o for o, w in zip(inside, in_row, strict=True) if not w or in_box(o)]
        objects, rivals = alone + edge, alone or edge
        if not objects:
            if any(in_row):
                flags.append("writing-only")
            return []
    best = objects[0]
    box = extent(best)
    several = not _one_wide(best)
    if len(rivals) > 1 and rivals[1][:, 5].sum() >= COMPARABLE * best[:, 5].sum():
        flags.append("ambiguous")
        # (a label printed beside a form's box is no second digit beside the one in the box)
        several |= _side_by_side(box, extent(rivals[1])) and in_box(best) == in_box(rivals[1])
    if several:
        flags.append("several-digits")
    heaviest = int(best[:, 5].sum())
    cut_off = {id(o) for o in edge}
    kept = [o for o in objects if o[:, 5].sum() >= CANDIDATE_SHARE * heaviest]
    offered = _taken(kept, in_box, lambda o: id(o) in cut_off)
    return [Digit(o[:, 0], extent(o), mass=int(o[:, 5].sum()), edge=id(o) in cut_off, boxed=in_box(o)) for o in offered]


def _taken(
    objects: list[np.ndarray], in_box: Callable[[np.ndarray], bool], cut: Callable[[np.ndarray], bool]
) -> list[np.ndarray]:
    """The CANDIDATES objects offered to the model, in their order (heaviest first, those the image's border
    cuts after all): the heaviest, then the heaviest of those shaped like one digit (no wider than WIDE x its
    height), then of those wider, those the border `cut` last (on a whole form the heaviest marks are printed
    words and rows of boxes too small for their lines to be found, each an object heavier than a digit written
    small, and only the heaviest eight were offered: a 4 on a comb, a 1 in a box, never became a candidate), and
    the heaviest object standing in a form's box besides, when it is not among them (a wide mark in a box,
    heavier than the mark chosen out of the boxes, makes that choice a guess: `reading.pick`)."""
    if len(objects) <= CANDIDATES:
        return objects
    rest = sorted(range(1, len(objects)), key=lambda i: (cut(objects[i]), not _one_wide(objects[i]), i))
    chosen = [0, *rest[: CANDIDATES - 1]]
    boxed = next((i for i in range(len(objects)) if in_box(objects[i])), None)
    if boxed is not None and boxed not in chosen:
        chosen.append(boxed)
    return [objects[i] for i in sorted(chosen)]


def _one_wide(o: np.ndarray) -> bool:
    """Whether an object is no wider than one digit (WIDE x its height)."""
    _, _, width, height = extent(o)
    return width <= WIDE * height


def _in_rows(objects: list[np.ndarray]) -> list[bool]:
    """Which objects belong to a line of writing: a chain of ROW_MIN or more objects side by side (overlapping
    by half the smaller one's height, gaps under ROW_GAP x the taller one's height), but for one with ROW_TOWER
    times the ink of any other in its chain: words weigh alike, and a digit written in a row of faint boxes,
    whose dotted lines were found as no lines but as fragments side by side, is no word among them (the rest of
    the chain stays a row, as it was with it)."""
    if len(objects) < ROW_MIN:
        return [False] * len(objects)
    x0, y0, w, h = np.array([extent(o) for o in objects], np.int64).T
    overlap = -_gaps(y0, y0 + h)
    near = (overlap >= 0.5 * np.minimum(h[:, None], h[None, :])) & (
        _gaps(x0, x0 + w) <= ROW_GAP * np.maximum(h[:, None], h[None, :])
    )
    group = _connected(near)
    sizes = np.bincount(group, minlength=len(objects))
    mass = np.array([o[:, 5].sum() for o in objects], np.float64)
    second = np.zeros(len(objects))  # the second heaviest of each object's chain
    for chain in np.unique(group):
        members = np.flatnonzero(group == chain)
        second[members] = np.sort(mass[members])[-2] if len(members) > 1 else 0.0
    return ((sizes[group] >= ROW_MIN) & (mass < ROW_TOWER * second)).tolist()


def _small(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether a (left, top, width, height) box is under EDGE_MARK of the image's side both ways."""
    return box[2] < EDGE_MARK * width and box[3] < EDGE_MARK * height


def _side_by_side(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Two (left, top, width, height) boxes of about one height on one line: digits of a number."""
    overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3], b[3]) and 0.5 <= a[3] / max(1, b[3]) <= 2.0


def find_number(layout: Layout, flags: list[str]) -> list[Lattice]:
    """Multi-digit mode: the digits of the main row, left to right (step 5 of the segmenter), one `Lattice`
    of candidates per group of ink."""
    objects = _objects(layout.parts) if len(layout.parts) else []
    if not objects:
        return []
    row = _main_row(objects, flags)
    height = _digits_height(row[:, 4])
    groups = _groups(row, height)
    joined = _stacked_joined(list(groups))
    if len(joined) < len(groups):  # a digit broken in two, one half above the other: it sets the height too
        groups, height = joined, _digits_height(np.array([extent(g)[3] for g in joined]))
    # The row's slant, for the cuts of groups that may hold several digits (none: no need of it).
    cut = any(extent(group)[2] > MAYBE_TWO * height for group in groups)
    slant = slant_of(_ink(layout, row[:, 0], extent(row))) if cut else 0.0
    slots = []
    for group in groups:
        box = extent(group)
        if max(box[2], box[3]) < 0.4 * height:
            continue  # a dot or a comma beside the digits, not a digit
        slots.append(_lattice(layout, group[:, 0], box, height, slant))
    return slots


def _digits_height(heights: np.ndarray) -> float:
    """The digits' height among parts' (or groups') `heights`, not a fragment's (a 5's detached cap, half of a
    4 written in two strokes): the upper quartile of those at least half the tallest."""
    return float(np.percentile(heights[heights >= 0.5 * heights.max()], 75))


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


def _stacked_joined(groups: list[np.ndarray]) -> list[np.ndarray]:
    """`groups` (left to right) with any two that stand one above the other made one: overlapping in x by
    STACKED of the narrower one and in y by at most a quarter of the shorter. Digits of a row stand side by
    side; pieces one above the other are one digit broken where its strokes are thin (an 8 or a 3 at its
    waist), which read apart are two halves the model rejects."""
    pair = _stacked_pair(groups)
    while pair is not None:
        a, b = pair
        groups[a] = np.concatenate([groups[a], groups.pop(b)])
        pair = _stacked_pair(groups)
    return groups


def _stacked_pair(groups: list[np.ndarray]) -> tuple[int, int] | None:
    """The first two of `groups` that stand one above the other (see `_stacked_joined`), None when none do."""
    boxes = [extent(g) for g in groups]
    for (a, (ax, ay, aw, ah)), (b, (bx, by, bw, bh)) in itertools.combinations(enumerate(boxes), 2):
        across = min(ax + aw, bx + bw) - max(ax, bx)
        along = min(ay + ah, by + bh) - max(ay, by)
        if across >= STACKED * min(aw, bw) and along <= 0.25 * min(ah, bh):
            return a, b
    return None


def _main_row(objects: list[np.ndarray], flags: list[str]) -> np.ndarray:
    """The parts of the heaviest row of objects (objects whose heights overlap by a quarter form a row);
    flagged ambiguous when another row weighs nearly as much."""
    boxes = [extent(o) for o in objects]
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


@dataclass(frozen=True)
class Lattice:
    """A group of ink that may hold several touching digits, over-segmented for the model: cuts are paths from
    top to bottom where digits may meet (the group's left and right edges included; one x position may have
    up to three paths), and each candidate digit is a span between two cuts at different positions (`spans`: (first
    cut, last cut, its ink width and height over the digits' height)), cut out along those paths.
    `reading.choose` reads it by dynamic programming over the cuts."""

    cuts: int  # the index of the last cut (the group's right edge): how many cut paths there are, less one
    spans: list[tuple[int, int, float, float]]
    digits: list[Digit]


def _lattice(
    layout: Layout, labels: np.ndarray, box: tuple[int, int, int, int], height: float, slant: float = 0.0
) -> Lattice:
    """A group's candidate digits (see `Lattice`). Narrower than MAYBE_TWO x the digits' height it is one digit.
    Wider, it is cut at the column ink profile's local minima (the thinnest first, at least MIN_PIECE x the
    height apart, about three per digit it may hold): where two digits touch is a thin column, though not always
    the thinnest (a 1 is a full-height stroke, the middle of a 6 is thin), so the model judges every span of up
    to MAX_PIECES pieces no wider than MAX_SPAN x the height. Each cut follows the path from top to bottom that
    crosses the least ink (see `least_ink_paths`) within REACH x the height, so slanted digits that overlap in x
    come apart whole; and, where it differs, also within STRAIGHT_REACH: the free path can follow a stroke into
    the neighbour's hollow and take a piece of it (on touching pairs of MNIST test digits, 149 of 200 read
    right with the free path alone, 169 with both); and within WIDE_REACH, for a slanted 1 or 7 whose foot or
    top reaches past its neighbour's edge. The cuts are placed on the group stood upright when the
    row's digits lean (`slant`, `slant.slant_of`), and follow the slant back on the group as it is."""
    left, top, width, box_height = box
    whole = Digit(labels, box)
    if width <= MAYBE_TWO * height:
        return Lattice(1, [(0, 1, width / height, box_height / height)], [whole])
    mask = _ink(layout, labels, box)
    # Cuts are placed on the group stood upright: slanted digits side by side overlap in x; a slanted cut parts them.
    shift = lean(mask, slant)
    upright = stood_upright(mask, shift)
    profile = upright.sum(axis=0).astype(np.float64)
    expected = len(profile) / (DIGIT_WIDTH * height)
    inner = sorted(profile_minima(profile, max(CUTS, round(3 * expected)), MIN_PIECE * height))
    # Each cut as the least-ink path free to wander (slanted digits overlapping in x), held nearly straight (the
    # free one can follow a stroke into the neighbour's hollow and take a piece of it along) and freer still.
    reaches = [max(2, round(share * height)) for share in (REACH, STRAIGHT_REACH, WIDE_REACH)]
    positions, paths = [0], [np.zeros(box_height, np.int64)]
    found = least_ink_paths(upright, [(cut, r) for cut in inner for r in reaches])
    for k, cut in enumerate(inner):
        for path in distinct(found[len(reaches) * k : len(reaches) * (k + 1)]):
            positions.append(cut)
            paths.append(np.clip(path + shift, 0, width))  # back on the group as it leans
    # A wide 0 is cut into a C and a reversed C (read 6 and 7): every cut crosses its hollow. It is offered whole.
    looped = one_loop(mask, paths[1:], height)
    positions.append(len(profile))
    paths.append(np.full(box_height, width, np.int64))
    # Pieces between cuts, counted over distinct positions (the paths of one cut are one place). Positions and
    # span widths are the upright group's columns, paths the group's own.
    place = np.cumsum([0, *(np.diff(positions) > 0)])
    columns = np.arange(width)
    spans, digits = [], []
    last = len(positions) - 1
    for i in range(last):
        for j in range(i + 1, last + 1):
            pieces = place[j] - place[i]
            if not pieces:
                continue  # paths of one cut
            span_width = positions[j] - positions[i]
            whole_group = i == 0 and j == last and (width <= MAX_SPAN * height or looped)  # the group as it stands
            if (pieces > MAX_PIECES or span_width > MAX_SPAN * height) and pieces > 1 and not whole_group:
                continue
            own = mask & (columns >= paths[i][:, None]) & (columns < paths[j][:, None])
            x, y, w, h = cv2.boundingRect(own.view(np.uint8))
            if not w:
                continue
            spans.append((i, j, w / height, h / height))
            digits.append(Digit(labels, (left + x, top + y, w, h), (top, paths[i] + left, paths[j] + left)))
    return Lattice(last, spans, digits)


def _ink(layout: Layout, labels: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The mask of the parts `labels` within `box` (left, top, width, height)."""
    left, top, width, height = box
    return np.isin(layout.labels[top : top + height, left : left + width], labels)
