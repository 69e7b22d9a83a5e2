"""A form's cell cut out along its box: the box's lines run along the image's edges, where the normaliser looks
for the paper (`common.border`), and were taken for it: on dark lines "paper", the light paper became ink and
the digit was lost (a cell cut 100 px square with its 3 px lines at the edges: 28 of 100 read right). Lines
along all four edges are painted over with the paper first (`unframed`), and the cell is read as any small
scan, at its own size and margins.
"""

from __future__ import annotations

import numpy as np

from toolkit.imaging.common import coarse_median

EDGE_BAND = 0.12  # a frame's line starts within this share of the image's side from its edge ...
LINE_FILL = 0.85  # ... as a run of rows (columns) each this much unlike the paper across the image
UNLIKE = 0.3  # unlike the paper: this far (0..1) from the image's median level
RING_SHIFT = 0.05  # a border whose mean is this far from its median may hold a line
INKED = 0.4  # a cell whose digit covers more than this share of it inside the edges' bands is no cell
SIDES = 4  # lines along all four edges make a frame (one or two may be a digit's strokes: a 7's bar, a 2's foot)
CORNER = 0.5  # where two lines meet, this share of the square they share is unlike the paper too (the arcs of a
# bold 0 cropped to its ink fill its rows and columns near the edges, but not its corners)


def unframed(gray: np.ndarray, edge: float, edge_mean: float) -> np.ndarray:
    """A small grey image (float, 1 = white) with the lines of a box along its edges painted over with its paper
    (its median level: a digit and its box cover less than half a cell); the image itself when no such frame is
    there. `edge`, `edge_mean`: the median and the mean of its border (`common.border`): a border whose mean is
    its median, and whose median is the paper's, holds no line, and most scans are looked at no further."""
    h, w = gray.shape
    if min(h, w) < 12:
        return gray
    level = np.float32(coarse_median(gray))
    if abs(edge_mean - edge) <= RING_SHIFT and abs(edge - level) <= UNLIKE:
        return gray
    unlike = np.abs(gray - level) > UNLIKE
    bh, bw = _band(h), _band(w)
    if unlike[bh : h - bh, bw : w - bw].mean() > INKED:  # a bold digit cropped to its ink: no paper to tell by
        return gray
    rows, cols = unlike.mean(axis=1) >= LINE_FILL, unlike.mean(axis=0) >= LINE_FILL
    found = {
        "top": _line(rows, h),
        "bottom": _flipped(_line(rows[::-1], h), h),
        "left": _line(cols, w),
        "right": _flipped(_line(cols[::-1], w), w),
    }
    if sum(line is not None for line in found.values()) < SIDES:
        return gray
    for across, down in (("top", "left"), ("top", "right"), ("bottom", "left"), ("bottom", "right")):
        rows_at, cols_at = found[across], found[down]
        if rows_at is not None and cols_at is not None:
            if unlike[rows_at[0] : rows_at[1], cols_at[0] : cols_at[1]].mean() < CORNER:
                return gray
    # Each line from the image's edge (paper outside it: a cell cut a little wide) to a row past it (its soft edge).
    painted = gray.copy()
    for name, line in found.items():
        assert line is not None  # (all four were found)
        if name in ("top", "left"):
            span = slice(0, line[1] + 1)
        else:
            span = slice(max(0, line[0] - 1), h if name == "bottom" else w)
        if name in ("top", "bottom"):
            painted[span] = level
        else:
            painted[:, span] = level
    return painted


def _band(side: int) -> int:
    """How many rows (columns) from an edge a frame's line may start: EDGE_BAND of the side."""
    return max(2, round(EDGE_BAND * side))


def _flipped(line: tuple[int, int] | None, side: int) -> tuple[int, int] | None:
    """A line found counting from the far edge, as rows (columns) counted from the near one."""
    return None if line is None else (side - line[1], side - line[0])


def _line(lines: np.ndarray, side: int) -> tuple[int, int] | None:
    """Where a frame's line lies from an edge: (first, past its last) row (column) counted from the edge over
    `lines` (whether each row is a line), or None when no line starts within EDGE_BAND of the edge."""
    hits = np.flatnonzero(lines[: _band(side)])
    if not len(hits):
        return None
    first = end = int(hits[0])
    while end + 1 < side // 3 and lines[end + 1]:  # one line, however thick, past the band if need be
        end += 1
    return first, end + 1
