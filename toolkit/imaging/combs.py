"""The teeth of a comb: a form's field printed as a rule with short upright ticks between its cells
(`|_|_|_|`). Erasing the rule (`toolkit.imaging.lines`) leaves each tick as a small upright bar standing on
where the rule was, one beside the digit in each cell: read as 1s, or as a row of writing with the digit in it.

Ticks are told from a digit's strokes by their regularity, which a hand does not have: three or more upright
bars that touched an erased rule, ending on one row (standing on the rule, or hanging from it; a row leaning
up to 5 degrees on a sheet askew), of one height and one width within a pixel or two, and as far apart as the
cells (multiples of one spacing, where a digit covers a tick). A row of 1s written on a rule varies in height,
lean and spacing, and is kept.

A digit written across a tick is joined to it, so that tick is no part of its own and its stub would stay as a
stroke (a 0 over a tick reads 9): the ticks found say where the hidden one stands (`hidden`), and there it is
erased in the rows where the ink is no wider than a tick.

Ticks as long as the lines around them (a whole form read closer, where a comb's ticks are longer than its
labels are tall) are erased with the rule as lines, and no tick is left standing: they are found among the
erased lines instead (`erased_ticks`), upright pieces meeting a rule at one end only, where a box's sides meet
rules at both.

A comb's rule also tells how far its sheet is askew (`rule_angle`, for `askew.skew`): a comb is neither a long
thin part nor a box, and on a sheet turned a few degrees its rule is not found until the sheet is turned back.
"""

from __future__ import annotations

import cv2
import numpy as np

from toolkit.imaging.common import LINE_MIN
from toolkit.imaging.rough import TILT

MIN_TEETH = 3  # this many ticks in a row make a comb
SAME_END = 2  # px: ticks' ends on one row within this
SAME_SIZE = 0.15  # heights within this share of their median (at least SAME_END px)
SPACING = 0.12  # gaps within this share of a whole number of the comb's spacing
MIN_HEIGHT = 5  # px: a tick is at least this tall, ...
UPRIGHT = 0.5  # ... no wider than this x its height ...
SOLID = 0.7  # ... and fills this share of its box (straight, not a stroke's curve)
APART = 1.5  # ticks stand at least this x their height apart (a cell is wider than its ticks are tall)
SLOPES = np.linspace(-TILT, TILT, 19)  # the leans of a row of ticks' ends looked at (steps of 0.01)
EDGE_SHARE = 0.8  # a comb's bottom (or top) edge is its rule along this share of the columns it inks ...
EDGE_OFF = 1.5  # ... within this many px of one line
WIDE = 3.0  # a comb is this many times wider than tall, or more (three cells or more)
BETWEEN = 1.5  # a mark stands in a comb's cell between ticks this close: see `between_ticks`
UNDER = 0.5  # a tick hidden under a digit's stroke: ink down the middle of this share of its band, at least


Comb = tuple[int, float, list[tuple]]  # (which end its ticks share: 2 top, 3 bottom; the row's lean; its ticks)


def labels_of(combs: list[Comb]) -> list[int]:
    """The labels of the ticks of `combs` (`find`), in order."""
    return sorted({bar[0] for _, _, row in combs for bar in row})


def find(
    stats: np.ndarray, touching: np.ndarray, labels: np.ndarray | None = None, slopes: np.ndarray = SLOPES
) -> list[Comb]:
    """The combs whose ticks are among the parts `touching` an erased line (`stats`: the connected parts' stats,
    as OpenCV gives them; `labels`: the parts, to measure a tick down its bar when its box is not solid: see
    `_bar`), each once: (the end its ticks share, the lean of their row among `slopes`, its ticks as (label,
    centre column, top, bottom, width, height))."""
    bars = []
    for label in touching.tolist():
        x, y, w, h, area = (int(v) for v in stats[label][:5])
        if h < MIN_HEIGHT:
            continue
        if w <= max(3, UPRIGHT * h) and area >= SOLID * w * h:
            bars.append((label, x + w / 2, y, y + h, w, h))
        elif (
            labels is not None
            and h >= LINE_MIN  # (fewer rows tell no bar from a stroke: a 1 on a rule, a box's side cut short)
            and w <= 3 * max(3, UPRIGHT * h)
            and (bar := _bar(labels[y : y + h, x : x + w] == label))
        ):
            bars.append((label, x + bar[0], y, y + h, bar[1], h))
    combs: dict[frozenset[int], Comb] = {}
    if len(bars) < MIN_TEETH:
        return []
    for slope in sorted(slopes, key=abs):  # a comb on a sheet turned a few degrees: its ticks' ends lean
        for end in (3, 2):  # ticks standing on a rule share their bottom; hanging from one, their top
            for row in _rows(bars, end, slope):
                if teeth := _teeth(row):
                    combs.setdefault(frozenset(bar[0] for bar in teeth), (end, float(slope), teeth))
    return list(combs.values())


def _bar(region: np.ndarray) -> tuple[float, int] | None:
    """A tick whose box is wider than its bar: ringing of a JPEG beside its end (a shadow's flattening lifts it
    over the ink's threshold), or a foot of the rule kept where it met the rule (`strokes.crossings`). (centre
    column, width) of its bar when SOLID of its rows are one run of ink within SAME_END px of the rows' median
    width and centre, and that width is UPRIGHT x its height or less; None otherwise."""
    inked = region.any(axis=1)
    if not inked.all():
        return None
    first = np.argmax(region, axis=1)
    last = region.shape[1] - np.argmax(region[:, ::-1], axis=1)
    widths, centres = last - first, (first + last) / 2
    width, centre = float(np.median(widths)), float(np.median(centres))
    solid = region.sum(axis=1) == widths  # one run across the row
    alike = solid & (np.abs(widths - width) <= SAME_END) & (np.abs(centres - centre) <= SAME_END)
    if width > max(3, UPRIGHT * region.shape[0]) or alike.mean() < SOLID:
        return None
    return centre, int(round(width))


def _rows(bars: list[tuple], end: int, slope: float) -> list[list[tuple]]:
    """`bars` grouped by the row their end (`end`: 2 top, 3 bottom) is on, within SAME_END px of a row leaning
    at `slope`."""
    rows: list[list[tuple]] = []
    level = [bar[end] - slope * bar[1] for bar in bars]
    for k in sorted(range(len(bars)), key=level.__getitem__):
        if rows and level[k] - rows[-1][0][0] <= SAME_END:
            rows[-1].append((level[k], bars[k]))
        else:
            rows.append([(level[k], bars[k])])
    return [[bar for _, bar in row] for row in rows if len(row) >= MIN_TEETH]


def _teeth(row: list[tuple]) -> list[tuple]:
    """The bars of a row that are a comb's ticks: those of the median height and width, when MIN_TEETH or
    more of them stand evenly spaced; none otherwise."""
    heights = np.array([b[5] for b in row], np.float64)
    widths = np.array([b[4] for b in row], np.float64)
    size = float(np.median(heights))
    alike = [
        b
        for b, h, w in zip(row, heights, widths, strict=True)
        if abs(h - size) <= max(SAME_END, SAME_SIZE * size) and abs(w - np.median(widths)) <= SAME_END
    ]
    if len(alike) < MIN_TEETH:
        return []
    centres = np.sort(np.array([b[1] for b in alike]))
    gaps = np.diff(centres)
    spacing = float(gaps.min())
    if spacing < APART * size:  # the strokes of writing on a rule stand about as far apart as they are tall
        return []
    steps = gaps / spacing
    if np.any(np.abs(steps - np.round(steps)) > SPACING * np.round(steps)):
        return []
    return alike


def hidden(labels: np.ndarray, combs: list[Comb], touching: np.ndarray, lines: np.ndarray) -> np.ndarray | None:
    """The pixels of a comb's ticks that a digit's stroke joined, so that `find` never saw them as parts of
    their own (a 0 written over a tick kept its stub as a stroke and read as 9): where a comb's found ticks say
    a tick stands (between two of them at their spacing, or one spacing beyond its ends where its rule goes on),
    in a part that touched the rule, the rows of the tick's band where the ink is no wider than the tick (a
    stroke crossing the tick or running down beside it is kept). None when there are none."""
    out = np.zeros(labels.shape, np.uint8)
    for end, slope, bars in combs:
        centres = np.sort([bar[1] for bar in bars])
        spacing = float(np.diff(centres).min())
        level = float(np.median([bar[end] - slope * bar[1] for bar in bars]))
        width, height = float(np.median([bar[4] for bar in bars])), float(np.median([bar[5] for bar in bars]))
        places = [(centres[0] - spacing, spacing / 2), (centres[-1] + spacing, -spacing / 2)]
        for a, gap in zip(centres[:-1], np.diff(centres), strict=True):
            steps = int(round(gap / spacing))
            places += [(a + k * gap / steps, 0.0) for k in range(1, steps)]
        for x, toward in places:
            tick = (x, level + slope * x, end == 3, width, height)
            _erase_tick(out, labels, touching, lines, tick, toward)
    return out if out.any() else None


def _erase_tick(
    out: np.ndarray,
    labels: np.ndarray,
    touching: np.ndarray,
    lines: np.ndarray,
    tick: tuple[float, float, bool, float, float],
    toward: float,
) -> None:
    """Mark in `out` the rows of a hidden tick's band (`tick`: its centre column, the row of its end, standing
    or hanging, its width and height) whose ink is no wider than the tick, when a part that touched the rule
    covers the band's middle down most of it (`toward`: beyond the comb's ends, where its rule must lead to
    the tick, as an offset in columns; 0 between two ticks found)."""
    x, end, standing, width, height = tick
    h, w = labels.shape
    half = int(np.ceil(width / 2)) + 1
    c, row = int(round(x)), int(round(end))
    if not (half <= c < w - half and 0 < row < h):
        return
    y0, y1 = (max(0, row - int(height)), row) if standing else (row, min(h, row + int(height)))
    if y1 - y0 < MIN_HEIGHT:
        return
    if toward:
        at = int(round(x + toward))
        if not lines[max(0, row - half) : row + half, max(0, at - half) : at + half + 1].any():
            return
    band = labels[y0:y1, c - half : c + half + 1]
    if not np.isin(band, touching).any() or np.mean(band[:, half - 1 : half + 2].any(axis=1)) < UNDER:
        return
    for y in range(y0, y1):
        inked = labels[y] > 0
        if not inked[c]:
            continue
        left = c - int(np.argmin(inked[c::-1])) + 1 if not inked[: c + 1].all() else 0
        right = c + int(np.argmin(inked[c:])) if not inked[c:].all() else w
        if right - left <= width + SAME_END:
            out[y, left:right] = 1


def rule_angle(region: np.ndarray) -> float | None:
    """The angle (degrees) of the rule a comb's ticks stand on or hang from, for measuring a sheet's skew
    (`askew.skew`), on a connected part's mask (its rule, its ticks and a digit written on it): its bottom (or
    top) edge is one straight line along EDGE_SHARE of the columns it inks; None for any other part. A comb's
    rule is no long thin part, nor a box."""
    h, w = region.shape
    if w < max(4 * LINE_MIN, WIDE * h):
        return None
    columns = np.flatnonzero(region.any(axis=0))
    if not columns.size:
        return None
    inked = region[:, columns].astype(bool)
    rows = np.arange(h)[:, None]
    bottom, top = np.where(inked, rows, -1).max(axis=0), np.where(inked, rows, h).min(axis=0)
    if _teeth_count(columns, bottom - top + 1) < MIN_TEETH:
        return None
    for edge in (bottom, top):
        points = np.column_stack([columns, edge]).astype(np.float32)
        vx, vy, x0, y0 = cv2.fitLine(points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        if abs(vy) > TILT * abs(vx):
            continue
        off = np.abs(y0 + (columns - x0) * (vy / vx) - edge)
        if np.mean(off <= EDGE_OFF) >= EDGE_SHARE:
            return float(np.degrees(np.arctan2(vy, vx)))
    return None


def _teeth_count(columns: np.ndarray, tall: np.ndarray) -> int:
    """How many ticks stand out of a part along its columns (`tall`: its ink's extent in each): runs of columns
    more than twice as tall as the rule (most columns are rule alone) and at least MIN_HEIGHT, each no wider
    than UPRIGHT x its height. A digit on the rule is a wide run, and is not counted."""
    rising = tall >= max(MIN_HEIGHT, 2.5 * float(np.median(tall)))
    count, start = 0, None
    for k in range(len(columns) + 1):
        # A run ends at a column that is not rising, at a blank column between two (a gap), or at the end.
        ends = k == len(columns) or not rising[k] or (k > 0 and columns[k] - columns[k - 1] > 1)
        if start is not None and ends:
            count += k - start <= max(3, UPRIGHT * tall[start:k].max())
            start = None
        if k < len(columns) and rising[k] and start is None:
            start = k
    return count


def between_ticks(box: tuple[int, int, int, int], ticks: tuple[tuple[int, int, int, int], ...]) -> bool:
    """Whether a mark (its (left, top, width, height) box) stands in a comb's cell: a tick of `ticks` on each
    side of its middle, within BETWEEN x its larger side, standing beside it or under it (a tick's top at most
    half its larger side below the mark's bottom, its bottom under the mark's top): a digit written on a comb,
    which `boxes.boxed_in` does not see (a comb's ticks are shorter than a box's sides)."""
    left, top, width, height = box
    size, middle = max(width, height), left + width / 2
    near = [
        x + w / 2
        for x, y, w, h in ticks
        if abs(x + w / 2 - middle) <= BETWEEN * size and y <= top + height + size / 2 and y + h > top
    ]
    return any(x < middle for x in near) and any(x > middle for x in near)


def erased_ticks(lines: np.ndarray) -> tuple[tuple[int, int, int, int], ...]:
    """The ticks of combs erased whole with their rules, as (left, top, width, height): the upright pieces of the
    erased `lines` (a mask) once their rules (runs over 3 x LINE_MIN px long; an odd kernel keeps their ends) are
    taken away, that meet a rule at one end only, and stand as a comb's ticks do (`find`). The pieces are traced
    as contours (a page's connected parts would cost twenty times as much)."""
    rules = np.asarray(cv2.morphologyEx(lines, cv2.MORPH_OPEN, np.ones((1, 3 * LINE_MIN + 1), np.uint8)), np.uint8)
    pieces = lines & (rules ^ 1)
    contours, _ = cv2.findContours(pieces, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    height, width = lines.shape
    rows = [(0, 0, 0, 0, 0)]  # as OpenCV's stats of connected parts: row 0 is the background's
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if h < MIN_HEIGHT or w > max(3, UPRIGHT * h):
            continue  # no upright bar
        columns = slice(max(0, x - 1), min(width, x + w + 1))
        top = bool(rules[max(0, y - 2) : y + 2, columns].any())
        bottom = bool(rules[max(0, y + h - 2) : min(height, y + h + 2), columns].any())
        if top != bottom:
            rows.append((x, y, w, h, cv2.countNonZero(pieces[y : y + h, x : x + w])))
    if len(rows) <= MIN_TEETH:
        return ()
    stats = np.array(rows, np.int64)
    # (level: the lines were found on the sheet turned square, `askew.skew`, and a line askew is no run)
    found = labels_of(find(stats, np.arange(1, len(rows)), slopes=np.zeros(1)))
    return tuple(sorted((int(stats[k, 0]), int(stats[k, 1]), int(stats[k, 2]), int(stats[k, 3])) for k in found))
