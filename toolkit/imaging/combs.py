"""The teeth of a comb: a form's field printed as a rule with short upright ticks between its cells
(`|_|_|_|`). Erasing the rule (`toolkit.imaging.lines`) leaves each tick as a small upright bar standing on
where the rule was, one beside the digit in each cell: read as 1s, or as a row of writing with the digit in it.

Ticks are told from a digit's strokes by their regularity, which a hand does not have: three or more upright
bars that touched an erased rule, ending on one row (standing on the rule, or hanging from it), of one height
and one width within a pixel or two, and as far apart as the cells (multiples of one spacing, where a digit
covers a tick). A row of 1s written on a rule varies in height, lean and spacing, and is kept.
"""

from __future__ import annotations

import numpy as np

MIN_TEETH = 3  # this many ticks in a row make a comb
SAME_END = 2  # px: ticks' ends on one row within this
SAME_SIZE = 0.15  # heights within this share of their median (at least SAME_END px)
SPACING = 0.12  # gaps within this share of a whole number of the comb's spacing
MIN_HEIGHT = 5  # px: a tick is at least this tall, ...
UPRIGHT = 0.5  # ... no wider than this x its height ...
SOLID = 0.7  # ... and fills this share of its box (straight, not a stroke's curve)
APART = 1.5  # ticks stand at least this x their height apart (a cell is wider than its ticks are tall)


def ticks(stats: np.ndarray, touching: np.ndarray) -> list[int]:
    """Labels of the parts that are a comb's ticks, among the parts `touching` an erased line (`stats`: the
    connected parts' stats, as OpenCV gives them)."""
    bars = []
    for label in touching.tolist():
        x, y, w, h, area = (int(v) for v in stats[label][:5])
        if h >= MIN_HEIGHT and w <= max(3, UPRIGHT * h) and area >= SOLID * w * h:
            bars.append((label, x + w / 2, y, y + h, w, h))
    found: set[int] = set()
    for end in (3, 2):  # ticks standing on a rule share their bottom; hanging from one, their top
        for row in _rows(bars, end):
            found.update(_teeth(row))
    return sorted(found)


def _rows(bars: list[tuple], end: int) -> list[list[tuple]]:
    """`bars` grouped by the row their end (`end`: 2 top, 3 bottom) is on, within SAME_END px."""
    rows: list[list[tuple]] = []
    for bar in sorted(bars, key=lambda b: b[end]):
        if rows and bar[end] - rows[-1][0][end] <= SAME_END:
            rows[-1].append(bar)
        else:
            rows.append([bar])
    return [row for row in rows if len(row) >= MIN_TEETH]


def _teeth(row: list[tuple]) -> list[int]:
    """The labels of a row of bars that are a comb's ticks: those of the median height and width, when
    MIN_TEETH or more of them stand evenly spaced; none otherwise."""
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
    return [b[0] for b in alike]
