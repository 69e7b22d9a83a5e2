"""How a row of handwritten digits leans, for the cuts between touching ones (`toolkit.imaging.digits`): slanted
digits side by side overlap in x, and a cut parts them only along their slant."""

from __future__ import annotations

import numpy as np

MOST_SLANT, SLANT_STEP = 0.6, 0.05  # the slants tried, in columns per row
LEAN_GAIN = 1.25  # a slant is taken when it makes the column ink profile this much sharper than upright


def slant_of(mask: np.ndarray) -> float:
    """How the digits of a row (`mask`) lean, in columns per row (positive: the tops lean right): of the slants
    from -MOST_SLANT to MOST_SLANT in SLANT_STEP steps, the one whose column ink profile is sharpest once the
    row is stood upright by it (the sum of its squared column counts: upright strokes pile up in few columns);
    0 unless a slant sharpens the profile by LEAN_GAIN (upright writing, and the odd stroke, stays put). Taken
    on the whole row, not digit by digit: a 7's or a 4's own diagonal is not the writer's slant."""
    ys, xs = np.nonzero(mask)
    best, sharpest = 0.0, 0.0
    # On an exact grid (0.25, not 0.2500000000000008: rint of a half-way row would flip).
    for tried in np.round(np.arange(-MOST_SLANT, MOST_SLANT + SLANT_STEP / 2, SLANT_STEP), 6):
        at = xs + _drift(mask.shape[0], tried)[ys]
        sharp = float(np.square(np.bincount(at - at.min()).astype(np.float64)).sum()) if len(at) else 0.0
        upright = abs(tried) < SLANT_STEP / 2
        if upright:
            sharp *= LEAN_GAIN
        if sharp > sharpest:
            best, sharpest = 0.0 if upright else float(tried), sharp
    return best


def lean(mask: np.ndarray, slant: float) -> np.ndarray:
    """How far each row of a group of digits (`mask`) leaning by `slant` (see `slant_of`) stands right of where
    it would were the digits upright (`stood_upright`), the leftmost ink then at column 0."""
    ys, xs = np.nonzero(mask)
    drift = -_drift(mask.shape[0], slant)
    return drift + (int((xs - drift[ys]).min()) if len(xs) else 0)


def _drift(rows: int, slant: float) -> np.ndarray:
    """How many columns each of `rows` rows moves to stand upright, digits leaning by `slant` (about the middle
    row, which stays)."""
    return np.rint(slant * (np.arange(rows) - (rows - 1) / 2)).astype(np.int64)


def stood_upright(mask: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """A group of digits (`mask`) stood upright: each row r moved left by `shift[r]` columns, as wide as its ink
    then is. `shift` is `lean`'s, which keeps every ink pixel at column 0 or right of it."""
    rows, width = mask.shape
    ys, xs = np.nonzero(mask)
    xs = xs - shift[ys]
    out = np.zeros((rows, int(xs.max()) + 1 if len(xs) else width), bool)
    out[ys, xs] = True
    return out
